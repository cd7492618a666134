/*
 * The limiter every stockx process on one API key and host shares: the
 * state file (sx_ratefile) holds the GCRA state and the day's count, and
 * sx_gcra decides.  The critical section is lock, read, decide, write,
 * unlock; a busy lock is never waited for (the queue tries again on a
 * timer).  Falls back to the process's own limiter, with an error logged
 * once, when the state file cannot be used.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sx_client_priv.h"
#include "sx_log.h"
#include "sx_url.h"

int64_t sx_share_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SX_GCRA_NS + ts.tv_nsec;
}

static int64_t utc_now(void)
{
    return (int64_t)time(NULL);
}

/* rate and quota times the margin; the interval rounded up, never down. */
void sx_share_params(const struct sx_config *k, struct sx_gcra_params *p)
{
    double iv = ceil(k->period / (k->rate * k->rate_margin) * 1e9);
    p->interval_ns = iv < 1 ? 1 : iv > 1e18 ? (int64_t)1e18 : (int64_t)iv;
    p->burst = k->burst >= 1 ? (int64_t)k->burst : 1;
    p->quota = (int64_t)floor((double)k->quota * k->rate_margin);
    if (k->quota > 0 && p->quota < 1)
        p->quota = 1;
    p->max_penalty_ns = (int64_t)(k->max_retry_after * 1e9);
    if (p->max_penalty_ns < 1)
        p->max_penalty_ns = 1;
}

/* The base URL's "scheme://host:port", what the file is named after. */
static void origin_of(const char *url, char *out, size_t len)
{
    snprintf(out, len, "%.*s", (int)sx_url_origin_len(url), url);
}

/* 1 if sharing is in use (opening the file on first use). */
static int share_open(struct sx_client *c)
{
    const struct sx_config *k = &c->cfg;
    char origin[SX_ORIGIN_MAX];
    if (!k->rate_on || !k->rate_share)
        return 0;
    if (c->share.state)
        return c->share.state > 0;
    origin_of(k->base_url ? k->base_url : "", origin, sizeof origin);
    if (sx_ratefile_open(&c->share.f, k->rate_state_dir, k->api_key, origin,
                         c->share.error, sizeof c->share.error) < 0) {
        struct sx_log_field f[] = {{"reason", c->share.error, 0}};
        sx_log(SX_LOG_ERROR, "limiter.unshared", f, 1);
        c->share.state = -1;
        return 0;
    }
    c->share.state = 1;
    struct sx_log_field f[] = {{"path", c->share.f.path, 0}};
    sx_log(SX_LOG_DEBUG, "limiter.shared", f, 1);
    if (sx_rshare_open(c, strrchr(c->share.f.path, '-') + 1) < 0) {
        struct sx_log_field g[] = {{"reason", "out of memory", 1}};
        sx_log(SX_LOG_ERROR, "limiter.redis_down", g, 1);
    }
    return 1;
}

static void log_note(struct sx_client *c, const char *note)
{
    if (note[0]) {
        struct sx_log_field f[] = {{"path", c->share.f.path, 0},
                                   {"reason", note, 0}};
        sx_log(SX_LOG_WARN, "limiter.state_reset", f, 2);
    }
}

/* Locks and reads: 1, 0 busy, -1 error (sharing then turned off). */
static int lock(struct sx_client *c, struct sx_gcra_state *s)
{
    char note[200], err[300];
    int rc = sx_ratefile_lock(&c->share.f, s, note, sizeof note, err,
                              sizeof err);
    if (rc < 0) {
        snprintf(c->share.error, sizeof c->share.error, "%s", err);
        struct sx_log_field f[] = {{"reason", err, 0}};
        sx_log(SX_LOG_ERROR, "limiter.unshared", f, 1);
        sx_ratefile_close(&c->share.f);
        c->share.state = -1;
        return -1;
    }
    if (rc > 0)
        log_note(c, note);
    return rc;
}

/* Folds a pending 429 into s (locked). */
/* The pending 429's wait at now in ns (a spent day: at least an hour). */
static int64_t pending_wait(const struct sx_client *c, int64_t now)
{
    int64_t wait = c->share.penalty_ns > now ? c->share.penalty_ns - now : 0;
    if (c->share.spent && wait < SX_GCRA_SPENT_S * SX_GCRA_NS)
        wait = SX_GCRA_SPENT_S * SX_GCRA_NS;
    return wait;
}

