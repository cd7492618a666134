/*
 * The pooled HTTP client (see sx_client.h): the admission queue with the
 * rate limiter and each origin's 429 pause, transfers on the curl multi
 * handle that sx_multi drives, and the retry decisions of sx_retry.
 * Finished transfers are judged after curl has returned, so retries and
 * done callbacks never run inside a curl callback.
 */
#include <curl/curl.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sx_client.h"
#include "sx_easy.h"
#include "sx_headers.h"
#include "sx_limiter.h"
#include "sx_list.h"
#include "sx_log.h"
#include "sx_multi.h"
#include "sx_retry.h"
#include "sx_time.h"
#include "sx_url.h"

#define SX_HEADERS_MAX ((size_t)256 << 10)
#define SX_ORIGINS 16       /* other origins whose 429 pause we remember */
#define SX_ORIGIN_MAX 256

enum req_state { RQ_NEW, RQ_QUEUED, RQ_BACKOFF, RQ_RUNNING, RQ_DONE };

struct sx_req {
    struct sx_client *c;
    struct sx_list qlink;        /* on the admission queue */
    struct sx_list alink;        /* on the list of every live request */
    struct sx_req *next;         /* the done list, the free pool */
    CURLcode rc;                 /* curl's result of the last attempt */
    enum req_state state;
    char method[16];
    char *url;                   /* urlbuf.data */
    struct sx_buf urlbuf;
    size_t origin_len;           /* "scheme://host:port" part of url */
    struct curl_slist *headers;  /* the caller's */
    struct curl_slist *sent;     /* this attempt's own list, or NULL */
    struct sx_headers *hdrs;     /* defaults held while running */
    int has_accept;              /* the caller set Accept */
    int limited;                 /* under the base URL: limiter, auth */
    char *body;
    size_t body_len;
    int has_body;
    double timeout;
    int idempotent;
    int sink_fd;                 /* -1: body in memory */
    CURL *easy;
    unsigned easy_gen;           /* c->gen when easy was set up */
    struct event *backoff_ev;
    int attempts;
    double submitted;
    sx_req_done_fn done;
    void *ud;
    /* results */
    long status;
    struct sx_buf hbuf, body_buf;
    enum sx_err err;
    int write_failed;            /* 1 sink error, 2 body cap */
    char errbuf[CURL_ERROR_SIZE];
    char version[8];
    char *eff_url;
    double retry_after;
};

struct sx_client {
    struct event_base *base;
    struct sx_multi *m;
    CURLM *multi;                /* sx_multi_curl(m) */
    struct sx_req *done;         /* finished transfers, by next */
    struct event *queue_timer;   /* wakes the admission queue */
    struct sx_config cfg;
    struct sx_headers *hdrs;     /* default headers of cfg */
    struct sx_limiter lim;
    double paused_until;         /* base URL's 429 pause (limiter off) */
    struct {
        char origin[SX_ORIGIN_MAX];
        double until;
    } pauses[SX_ORIGINS];        /* 429 pauses of other origins */
    struct sx_list queue;        /* the admission queue, FIFO */
    struct sx_list all;          /* every request not yet freed */
    struct sx_req *free_reqs;    /* pool of finished requests (by next) */
    int n_free_reqs;
    struct sx_easy_pool easy;
    struct sx_stats st;
    unsigned gen;                /* configuration generation */
    int logged_pool;
    uint64_t rng;
};

static void pump_queue(struct sx_client *c);
static void complete(struct sx_req *r, enum sx_err err);

const char *sx_err_name(enum sx_err e)
{
    static const char *const names[] = {
        "ok", "timeout", "connect", "tls", "dns", "reset", "url", "io",
        "too_large", "cancelled", "transport"};
    return (unsigned)e < sizeof names / sizeof *names ? names[e]
                                                      : "transport";
}

int sx_client_asynch_dns(void)
{
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    return (v->features & CURL_VERSION_ASYNCHDNS) != 0;
}

