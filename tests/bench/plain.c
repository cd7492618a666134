/*
 * plain: the reference load loop of `make bench`.  N GETs of one URL with
 * CONCURRENCY in flight, on libcurl's multi-socket API driven by libevent
 * (the shape of curl's hiperfifo.c), no Lua.  stockx is measured against it.
 *
 *   plain URL N CONCURRENCY [CA_FILE]
 *   -> requests=N seconds=S rps=R connections=C
 */
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_CAP (1024 * 1024) /* a bench body is ~600 bytes */
#define MAX_REPORTED 5         /* failures printed before going quiet */
#define XFER_TIMEOUT 30L       /* seconds, per request */
#define ABORT_AFTER 100        /* failures before no new requests start */

struct bench;

/* One easy handle, re-added for the next request when it completes. */
struct xfer {
    struct bench *b;
    CURL *easy;
    char *buf; /* the body; grows up to BODY_CAP, kept between requests */
    size_t len, cap;
    char err[CURL_ERROR_SIZE];
};

/* One socket curl told us about, stored with curl_multi_assign. */
struct sock {
    struct bench *b;
    struct event ev;
    int armed; /* ev has been assigned and added */
    struct sock *prev, *next;
};

struct bench {
    const char *url, *ca_file;
    long total, concurrency;
    long started, finished, failed;
    long connections; /* sum of CURLINFO_NUM_CONNECTS */
    long body_len;    /* first body's length, -1 before it */
    int broken;       /* curl_multi_socket_action failed */
    struct event_base *base;
    CURLM *multi;
    struct event timer;
    struct xfer *xfers;
    struct sock *socks; /* list, so that cleanup frees what curl kept */
};

static void fail(struct bench *b, const char *fmt, ...)
{
    va_list ap;

    if (b->failed++ >= MAX_REPORTED)
        return;
    va_start(ap, fmt);
    fputs("plain: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- transfers --------------------------------------------------------- */

static size_t write_cb(char *data, size_t size, size_t n, void *userp)
{
    struct xfer *x = userp;
    size_t need = x->len + n;

    (void)size; /* always 1 */
    if (need > x->cap) {
        size_t cap = x->cap ? x->cap : 1024;
        char *p;

        while (cap < need)
            cap *= 2;
        if (cap > BODY_CAP)
            return 0; /* CURLE_WRITE_ERROR */
        if (!(p = realloc(x->buf, cap)))
            return 0;
        x->buf = p;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len = need;
    return n;
}

static int xfer_init(struct xfer *x, struct bench *b)
{
    int https = strncmp(b->url, "https:", 6) == 0;
    CURLcode rc = CURLE_OK;

    x->b = b;
    if (!(x->easy = curl_easy_init()))
        return -1;
#define SET(opt, val)                                                          \
    do {                                                                       \
        if (rc == CURLE_OK)                                                    \
            rc = curl_easy_setopt(x->easy, opt, val);                          \
    } while (0)
    SET(CURLOPT_URL, b->url);
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_WRITEFUNCTION, write_cb);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_ERRORBUFFER, x->err);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT, XFER_TIMEOUT);
    SET(CURLOPT_USERAGENT, "stockx-bench-plain");
    SET(CURLOPT_HTTP_VERSION,
        https ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_PIPEWAIT, https ? 1L : 0L);
    if (b->ca_file)
        SET(CURLOPT_CAINFO, b->ca_file);
#undef SET
    return rc == CURLE_OK ? 0 : -1;
}

static int xfer_start(struct xfer *x)
{
    struct bench *b = x->b;
    CURLMcode rc;

    x->len = 0;
    x->err[0] = '\0';
    b->started++;
    if ((rc = curl_multi_add_handle(b->multi, x->easy)) != CURLM_OK) {
        fail(b, "curl_multi_add_handle: %s", curl_multi_strerror(rc));
        b->broken = 1;
        return -1;
    }
    return 0;
}

