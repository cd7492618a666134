/*
 * The admission queue (see sx_client_priv.h): one FIFO in front of curl,
 * where the base URL's GCRA limiter and every origin's 429 pause are
 * applied.  A request starts only when fewer than max_connections
 * transfers run and its origin may be asked.
 */
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sx_client_priv.h"
#include "sx_gcra.h"
#include "sx_log.h"
#include "sx_time.h"

void sx_queue_unlink(struct sx_client *c, struct sx_req *r)
{
    sx_list_remove(&r->qlink);
    c->st.queued--;
}

void sx_queue_push(struct sx_client *c, struct sx_req *r, int front)
{
    r->state = RQ_QUEUED;
    r->queued_at = sx_time_now();
    r->slot_ns = 0; /* a reservation is made at the head of the queue */
    if (front)
        sx_list_push_front(&c->queue, &r->qlink);
    else
        sx_list_push_back(&c->queue, &r->qlink);
    c->st.queued++;
}

static double limiter_wait(const struct sx_client *c, double now)
{
    if (c->share.state > 0 && c->cfg.rate_on)
        return c->paused_until > now ? c->paused_until - now : 0;
    if (c->cfg.rate_on)
        return sx_limiter_wait(&c->lim, now);
    return c->paused_until > now ? c->paused_until - now : 0;
}

/* ---- other origins' 429 pauses ----------------------------------------- */

static int same_origin(const struct sx_req *r, const char *origin)
{
    return strlen(origin) == r->origin_len &&
           strncasecmp(r->url, origin, r->origin_len) == 0;
}

/* Seconds until r's origin (not the base URL) may be asked again. */
static double origin_wait(const struct sx_client *c, const struct sx_req *r,
                          double now)
{
    for (int i = 0; i < SX_ORIGINS; i++)
        if (c->pauses[i].until > now && same_origin(r, c->pauses[i].origin))
            return c->pauses[i].until - now;
    return 0;
}

/* Pauses r's origin until `until` (replacing an expired or the oldest). */
static void pause_origin(struct sx_client *c, const struct sx_req *r,
                         double until)
{
    int slot = 0;
    if (r->origin_len >= SX_ORIGIN_MAX)
        return;
    for (int i = 0; i < SX_ORIGINS; i++) {
        if (same_origin(r, c->pauses[i].origin)) {
            slot = i;
            break;
        }
        if (c->pauses[i].until < c->pauses[slot].until)
            slot = i;
    }
    if (same_origin(r, c->pauses[slot].origin) &&
        c->pauses[slot].until > until)
        return;
    memcpy(c->pauses[slot].origin, r->url, r->origin_len);
    c->pauses[slot].origin[r->origin_len] = '\0';
    c->pauses[slot].until = until;
}

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
    struct sx_req *r = arg;
    (void)fd;
    (void)what;
    sx_queue_push(r->c, r, 1);
    sx_queue_pump(r->c);
}

/* Parks r on its own timer for wait seconds, then puts it first in line. */
void sx_queue_park(struct sx_req *r, double wait)
{
    struct sx_client *c = r->c;
    if (!r->backoff_ev)
        r->backoff_ev = evtimer_new(c->base, on_backoff, r);
    if (!r->backoff_ev || wait <= 0) {
        sx_queue_push(c, r, 1);
        return;
    }
    r->state = RQ_BACKOFF;
    struct timeval tv = sx_time_tv(wait);
    evtimer_add(r->backoff_ev, &tv);
}

static void arm_queue_timer(struct sx_client *c, double wait)
{
    struct timeval tv = sx_time_tv(wait + 1e-6);
    evtimer_add(c->queue_timer, &tv);
}

#define SHARE_RETRY 0.002 /* seconds before trying a busy lock again */
#define QUOTA_RECHECK 60.0 /* on_quota = "wait": look again this often */

/* Another process's 429 pause is too long to wait for: r fails. */
static int penalty_long(struct sx_client *c, struct sx_req *r, int64_t retry)
{
    sx_queue_unlink(c, r);
    r->retry_after = (double)retry;
    snprintf(r->errbuf, sizeof r->errbuf, "the API key is paused by a 429 "
             "for %llds more (shared by every process), over "
             "retry.max_retry_after", (long long)retry);
    sx_client_complete(r, SX_E_RATE);
    return -1;
}