static double rand01(struct sx_client *c)
{
    /* xorshift64*: enough for jitter, no global state */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (double)((c->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* ---- logging helpers -------------------------------------------------- */

static const char *req_path(const struct sx_req *r)
{
    const char *base = r->c->cfg.base_url;
    if (base && sx_url_has_prefix(r->url, base))
        return r->url + strlen(base);
    return r->url;
}

static void log_pool(struct sx_client *c, const char *event)
{
    char conns[32], idle[32], rate[64], reqs[32], retries[32], opened[32];
    const struct sx_config *k = &c->cfg;
    snprintf(conns, sizeof conns, "%ld", k->max_connections);
    snprintf(idle, sizeof idle, "%ld", k->max_idle);
    if (k->rate_on)
        snprintf(rate, sizeof rate, "%g/%gs burst %g", k->rate, k->period,
                 k->burst);
    else
        snprintf(rate, sizeof rate, "off");
    snprintf(reqs, sizeof reqs, "%ld", c->st.requests);
    snprintf(retries, sizeof retries, "%ld", c->st.retries);
    snprintf(opened, sizeof opened, "%ld", c->st.connections);
    int closing = strcmp(event, "pool.closed") == 0;
    struct sx_log_field f[] = {
        {"base_url", k->base_url, 0},
        {"max_connections", conns, 1},
        {"max_idle", idle, 1},
        {"rate", rate, 0},
        {"requests", closing ? reqs : NULL, 1},
        {"retries", closing ? retries : NULL, 1},
        {"connections", closing ? opened : NULL, 1},
    };
    sx_log(SX_LOG_INFO, event, f, sizeof f / sizeof *f);
}

static void log_req(enum sx_log_level lvl, const char *event,
                    const struct sx_req *r, double wait, const char *why)
{
    char st[16], att[16], w[32];
    snprintf(st, sizeof st, "%ld", r->status);
    snprintf(att, sizeof att, "%d", r->attempts);
    snprintf(w, sizeof w, "%.3f", wait);
    struct sx_log_field f[] = {
        {"method", r->method, 0},
        {"path", req_path(r), 0},
        {"status", r->status ? st : NULL, 1},
        {"attempt", att, 1},
        {"wait", wait >= 0 ? w : NULL, 1},
        {"reason", why, 0},
    };
    sx_log(lvl, event, f, sizeof f / sizeof *f);
}

/* ---- transfer callbacks (no curl or Lua calls in here) --------------- */

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    struct sx_req *r = ud;
    size_t len = size * n;
    if (len > 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* a new header block (after 1xx or a retry): keep the last one */
        sx_buf_reset(&r->hbuf);
        const char *sp = memchr(p, ' ', len);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    if (sx_buf_add(&r->hbuf, p, len) < 0)
        return 0;
    return len;
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    struct sx_req *r = ud;
    size_t len = size * n;
    if (r->sink_fd >= 0 && r->status >= 200 && r->status < 300) {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(r->sink_fd, p + off, len - off);
            if (w < 0) {
                r->write_failed = 1;
                return 0;
            }
            off += (size_t)w;
        }
        return len;
    }
    if (sx_buf_add(&r->body_buf, p, len) < 0) {
        r->write_failed = 2;
        return 0;
    }
    return len;
}

/* ---- starting a transfer --------------------------------------------- */

/* A plain GET leaves no option behind that the next request must undo. */
static int is_plain_get(const struct sx_req *r)
{
    return strcmp(r->method, "GET") == 0 && !r->has_body;
}

static void set_method(CURL *e, const struct sx_req *r)
{
    if (is_plain_get(r)) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        return;
    }
    if (strcmp(r->method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    if (r->has_body || strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)r->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    }
}

/*
 * The attempt's headers: the shared defaults of the configuration now in
 * force (held until the attempt ends), or, for a request with headers of
 * its own or a download, a list composed with the current credentials.
 */
static int attempt_headers(struct sx_client *c, struct sx_req *r)
{
    int download = r->sink_fd >= 0;
    r->hdrs = sx_headers_ref(c->hdrs);
    if (!r->headers && !download)
        return 0;
    r->sent = sx_headers_compose(c->hdrs, r->headers,
                                 !download && !r->has_accept, r->limited);
    return r->sent ? 0 : -1;
}

static void release_headers(struct sx_req *r)
{
    sx_headers_free_list(r->sent);
    r->sent = NULL;
    sx_headers_unref(r->hdrs);
    r->hdrs = NULL;
}

/* Milliseconds for curl; the settings' bounds keep this in range. */
static long ms(double s)
{
    return s > 0 && s < 1e9 ? (long)(s * 1000) : 0;
}

static void set_transfer_opts(struct sx_client *c, CURL *e, struct sx_req *r)
{
    const struct sx_config *k = &c->cfg;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER,
                     r->sent ? r->sent : sx_headers_shared(r->hdrs,
                                                           r->limited));
    /*
     * Wait for a connection that can multiplex (HTTP/2 is TLS-only here);
     * set both ways, since handles are reused without a reset.
     */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT,
                     strncasecmp(r->url, "https:", 6) == 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms(r->timeout));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms(k->connect_timeout));
    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, (long)k->idle_timeout);
    if (k->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, k->ca_file);
    set_method(e, r);
}

