/*
 * The pooled HTTP client (see sx_client.h): the admission queue with the
 * rate limiter, transfers on the curl multi handle that sx_multi drives,
 * and the retry rules.  Finished transfers are judged after curl has
 * returned, so retries and done callbacks never run inside a curl callback.
 */
#include <curl/curl.h>
#include <event2/event.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sx_client.h"
#include "sx_limiter.h"
#include "sx_log.h"
#include "sx_multi.h"
#include "sx_retry.h"
#include "sx_url.h"

#define SX_HEADERS_MAX ((size_t)256 << 10)

enum req_state { RQ_NEW, RQ_QUEUED, RQ_BACKOFF, RQ_RUNNING, RQ_DONE };

struct sx_req {
    struct sx_client *c;
    struct sx_req *prev, *next;  /* queue links */
    struct sx_req *all_prev, *all_next; /* every live request */
    CURLcode rc;                 /* curl's result of the last attempt */
    enum req_state state;
    char method[16];
    char *url;                   /* urlbuf.data */
    struct sx_buf urlbuf;
    struct curl_slist *headers;  /* the caller's, then our defaults */
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
    struct sx_limiter gcra;
    double paused_until;         /* 429 pause when the limiter is off */
    struct sx_req *q_head, *q_tail;
    struct sx_req *all;          /* every request not yet freed */
    struct sx_req *free_reqs;    /* pool of finished requests (by next) */
    struct curl_slist *hdr_base; /* Accept + credentials, for the base URL */
    struct curl_slist *hdr_plain;/* Accept only, for other URLs */
    struct curl_slist *retired[8]; /* replaced lists a transfer may use */
    int n_retired;
    int n_free_reqs;
    struct sx_easy {
        CURL *easy;
        int dirty;
    } free_easy[64];
    int n_free_easy;
    struct sx_stats st;
    unsigned gen;                /* configuration generation */
    int logged_pool;
    uint64_t rng;
};

static void pump_queue(struct sx_client *c);

/* ---- configuration ---------------------------------------------------- */

void sx_config_defaults(struct sx_config *k)
{
    memset(k, 0, sizeof *k);
    k->timeout = 30;
    k->connect_timeout = 10;
    k->max_connections = 100;
    k->max_idle = 20;
    k->idle_timeout = 300;
    k->rate_on = 1;
    k->rate = 1;
    k->period = 1;
    k->burst = 1;
    k->max_attempts = 5;
    k->max_retry_after = 300;
    k->transient_attempts = 3;
    k->backoff_base = 1;
    k->backoff_cap = 60;
    k->max_body = SX_BUF_MAX_DEFAULT;
}

int sx_config_set_str(char **slot, const char *v)
{
    char *copy = NULL;
    if (v && !(copy = strdup(v)))
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

void sx_config_free(struct sx_config *k)
{
    sx_config_set_str(&k->base_url, NULL);
    sx_config_set_str(&k->api_key, NULL);
    sx_config_set_str(&k->access_token, NULL);
    sx_config_set_str(&k->ca_file, NULL);
}

const char *sx_err_name(enum sx_err e)
{
    static const char *const names[] = {
        "ok", "timeout", "connect", "tls", "dns", "reset", "url", "io",
        "too_large", "cancelled", "transport"};
    return (unsigned)e < sizeof names / sizeof *names ? names[e]
                                                      : "transport";
}

double sx_client_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

/* ---- the loop ------------------------------------------------------- */

static void on_queue_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump_queue(arg);
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

/* ---- default headers ------------------------------------------------- */

static int has_crlf(const char *s)
{
    return strchr(s, '\r') || strchr(s, '\n');
}

/*
 * Appends "prefix value" to *l (value NULL: nothing).  The temporary copy
 * is wiped: it may be a secret.  0, or -1 out of memory.
 */
static int append2(struct curl_slist **l, const char *prefix,
                   const char *value)
{
    if (!value)
        return 0;
    size_t n = strlen(prefix) + strlen(value) + 1;
    char *line = malloc(n);
    if (!line)
        return -1;
    snprintf(line, n, "%s%s", prefix, value);
    struct curl_slist *nl = curl_slist_append(*l, line);
    memset(line, 0, n);
    free(line);
    if (!nl)
        return -1;
    *l = nl;
    return 0;
}

static void wipe_list(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next)
        memset(p->data, 0, strlen(p->data));
    curl_slist_free_all(l);
}

