/*
 * Unit tests for sx_breaker at explicit times: tables of outcome runs
 * (trip by rate once min_calls are in, by failures in a row, 4xx and 429
 * never trip), open fails fast with retry_in, half-open admits one probe
 * whose answer closes or reopens (for a doubled, capped period), lost
 * probes, clock edges; and the retry budget's spend, refill, exhaustion.
 */
#include "sx_breaker.h"
#include "testhelp.h"

#include <string.h>

static const struct sx_breaker_params P = {
    10, 5, 0.5, 0, 30, 240, 10}; /* window 10, min 5, 50%, no run trip */

/* Runs events ('F' failure, 'S' success, 'I' ignored) 1 s apart. */
static void run(struct sx_breaker *b, const struct sx_breaker_params *p,
                const char *ev)
{
    for (int i = 0; ev[i]; i++) {
        unsigned probe;
        double in;
        double now = i;
        if (sx_breaker_admit(b, p, now, &probe, &in) == SX_BREAKER_REJECT)
            continue;
        sx_breaker_record(b, p, now,
                          ev[i] == 'F'   ? SX_BREAKER_FAILURE
                          : ev[i] == 'S' ? SX_BREAKER_SUCCESS
                                         : SX_BREAKER_IGNORED,
                          probe);
    }
}

static const struct {
    const char *name;
    int consecutive, min_calls;
    const char *events;
    enum sx_breaker_state want;
    int calls, failures;
} runs[] = {
    {"4 failures: under min_calls", 0, 5, "FFFF", SX_BREAKER_CLOSED, 4, 4},
    {"5 failures: min_calls reached, 100%", 0, 5, "FFFFF", SX_BREAKER_OPEN,
     5, 5},
    {"2 of 5 failed: 40% < 50%", 0, 5, "SFSFS", SX_BREAKER_CLOSED, 5, 2},
    {"3 of 6 failed: 50% trips", 0, 5, "SSSFFF", SX_BREAKER_OPEN, 6, 3},
    {"3 of 5 trip; answers while open are ignored", 0, 5, "FFSSF" "S", SX_BREAKER_OPEN,
     5, 3},
    {"old failures slide out of the window", 0, 10,
     "FFFF" "SSSSSSSSSS" "FFFF", SX_BREAKER_CLOSED, 10, 4},
    {"ignored (429) outcomes are not counted", 0, 5, "IIIIIIIIIIII",
     SX_BREAKER_CLOSED, 0, 0},
    {"4xx-like successes never trip", 0, 1, "SSSSSSSSSSSSSSSSSSSS",
     SX_BREAKER_CLOSED, 10, 0},
    {"3 in a row trips before min_calls", 3, 50, "FFF", SX_BREAKER_OPEN, 3,
     3},
    {"a success breaks the run", 3, 50, "FFSFFSFF", SX_BREAKER_CLOSED, 8,
     6},
    {"an ignored outcome does not break the run", 3, 50, "FFIF",
     SX_BREAKER_OPEN, 3, 3},
    {"min_calls above the window: the window", 0, 100, "FFFFFFFFFF",
     SX_BREAKER_OPEN, 10, 10},
};

static void test_runs(void)
{
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        struct sx_breaker b;
        struct sx_breaker_params p = P;
        p.consecutive = runs[i].consecutive;
        p.min_calls = runs[i].min_calls;
        sx_breaker_init(&b);
        run(&b, &p, runs[i].events);
        test_cond(runs[i].name, b.state == runs[i].want);
        test_cond(runs[i].name, b.calls == runs[i].calls);
        test_cond(runs[i].name, b.failures == runs[i].failures);
    }
}

