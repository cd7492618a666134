/*
 * The shared limiter in Redis (rate_backend = redis://...): one limiter
 * and one daily count for every host on the key.  A reservation is one
 * call of sx_rgcra's script; the queue waits for its answer (the reply
 * kicks it), which the head of the queue then takes.  While Redis is
 * unreachable the host's state file decides (sx_share), at the rate
 * divided by the hosts Redis last counted, and the admissions made
 * meanwhile, and how far ahead the host limiter got, go to Redis with
 * the first reservation after it is back.  Logged once per outage.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sx_client_priv.h"
#include "sx_log.h"
#include "sx_redis.h"
#include "sx_rgcra.h"
#include "sx_time.h"

#define RSHARE_TIMEOUT 1.0 /* seconds: connect, handshake, each call */
#define RSHARE_ERROR_PAUSE 1.0 /* after an error answer: the host decides */
/* After an outage every host is back within sx_redis's largest backoff
 * (8 s) plus a timeout; until then each also keeps to its share. */
#define RSHARE_GRACE 10.0

struct sx_rshare {
    struct sx_client *c;
    struct sx_redis *redis;
    char *url;                    /* the setting, as given */
    char shown[300];              /* masked, for logs and stats */
    char hash[33], host[33];
    int pending;                  /* a reservation is in flight */
    int have;                     /* its answer, for the head */
    struct sx_rgcra_answer ans;
    int64_t ans_at_ns;            /* when it arrived (monotonic) */
    struct sx_rgcra_answer last;  /* the newest answer */
    int have_last;
    int64_t extra, extra_sent;    /* fallback admissions to count */
    int64_t lead_ns;              /* the host limiter's tat lead */
    int fell_back;                /* the host decided since Redis last did */
    int64_t next_ns;              /* Redis's next free slot, last seen */
    double error_until;           /* an error answer: host until then */
    int down_logged, was_down;
    double grace_until;           /* back from an outage: the host's share too */
    char why[300];                /* why Redis is down, for stats */
};

/* ---- state changes ------------------------------------------------------ */

static void on_state(void *ud, enum sx_redis_state st, const char *why)
{
    struct sx_rshare *rs = ud;
    struct sx_log_field f[] = {{"backend", rs->shown, 0},
                               {"reason", why, 0},
                               {"fallback", "host", 1}};
    if (st == SX_REDIS_UP) {
        rs->why[0] = '\0';
        if (rs->was_down) /* the other hosts return within a backoff */
            rs->grace_until = sx_time_now() + RSHARE_GRACE;
        sx_log(rs->was_down ? SX_LOG_WARN : SX_LOG_DEBUG,
               rs->was_down ? "limiter.redis_back" : "limiter.redis", f, 1);
        rs->down_logged = 0;
        sx_rshare_write(rs->c, 0, 0); /* the day's figures, for stats */
        sx_queue_kick(rs->c);
        return;
    }
    snprintf(rs->why, sizeof rs->why, "%s", why ? why : "unreachable");
    rs->was_down = 1;
    if (!rs->down_logged)
        sx_log(SX_LOG_WARN, "limiter.redis_down", f, 3);
    rs->down_logged = 1;
    sx_queue_kick(rs->c); /* a head waiting for the connection: the host */
}

/* ---- calls -------------------------------------------------------------- */

/* The adaptive cut in an answer, adopted if newer than ours. */
static void adopt(struct sx_rshare *rs, const struct sx_rgcra_answer *a)
{
    struct sx_client *c = rs->c;
    double now = (double)sx_share_now_ns() / 1e9;
    if (!c->cfg.rate_adaptive || a->adapt_wmax <= 0 || a->adapt_age_us < 0)
        return;
    sx_adapt_adopt(&c->adapt, (double)a->adapt_wmax / 1e6,
                   now - (double)a->adapt_age_us / 1e6, now);
}

static void log_error(struct sx_rshare *rs, const char *why)
{
    struct sx_log_field f[] = {{"backend", rs->shown, 0}, {"reason", why, 0},
                               {"fallback", "host", 1}};
    if (!rs->down_logged)
        sx_log(SX_LOG_WARN, "limiter.redis_error", f, 3);
    rs->down_logged = 1;
    snprintf(rs->why, sizeof rs->why, "%s", why);
}

/* 1 if rep is a good answer, into *a. */
static int decode(struct sx_rshare *rs, const struct sx_redis_reply *rep,
                  struct sx_rgcra_answer *a)
{
    if (!rep->ok) {
        log_error(rs, rep->err);
        return 0;
    }
    if (sx_rgcra_decode(rep->v, rep->n, a) < 0) {
        log_error(rs, "the limiter script's answer is malformed");
        return 0;
    }
    rs->last = *a;
    rs->have_last = 1;
    rs->next_ns = sx_share_now_ns() + a->tat_lead_us * 1000;
    adopt(rs, a);
    return 1;
}