/* Keeps a replaced list until shutdown: a queued transfer may still use it. */
static void retire(struct sx_client *c, struct curl_slist *l)
{
    if (!l)
        return;
    if (c->n_retired == (int)(sizeof c->retired / sizeof *c->retired)) {
        wipe_list(c->retired[0]);
        memmove(c->retired, c->retired + 1,
                sizeof *c->retired * (size_t)(c->n_retired - 1));
        c->n_retired--;
    }
    c->retired[c->n_retired++] = l;
}

/*
 * Requests without headers of their own share these two lists, built once
 * per configuration instead of once per request.
 */
static int build_default_headers(struct sx_client *c, char *err,
                                 size_t errlen)
{
    const struct sx_config *k = &c->cfg;
    struct curl_slist *plain = NULL, *base = NULL;
    if ((k->api_key && has_crlf(k->api_key)) ||
        (k->access_token && has_crlf(k->access_token))) {
        snprintf(err, errlen, "the API key or access token contains CR or LF");
        return -1;
    }
    if (append2(&plain, "Accept: ", "application/json") < 0 ||
        append2(&base, "Accept: ", "application/json") < 0 ||
        append2(&base, "x-api-key: ", k->api_key) < 0 ||
        append2(&base, "Authorization: Bearer ", k->access_token) < 0) {
        curl_slist_free_all(plain);
        wipe_list(base);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    retire(c, c->hdr_base);
    retire(c, c->hdr_plain);
    c->hdr_base = base;
    c->hdr_plain = plain;
    return 0;
}

/*
 * A request with headers of its own (or a download, which wants no JSON
 * Accept) gets the defaults appended to its list; others share one.
 */
static int finish_headers(struct sx_req *r)
{
    const struct sx_config *k = &r->c->cfg;
    int download = r->sink_fd >= 0;
    if (!r->headers && !download)
        return 0;
    if (!download && !r->has_accept &&
        append2(&r->headers, "Accept: ", "application/json") < 0)
        return -1;
    if (r->limited &&
        (append2(&r->headers, "x-api-key: ", k->api_key) < 0 ||
         append2(&r->headers, "Authorization: Bearer ", k->access_token) < 0))
        return -1;
    return 0;
}

static struct curl_slist *req_headers(const struct sx_req *r)
{
    if (r->headers || r->sink_fd >= 0)
        return r->headers;
    return r->limited ? r->c->hdr_base : r->c->hdr_plain;
}

/* ---- starting a transfer --------------------------------------------- */

/* A plain GET leaves no option behind that the next request must undo. */
static int is_plain_get(const struct sx_req *r)
{
    return strcmp(r->method, "GET") == 0 && !r->has_body;
}

/*
 * Easy handles are reused (curl keeps per-handle state worth keeping);
 * a handle that carried anything but a plain GET is reset first.
 */
static CURL *get_easy(struct sx_client *c)
{
    if (c->n_free_easy > 0) {
        struct sx_easy *fe = &c->free_easy[--c->n_free_easy];
        if (fe->dirty)
            curl_easy_reset(fe->easy);
        return fe->easy;
    }
    return curl_easy_init();
}

static void put_easy(struct sx_client *c, CURL *e, int dirty)
{
    if (c->n_free_easy < (int)(sizeof c->free_easy / sizeof *c->free_easy)) {
        c->free_easy[c->n_free_easy].easy = e;
        c->free_easy[c->n_free_easy++].dirty = dirty;
    } else {
        curl_easy_cleanup(e);
    }
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
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, req_headers(r));
    /*
     * Wait for a connection that can multiplex (HTTP/2 is TLS-only here);
     * set both ways, since handles are reused without a reset.
     */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT,
                     strncasecmp(r->url, "https:", 6) == 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(r->timeout * 1000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(k->connect_timeout * 1000));
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

static void complete(struct sx_req *r, enum sx_err err);

static void start_transfer(struct sx_client *c, struct sx_req *r)
{
    if (!c->logged_pool) {
        c->logged_pool = 1;
        log_pool(c, "pool.created");
    }
    reset_results(r);
    r->attempts++;
    r->easy = get_easy(c);
    if (!r->easy) {
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
        c->st.in_flight--;
        put_easy(c, r->easy, 1);
        r->easy = NULL;
        snprintf(r->errbuf, sizeof r->errbuf, "%s", curl_multi_strerror(rc));
        complete(r, SX_E_OTHER);
    }
}

/* ---- the admission queue (rate limiter + connection limit) ---------- */

static void q_unlink(struct sx_client *c, struct sx_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->q_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        c->q_tail = r->prev;
    r->prev = r->next = NULL;
    c->st.queued--;
}

static void q_push(struct sx_client *c, struct sx_req *r, int front)
{
    r->state = RQ_QUEUED;
    r->prev = r->next = NULL;
    if (!c->q_head) {
        c->q_head = c->q_tail = r;
    } else if (front) {
        r->next = c->q_head;
        c->q_head->prev = r;
        c->q_head = r;
    } else {
        r->prev = c->q_tail;
        c->q_tail->next = r;
        c->q_tail = r;
    }
    c->st.queued++;
}

/* Only requests to the base URL are rate limited. */
static int is_limited(const struct sx_client *c, const struct sx_req *r)
{
    (void)c;
    return r->limited;
}

static double limiter_wait(const struct sx_client *c, double now)
{
    if (c->cfg.rate_on)
        return sx_limiter_wait(&c->gcra, now);
    return c->paused_until > now ? c->paused_until - now : 0;
}

static void arm_queue_timer(struct sx_client *c, double wait)
{
    struct timeval tv;
    tv.tv_sec = (time_t)wait;
    tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6) + 1;
    evtimer_add(c->queue_timer, &tv);
}

