/*
 * The pooled HTTP client (see sx_client.h): transfers on the curl multi
 * handle that sx_multi drives, the retry decisions of sx_retry applied to
 * each finished attempt, and the configuration.  The admission queue is
 * sx_queue.c, request objects sx_req.c.  Finished transfers are judged
 * after curl has returned, so retries and done callbacks never run inside
 * a curl callback.
 */
#include <curl/curl.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sx_client_priv.h"
#include "sx_headers.h"
#include "sx_log.h"
#include "sx_multi.h"
#include "sx_retry.h"
#include "sx_time.h"
#include "sx_url.h"

const char *sx_client_err_name(enum sx_err e)
{
    static const char *const names[] = {
        "ok", "timeout", "connect", "tls", "dns", "reset", "url", "io",
        "too_large", "cancelled", "transport", "quota_exhausted",
        "rate_limited", "circuit_open"};
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
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms(sx_origin_timeout(c, r)));
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
void sx_client_stop(struct sx_client *c, struct sx_req *r, int dirty)
{
    curl_multi_remove_handle(c->multi, r->easy);
    sx_easy_put(&c->easy, r->easy, dirty);
    r->easy = NULL;
    c->st.in_flight--;
    release_headers(r);
}

void sx_client_start(struct sx_client *c, struct sx_req *r)
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
        sx_client_complete(r, SX_E_OTHER);
        return;
    }
    set_transfer_opts(c, r->easy, r);
    r->easy_gen = c->gen;
    r->state = RQ_RUNNING;
    c->st.attempts++;
    c->st.in_flight++;
    CURLMcode rc = curl_multi_add_handle(c->multi, r->easy);
    if (rc != CURLM_OK) {
        sx_client_stop(c, r, 1);
        snprintf(r->errbuf, sizeof r->errbuf, "%s", curl_multi_strerror(rc));
        sx_client_complete(r, SX_E_OTHER);
    }
}

void sx_client_flush(struct sx_client *c)
{
    if (!sx_queue_empty(c))
        sx_queue_pump(c);
}

/* ---- dry run ---------------------------------------------------------- */

static int is_write(const struct sx_req *r)
{
    return strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0 &&
           strcmp(r->method, "OPTIONS") != 0;
}

/*
 * The write that was not sent: method, path and, for the API (where a
 * body holds no secret), the body; elsewhere (an OAuth token endpoint)
 * only its size.
 */
static void log_dry_run(const struct sx_req *r)
{
    char n[32];
    snprintf(n, sizeof n, "%zu", r->body_len);
    struct sx_log_field f[] = {
        {"method", r->method, 0},
        {"path", req_path(r), 0},
        {"body", r->limited && r->body_len <= 65536 ? r->body : NULL, 0},
        {"body_bytes", r->limited && r->body_len <= 65536 ? NULL : n, 1},
    };
    sx_log(SX_LOG_INFO, "request.dry_run", f, sizeof f / sizeof *f);
}

static void on_dry_run(evutil_socket_t fd, short what, void *arg)
{
    struct sx_req *r = arg;
    (void)fd;
    (void)what;
    r->status = 200;
    sx_client_complete(r, SX_OK);
}

/* Answers a write at once instead of sending it (next loop pass). */
static int dry_run(struct sx_client *c, struct sx_req *r)
{
    struct timeval tv = {0, 0};
    if (!(r->backoff_ev = evtimer_new(c->base, on_dry_run, r)))
        return -1;
    log_dry_run(r);
    r->dry_run = 1;
    r->state = RQ_BACKOFF; /* cancellable like a request waiting */
    evtimer_add(r->backoff_ev, &tv);
    return 0;
}

