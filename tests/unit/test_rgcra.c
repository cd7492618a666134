/*
 * sx_rgcra: the arguments of one call of the Redis limiter script (keys
 * with a hash tag, numbers in decimal, the op, the host and client ids)
 * and the checks on its answer (length, flags, ranges).  The script
 * itself runs against a real redis-server in tests/cli_redis.sh.
 */
#include <string.h>

#include "sx_rgcra.h"
#include "testhelp.h"

static void test_argv(void)
{
    char buf[SX_RGCRA_ARGC][SX_RGCRA_ARGLEN];
    const char *argv[SX_RGCRA_ARGC];
    struct sx_rgcra_args a = {"reserve", "abc123", "hostid", 42,
                              1111112, 10, 22500, 300000000, 5000000, 1,
                              -1, 7, 850000, 1500};
    sx_rgcra_argv(&a, buf, argv);
    test_cond("key 1: the state, hash-tagged",
              strcmp(argv[0], "stockx:{abc123}:limiter") == 0);
    test_cond("key 2: hosts", strcmp(argv[1], "stockx:{abc123}:hosts") == 0);
    test_cond("key 3: clients",
              strcmp(argv[2], "stockx:{abc123}:clients") == 0);
    test_cond("ARGV[1] op", strcmp(argv[3], "reserve") == 0);
    test_cond("ARGV[2] interval", strcmp(argv[4], "1111112") == 0);
    test_cond("ARGV[3] burst", strcmp(argv[5], "10") == 0);
    test_cond("ARGV[4] quota", strcmp(argv[6], "22500") == 0);
    test_cond("ARGV[5] max penalty", strcmp(argv[7], "300000000") == 0);
    test_cond("ARGV[6] retry", strcmp(argv[8], "5000000") == 0);
    test_cond("ARGV[7] spent", strcmp(argv[9], "1") == 0);
    test_cond("ARGV[8] lead -1 (the host did not decide)",
              strcmp(argv[10], "-1") == 0);
    test_cond("ARGV[9] extra", strcmp(argv[11], "7") == 0);
    test_cond("ARGV[10] adapt w_max", strcmp(argv[12], "850000") == 0);
    test_cond("ARGV[11] adapt age", strcmp(argv[13], "1500") == 0);
    test_cond("ARGV[12] host", strcmp(argv[14], "hostid") == 0);
    test_cond("ARGV[13] client = host:pid", strcmp(argv[15], "hostid:42") == 0);
    test_cond("the script reads ARGV[13] and KEYS[3]",
              strstr(sx_rgcra_script, "ARGV[13]") &&
              strstr(sx_rgcra_script, "KEYS[3]") &&
              !strstr(sx_rgcra_script, "ARGV[14]"));
}

static void test_decode(void)
{
    struct sx_rgcra_answer a;
    long long ok[SX_RGCRA_REPLY] = {1, 250000, 0, 22499, 1, 0, 2, 0, -1,
                                    3600, 3, 361111};
    long long v[SX_RGCRA_REPLY];
    test_cond("a good answer", sx_rgcra_decode(ok, SX_RGCRA_REPLY, &a) == 0 &&
              a.admitted == 1 && a.wait_us == 250000 && a.left == 22499 &&
              a.used == 1 && a.hosts == 2 && a.adapt_age_us == -1 &&
              a.reset_s == 3600 && a.clients == 3 && a.tat_lead_us == 361111);
    test_cond("too short", sx_rgcra_decode(ok, SX_RGCRA_REPLY - 1, &a) < 0);
    for (int i = 0; i < SX_RGCRA_REPLY; i++) {
        static const long long bad[SX_RGCRA_REPLY] = {
            2, -1, -1, -2, -1, 2, -1, -1, -2, 0, -1, -1};
        memcpy(v, ok, sizeof v);
        v[i] = bad[i];
        test_cond("a value out of range is refused",
                  sx_rgcra_decode(v, SX_RGCRA_REPLY, &a) < 0);
    }
    memcpy(v, ok, sizeof v);
    v[1] = 4LL * 86400 * 1000000;
    test_cond("a wait of days is refused", sx_rgcra_decode(v, SX_RGCRA_REPLY,
                                                           &a) < 0);
    memcpy(v, ok, sizeof v);
    v[6] = 0;
    v[10] = 0;
    test_cond("no hosts or clients counted reads as one",
              sx_rgcra_decode(v, SX_RGCRA_REPLY, &a) == 0 && a.hosts == 1 &&
              a.clients == 1);
}

int main(void)
{
    test_argv();
    test_decode();
    return test_report();
}