static void pump_queue(struct sx_client *c)
{
    while (c->q_head && c->st.in_flight < c->cfg.max_connections) {
        struct sx_req *r = c->q_head;
        if (is_limited(c, r)) {
            double now = sx_client_now();
            double wait = limiter_wait(c, now);
            if (wait > 0) {
                arm_queue_timer(c, wait);
                return;
            }
            if (c->cfg.rate_on)
                sx_limiter_admit(&c->gcra, now);
        }
        q_unlink(c, r);
        start_transfer(c, r);
    }
}

void sx_client_flush(struct sx_client *c)
{
    if (c->q_head)
        pump_queue(c);
}

int sx_client_submit(struct sx_req *r, sx_req_done_fn done, void *ud)
{
    struct sx_client *c = r->c;
    if (finish_headers(r) < 0)
        return -1;
    r->done = done;
    r->ud = ud;
    r->submitted = sx_client_now();
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

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
    struct sx_req *r = arg;
    (void)fd;
    (void)what;
    q_push(r->c, r, 1);
    pump_queue(r->c);
}

static void schedule_retry(struct sx_req *r, double wait)
{
    struct sx_client *c = r->c;
    c->st.retries++;
    if (wait <= 0) {
        q_push(c, r, 1);
        return;
    }
    if (!r->backoff_ev)
        r->backoff_ev = evtimer_new(c->base, on_backoff, r);
    if (!r->backoff_ev) {
        q_push(c, r, 1);
        return;
    }
    r->state = RQ_BACKOFF;
    struct timeval tv;
    tv.tv_sec = (time_t)wait;
    tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
    evtimer_add(r->backoff_ev, &tv);
}