/* The day's quota is spent: r fails at once, or the queue waits. */
static int quota_spent(struct sx_client *c, struct sx_req *r, int64_t retry)
{
    if (c->cfg.on_quota_wait) {
        arm_queue_timer(c, retry < QUOTA_RECHECK ? (double)retry
                                                 : QUOTA_RECHECK);
        return 0;
    }
    sx_queue_unlink(c, r);
    r->retry_after = (double)retry;
    snprintf(r->errbuf, sizeof r->errbuf, "the daily quota of the API key "
             "is spent (resets at 00:00 UTC, in %llds)", (long long)retry);
    sx_client_complete(r, SX_E_QUOTA);
    return -1;
}

/*
 * The shared limiter: the head reserves a slot once, then waits for it
 * (the queue timer); 1 go, 0 wait, -1 r was taken off the queue, 2 not
 * shared (the local limiter decides).
 */
static int admit_shared(struct sx_client *c, struct sx_req *r)
{
    int64_t retry = 0, now;
    if (!r->slot_ns) {
        switch (sx_share_reserve(c, &r->slot_ns, &retry)) {
        case SX_SHARE_OFF:
            return 2;
        case SX_SHARE_BUSY:
            arm_queue_timer(c, SHARE_RETRY);
            return 0;
        case SX_SHARE_PENDING:
            return 0;
        case SX_SHARE_QUOTA:
            return quota_spent(c, r, retry);
        case SX_SHARE_PENALTY:
            return penalty_long(c, r, retry);
        case SX_SHARE_SLOT:
            break;
        }
    }
    now = sx_share_now_ns();
    if (r->slot_ns > now) {
        arm_queue_timer(c, (double)(r->slot_ns - now) / 1e9);
        return 0;
    }
    return 1;
}

/* ---- the adaptive rate (sx_adapt) -------------------------------------- */

#define ADAPT_LOG_EVERY 3.0 /* seconds between info-level limiter.adapt */
#define ADAPT_LOG_CHANGE 0.2 /* a change this large (relative) is logged */

static int adapt_on(const struct sx_client *c)
{
    return c->cfg.rate_on && c->cfg.rate_adaptive;
}

/* Seconds until the learned rate admits the next base URL request. */
static double adapt_wait(const struct sx_client *c, double now)
{
    if (!adapt_on(c) || !c->adapt.active)
        return 0;
    double at = c->adapt_last + 1 / sx_adapt_rate(&c->adapt, now);
    return at > now ? at - now : 0;
}

/* limiter.adapt: info at most every ADAPT_LOG_EVERY s, on a large change. */
static void adapt_log(struct sx_client *c, double now)
{
    char v[32];
    double rate = sx_adapt_rate(&c->adapt, now), old = c->adapt_logged;
    if (old > 0 && fabs(rate - old) < ADAPT_LOG_CHANGE * old)
        return;
    if (old > 0 && now - c->adapt_logged_at < ADAPT_LOG_EVERY)
        return;
    snprintf(v, sizeof v, "%.3g/s", rate);
    struct sx_log_field f[] = {
        {"rate", v, 1}, {"reason", c->adapt_cut ? "429" : "success", 1}};
    sx_log(SX_LOG_INFO, "limiter.adapt", f, 2);
    c->adapt_logged = c->adapt.active ? rate : 0;
    c->adapt_logged_at = now;
    c->adapt_cut = 0;
}

/*
 * The base URL answered r.  Only one cut per burst of 429s: a request
 * that left the queue before the last cut was sent at the old rate, so
 * its 429 says nothing new.
 */
void sx_queue_adapt(struct sx_req *r, int throttled, double retry_after)
{
    struct sx_client *c = r->c;
    double now = sx_time_now();
    if (!r->limited || !adapt_on(c))
        return;
    if (!throttled) {
        if (!c->adapt.active)
            sx_adapt_success(&c->adapt, now);
        else {
            sx_adapt_success(&c->adapt, now);
            adapt_log(c, now);
        }
        return;
    }
    if (retry_after >= SX_GCRA_SPENT_S) /* the quota, not the rate */
        return;
    if (c->adapt.active && r->admitted_at < c->adapt.t_cut)
        return;
    sx_adapt_throttle(&c->adapt, now, retry_after);
    c->adapt_cut = 1;
    c->share.adapt_dirty = c->share.state > 0;
    adapt_log(c, now);
}