static void apply_429(struct sx_client *c, struct sx_gcra_state *s,
                      const struct sx_gcra_params *p, int64_t now)
{
    if (c->share.penalty_ns > now || c->share.spent)
        sx_gcra_penalty(s, p, now, pending_wait(c, now), utc_now());
    c->share.penalty_ns = 0;
    c->share.spent = 0;
}

/*
 * The adaptive rate (locked): our cut goes into s if newer, a newer one
 * of another process into c->adapt, so every process on the key spaces
 * its requests by the rate one of them learned (sx_queue's adapt_wait).
 */
static void merge_adapt(struct sx_client *c, struct sx_gcra_state *s,
                        int64_t now)
{
    struct sx_adapt *a = &c->adapt;
    if (!c->cfg.rate_adaptive)
        return;
    if (c->share.adapt_dirty) {
        int64_t cut = (int64_t)(a->t_cut * 1e9);
        if (cut > s->adapt_cut_ns) {
            s->adapt_cut_ns = cut;
            s->adapt_wmax = (int64_t)llround(a->w_max * 1e6);
        }
        c->share.adapt_dirty = 0;
    }
    if (s->adapt_wmax > 0 && s->adapt_cut_ns > 0)
        sx_adapt_adopt(a, (double)s->adapt_wmax / 1e6,
                       (double)s->adapt_cut_ns / 1e9, (double)now / 1e9);
}

static void unlock(struct sx_client *c, const struct sx_gcra_state *s)
{
    char err[300];
    if (sx_ratefile_unlock(&c->share.f, s, err, sizeof err) < 0) {
        struct sx_log_field f[] = {{"reason", err, 0}};
        sx_log(SX_LOG_ERROR, "limiter.write_failed", f, 1);
    }
    if (s)
        c->share.last = *s;
}

void sx_share_log_admit(int64_t slot, int64_t now, int64_t count,
                        int64_t left, const char *backend)
{
    char a[24], b[24], n[24], l[24];
    if (!sx_log_enabled(SX_LOG_DEBUG))
        return;
    snprintf(a, sizeof a, "%lld", (long long)slot);
    snprintf(b, sizeof b, "%lld", (long long)now);
    snprintf(n, sizeof n, "%lld", (long long)count);
    snprintf(l, sizeof l, "%lld", (long long)left);
    struct sx_log_field f[] = {{"slot_ns", a, 1}, {"now_ns", b, 1},
                               {"day_count", n, 1},
                               {"left", left >= 0 ? l : NULL, 1},
                               {"backend", backend, 1}};
    sx_log(SX_LOG_DEBUG, "limiter.admit", f, 5);
}

/*
 * Just after Redis came back, other hosts may still be deciding from
 * their files at their share of the rate: Redis's slot (decided and
 * counted there) is also held to this host's share (locked).
 */
static enum sx_share_rc host_share(struct sx_client *c,
                                   struct sx_gcra_state *s,
                                   const struct sx_gcra_params *p,
                                   int64_t redis_slot, int64_t *slot_ns)
{
    int64_t at = redis_slot > s->tat_ns ? redis_slot : s->tat_ns;
    s->tat_ns = at + p->interval_ns;
    unlock(c, s);
    sx_rshare_log_admit(c, at, "redis+host");
    *slot_ns = at;
    return SX_SHARE_SLOT;
}