static void on_reserved(void *ud, const struct sx_redis_reply *rep)
{
    struct sx_rshare *rs = ud;
    rs->pending = 0;
    if (decode(rs, rep, &rs->ans)) {
        rs->have = 1;
        rs->ans_at_ns = sx_share_now_ns();
        rs->extra -= rs->extra_sent;
        rs->lead_ns = 0;
        rs->fell_back = 0;
        rs->down_logged = 0;
    } else {
        rs->error_until = sx_time_now() + RSHARE_ERROR_PAUSE;
    }
    rs->extra_sent = 0;
    sx_queue_kick(rs->c);
}

static void on_written(void *ud, const struct sx_redis_reply *rep)
{
    struct sx_rgcra_answer a;
    decode(ud, rep, &a);
}

/* The rate and quota as sx_share applies them, in microseconds. */
static void base_args(struct sx_rshare *rs, const char *op,
                      struct sx_rgcra_args *g)
{
    struct sx_gcra_params p;
    struct sx_adapt *ad = &rs->c->adapt;
    sx_share_params(&rs->c->cfg, &p);
    memset(g, 0, sizeof *g);
    g->op = op;
    g->hash = rs->hash;
    g->host = rs->host;
    g->pid = (long)getpid();
    g->interval_us = (p.interval_ns + 999) / 1000;
    g->burst = p.burst;
    g->quota = p.quota;
    g->max_penalty_us = p.max_penalty_ns / 1000;
    if (rs->c->share.adapt_dirty && rs->c->cfg.rate_adaptive &&
        ad->w_max > 0) {
        double ago = (double)sx_share_now_ns() / 1e9 - ad->t_cut;
        g->adapt_wmax = (int64_t)llround(ad->w_max * 1e6);
        g->adapt_ago_us = ago > 0 ? (int64_t)(ago * 1e6) : 0;
        rs->c->share.adapt_dirty = 0;
    }
}

static int call(struct sx_rshare *rs, const struct sx_rgcra_args *g,
                sx_redis_fn fn)
{
    char buf[SX_RGCRA_ARGC][SX_RGCRA_ARGLEN];
    const char *argv[SX_RGCRA_ARGC];
    sx_rgcra_argv(g, buf, argv);
    return sx_redis_eval(rs->redis, SX_RGCRA_NKEYS, SX_RGCRA_ARGC, argv, fn,
                         rs);
}

/* ---- the client's side -------------------------------------------------- */

static int64_t clamp(int64_t n)
{
    return n < 1 ? 1 : n > 64 ? 64 : n;
}

void sx_rshare_log_admit(const struct sx_client *c, int64_t slot,
                         const char *backend)
{
    const struct sx_rshare *rs = c->rs;
    sx_share_log_admit(slot, rs->ans_at_ns, rs->ans.used, rs->ans.left,
                       backend);
}

/* Takes the answer that arrived for the head of the queue. */
static enum sx_share_rc take(struct sx_rshare *rs, int64_t *slot_ns,
                             int64_t *retry_s)
{
    rs->have = 0;
    if (!rs->ans.admitted) {
        *retry_s = rs->ans.retry_s;
        return rs->ans.penalty ? SX_SHARE_PENALTY : SX_SHARE_QUOTA;
    }
    *slot_ns = rs->ans_at_ns + rs->ans.wait_us * 1000;
    if (*slot_ns <= 0)
        *slot_ns = 1;
    if (!sx_rshare_grace(rs->c)) /* else sx_share logs the final slot */
        sx_rshare_log_admit(rs->c, *slot_ns, "redis");
    return SX_SHARE_SLOT;
}

enum sx_share_rc sx_rshare_reserve(struct sx_client *c, int64_t *slot_ns,
                                   int64_t *retry_s)
{
    struct sx_rshare *rs = c->rs;
    struct sx_rgcra_args g;
    if (!rs)
        return SX_SHARE_OFF;
    if (rs->have)
        return take(rs, slot_ns, retry_s);
    if (rs->pending || sx_redis_state(rs->redis) == SX_REDIS_CONNECTING)
        return SX_SHARE_PENDING;
    if (sx_redis_state(rs->redis) != SX_REDIS_UP ||
        sx_time_now() < rs->error_until)
        return SX_SHARE_OFF;
    base_args(rs, "reserve", &g);
    g.extra = rs->extra;
    g.lead_us = !rs->fell_back ? -1 : rs->lead_ns > 0 ? rs->lead_ns / 1000
                                                     : 0;
    if (call(rs, &g, on_reserved) < 0)
        return SX_SHARE_OFF;
    rs->extra_sent = rs->extra;
    rs->pending = 1;
    return SX_SHARE_PENDING;
}