void sx_queue_adapt_config(struct sx_client *c)
{
    double max = c->cfg.rate_on ? c->cfg.rate / c->cfg.period : 0;
    sx_adapt_set_max(&c->adapt, max);
    if (!adapt_on(c))
        sx_adapt_init(&c->adapt, max);
}

/* ---- admission --------------------------------------------------------- */

/*
 * admit_head for a request under the base URL.  The learned rate spaces
 * every admission, a head holding a slot reserved before a burst of 429s
 * was pushed in front of it too (its slot is long past by then).
 */
static int admit_limited(struct sx_client *c, struct sx_req *r, double now)
{
    double wait;
    if ((wait = adapt_wait(c, now)) > 0) {
        arm_queue_timer(c, wait);
        return 0;
    }
    if (c->cfg.rate_on) {
        int ok = admit_shared(c, r);
        if (ok != 2)
            return ok;
    }
    if ((wait = limiter_wait(c, now)) > 0) {
        arm_queue_timer(c, wait);
        return 0;
    }
    if (c->cfg.rate_on)
        sx_limiter_admit(&c->lim, now);
    return 1;
}

/* 1 if the head may start now; 0 if the queue must wait (timer armed). */
static int admit_head(struct sx_client *c, struct sx_req *r)
{
    double now = sx_time_now(), wait;
    if (!sx_origin_admit(c, r))
        return -1; /* an open breaker failed it fast */
    if (!r->limited) {
        if ((wait = origin_wait(c, r, now)) > 0) {
            sx_queue_unlink(c, r);
            sx_queue_park(r, wait); /* let the others by meanwhile */
            return -1;
        }
        return 1;
    }
    int ok = admit_limited(c, r, now);
    if (ok == 1)
        c->adapt_last = r->admitted_at = now;
    return ok;
}

void sx_queue_pump(struct sx_client *c)
{
    if (!sx_share_flush(c)) { /* a 429 for the other processes */
        arm_queue_timer(c, SHARE_RETRY);
        return;
    }
    while (!sx_list_empty(&c->queue) &&
           c->st.in_flight < c->cfg.max_connections) {
        struct sx_req *r = sx_list_entry(c->queue.next, struct sx_req, qlink);
        int ok = admit_head(c, r);
        if (ok == 0)
            return;
        if (ok < 0)
            continue;
        sx_queue_unlink(c, r);
        r->queue_wait += sx_time_now() - r->queued_at;
        sx_client_start(c, r);
    }
}

static void on_queue_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sx_queue_pump(arg);
}

int sx_queue_empty(const struct sx_client *c)
{
    return sx_list_empty(&c->queue);
}

/*
 * What a progress line needs to say "waiting for the rate limit": the
 * queue is FIFO and only a limited head holds it back, so the head's time
 * in the queue is the longest anyone has waited for the limiter.
 */
void sx_queue_stats(const struct sx_client *c, struct sx_stats *out)
{
    double now = sx_time_now();
    out->limiter_wait = 0;
    out->pause_left = c->paused_until > now ? c->paused_until - now : 0;
    out->rate_learned = adapt_on(c) ? sx_adapt_rate(&c->adapt, now) : -1;
    if (sx_list_empty(&c->queue))
        return;
    const struct sx_req *r = sx_list_entry(c->queue.next, struct sx_req,
                                           qlink);
    if (r->limited && (limiter_wait(c, now) > 0 || r->slot_ns ||
                       adapt_wait(c, now) > 0) &&
        now > r->queued_at)
        out->limiter_wait = now - r->queued_at;
}

void sx_queue_kick(struct sx_client *c)
{
    if (!evtimer_pending(c->queue_timer, NULL)) {
        struct timeval tv = {0, 0};
        evtimer_add(c->queue_timer, &tv);
    }
}

void sx_queue_pause(struct sx_req *r, double until)
{
    struct sx_client *c = r->c;
    if (!r->limited) {
        pause_origin(c, r, until);
        return;
    }
    if (c->cfg.rate_on)
        sx_limiter_pause(&c->lim, until);
    if (until > c->paused_until)
        c->paused_until = until;
}

int sx_queue_init(struct sx_client *c)
{
    sx_list_init(&c->queue);
    sx_adapt_init(&c->adapt, 1);
    c->queue_timer = evtimer_new(c->base, on_queue_timer, c);
    return c->queue_timer ? 0 : -1;
}

void sx_queue_free(struct sx_client *c)
{
    if (c->queue_timer)
        event_free(c->queue_timer);
    c->queue_timer = NULL;
}