/* 429: pause the limiter for everyone; the request goes first after it. */
static int retry_429(struct sx_req *r)
{
    struct sx_client *c = r->c;
    const struct sx_config *k = &c->cfg;
    c->st.status_429++;
    r->retry_after = parse_retry_after(r);
    if (r->retry_after > k->max_retry_after) {
        log_req(SX_LOG_WARN, "retry.gave_up", r, r->retry_after,
                "retry_after_too_long");
        return 0;
    }
    if (r->attempts >= k->max_attempts) {
        log_req(SX_LOG_WARN, "retry.gave_up", r, -1, "max_attempts");
        return 0;
    }
    double wait = r->retry_after >= 0
                      ? r->retry_after
                      : sx_retry_backoff(r->attempts, 1, 60, rand01(c));
    double until = sx_client_now() + wait;
    if (k->rate_on)
        sx_limiter_pause(&c->gcra, until);
    if (until > c->paused_until)
        c->paused_until = until;
    log_req(SX_LOG_WARN, "retry.429", r, wait, NULL);
    schedule_retry(r, 0);
    return 1;
}

static int is_transient(const struct sx_req *r)
{
    if (r->err == SX_E_CONNECT || r->err == SX_E_TIMEOUT ||
        r->err == SX_E_RESET || r->err == SX_E_DNS)
        return 1;
    return r->err == SX_OK &&
           (r->status == 502 || r->status == 503 || r->status == 504);
}

static int retry_transient(struct sx_req *r)
{
    struct sx_client *c = r->c;
    const struct sx_config *k = &c->cfg;
    if (!r->idempotent || !is_transient(r))
        return 0;
    if (r->attempts >= k->transient_attempts)
        return 0;
    double wait = sx_retry_backoff(r->attempts, k->backoff_base, k->backoff_cap,
                             rand01(c));
    double ra = r->status == 503 ? parse_retry_after(r) : -1;
    if (ra > wait && ra <= k->max_retry_after)
        wait = ra;
    log_req(SX_LOG_WARN, "retry.transient", r, wait,
            r->err ? sx_err_name(r->err) : NULL);
    schedule_retry(r, wait);
    return 1;
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
        u && strcmp(u, r->url) != 0)
        sx_config_set_str(&r->eff_url, u);
}

/* Called after curl returned; may start new transfers. */
static void finish_attempt(struct sx_client *c, struct sx_req *r,
                           CURLcode rc)
{
    record_info(r);
    curl_multi_remove_handle(c->multi, r->easy);
    put_easy(c, r->easy, !is_plain_get(r) || r->sink_fd >= 0 ||
                             r->easy_gen != c->gen);
    r->easy = NULL;
    c->st.in_flight--;
    enum sx_err err = map_curl(rc);
    if (rc == CURLE_WRITE_ERROR && r->write_failed)
        err = r->write_failed == 1 ? SX_E_IO : SX_E_TOO_LARGE;
    if (err != SX_OK && !r->errbuf[0])
        snprintf(r->errbuf, sizeof r->errbuf, "%s", curl_easy_strerror(rc));
    r->err = err;
    if (err == SX_OK && r->status == 429 && retry_429(r))
        return;
    if (retry_transient(r))
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
    struct sx_client *c = calloc(1, sizeof *c);
    if (!c)
        goto oom;
    c->base = base;
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
    if (sx_client_reconfigure(c, err, errlen) < 0)
        goto fail;
    return c;
oom:
    snprintf(err, errlen, "out of memory creating the HTTP client");
fail:
    sx_client_free(c);
    return NULL;
}