int sx_client_submit(struct sx_req *r, sx_req_done_fn done, void *ud)
{
    struct sx_client *c = r->c;
    r->done = done;
    r->ud = ud;
    r->submitted = sx_time_now();
    if (c->cfg.dry_run && is_write(r)) {
        if (dry_run(c, r) < 0)
            return -1;
        c->st.requests++;
        c->st.pending++;
        return 0;
    }
    c->st.requests++;
    c->st.pending++;
    sx_queue_push(c, r, 0);
    sx_queue_kick(c); /* from the loop: submit never completes at once */
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

/* The attempt's Retry-After in seconds, or -1. */
static double parse_retry_after(const struct sx_req *r)
{
    char v[128];
    double secs;
    size_t n;
    const char *p = sx_req_find_header(&r->hbuf, "retry-after", &n);
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
    c->st.retries_by[SX_RR_429]++;
    sx_queue_pause(r, until);
    if (r->limited)
        sx_queue_push(c, r, 1); /* the limiter holds it back */
    else
        sx_queue_park(r, wait); /* let the other origins by */
}

const char *sx_client_retry_reason(int i)
{
    static const char *const names[SX_RR_COUNT] = {
        "429", "5xx", "timeout", "connect", "reset", "dns", "tls", "other"};
    return i >= 0 && i < SX_RR_COUNT ? names[i] : "other";
}

/* Why r, a transient failure, is tried again. */
static enum sx_retry_reason retry_reason(const struct sx_req *r)
{
    switch (r->err) {
    case SX_OK: return SX_RR_5XX;
    case SX_E_TIMEOUT: return SX_RR_TIMEOUT;
    case SX_E_CONNECT: return SX_RR_CONNECT;
    case SX_E_RESET: return SX_RR_RESET;
    case SX_E_DNS: return SX_RR_DNS;
    case SX_E_TLS: return SX_RR_TLS;
    default: return SX_RR_OTHER;
    }
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
    int final = sx_origin_record(c, r); /* a probe, or the breaker opened */
    sx_retry_decide(&p, &a, rand01(c), &d);
    if (d.action == SX_RETRY_BACKOFF && (final || !sx_origin_retry(c, r)))
        d.action = SX_RETRY_GIVE_UP;
    if (r->err == SX_OK && r->status != 503 && r->status != 502 &&
        r->status != 504)
        sx_queue_adapt(r, r->status == 429, a.retry_after);
    if (r->err == SX_OK && r->status == 429 && r->limited)
        sx_share_429(c, a.retry_after >= 0 ? a.retry_after : d.wait);
    if (d.action == SX_RETRY_PAUSE) {
        pause_for_429(r, d.wait);
        return 1;
    }
    if (d.action == SX_RETRY_BACKOFF) {
        log_req(SX_LOG_WARN, "retry.transient", r, d.wait,
                r->err ? sx_client_err_name(r->err) : NULL);
        c->st.retries++;
        c->st.retries_by[retry_reason(r)]++;
        sx_queue_park(r, d.wait);
        return 1;
    }
    if (r->err == SX_OK && r->status == 429 && d.reason)
        log_req(SX_LOG_WARN, "retry.gave_up", r, r->retry_after, d.reason);
    return 0;
}

void sx_client_complete(struct sx_req *r, enum sx_err err)
{
    struct sx_client *c = r->c;
    r->err = err;
    r->state = RQ_DONE;
    c->st.pending--;
    if (err == SX_E_CANCELLED) {
        sx_origin_cancelled(c, r);
        log_req(SX_LOG_DEBUG, "request.cancelled", r, -1, NULL);
    } else if (err == SX_E_CIRCUIT) {
        c->st.failed++; /* breaker.open said it at warn level, once */
        log_req(SX_LOG_DEBUG, "request.failed", r, -1, r->errbuf);
    } else if (err != SX_OK) {
        c->st.failed++;
        log_req(SX_LOG_WARN, "request.failed", r, -1,
                r->errbuf[0] ? r->errbuf : sx_client_err_name(err));
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
    r->request_bytes = 0;
    curl_easy_getinfo(r->easy, CURLINFO_REQUEST_SIZE, &r->request_bytes);
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
    sx_client_stop(c, r, !is_plain_get(r) || r->sink_fd >= 0 ||
                            r->easy_gen != c->gen);
    enum sx_err err = map_curl(rc);
    if (rc == CURLE_WRITE_ERROR && r->write_failed)
        err = r->write_failed == 1 ? SX_E_IO : SX_E_TOO_LARGE;
    if (err != SX_OK && !r->errbuf[0])
        snprintf(r->errbuf, sizeof r->errbuf, "%s", curl_easy_strerror(rc));
    r->err = err;
    if (maybe_retry(c, r))
        return;
    sx_client_complete(r, err);
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
    sx_queue_pump(c);
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
    c->share.f.fd = -1;
    sx_list_init(&c->all);
    sx_config_defaults(&c->cfg);
    c->rng = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() << 17;
    if (!c->rng)
        c->rng = 88172645463325252ULL;
    static const struct sx_multi_ops ops = {on_transfer_done, after_action};
    if (!(c->m = sx_multi_new(base, &ops, c)))
        goto oom;
    c->multi = sx_multi_curl(c->m);
    if (sx_queue_init(c) < 0)
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
    sx_queue_adapt_config(c);
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
    struct sx_config old = c->cfg;
    c->cfg = nk;
    sx_origin_config(c, &old);
    sx_config_free(&old);
    apply_rate(c, &c->cfg);
    sx_share_reset(c); /* the key, URL or directory may have changed */
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
    if (!sx_queue_empty(c))
        sx_queue_kick(c); /* a larger pool may start more */
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
    sx_queue_stats(c, out);
}

void sx_client_free(struct sx_client *c)
{
    if (!c)
        return;
    while (!sx_list_empty(&c->all)) /* still owned by callers at shutdown */
        sx_req_free(sx_list_entry(c->all.next, struct sx_req, alink));
    sx_req_pool_free(c);
    if (c->logged_pool)
        log_pool(c, "pool.closed");
    sx_headers_unref(c->hdrs);
    sx_easy_free_all(&c->easy);
    sx_multi_free(c->m);
    sx_queue_free(c);
    sx_share_free(c);
    sx_config_free(&c->cfg);
    free(c);
}