static void reset_results(struct sx_req *r)
{
    r->status = 0;
    r->errbuf[0] = '\0';
    r->write_failed = 0;
    sx_buf_reset(&r->hbuf);
    sx_buf_reset(&r->body_buf);
    if (r->sink_fd >= 0) {
        if (ftruncate(r->sink_fd, 0) == 0)
            lseek(r->sink_fd, 0, SEEK_SET);
    }
}

/* Takes r off the multi handle; its easy handle goes back to the pool. */
static void stop_transfer(struct sx_client *c, struct sx_req *r, int dirty)
{
    curl_multi_remove_handle(c->multi, r->easy);
    sx_easy_put(&c->easy, r->easy, dirty);
    r->easy = NULL;
    c->st.in_flight--;
    release_headers(r);
}

static void start_transfer(struct sx_client *c, struct sx_req *r)
{
    if (!c->logged_pool) {
        c->logged_pool = 1;
        log_pool(c, "pool.created");
    }
    reset_results(r);
    r->attempts++;
    r->easy = sx_easy_get(&c->easy);
    if (!r->easy || attempt_headers(c, r) < 0) {
        if (r->easy)
            sx_easy_put(&c->easy, r->easy, 1);
        r->easy = NULL;
        release_headers(r);
        snprintf(r->errbuf, sizeof r->errbuf, "out of memory");
        complete(r, SX_E_OTHER);
        return;
    }
    set_transfer_opts(c, r->easy, r);
    r->easy_gen = c->gen;
    r->state = RQ_RUNNING;
    c->st.attempts++;
    c->st.in_flight++;
    CURLMcode rc = curl_multi_add_handle(c->multi, r->easy);
    if (rc != CURLM_OK) {
        stop_transfer(c, r, 1);
        snprintf(r->errbuf, sizeof r->errbuf, "%s", curl_multi_strerror(rc));
        complete(r, SX_E_OTHER);
    }
}

/* ---- the admission queue (rate limiter + connection limit) ---------- */

static void q_unlink(struct sx_client *c, struct sx_req *r)
{
    sx_list_remove(&r->qlink);
    c->st.queued--;
}

static void q_push(struct sx_client *c, struct sx_req *r, int front)
{
    r->state = RQ_QUEUED;
    if (front)
        sx_list_push_front(&c->queue, &r->qlink);
    else
        sx_list_push_back(&c->queue, &r->qlink);
    c->st.queued++;
}

static double limiter_wait(const struct sx_client *c, double now)
{
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
    q_push(r->c, r, 1);
    pump_queue(r->c);
}