int sx_client_reconfigure(struct sx_client *c, char *err, size_t errlen)
{
    struct sx_config *k = &c->cfg;
    if (k->rate_on && (k->rate <= 0 || k->period <= 0 || k->burst < 1)) {
        snprintf(err, errlen, "rate must be > 0 per period > 0, burst >= 1");
        return -1;
    }
    if (k->max_connections < 1 || k->max_idle < 0 || k->timeout <= 0 ||
        k->connect_timeout <= 0) {
        snprintf(err, errlen, "connection limits and timeouts must be > 0");
        return -1;
    }
    double tat = c->gcra.tat, paused = c->gcra.paused_until;
    if (k->rate_on) {
        sx_limiter_init(&c->gcra, k->rate, k->period, k->burst);
        c->gcra.tat = tat;
        if (paused > 0)
            sx_limiter_pause(&c->gcra, paused);
    }
    if (build_default_headers(c, err, errlen) < 0)
        return -1;
    /* handles set up before now carry options of the old configuration */
    c->gen++;
    for (int i = 0; i < c->n_free_easy; i++)
        c->free_easy[i].dirty = 1;
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      k->max_connections);
    /*
     * curl's MAXCONNECTS bounds its whole connection cache, busy
     * connections included: a bound of max_idle with more transfers than
     * that running would close every connection as it finishes (measured:
     * 50,000 GETs at concurrency 50 opened 49,766 connections).  So the
     * cache holds every connection the running transfers may use plus
     * max_idle spare ones; idle ones expire after idle_timeout.
     */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
                      k->max_connections + k->max_idle);
    return 0;
}

struct sx_config *sx_client_config(struct sx_client *c) { return &c->cfg; }

void sx_client_stats(const struct sx_client *c, struct sx_stats *out)
{
    *out = c->st;
    out->sockets = c->m ? sx_multi_sockets(c->m) : 0;
}

/* Requests still owned by callers at shutdown are freed here. */
static void cancel_all(struct sx_client *c)
{
    while (c->all)
        sx_req_free(c->all);
}

void sx_client_free(struct sx_client *c)
{
    if (!c)
        return;
    cancel_all(c);
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
    wipe_list(c->hdr_base);
    curl_slist_free_all(c->hdr_plain);
    while (c->n_retired > 0)
        wipe_list(c->retired[--c->n_retired]);
    while (c->n_free_easy > 0)
        curl_easy_cleanup(c->free_easy[--c->n_free_easy].easy);
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
            sx_buf_init(&r->body_buf, c->cfg.max_body);
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
    r->body_buf.max = c->cfg.max_body;
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
    r->all_next = c->all;
    if (c->all)
        c->all->all_prev = r;
    c->all = r;
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

/*
 * Joins path (absolute, or relative to the base URL) and an encoded query
 * into the request's own buffer.
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

int sx_req_header(struct sx_req *r, const char *name, const char *value,
                  char *err, size_t errlen)
{
    if (!*name || has_crlf(name) || strchr(name, ':') || has_crlf(value)) {
        snprintf(err, errlen, "header %s contains CR, LF or ':'",
                 has_crlf(name) ? "name" : "value");
        return -1;
    }
    size_t n = strlen(name), m = strlen(value);
    char *line = malloc(n + m + 3);
    if (!line)
        return -1;
    /* "Name;" sends an empty header; "Name:" would remove it */
    if (m)
        sprintf(line, "%s: %s", name, value);
    else
        sprintf(line, "%s;", name);
    struct curl_slist *l = curl_slist_append(r->headers, line);
    memset(line, 0, n + m + 2); /* may hold a secret */
    free(line);
    if (!l)
        return -1;
    r->headers = l;
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
        curl_multi_remove_handle(c->multi, r->easy);
        put_easy(c, r->easy, 1);
        r->easy = NULL;
        c->st.in_flight--;
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
        c->st.in_flight--;
    }
    if (r->backoff_ev)
        event_free(r->backoff_ev);
    if (r->all_prev)
        r->all_prev->all_next = r->all_next;
    else
        c->all = r->all_next;
    if (r->all_next)
        r->all_next->all_prev = r->all_prev;
    wipe_list(r->headers); /* may hold secrets */
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
    out->elapsed = sx_client_now() - r->submitted;
    out->retry_after = r->retry_after;
}
