/*
 * A circuit breaker and a retry budget for one origin, as pure decisions
 * at times the caller passes in (seconds on a monotonic clock).  The
 * breaker keeps a ring of the last N outcomes (failure rate once min_calls
 * are in) and a count of failures in a row; open fails fast until its
 * period ends (doubled on each reopen, capped), then half-open admits one
 * probe.  The budget is AWS standard mode's retry quota.
 */
#ifndef SX_BREAKER_H
#define SX_BREAKER_H

#define SX_BREAKER_WINDOW_MAX 1000

enum sx_breaker_state {
    SX_BREAKER_CLOSED,
    SX_BREAKER_OPEN,
    SX_BREAKER_HALF_OPEN
};

/* What one finished attempt says about its origin. */
enum sx_breaker_outcome {
    SX_BREAKER_SUCCESS, /* an answer: 1xx-4xx but 429 */
    SX_BREAKER_FAILURE, /* connect, DNS, TLS, timeout, reset, 5xx */
    SX_BREAKER_IGNORED  /* 429 (the limiter's), or a local error */
};

/* The settings; callers validate them (sx_config's bounds). */
struct sx_breaker_params {
    int window;           /* outcomes remembered, 1..SX_BREAKER_WINDOW_MAX */
    int min_calls;        /* no failure-rate decision before this many */
    double failure_rate;  /* trips at or above this share, (0, 1] */
    int consecutive;      /* trips after this many failures in a row; 0 off */
    double open_for;      /* the first open period, seconds */
    double open_max;      /* the period doubles on each reopen up to this */
    double probe_timeout; /* a probe not back by then is lost */
};

struct sx_breaker {
    enum sx_breaker_state state;
    unsigned char ring[SX_BREAKER_WINDOW_MAX]; /* 1: a failure */
    int head;             /* next slot of ring */
    int calls, failures;  /* in the window */
    int in_a_row;         /* failures in a row */
    int reopens;          /* probes failed in a row */
    double open_until;    /* OPEN: half-open from then on */
    unsigned probe;       /* HALF_OPEN: the probe's id, 0 none */
    unsigned next_probe;
    double probe_until;   /* the probe is lost after this */
    long trips;           /* times opened */
};

enum sx_breaker_admit {
    SX_BREAKER_GO,     /* closed: send it */
    SX_BREAKER_PROBE,  /* half-open: send it as the probe (*probe) */
    SX_BREAKER_REJECT  /* fail fast; *retry_in seconds until a probe */
};

/* The origin's classification of an attempt: status 0 = no answer. */
enum sx_breaker_outcome sx_breaker_classify(int transport_failure,
                                            long status);

void sx_breaker_init(struct sx_breaker *b);

/*
 * May an attempt start at `now`?  OPEN past its period becomes HALF_OPEN;
 * HALF_OPEN with no probe out (or one lost past probe_timeout) admits
 * this one as the probe, its id in *probe.  *retry_in (>= 0, finite) is
 * set on REJECT: until the open period ends, or until the probe is due.
 */
enum sx_breaker_admit sx_breaker_admit(struct sx_breaker *b,
                                       const struct sx_breaker_params *p,
                                       double now, unsigned *probe,
                                       double *retry_in);

/*
 * Records an attempt's outcome; probe is the id from admit (0: not a
 * probe).  CLOSED counts it and may trip to OPEN; HALF_OPEN heeds only
 * its current probe (success or ignored closes, failure reopens for a
 * doubled period); OPEN ignores late answers.
 */
void sx_breaker_record(struct sx_breaker *b, const struct sx_breaker_params *p,
                       double now, enum sx_breaker_outcome o, unsigned probe);

/* The probe ended without an outcome (cancelled): another may go. */
void sx_breaker_probe_lost(struct sx_breaker *b, unsigned probe);

/* Seconds until the breaker admits a probe (0 unless OPEN). */
double sx_breaker_retry_in(const struct sx_breaker *b, double now);

/* The current open period: open_for * 2^reopens, capped by open_max. */
double sx_breaker_open_period(const struct sx_breaker_params *p,
                              int reopens);

const char *sx_breaker_state_name(enum sx_breaker_state s);

/* ---- the retry budget (AWS SDK standard mode's retry quota) ---------- */

#define SX_BUDGET_COST 5          /* a retry */
#define SX_BUDGET_TIMEOUT_COST 10 /* a retry after a timeout */
#define SX_BUDGET_REFUND 1        /* a success at the first attempt */

struct sx_budget {
    long capacity; /* 0: no budget (retries are free) */
    long level;
    int empty;     /* a retry was refused since the level last paid one */
};

/* A full bucket of capacity tokens (0: off). */
void sx_budget_init(struct sx_budget *b, long capacity);
/* A new capacity: the level is kept, capped by it (full if it was off). */
void sx_budget_resize(struct sx_budget *b, long capacity);

enum sx_budget_rc {
    SX_BUDGET_PAID,    /* retry; *cost was taken (0 when off) */
    SX_BUDGET_REFUSED, /* cannot pay: give up with the attempt's outcome */
    SX_BUDGET_DRAINED  /* as REFUSED, the first refusal since it paid */
};
enum sx_budget_rc sx_budget_spend(struct sx_budget *b, int after_timeout,
                                  int *cost);
/*
 * A success: a request that was retried returns what its last retry cost
 * (cost > 0), one that was not returns SX_BUDGET_REFUND; never above the
 * capacity.
 */
void sx_budget_success(struct sx_budget *b, int cost);

#endif
