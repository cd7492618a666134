/*
 * Per-origin state of the client (see sx_client_priv.h): the circuit
 * breaker and the retry budget of sx_breaker, in a small table of the
 * origins last asked.  The queue asks sx_origin_admit before each
 * attempt; finish_attempt reports each outcome and asks before a retry.
 * Every change of a breaker's state is logged.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sx_client_priv.h"
#include "sx_log.h"
#include "sx_time.h"

static void params(const struct sx_config *k, struct sx_breaker_params *p)
{
    p->window = (int)k->breaker_window;
    p->min_calls = (int)k->breaker_min_calls;
    p->failure_rate = k->breaker_failure_rate;
    p->consecutive = (int)k->breaker_consecutive;
    p->open_for = k->breaker_open_for;
    p->open_max = k->breaker_open_max;
    p->probe_timeout = k->breaker_probe_timeout;
}

/* "scheme://host:port" of r without any user:password@ (for logs too). */
static int origin_name(const struct sx_req *r, char *out, size_t len)
{
    const char *u = r->url, *end = u + r->origin_len, *host, *at;
    const char *sep = strstr(u, "://");
    if (!sep || sep >= end)
        return -1;
    host = sep + 3;
    for (at = end; at > host && at[-1] != '@'; at--) {
    }
    int n = snprintf(out, len, "%.*s%.*s", (int)(host - u), u,
                     (int)(end - at), at);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* r's origin's entry, made (replacing the least recently used) if new. */
static struct sx_origin *find(struct sx_client *c, const struct sx_req *r)
{
    char name[SX_ORIGIN_MAX];
    int slot = 0;
    if (origin_name(r, name, sizeof name) < 0)
        return NULL;
    for (int i = 0; i < SX_ORIGINS; i++) {
        struct sx_origin *o = &c->origins[i];
        if (o->used > 0 && !strcasecmp(o->name, name)) {
            o->used = sx_time_now();
            return o;
        }
        if (o->used < c->origins[slot].used)
            slot = i;
    }
    struct sx_origin *o = &c->origins[slot];
    snprintf(o->name, sizeof o->name, "%s", name);
    o->used = sx_time_now();
    sx_breaker_init(&o->b);
    sx_budget_init(&o->budget, c->cfg.retry_budget);
    return o;
}

/* breaker.open, breaker.half_open, breaker.closed */
static void log_state(const struct sx_origin *o, const char *why,
                      double now)
{
    char fails[16], calls[16], row[16], open[32];
    const struct sx_breaker *b = &o->b;
    snprintf(fails, sizeof fails, "%d", b->failures);
    snprintf(calls, sizeof calls, "%d", b->calls);
    snprintf(row, sizeof row, "%d", b->in_a_row);
    snprintf(open, sizeof open, "%.3f", sx_breaker_retry_in(b, now));
    int opened = b->state == SX_BREAKER_OPEN, tripped = opened && !why;
    struct sx_log_field f[] = {
        {"origin", o->name, 0},
        {"failures", tripped ? fails : NULL, 1}, /* a probe: no window */
        {"window", tripped ? calls : NULL, 1},
        {"in_a_row", tripped ? row : NULL, 1},
        {"open_for", opened ? open : NULL, 1},
        {"reason", why, 0},
    };
    const char *ev = opened ? "breaker.open"
                     : b->state == SX_BREAKER_HALF_OPEN ? "breaker.half_open"
                                                        : "breaker.closed";
    sx_log(opened ? SX_LOG_WARN : SX_LOG_INFO, ev, f, sizeof f / sizeof *f);
}

/* The open breaker refuses r: it completes now with SX_E_CIRCUIT. */
static void fail_fast(struct sx_client *c, struct sx_req *r,
                      const struct sx_origin *o, double retry_in)
{
    sx_queue_unlink(c, r);
    r->retry_after = retry_in;
    r->status = 0;
    c->st.circuit_open++;
    snprintf(r->errbuf, sizeof r->errbuf, "circuit open for %.180s (%s in "
             "%.3gs)", o->name, o->b.state == SX_BREAKER_OPEN ? "a probe"
             : "the probe's answer", retry_in);
    sx_client_complete(r, SX_E_CIRCUIT);
}

int sx_origin_admit(struct sx_client *c, struct sx_req *r)
{
    struct sx_breaker_params p;
    struct sx_origin *o;
    double now = sx_time_now(), retry_in;
    if (!c->cfg.breaker_on || !(o = find(c, r)))
        return 1;
    if (r->probe && o->b.state == SX_BREAKER_HALF_OPEN &&
        o->b.probe == r->probe)
        return 1; /* the probe, still held by the limiter */
    params(&c->cfg, &p);
    enum sx_breaker_state was = o->b.state;
    enum sx_breaker_admit a = sx_breaker_admit(&o->b, &p, now, &r->probe,
                                               &retry_in);
    if (o->b.state != was)
        log_state(o, NULL, now);
    if (a == SX_BREAKER_REJECT) {
        fail_fast(c, r, o, retry_in);
        return 0;
    }
    return 1;
}

/* The attempt's timeout: a probe's is at most breaker.probe_timeout. */
double sx_origin_timeout(const struct sx_client *c, const struct sx_req *r)
{
    double t = c->cfg.breaker_probe_timeout;
    return r->probe && t < r->timeout ? t : r->timeout;
}

static int transport_failure(enum sx_err e)
{
    return e == SX_E_CONNECT || e == SX_E_DNS || e == SX_E_TLS ||
           e == SX_E_TIMEOUT || e == SX_E_RESET;
}

int sx_origin_record(struct sx_client *c, struct sx_req *r)
{
    struct sx_breaker_params p;
    struct sx_origin *o = find(c, r);
    double now = sx_time_now();
    unsigned probe = r->probe;
    if (!o)
        return 0;
    enum sx_breaker_outcome out = sx_breaker_classify(
        transport_failure(r->err), r->err == SX_OK ? r->status : 0);
    r->probe = 0;
    if (out == SX_BREAKER_SUCCESS)
        sx_budget_success(&o->budget, r->budget_cost);
    if (!c->cfg.breaker_on)
        return 0;
    params(&c->cfg, &p);
    enum sx_breaker_state was = o->b.state;
    sx_breaker_record(&o->b, &p, now, out, probe);
    if (o->b.state != was)
        log_state(o, was == SX_BREAKER_HALF_OPEN ? "probe" : NULL, now);
    return probe != 0 || o->b.state != SX_BREAKER_CLOSED;
}

int sx_origin_retry(struct sx_client *c, struct sx_req *r)
{
    struct sx_origin *o = find(c, r);
    int cost;
    if (!o)
        return 1;
    enum sx_budget_rc rc = sx_budget_spend(&o->budget,
                                           r->err == SX_E_TIMEOUT, &cost);
    if (rc == SX_BUDGET_PAID) {
        r->budget_cost = cost;
        return 1;
    }
    c->st.budget_refused++;
    if (rc == SX_BUDGET_DRAINED) {
        char cap[32];
        snprintf(cap, sizeof cap, "%ld", o->budget.capacity);
        struct sx_log_field f[] = {{"origin", o->name, 0},
                                   {"capacity", cap, 1}};
        sx_log(SX_LOG_WARN, "retry.budget_exhausted", f, 2);
    }
    return 0;
}

void sx_origin_cancelled(struct sx_client *c, struct sx_req *r)
{
    struct sx_origin *o;
    if (r->probe && (o = find(c, r)))
        sx_breaker_probe_lost(&o->b, r->probe);
    r->probe = 0;
}

/* New settings: budgets resized; new breaker settings start over closed. */
void sx_origin_config(struct sx_client *c, const struct sx_config *old)
{
    const struct sx_config *k = &c->cfg;
    int same = old && old->breaker_on == k->breaker_on &&
               old->breaker_window == k->breaker_window &&
               old->breaker_min_calls == k->breaker_min_calls &&
               old->breaker_failure_rate == k->breaker_failure_rate &&
               old->breaker_consecutive == k->breaker_consecutive;
    for (int i = 0; i < SX_ORIGINS; i++) {
        sx_budget_resize(&c->origins[i].budget, k->retry_budget);
        if (!same && c->origins[i].used > 0)
            sx_breaker_init(&c->origins[i].b);
    }
}

int sx_client_breakers(const struct sx_client *c, struct sx_breaker_stats *out,
                       int max)
{
    double now = sx_time_now();
    int n = 0;
    for (int i = 0; i < SX_ORIGINS && n < max; i++) {
        const struct sx_origin *o = &c->origins[i];
        if (!(o->used > 0))
            continue;
        struct sx_breaker_stats *s = &out[n++];
        s->origin = o->name;
        s->state = c->cfg.breaker_on ? sx_breaker_state_name(o->b.state)
                                     : "off";
        s->calls = o->b.calls;
        s->failures = o->b.failures;
        s->in_a_row = o->b.in_a_row;
        s->trips = o->b.trips;
        s->retry_in = sx_breaker_retry_in(&o->b, now);
        s->budget = o->budget.capacity ? o->budget.level : -1;
    }
    return n;
}