int sx_rshare_active(const struct sx_client *c)
{
    return c->rs && sx_redis_state(c->rs->redis) == SX_REDIS_UP &&
           sx_time_now() >= c->rs->error_until;
}

void sx_rshare_fallback(struct sx_client *c, int64_t lead_ns)
{
    if (!c->rs)
        return;
    c->rs->extra++;
    c->rs->lead_ns = lead_ns;
    c->rs->fell_back = 1;
}

/*
 * While Redis is away the host's file decides: no burst, this host's
 * share of the rate (the interval times the hosts Redis last counted).
 * The first slot is a gap after Redis's next free slot as we last saw
 * it: as many intervals as there are clients (who may have reserved
 * since) and hosts (who may all start at once), so the hosts starting
 * together cannot exceed what Redis would have admitted.
 */
void sx_rshare_host_params(const struct sx_client *c,
                           struct sx_gcra_params *p, struct sx_gcra_state *s,
                           int seed)
{
    const struct sx_rshare *rs = c->rs;
    int64_t hosts, gap;
    if (!rs)
        return;
    hosts = rs->have_last ? clamp(rs->last.hosts) : 1;
    gap = (rs->have_last ? clamp(rs->last.clients) : 1) + hosts;
    if (p->interval_ns > INT64_MAX / 256)
        return;
    if (seed && rs->next_ns > 0 &&
        s->tat_ns < rs->next_ns + gap * p->interval_ns)
        s->tat_ns = rs->next_ns + gap * p->interval_ns;
    p->interval_ns *= hosts;
    p->burst = 1;
}

int sx_rshare_grace(const struct sx_client *c)
{
    return c->rs && sx_time_now() < c->rs->grace_until;
}

int sx_rshare_write(struct sx_client *c, int64_t retry_ns, int spent)
{
    struct sx_rgcra_args g;
    if (!sx_rshare_active(c))
        return 0;
    base_args(c->rs, retry_ns > 0 || spent ? "penalty" : "read", &g);
    g.retry_us = retry_ns / 1000;
    g.spent = spent;
    return call(c->rs, &g, on_written) == 0;
}

int sx_rshare_quota(const struct sx_client *c, struct sx_quota *out)
{
    const struct sx_rshare *rs = c->rs;
    if (!rs)
        return 0;
    out->backend = rs->shown;
    if (sx_redis_state(rs->redis) == SX_REDIS_CONNECTING && !rs->why[0])
        return 0; /* the first connect: no figures yet */
    out->fallback = !sx_rshare_active(c);
    if (out->fallback)
        out->error = rs->why[0] ? rs->why : "unreachable";
    if (!rs->have_last || out->fallback)
        return 0;
    out->used = (long)rs->last.used;
    out->left = (long)rs->last.left;
    return 1;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void rshare_free(struct sx_rshare *rs)
{
    if (!rs)
        return;
    sx_redis_free(rs->redis);
    if (rs->url) {
        memset(rs->url, 0, strlen(rs->url));
        free(rs->url);
    }
    free(rs);
}

/* The host's id: its state file and boot (two hosts, two ids). */
static void host_id(const struct sx_ratefile *f, char out[33])
{
    char buf[SX_RATEFILE_PATH_MAX + 48];
    int n = snprintf(buf, sizeof buf, "%s\n%s", f->path, f->boot);
    sx_ratefile_hash(buf, n > 0 ? (size_t)n : 0, out);
}

int sx_rshare_open(struct sx_client *c, const char *hash)
{
    const char *url = c->cfg.rate_backend;
    struct sx_redis_addr a;
    struct sx_rshare *rs = c->rs;
    char err[300];
    if (!url || strcmp(url, "host") == 0) {
        rshare_free(rs);
        c->rs = NULL;
        return 0;
    }
    if (rs && strcmp(rs->url, url) == 0 && strcmp(rs->hash, hash) == 0)
        return 0; /* the same Redis and key: the connection stays */
    rshare_free(rs);
    c->rs = NULL;
    if (sx_url_redis(url, &a, err, sizeof err) < 0 ||
        !(rs = calloc(1, sizeof *rs)) || !(rs->url = strdup(url))) {
        free(rs);
        memset(&a, 0, sizeof a);
        return -1;
    }
    rs->c = c;
    sx_url_redis_mask(url, rs->shown, sizeof rs->shown);
    snprintf(rs->hash, sizeof rs->hash, "%s", hash);
    host_id(&c->share.f, rs->host);
    rs->redis = sx_redis_new(c->base, &a, sx_rgcra_script, RSHARE_TIMEOUT,
                             on_state, rs);
    memset(&a, 0, sizeof a);
    if (!rs->redis) {
        rshare_free(rs);
        return -1;
    }
    c->rs = rs;
    return 0;
}

void sx_rshare_free(struct sx_client *c)
{
    rshare_free(c->rs);
    c->rs = NULL;
}