/* Parks r on its own timer for wait seconds, then puts it first in line. */
static void park(struct sx_req *r, double wait)
{
    struct sx_client *c = r->c;
    if (!r->backoff_ev)
        r->backoff_ev = evtimer_new(c->base, on_backoff, r);
    if (!r->backoff_ev || wait <= 0) {
        q_push(c, r, 1);
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

/* 1 if the head may start now; 0 if the queue must wait (timer armed). */
static int admit_head(struct sx_client *c, struct sx_req *r)
{
    double now = sx_time_now(), wait;
    if (!r->limited) {
        if ((wait = origin_wait(c, r, now)) > 0) {
            q_unlink(c, r);
            park(r, wait); /* let the others by meanwhile */
            return -1;
        }
        return 1;
    }
    if ((wait = limiter_wait(c, now)) > 0) {
        arm_queue_timer(c, wait);
        return 0;
    }
    if (c->cfg.rate_on)
        sx_limiter_admit(&c->lim, now);
    return 1;
}

static void pump_queue(struct sx_client *c)
{
    while (!sx_list_empty(&c->queue) &&
           c->st.in_flight < c->cfg.max_connections) {
        struct sx_req *r = sx_list_entry(c->queue.next, struct sx_req, qlink);
        int ok = admit_head(c, r);
        if (ok == 0)
            return;
        if (ok < 0)
            continue;
        q_unlink(c, r);
        start_transfer(c, r);
    }
}

static void on_queue_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump_queue(arg);
}

void sx_client_flush(struct sx_client *c)
{
    if (!sx_list_empty(&c->queue))
        pump_queue(c);
}

int sx_client_submit(struct sx_req *r, sx_req_done_fn done, void *ud)
{
    struct sx_client *c = r->c;
    r->done = done;
    r->ud = ud;
    r->submitted = sx_time_now();
    c->st.requests++;
    c->st.pending++;
    q_push(c, r, 0);
    /* start from the loop, so submit never completes synchronously */
    if (!evtimer_pending(c->queue_timer, NULL)) {
        struct timeval tv = {0, 0};
        evtimer_add(c->queue_timer, &tv);
    }
    return 0;
}

/* ---- finishing, retrying --------------------------------------------- */

static enum sx_err map_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK: return SX_OK;
    case CURLE_OPERATION_TIMEDOUT: return SX_E_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return SX_E_DNS;
    case CURLE_COULDNT_CONNECT: return SX_E_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: return SX_E_TLS;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: return SX_E_URL;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return SX_E_RESET;
    default: return SX_E_OTHER;
    }
}

const char *sx_header_find(const struct sx_buf *h, const char *name,
                           size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = h->data, *end = h->data + h->len;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        if ((size_t)(le - p) > nl && p[nl] == ':' &&
            strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            while (le > v && (le[-1] == '\r' || le[-1] == ' '))
                le--;
            *vlen = (size_t)(le - v);
            return v;
        }
        p = eol ? eol + 1 : end;
    }
    return NULL;
}

/* The attempt's Retry-After in seconds, or -1. */
static double parse_retry_after(const struct sx_req *r)
{
    char v[128];
    double secs;
    size_t n;
    const char *p = sx_header_find(&r->hbuf, "retry-after", &n);
    if (!p)
        return -1;
    if (n >= sizeof v)
        n = sizeof v - 1;
    memcpy(v, p, n);
    v[n] = '\0';
    if (sx_retry_after_parse(v, time(NULL), &secs) < 0)
        return -1;
    return secs;
}

static int transport_class(enum sx_err e)
{
    if (e == SX_OK)
        return 0;
    return e == SX_E_CONNECT || e == SX_E_TIMEOUT || e == SX_E_RESET ||
                   e == SX_E_DNS
               ? 1
               : 2;
}

/* A 429: the origin waits (all of its requests); r goes first after it. */
static void pause_for_429(struct sx_req *r, double wait)
{
    struct sx_client *c = r->c;
    double until = sx_time_now() + wait;
    log_req(SX_LOG_WARN, "retry.429", r, wait, NULL);
    c->st.retries++;
    if (!r->limited) {
        pause_origin(c, r, until);
        park(r, wait);
        return;
    }
    if (c->cfg.rate_on)
        sx_limiter_pause(&c->lim, until);
    if (until > c->paused_until)
        c->paused_until = until;
    q_push(c, r, 1);
}

