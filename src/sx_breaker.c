/*
 * The circuit breaker and the retry budget (see sx_breaker.h): plain
 * arithmetic on a ring of outcomes and a token count, at times passed in.
 */
#include "sx_breaker.h"

#include <math.h>
#include <string.h>

const char *sx_breaker_state_name(enum sx_breaker_state s)
{
    switch (s) {
    case SX_BREAKER_OPEN: return "open";
    case SX_BREAKER_HALF_OPEN: return "half_open";
    default: return "closed";
    }
}

enum sx_breaker_outcome sx_breaker_classify(int transport_failure,
                                            long status)
{
    if (transport_failure)
        return SX_BREAKER_FAILURE;
    if (status == 429 || status <= 0)
        return SX_BREAKER_IGNORED;
    return status >= 500 ? SX_BREAKER_FAILURE : SX_BREAKER_SUCCESS;
}

void sx_breaker_init(struct sx_breaker *b)
{
    memset(b, 0, sizeof *b);
    b->state = SX_BREAKER_CLOSED;
}

static void clear_window(struct sx_breaker *b)
{
    memset(b->ring, 0, sizeof b->ring);
    b->head = b->calls = b->failures = b->in_a_row = 0;
}

double sx_breaker_open_period(const struct sx_breaker_params *p, int reopens)
{
    double t = p->open_for;
    for (int i = 0; i < reopens && t < p->open_max; i++)
        t *= 2;
    return t < p->open_max ? t : p->open_max > p->open_for ? p->open_max
                                                            : p->open_for;
}

static void open_now(struct sx_breaker *b, const struct sx_breaker_params *p,
                     double now)
{
    b->state = SX_BREAKER_OPEN;
    b->open_until = now + sx_breaker_open_period(p, b->reopens);
    b->probe = 0;
    b->trips++;
}

double sx_breaker_retry_in(const struct sx_breaker *b, double now)
{
    if (b->state != SX_BREAKER_OPEN || !(b->open_until > now))
        return 0;
    return b->open_until - now;
}

enum sx_breaker_admit sx_breaker_admit(struct sx_breaker *b,
                                       const struct sx_breaker_params *p,
                                       double now, unsigned *probe,
                                       double *retry_in)
{
    *probe = 0;
    *retry_in = 0;
    if (b->state == SX_BREAKER_CLOSED)
        return SX_BREAKER_GO;
    if (b->state == SX_BREAKER_OPEN) {
        if (!(now >= b->open_until)) { /* NaN stays open */
            *retry_in = sx_breaker_retry_in(b, now);
            return SX_BREAKER_REJECT;
        }
        b->state = SX_BREAKER_HALF_OPEN;
        b->probe = 0;
    }
    if (b->probe && !(now >= b->probe_until)) {
        *retry_in = b->probe_until - now;
        return SX_BREAKER_REJECT;
    }
    if (++b->next_probe == 0)
        b->next_probe = 1;
    b->probe = *probe = b->next_probe;
    b->probe_until = now + p->probe_timeout;
    return SX_BREAKER_PROBE;
}

/* CLOSED: one more outcome in the ring; trips on the rate or the run. */
static void count(struct sx_breaker *b, const struct sx_breaker_params *p,
                  double now, int failed)
{
    int window = p->window < 1 ? 1 : p->window > SX_BREAKER_WINDOW_MAX
                                          ? SX_BREAKER_WINDOW_MAX
                                          : p->window;
    int min = p->min_calls < window ? p->min_calls : window;
    if (b->head >= window)
        b->head = 0;
    if (b->calls == window)
        b->failures -= b->ring[b->head];
    else
        b->calls++;
    b->ring[b->head] = (unsigned char)failed;
    b->failures += failed;
    b->head = (b->head + 1) % window;
    b->in_a_row = failed ? b->in_a_row + 1 : 0;
    if (p->consecutive > 0 && b->in_a_row >= p->consecutive)
        open_now(b, p, now);
    else if (b->calls >= min &&
             b->failures >= p->failure_rate * b->calls)
        open_now(b, p, now);
}

void sx_breaker_record(struct sx_breaker *b, const struct sx_breaker_params *p,
                       double now, enum sx_breaker_outcome o, unsigned probe)
{
    if (b->state == SX_BREAKER_CLOSED) {
        if (o != SX_BREAKER_IGNORED)
            count(b, p, now, o == SX_BREAKER_FAILURE);
        return;
    }
    if (b->state != SX_BREAKER_HALF_OPEN || !probe || probe != b->probe)
        return; /* a late answer to a request sent before it opened */
    if (o == SX_BREAKER_FAILURE) {
        if (b->reopens < 64)
            b->reopens++;
        open_now(b, p, now);
        return;
    }
    b->state = SX_BREAKER_CLOSED;
    b->probe = 0;
    b->reopens = 0;
    clear_window(b);
}

void sx_breaker_probe_lost(struct sx_breaker *b, unsigned probe)
{
    if (b->state == SX_BREAKER_HALF_OPEN && probe && probe == b->probe)
        b->probe = 0;
}

/* ---- the retry budget ------------------------------------------------- */

void sx_budget_init(struct sx_budget *b, long capacity)
{
    b->capacity = capacity > 0 ? capacity : 0;
    b->level = b->capacity;
    b->empty = 0;
}

void sx_budget_resize(struct sx_budget *b, long capacity)
{
    long old = b->capacity;
    b->capacity = capacity > 0 ? capacity : 0;
    if (old == 0 || b->level > b->capacity)
        b->level = b->capacity;
    if (b->capacity == 0)
        b->empty = 0;
}

enum sx_budget_rc sx_budget_spend(struct sx_budget *b, int after_timeout,
                                  int *cost)
{
    int c = after_timeout ? SX_BUDGET_TIMEOUT_COST : SX_BUDGET_COST;
    *cost = 0;
    if (b->capacity == 0)
        return SX_BUDGET_PAID;
    if (b->level < c) {
        if (b->empty)
            return SX_BUDGET_REFUSED;
        b->empty = 1;
        return SX_BUDGET_DRAINED;
    }
    b->level -= c;
    b->empty = 0;
    *cost = c;
    return SX_BUDGET_PAID;
}

void sx_budget_success(struct sx_budget *b, int cost)
{
    if (b->capacity == 0)
        return;
    b->level += cost > 0 ? cost : SX_BUDGET_REFUND;
    if (b->level > b->capacity)
        b->level = b->capacity;
}
