/*
 * The shared limiter in Redis (see sx_rgcra.h).  The script mirrors
 * sx_gcra_reserve and sx_gcra_penalty step by step (roll the UTC day,
 * drop deadlines more than two days ahead, refuse for a long penalty or
 * a spent day, else reserve max(now, tat - tau, penalty) and advance the
 * tat), in microseconds of Redis's TIME, so every host shares one clock.
 * Its numbers are integers, returned as Redis integers (a Lua number
 * with a fraction would be truncated by Redis: none has one).  Keys carry
 * a {hash tag}, so both live in one Redis Cluster slot, and expire once
 * the day is over and every deadline is past.  Hosts and clients
 * (processes) seen in the last minute are counted, for the fallback.
 */
#include "sx_rgcra.h"

#include <stdio.h>

const char sx_rgcra_script[] =
    "-- stockx shared limiter: GCRA + UTC-day quota (sx_rgcra.c)\n"
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local sec = tonumber(t[1])\n"
    "local now = sec * 1000000 + tonumber(t[2])\n"
    "local day = math.floor(sec / 86400)\n"
    "local op = ARGV[1]\n"
    "local T = math.max(tonumber(ARGV[2]), 1)\n"
    "local tau = (math.max(tonumber(ARGV[3]), 1) - 1) * T\n"
    "local quota = tonumber(ARGV[4])\n"
    "local maxpen = tonumber(ARGV[5])\n"
    "local AHEAD = 2 * 86400 * 1000000\n"
    "local f = redis.call('HMGET', KEYS[1], 'tat', 'pen', 'day', 'count',\n"
    "  'spent', 'wmax', 'cut')\n"
    "local tat, pen = tonumber(f[1]) or 0, tonumber(f[2]) or 0\n"
    "local sday, count = tonumber(f[3]) or day, tonumber(f[4]) or 0\n"
    "local spent = tonumber(f[5]) or -1\n"
    "local wmax, cut = tonumber(f[6]) or 0, tonumber(f[7]) or 0\n"
    "if day > sday then sday, count = day, 0 end\n"
    "if count < 0 then count = 0 end\n"
    "if tat > now + AHEAD then tat = 0 end\n"
    "if pen > now + AHEAD then pen = 0 end\n"
    "count = count + math.max(tonumber(ARGV[9]), 0)\n"
    "local function seen(k, id)\n"
    "  redis.call('ZADD', k, now, id)\n"
    "  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - 60000000)\n"
    "  redis.call('EXPIRE', k, 120)\n"
    "  return redis.call('ZCARD', k)\n"
    "end\n"
    "local hosts = seen(KEYS[2], ARGV[12])\n"
    "local clients = seen(KEYS[3], ARGV[13])\n"
    "local w, ago = tonumber(ARGV[10]), tonumber(ARGV[11])\n"
    "if w > 0 and now - ago > cut then wmax, cut = w, now - ago end\n"
    "local function left()\n"
    "  if spent == sday then return 0 end\n"
    "  if quota <= 0 then return -1 end\n"
    "  if count >= quota then return 0 end\n"
    "  return quota - count\n"
    "end\n"
    "local admitted, wait, retry, penalty = 0, 0, 0, 0\n"
    "if op == 'penalty' then\n"
    "  local untl = now + math.max(tonumber(ARGV[6]), 0)\n"
    "  if untl > pen then pen = untl end\n"
    "  tat = math.max(tat, untl + tau)\n"
    "  if ARGV[7] == '1' then spent = sday end\n"
    "elseif op == 'reserve' then\n"
    "  local lead = tonumber(ARGV[8])\n"
    "  if lead >= 0 then tat = math.max(tat, now + lead + tau) end\n"
    "  local l = left()\n"
    "  if l ~= 0 and maxpen > 0 and pen - now > maxpen then\n"
    "    penalty = 1\n"
    "    retry = math.ceil((pen - now) / 1000000)\n"
    "  elseif l == 0 then\n"
    "    retry = math.max((sday + 1) * 86400 - sec, 1)\n"
    "  else\n"
    "    local at = math.max(now, tat - tau, pen)\n"
    "    tat = math.max(tat, at) + T\n"
    "    count = count + 1\n"
    "    admitted, wait = 1, at - now\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'tat', tat, 'pen', pen, 'day', sday,\n"
    "  'count', count, 'spent', spent, 'wmax', wmax, 'cut', cut)\n"
    "local reset = (sday + 1) * 86400 - sec\n"
    "local ahead = math.ceil((math.max(tat, pen) - now) / 1000000)\n"
    "redis.call('EXPIRE', KEYS[1], math.max(reset, ahead, 1) + 3600)\n"
    "local age = -1\n"
    "if wmax > 0 then age = now - cut end\n"
    "return {admitted, wait, retry, left(), count, penalty, hosts, wmax,\n"
    "  age, math.max(reset, 1), clients, math.max(tat - tau - now, 0)}\n";

void sx_rgcra_argv(const struct sx_rgcra_args *a,
                   char buf[SX_RGCRA_ARGC][SX_RGCRA_ARGLEN],
                   const char *argv[SX_RGCRA_ARGC])
{
    const long long n[] = {
        a->interval_us,  a->burst,    a->quota,   a->max_penalty_us,
        a->retry_us,     a->spent,    a->lead_us,
        a->extra,        a->adapt_wmax, a->adapt_ago_us};
    snprintf(buf[0], SX_RGCRA_ARGLEN, "stockx:{%s}:limiter", a->hash);
    snprintf(buf[1], SX_RGCRA_ARGLEN, "stockx:{%s}:hosts", a->hash);
    snprintf(buf[2], SX_RGCRA_ARGLEN, "stockx:{%s}:clients", a->hash);
    snprintf(buf[3], SX_RGCRA_ARGLEN, "%s", a->op);
    for (int i = 0; i < 10; i++)
        snprintf(buf[4 + i], SX_RGCRA_ARGLEN, "%lld", n[i]);
    snprintf(buf[14], SX_RGCRA_ARGLEN, "%s", a->host);
    snprintf(buf[15], SX_RGCRA_ARGLEN, "%s:%ld", a->host, a->pid);
    for (int i = 0; i < SX_RGCRA_ARGC; i++)
        argv[i] = buf[i];
}

int sx_rgcra_decode(const long long *v, int n, struct sx_rgcra_answer *out)
{
    const long long day_us = 3LL * 86400 * 1000000;
    if (n != SX_RGCRA_REPLY || (v[0] != 0 && v[0] != 1) ||
        (v[5] != 0 && v[5] != 1) || v[1] < 0 || v[1] > day_us ||
        v[2] < 0 || v[2] > 3 * 86400 || v[3] < -1 || v[4] < 0 ||
        v[6] < 0 || v[7] < 0 || v[8] < -1 || v[9] < 1 || v[9] > 86400 ||
        v[10] < 0 || v[11] < 0 || v[11] > day_us)
        return -1;
    out->admitted = (int)v[0];
    out->wait_us = v[1];
    out->retry_s = v[2];
    out->left = v[3];
    out->used = v[4];
    out->penalty = (int)v[5];
    out->hosts = v[6] > 0 ? v[6] : 1;
    out->adapt_wmax = v[7];
    out->adapt_age_us = v[8];
    out->reset_s = v[9];
    out->clients = v[10] > 0 ? v[10] : 1;
    out->tat_lead_us = v[11];
    return 0;
}