/* Retries r if sx_retry says so; 1 if it did. */
static int maybe_retry(struct sx_client *c, struct sx_req *r)
{
    const struct sx_config *k = &c->cfg;
    struct sx_retry_policy p = {(int)k->max_attempts, k->max_retry_after,
                                (int)k->transient_attempts, k->backoff_base,
                                k->backoff_cap};
    struct sx_retry_attempt a = {r->attempts, r->idempotent,
                                 transport_class(r->err), r->status, -1};
    struct sx_retry_decision d;
    if (r->err == SX_OK && (r->status == 429 || r->status == 503) &&
        (a.retry_after = parse_retry_after(r)) >= 0)
        r->retry_after = a.retry_after;
    if (r->err == SX_OK && r->status == 429)
        c->st.status_429++;
    sx_retry_decide(&p, &a, rand01(c), &d);
    if (d.action == SX_RETRY_PAUSE) {
        pause_for_429(r, d.wait);
        return 1;
    }
    if (d.action == SX_RETRY_BACKOFF) {
        log_req(SX_LOG_WARN, "retry.transient", r, d.wait,
                r->err ? sx_err_name(r->err) : NULL);
        c->st.retries++;
        park(r, d.wait);
        return 1;
    }
    if (r->err == SX_OK && r->status == 429 && d.reason)
        log_req(SX_LOG_WARN, "retry.gave_up", r, r->retry_after, d.reason);
    return 0;
}

static void complete(struct sx_req *r, enum sx_err err)
{
    struct sx_client *c = r->c;
    r->err = err;
    r->state = RQ_DONE;
    c->st.pending--;
    if (err == SX_E_CANCELLED) {
        log_req(SX_LOG_DEBUG, "request.cancelled", r, -1, NULL);
    } else if (err != SX_OK) {
        c->st.failed++;
        log_req(SX_LOG_WARN, "request.failed", r, -1,
                r->errbuf[0] ? r->errbuf : sx_err_name(err));
    } else if (r->status >= 500) {
        log_req(SX_LOG_WARN, "request.failed", r, -1, NULL);
    }
    r->done(r, r->ud);
}

static void record_info(struct sx_req *r)
{
    long v = 0, conns = 0;
    char *u = NULL;
    curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &v);
    snprintf(r->version, sizeof r->version, "%s",
             v == CURL_HTTP_VERSION_2_0 ? "2"
             : v == CURL_HTTP_VERSION_3 ? "3"
             : v == CURL_HTTP_VERSION_1_0 ? "1.0" : "1.1");
    curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &conns);
    r->c->st.connections += conns;
    if (curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &u) == CURLE_OK &&
        u && strcmp(u, r->url) != 0) {
        free(r->eff_url);
        r->eff_url = strdup(u);
    }
}

/* Called after curl returned; may start new transfers. */
static void finish_attempt(struct sx_client *c, struct sx_req *r,
                           CURLcode rc)
{
    record_info(r);
    stop_transfer(c, r, !is_plain_get(r) || r->sink_fd >= 0 ||
                            r->easy_gen != c->gen);
    enum sx_err err = map_curl(rc);
    if (rc == CURLE_WRITE_ERROR && r->write_failed)
        err = r->write_failed == 1 ? SX_E_IO : SX_E_TOO_LARGE;
    if (err != SX_OK && !r->errbuf[0])
        snprintf(r->errbuf, sizeof r->errbuf, "%s", curl_easy_strerror(rc));
    r->err = err;
    if (maybe_retry(c, r))
        return;
    complete(r, err);
}

/* sx_multi: a transfer finished; only recorded while curl drains. */
static void on_transfer_done(void *ud, void *priv, CURLcode rc)
{
    struct sx_client *c = ud;
    struct sx_req *r = priv;
    r->rc = rc;
    r->next = c->done;
    c->done = r;
}