/* Checks one finished request: status 200, the same body length every time. */
static void xfer_check(struct xfer *x, CURLcode res)
{
    struct bench *b = x->b;
    long status = 0, conns = 0;
    curl_off_t clen = -1;

    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &conns);
    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
    b->connections += conns;
    b->finished++;
    if (res != CURLE_OK)
        fail(b, "%s: %s", curl_easy_strerror(res), x->err);
    else if (status != 200)
        fail(b, "status %ld", status);
    else if (clen >= 0 && (size_t)clen != x->len)
        fail(b, "body %zu bytes, Content-Length %ld", x->len, (long)clen);
    else if (b->body_len >= 0 && (size_t)b->body_len != x->len)
        fail(b, "body %zu bytes, the first was %ld", x->len, b->body_len);
    else
        b->body_len = (long)x->len;
}

/* ---- the curl/libevent glue -------------------------------------------- */

/*
 * Drains curl's finished transfers; runs after every socket_action (never
 * inside a curl callback), so re-adding the handle here is allowed.
 */
static void check_multi_info(struct bench *b)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(b->multi, &left))) {
        struct xfer *x;
        void *p = NULL;
        CURLcode res;

        if (msg->msg != CURLMSG_DONE)
            continue;
        res = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
        x = p;
        curl_multi_remove_handle(b->multi, x->easy); /* msg is gone now */
        xfer_check(x, res);
        if (b->started < b->total && !b->broken && b->failed < ABORT_AFTER)
            xfer_start(x);
    }
    if (b->finished == b->started) /* nothing in flight */
        event_base_loopbreak(b->base);
}

static void socket_action(struct bench *b, curl_socket_t fd, int action)
{
    int running;
    CURLMcode rc = curl_multi_socket_action(b->multi, fd, action, &running);

    if (rc != CURLM_OK) {
        fail(b, "curl_multi_socket_action: %s", curl_multi_strerror(rc));
        b->broken = 1;
    }
    check_multi_info(b);
}

static void event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sock *k = arg;
    int action = (what & EV_READ ? CURL_CSELECT_IN : 0) |
                 (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

    socket_action(k->b, fd, action); /* may free k */
}

static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    socket_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void sock_free(struct bench *b, struct sock *k)
{
    if (k->armed)
        event_del(&k->ev);
    if (k->prev)
        k->prev->next = k->next;
    else
        b->socks = k->next;
    if (k->next)
        k->next->prev = k->prev;
    free(k);
}

static struct sock *sock_new(struct bench *b, curl_socket_t s)
{
    struct sock *k = calloc(1, sizeof(*k));

    if (!k)
        return NULL;
    k->b = b;
    k->next = b->socks;
    if (b->socks)
        b->socks->prev = k;
    b->socks = k;
    curl_multi_assign(b->multi, s, k);
    return k;
}

/* CURLMOPT_SOCKETFUNCTION: only (re)arms events, never calls into curl. */
static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *sockp)
{
    struct bench *b = userp;
    struct sock *k = sockp;
    short kind = EV_PERSIST;

    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (k)
            sock_free(b, k);
        return 0;
    }
    if (!k && !(k = sock_new(b, s)))
        return -1;
    if (k->armed)
        event_del(&k->ev);
    k->armed = 0;
    kind |= (what & CURL_POLL_IN ? EV_READ : 0) |
            (what & CURL_POLL_OUT ? EV_WRITE : 0);
    if (kind == EV_PERSIST)
        return 0; /* CURL_POLL_NONE */
    event_assign(&k->ev, b->base, s, kind, event_cb, k);
    event_add(&k->ev, NULL);
    k->armed = 1;
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: 0 becomes a 0-s evtimer, run on the next pass. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct bench *b = userp;
    struct timeval tv;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(&b->timer);
        return 0;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(&b->timer, &tv);
    return 0;
}