enum sx_share_rc sx_share_reserve(struct sx_client *c, int64_t *slot_ns,
                                  int64_t *retry_s)
{
    struct sx_gcra_state s;
    struct sx_gcra_params p;
    struct sx_gcra_verdict v;
    int rc;
    int64_t redis_slot = c->share.held_slot;
    if (!share_open(c))
        return SX_SHARE_OFF;
    c->share.held_slot = 0;
    if (!redis_slot) {
        enum sx_share_rc r = sx_rshare_reserve(c, slot_ns, retry_s);
        if (r == SX_SHARE_SLOT && sx_rshare_grace(c))
            redis_slot = *slot_ns; /* and the host's share, below */
        else if (r != SX_SHARE_OFF)
            return r;
    }
    if ((rc = lock(c, &s)) <= 0) {
        if (rc < 0 && redis_slot)
            return *slot_ns = redis_slot, SX_SHARE_SLOT;
        c->share.held_slot = redis_slot; /* kept for the next try */
        return rc < 0 ? SX_SHARE_OFF : SX_SHARE_BUSY;
    }
    int64_t now = sx_share_now_ns();
    sx_share_params(&c->cfg, &p);
    sx_rshare_host_params(c, &p, &s, !redis_slot);
    if (redis_slot)
        return host_share(c, &s, &p, redis_slot, slot_ns);
    apply_429(c, &s, &p, now);
    merge_adapt(c, &s, now);
    sx_gcra_reserve(&s, &p, now, utc_now(), &v);
    unlock(c, &s);
    if (v.admitted)
        sx_rshare_fallback(c, s.tat_ns - now);
    if (!v.admitted) {
        *retry_s = v.retry_s;
        return v.penalty ? SX_SHARE_PENALTY : SX_SHARE_QUOTA;
    }
    sx_share_log_admit(v.at_ns, now, s.day_count, v.left,
                       c->rs ? "host(fallback)" : "host");
    *slot_ns = v.at_ns > 0 ? v.at_ns : 1;
    return SX_SHARE_SLOT;
}

void sx_share_429(struct sx_client *c, double wait)
{
    if (!share_open(c) || !(wait >= 0))
        return;
    int64_t until = sx_share_now_ns() +
                    (int64_t)(fmin(wait, 2 * 86400.0) * 1e9);
    if (until > c->share.penalty_ns)
        c->share.penalty_ns = until;
    if (wait >= SX_GCRA_SPENT_S)
        c->share.spent = 1;
}

int sx_share_flush(struct sx_client *c)
{
    struct sx_gcra_state s;
    struct sx_gcra_params p;
    int rc;
    if (!c->share.penalty_ns && !c->share.spent && !c->share.adapt_dirty)
        return 1;
    if (c->share.state > 0 && sx_rshare_active(c)) {
        if (sx_rshare_write(c, pending_wait(c, sx_share_now_ns()),
                            c->share.spent)) {
            c->share.penalty_ns = 0;
            c->share.spent = 0;
            return 1;
        }
    }
    if (c->share.state <= 0 || (rc = lock(c, &s)) < 0) {
        c->share.penalty_ns = 0;
        c->share.spent = 0;
        c->share.adapt_dirty = 0;
        return 1;
    }
    if (rc == 0)
        return 0;
    sx_share_params(&c->cfg, &p);
    apply_429(c, &s, &p, sx_share_now_ns());
    merge_adapt(c, &s, sx_share_now_ns());
    unlock(c, &s);
    return 1;
}

void sx_share_reset(struct sx_client *c)
{
    const struct sx_config *k = &c->cfg;
    if (!k->rate_on || !k->rate_share || !k->rate_backend ||
        strcmp(k->rate_backend, "host") == 0)
        sx_rshare_free(c); /* else kept if the same Redis and key */
    sx_ratefile_close(&c->share.f);
    c->share.state = 0;
    c->share.error[0] = '\0';
}

void sx_share_free(struct sx_client *c)
{
    sx_rshare_free(c);
    sx_ratefile_close(&c->share.f);
}

/* A fresh read if the lock is free now (a few tries), else the last one. */
void sx_client_quota(struct sx_client *c, struct sx_quota *out)
{
    struct sx_gcra_params p;
    struct sx_gcra_state s = c->share.last;
    int64_t utc = utc_now(), day = sx_gcra_day(utc);
    memset(out, 0, sizeof *out);
    out->shared = share_open(c);
    out->error = c->share.error[0] ? c->share.error : NULL;
    out->day = (long)day;
    out->reset = (double)((day + 1) * SX_GCRA_DAY_S - utc);
    sx_share_params(&c->cfg, &p);
    out->limit = c->cfg.quota > 0 ? (long)p.quota : -1;
    out->left = -1;
    if (!out->shared)
        return;
    out->path = c->share.f.path;
    if (sx_rshare_quota(c, out) || (c->rs && !out->fallback))
        return; /* Redis's figures, or none yet (connecting) */
    for (int i = 0; i < 20; i++) {
        int rc = lock(c, &s);
        if (rc > 0) {
            unlock(c, NULL);
            c->share.last = s;
            break;
        }
        if (rc < 0)
            return;
        nanosleep(&(struct timespec){0, 250000}, NULL);
    }
    out->used = s.day >= day ? (long)s.day_count : 0;
    out->left = (long)sx_gcra_left(&s, &p, utc);
}