/* sx_multi: curl has returned; judge what finished, start what waits. */
static void after_action(void *ud)
{
    struct sx_client *c = ud;
    while (c->done) {
        struct sx_req *r = c->done;
        c->done = r->next;
        r->next = NULL;
        finish_attempt(c, r, r->rc);
    }
    pump_queue(c);
}

/* ---- lifecycle -------------------------------------------------------- */

struct sx_client *sx_client_new(struct event_base *base, char *err,
                                size_t errlen)
{
    struct sx_config k;
    struct sx_client *c = calloc(1, sizeof *c);
    if (!c)
        goto oom;
    c->base = base;
    sx_list_init(&c->queue);
    sx_list_init(&c->all);
    sx_config_defaults(&c->cfg);
    c->rng = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() << 17;
    if (!c->rng)
        c->rng = 88172645463325252ULL;
    static const struct sx_multi_ops ops = {on_transfer_done, after_action};
    if (!(c->m = sx_multi_new(base, &ops, c)))
        goto oom;
    c->multi = sx_multi_curl(c->m);
    c->queue_timer = evtimer_new(base, on_queue_timer, c);
    if (!c->queue_timer)
        goto oom;
    sx_config_defaults(&k);
    if (sx_client_set_config(c, &k, err, errlen) < 0)
        goto fail;
    return c;
oom:
    snprintf(err, errlen, "out of memory creating the HTTP client");
fail:
    sx_client_free(c);
    return NULL;
}

/* The limiter follows a new rate, keeping its debt and any pause. */
static void apply_rate(struct sx_client *c, const struct sx_config *k)
{
    double tat = c->lim.tat, paused = c->lim.paused_until;
    if (!k->rate_on)
        return;
    sx_limiter_init(&c->lim, k->rate, k->period, k->burst);
    c->lim.tat = tat;
    if (paused > 0)
        sx_limiter_pause(&c->lim, paused);
    if (c->paused_until > 0)
        sx_limiter_pause(&c->lim, c->paused_until);
}

int sx_client_set_config(struct sx_client *c, const struct sx_config *k,
                         char *err, size_t errlen)
{
    struct sx_config nk;
    if (sx_config_copy(&nk, k) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct sx_headers *h = sx_headers_new(nk.api_key, nk.access_token, err,
                                          errlen);
    if (!h) {
        sx_config_free(&nk);
        return -1;
    }
    sx_headers_unref(c->hdrs);
    c->hdrs = h;
    sx_config_free(&c->cfg);
    c->cfg = nk;
    apply_rate(c, &c->cfg);
    /* handles set up before now carry options of the old configuration */
    c->gen++;
    sx_easy_dirty_all(&c->easy);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      c->cfg.max_connections);
    /*
     * curl's MAXCONNECTS bounds its whole connection cache, busy
     * connections included: a bound of max_idle with more transfers than
     * that running would close every connection as it finishes (measured:
     * 50,000 GETs at concurrency 50 opened 49,766 connections).  So the
     * cache holds every connection the running transfers may use plus
     * max_idle spare ones; idle ones expire after idle_timeout.
     */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
                      c->cfg.max_connections + c->cfg.max_idle);
    if (!sx_list_empty(&c->queue) && !evtimer_pending(c->queue_timer, NULL)) {
        struct timeval tv = {0, 0}; /* a larger pool may start more */
        evtimer_add(c->queue_timer, &tv);
    }
    return 0;
}

const struct sx_config *sx_client_config(const struct sx_client *c)
{
    return &c->cfg;
}

void sx_client_stats(const struct sx_client *c, struct sx_stats *out)
{
    *out = c->st;
    out->sockets = c->m ? sx_multi_sockets(c->m) : 0;
}