/* ---- setup and teardown ------------------------------------------------ */

static void bench_close(struct bench *b)
{
    long i;

    for (i = 0; b->xfers && i < b->concurrency; i++) {
        if (b->xfers[i].easy) {
            curl_multi_remove_handle(b->multi, b->xfers[i].easy);
            curl_easy_cleanup(b->xfers[i].easy);
        }
        free(b->xfers[i].buf);
    }
    free(b->xfers);
    if (b->multi)
        curl_multi_cleanup(b->multi); /* may call sock_cb with REMOVE */
    while (b->socks)
        sock_free(b, b->socks);
    if (b->base) {
        evtimer_del(&b->timer);
        event_base_free(b->base);
    }
}

static int multi_init(struct bench *b)
{
    CURLMcode rc = CURLM_OK;

    if (!(b->multi = curl_multi_init()))
        return -1;
#define SET(opt, val)                                                          \
    do {                                                                       \
        if (rc == CURLM_OK)                                                    \
            rc = curl_multi_setopt(b->multi, opt, val);                        \
    } while (0)
    SET(CURLMOPT_SOCKETFUNCTION, sock_cb);
    SET(CURLMOPT_SOCKETDATA, b);
    SET(CURLMOPT_TIMERFUNCTION, timer_cb);
    SET(CURLMOPT_TIMERDATA, b);
    SET(CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    SET(CURLMOPT_MAXCONNECTS, b->concurrency);
    SET(CURLMOPT_MAX_HOST_CONNECTIONS, b->concurrency);
    SET(CURLMOPT_MAX_CONCURRENT_STREAMS, 100L);
#undef SET
    return rc == CURLM_OK ? 0 : -1;
}

static int bench_open(struct bench *b)
{
    long i;

    if (!(b->base = event_base_new()))
        goto err;
    evtimer_assign(&b->timer, b->base, timer_event_cb, b);
    if (multi_init(b) < 0)
        goto err;
    if (!(b->xfers = calloc((size_t)b->concurrency, sizeof(*b->xfers))))
        goto err;
    for (i = 0; i < b->concurrency; i++)
        if (xfer_init(&b->xfers[i], b) < 0)
            goto err;
    return 0;
err:
    fputs("plain: setup failed\n", stderr);
    bench_close(b);
    return -1;
}

static long arg_long(const char *s, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 1) {
        fprintf(stderr, "plain: %s must be a positive integer: %s\n", what, s);
        exit(2);
    }
    return v;
}

static int run(struct bench *b)
{
    double t0, secs;
    long i;

    t0 = now();
    for (i = 0; i < b->concurrency; i++)
        if (xfer_start(&b->xfers[i]) < 0)
            return -1;
    event_base_dispatch(b->base);
    secs = now() - t0;
    if (b->failed || b->broken || b->finished != b->total) {
        fprintf(stderr, "plain: %ld requests done of %ld, %ld failed\n",
                b->finished, b->total, b->failed);
        return -1;
    }
    printf("requests=%ld seconds=%.3f rps=%.0f connections=%ld\n", b->finished,
           secs, (double)b->finished / secs, b->connections);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b;
    int rc;

    if (argc < 4 || argc > 5) {
        fputs("usage: plain URL N CONCURRENCY [CA_FILE]\n", stderr);
        return 2;
    }
    memset(&b, 0, sizeof(b));
    b.url = argv[1];
    b.total = arg_long(argv[2], "N");
    b.concurrency = arg_long(argv[3], "CONCURRENCY");
    if (b.concurrency > b.total)
        b.concurrency = b.total;
    b.ca_file = argc == 5 ? argv[4] : NULL;
    b.body_len = -1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    if (bench_open(&b) < 0) {
        curl_global_cleanup();
        return 1;
    }
    rc = run(&b);
    bench_close(&b);
    curl_global_cleanup();
    return rc < 0 ? 1 : 0;
}