static void test_classify(void)
{
    static const struct {
        int transport;
        long status;
        enum sx_breaker_outcome want;
    } t[] = {
        {1, 0, SX_BREAKER_FAILURE},   {0, 500, SX_BREAKER_FAILURE},
        {0, 503, SX_BREAKER_FAILURE}, {0, 599, SX_BREAKER_FAILURE},
        {0, 429, SX_BREAKER_IGNORED}, {0, 0, SX_BREAKER_IGNORED},
        {0, 404, SX_BREAKER_SUCCESS}, {0, 400, SX_BREAKER_SUCCESS},
        {0, 200, SX_BREAKER_SUCCESS}, {0, 301, SX_BREAKER_SUCCESS},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        test_cond("classify",
                  sx_breaker_classify(t[i].transport, t[i].status) ==
                      t[i].want);
}

/* Opens a breaker at t=100 with 5 failures in a row. */
static void open_at_100(struct sx_breaker *b, const struct sx_breaker_params *p)
{
    sx_breaker_init(b);
    for (int i = 0; i < 5; i++)
        sx_breaker_record(b, p, 100, SX_BREAKER_FAILURE, 0);
}

static void test_open_and_probe(void)
{
    struct sx_breaker b;
    unsigned probe, probe2;
    double in;
    open_at_100(&b, &P);
    test_cond("open", b.state == SX_BREAKER_OPEN && b.trips == 1);
    test_cond("open fails fast",
              sx_breaker_admit(&b, &P, 110, &probe, &in) ==
                  SX_BREAKER_REJECT);
    test_cond("retry_in to the end of open_for", th_near(in, 20, 1e-9));
    test_cond("retry_in()", th_near(sx_breaker_retry_in(&b, 125), 5, 1e-9));
    test_cond("a late answer while open is ignored",
              (sx_breaker_record(&b, &P, 111, SX_BREAKER_SUCCESS, 0),
               b.state == SX_BREAKER_OPEN));
    test_cond("just before the end: still open",
              sx_breaker_admit(&b, &P, 129.999, &probe, &in) ==
                  SX_BREAKER_REJECT);
    test_cond("at the end: the probe",
              sx_breaker_admit(&b, &P, 130, &probe, &in) == SX_BREAKER_PROBE);
    test_cond("half-open", b.state == SX_BREAKER_HALF_OPEN && probe != 0);
    test_cond("a second caller is refused",
              sx_breaker_admit(&b, &P, 131, &probe2, &in) ==
                  SX_BREAKER_REJECT && probe2 == 0);
    test_cond("until the probe is due", th_near(in, 9, 1e-9));
    test_cond("a non-probe answer does not decide",
              (sx_breaker_record(&b, &P, 132, SX_BREAKER_SUCCESS, 0),
               b.state == SX_BREAKER_HALF_OPEN));
    sx_breaker_record(&b, &P, 133, SX_BREAKER_SUCCESS, probe);
    test_cond("probe success closes", b.state == SX_BREAKER_CLOSED);
    test_cond("with an empty window", b.calls == 0 && b.failures == 0);
    test_cond("closed admits",
              sx_breaker_admit(&b, &P, 133, &probe, &in) == SX_BREAKER_GO &&
                  probe == 0);
}

static void test_reopen_grows(void)
{
    struct sx_breaker b;
    unsigned probe;
    double in, t = 130;
    static const double periods[] = {60, 120, 240, 240, 240};
    open_at_100(&b, &P);
    for (int i = 0; i < 5; i++) {
        test_cond("probe after the period",
                  sx_breaker_admit(&b, &P, t, &probe, &in) ==
                      SX_BREAKER_PROBE);
        sx_breaker_record(&b, &P, t, SX_BREAKER_FAILURE, probe);
        test_cond("probe failure reopens", b.state == SX_BREAKER_OPEN);
        test_cond("for a doubled, capped period",
                  th_near(sx_breaker_retry_in(&b, t), periods[i], 1e-9));
        t += periods[i];
    }
    test_cond("trips counted", b.trips == 6);
    sx_breaker_admit(&b, &P, t, &probe, &in);
    sx_breaker_record(&b, &P, t, SX_BREAKER_IGNORED, probe);
    test_cond("a 429 probe closes (the origin answers)",
              b.state == SX_BREAKER_CLOSED);
    open_at_100(&b, &P);
    test_cond("after closing, the period starts over",
              th_near(sx_breaker_retry_in(&b, 100), 30, 1e-9));
}

static void test_lost_probe(void)
{
    struct sx_breaker b;
    unsigned p1, p2, p3;
    double in;
    open_at_100(&b, &P);
    sx_breaker_admit(&b, &P, 130, &p1, &in);
    test_cond("probe lost after probe_timeout: another goes",
              sx_breaker_admit(&b, &P, 140, &p2, &in) == SX_BREAKER_PROBE &&
                  p2 != p1);
    sx_breaker_record(&b, &P, 141, SX_BREAKER_SUCCESS, p1);
    test_cond("the lost probe's late answer does not decide",
              b.state == SX_BREAKER_HALF_OPEN);
    sx_breaker_probe_lost(&b, p2);
    test_cond("a cancelled probe frees the slot at once",
              sx_breaker_admit(&b, &P, 141, &p3, &in) == SX_BREAKER_PROBE);
    sx_breaker_probe_lost(&b, p2);
    test_cond("a stale cancel does not free the new probe's slot",
              sx_breaker_admit(&b, &P, 142, &p2, &in) == SX_BREAKER_REJECT);
    sx_breaker_record(&b, &P, 142, SX_BREAKER_FAILURE, p3);
    test_cond("the current probe's failure reopens",
              b.state == SX_BREAKER_OPEN);
}

static void test_clock_edges(void)
{
    struct sx_breaker b;
    unsigned probe;
    double in, nan = 0.0 / 0.0;
    struct sx_breaker_params p = P;
    open_at_100(&b, &P);
    test_cond("NaN time stays open",
              sx_breaker_admit(&b, &P, nan, &probe, &in) ==
                  SX_BREAKER_REJECT && in == 0);
    test_cond("a clock behind: retry_in to the period end",
              sx_breaker_admit(&b, &P, 50, &probe, &in) ==
                      SX_BREAKER_REJECT && th_near(in, 80, 1e-9));
    test_cond("retry_in is 0 once due", sx_breaker_retry_in(&b, 1e9) == 0);
    p.open_for = 86400;
    p.open_max = 60;
    test_cond("open_max below open_for: open_for",
              sx_breaker_open_period(&p, 10) == 86400);
    p.open_for = 0.001;
    p.open_max = 86400;
    test_cond("many reopens: capped",
              sx_breaker_open_period(&p, 64) == 86400);
    test_cond("state names", !strcmp(sx_breaker_state_name(
                                 SX_BREAKER_HALF_OPEN), "half_open"));
}

static void test_budget(void)
{
    struct sx_budget b;
    int cost, paid = 0, drained = 0, refused = 0;
    sx_budget_init(&b, 50);
    for (int i = 0; i < 20; i++) {
        enum sx_budget_rc rc = sx_budget_spend(&b, 0, &cost);
        paid += rc == SX_BUDGET_PAID;
        drained += rc == SX_BUDGET_DRAINED;
        refused += rc == SX_BUDGET_REFUSED;
    }
    test_cond("50 pays 10 retries at 5", paid == 10 && b.level == 0);
    test_cond("drained once, then refused", drained == 1 && refused == 9);
    sx_budget_success(&b, 0);
    test_cond("a first-attempt success returns 1", b.level == 1);
    for (int i = 0; i < 4; i++)
        sx_budget_success(&b, 0);
    test_cond("5 successes pay one retry",
              sx_budget_spend(&b, 0, &cost) == SX_BUDGET_PAID && cost == 5);
    test_cond("empty again: drained is reported anew",
              sx_budget_spend(&b, 0, &cost) == SX_BUDGET_DRAINED);
    sx_budget_success(&b, 10);
    test_cond("a retried success returns its cost", b.level == 10);
    test_cond("after a timeout a retry costs 10",
              sx_budget_spend(&b, 1, &cost) == SX_BUDGET_PAID &&
                  cost == 10 && b.level == 0);
    for (int i = 0; i < 100; i++)
        sx_budget_success(&b, 10);
    test_cond("never above the capacity", b.level == 50);
    sx_budget_resize(&b, 20);
    test_cond("a smaller capacity caps the level", b.level == 20);
    sx_budget_init(&b, 0);
    test_cond("capacity 0: free retries",
              sx_budget_spend(&b, 1, &cost) == SX_BUDGET_PAID && cost == 0);
    sx_budget_resize(&b, 30);
    test_cond("turned on: full", b.level == 30);
}

int main(void)
{
    test_runs();
    test_classify();
    test_open_and_probe();
    test_reopen_grows();
    test_lost_probe();
    test_clock_edges();
    test_budget();
    return test_report();
}