void sx_client_free(struct sx_client *c)
{
    if (!c)
        return;
    while (!sx_list_empty(&c->all)) /* still owned by callers at shutdown */
        sx_req_free(sx_list_entry(c->all.next, struct sx_req, alink));
    while (c->free_reqs) {
        struct sx_req *r = c->free_reqs;
        c->free_reqs = r->next;
        sx_buf_free(&r->hbuf);
        sx_buf_free(&r->body_buf);
        sx_buf_free(&r->urlbuf);
        free(r);
    }
    if (c->logged_pool)
        log_pool(c, "pool.closed");
    sx_headers_unref(c->hdrs);
    sx_easy_free_all(&c->easy);
    sx_multi_free(c->m);
    if (c->queue_timer)
        event_free(c->queue_timer);
    sx_config_free(&c->cfg);
    free(c);
}

/* ---- requests --------------------------------------------------------- */

/*
 * Finished requests are kept (up to SX_REQ_POOL) with their buffers, so a
 * busy script does not allocate a request, a header buffer and a body
 * buffer for every call.
 */
#define SX_REQ_POOL 256
#define SX_REQ_POOL_BUF ((size_t)64 << 10)

static struct sx_req *req_alloc(struct sx_client *c)
{
    struct sx_req *r = c->free_reqs;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (r) {
            sx_buf_init(&r->hbuf, SX_HEADERS_MAX);
            sx_buf_init(&r->body_buf, (size_t)c->cfg.max_body);
            sx_buf_init(&r->urlbuf, 64 << 10);
        }
        return r;
    }
    struct sx_buf h = r->hbuf, b = r->body_buf, u = r->urlbuf;
    c->free_reqs = r->next;
    c->n_free_reqs--;
    memset(r, 0, sizeof *r);
    r->hbuf = h;
    r->body_buf = b;
    r->urlbuf = u;
    r->body_buf.max = (size_t)c->cfg.max_body;
    return r;
}

static void req_release(struct sx_client *c, struct sx_req *r)
{
    /* a response body may hold a token: don't keep it around */
    if (r->body_buf.len)
        memset(r->body_buf.data, 0, r->body_buf.len);
    sx_buf_reset(&r->hbuf);
    sx_buf_reset(&r->body_buf);
    sx_buf_reset(&r->urlbuf);
    if (c->n_free_reqs < SX_REQ_POOL && r->hbuf.cap <= SX_REQ_POOL_BUF &&
        r->body_buf.cap <= SX_REQ_POOL_BUF) {
        r->next = c->free_reqs;
        c->free_reqs = r;
        c->n_free_reqs++;
        return;
    }
    sx_buf_free(&r->hbuf);
    sx_buf_free(&r->body_buf);
    sx_buf_free(&r->urlbuf);
    free(r);
}

struct sx_req *sx_req_new(struct sx_client *c)
{
    struct sx_req *r = req_alloc(c);
    if (!r)
        return NULL;
    r->c = c;
    sx_list_init(&r->qlink);
    sx_list_push_front(&c->all, &r->alink);
    r->sink_fd = -1;
    r->timeout = c->cfg.timeout;
    r->retry_after = -1;
    return r;
}

static int is_idempotent(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") ||
           !strcmp(m, "DELETE") || !strcmp(m, "OPTIONS");
}

/* Length of "scheme://authority" at the start of an absolute URL. */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    return (size_t)(p + strcspn(p, "/?#") - url);
}

/*
 * Joins path (absolute, or relative to the base URL) and an encoded query
 * into the request's own buffer, without dot segments.
 */
static int set_url(struct sx_req *r, const char *path, const char *query,
                   char *err, size_t errlen)
{
    const char *base = r->c->cfg.base_url;
    int abs = sx_url_is_absolute(path);
    if (!abs && !base) {
        snprintf(err, errlen, "no base URL is configured for path '%s'",
                 path);
        return -1;
    }
    if (sx_url_join(&r->urlbuf, abs ? "" : base, path, err, errlen) < 0)
        return -1;
    if (query && *query &&
        sx_buf_addf(&r->urlbuf, "%c%s", strchr(path, '?') ? '&' : '?',
                    query) < 0) {
        snprintf(err, errlen, "URL too long");
        return -1;
    }
    r->url = r->urlbuf.data;
    if (!sx_url_is_absolute(r->url)) {
        snprintf(err, errlen, "invalid URL '%s': not http(s)", r->url);
        return -1;
    }
    for (const char *p = r->url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(err, errlen, "invalid URL: contains a space or "
                                  "control character");
            return -1;
        }
    }
    if (sx_url_remove_dots(&r->urlbuf, err, errlen) < 0)
        return -1;
    r->origin_len = origin_len(r->url);
    r->limited = base && sx_url_has_prefix(r->url, base);
    return 0;
}

int sx_req_set(struct sx_req *r, const char *method, const char *path,
               const char *query, char *err, size_t errlen)
{
    size_t i, n = strlen(method);
    if (n == 0 || n >= sizeof r->method) {
        snprintf(err, errlen, "invalid method '%s'", method);
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (method[i] < 'A' || method[i] > 'Z') {
            snprintf(err, errlen, "invalid method '%s'", method);
            return -1;
        }
    }
    memcpy(r->method, method, n + 1);
    r->idempotent = is_idempotent(r->method);
    return set_url(r, path, query, err, errlen);
}

int sx_req_header(struct sx_req *r, const char *name, size_t nlen,
                  const char *value, size_t vlen, char *err, size_t errlen)
{
    if (sx_headers_add(&r->headers, name, nlen, value, vlen, err, errlen) < 0)
        return -1;
    r->has_accept |= strcasecmp(name, "accept") == 0;
    return 0;
}

int sx_req_body(struct sx_req *r, const char *body, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, body, len);
    copy[len] = '\0';
    free(r->body);
    r->body = copy;
    r->body_len = len;
    r->has_body = 1;
    return 0;
}

void sx_req_options(struct sx_req *r, double timeout, int idempotent)
{
    if (timeout > 0)
        r->timeout = timeout;
    if (idempotent >= 0)
        r->idempotent = idempotent;
}

void sx_req_sink(struct sx_req *r, int fd) { r->sink_fd = fd; }

/*
 * Stops a request wherever it is (queued, waiting to retry, or on the
 * wire); its done callback runs now with SX_E_CANCELLED.  Not from inside
 * a curl callback.
 */
void sx_req_cancel(struct sx_req *r)
{
    struct sx_client *c = r->c;
    switch (r->state) {
    case RQ_QUEUED:
        q_unlink(c, r);
        break;
    case RQ_BACKOFF:
        event_del(r->backoff_ev);
        break;
    case RQ_RUNNING:
        stop_transfer(c, r, 1);
        break;
    default:
        return; /* not submitted, or already done */
    }
    snprintf(r->errbuf, sizeof r->errbuf, "cancelled");
    complete(r, SX_E_CANCELLED);
    pump_queue(c);
}

void sx_req_free(struct sx_req *r)
{
    if (!r)
        return;
    struct sx_client *c = r->c;
    if (r->state == RQ_QUEUED)
        q_unlink(c, r);
    if (r->easy) {
        curl_multi_remove_handle(c->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        c->st.in_flight--;
    }
    release_headers(r);
    if (r->backoff_ev)
        event_free(r->backoff_ev);
    sx_list_remove(&r->alink);
    sx_headers_free_list(r->headers); /* may hold secrets */
    free(r->body);
    free(r->eff_url);
    req_release(c, r);
}

void sx_req_result(const struct sx_req *r, struct sx_result *out)
{
    out->err = r->err;
    out->message = r->err ? (r->errbuf[0] ? r->errbuf : sx_err_name(r->err))
                          : "";
    out->status = r->status;
    out->headers = &r->hbuf;
    out->body = &r->body_buf;
    out->url = r->eff_url ? r->eff_url : r->url;
    out->method = r->method;
    out->http_version = r->version[0] ? r->version : "1.1";
    out->attempts = r->attempts;
    out->elapsed = sx_time_now() - r->submitted;
    out->retry_after = r->retry_after;
}
