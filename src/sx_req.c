/*
 * Request objects (see sx_client.h): the URL (joined, dot segments
 * removed, checked against the base URL), the caller's headers and body,
 * and a pool of finished requests with their buffers.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sx_client_priv.h"
#include "sx_headers.h"
#include "sx_time.h"
#include "sx_url.h"

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
    r->origin_len = sx_url_origin_len(r->url);
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
        sx_queue_unlink(c, r);
        break;
    case RQ_BACKOFF:
        event_del(r->backoff_ev);
        break;
    case RQ_RUNNING:
        sx_client_stop(c, r, 1);
        break;
    default:
        return; /* not submitted, or already done */
    }
    snprintf(r->errbuf, sizeof r->errbuf, "cancelled");
    sx_client_complete(r, SX_E_CANCELLED);
    sx_queue_pump(c);
}

void sx_req_free(struct sx_req *r)
{
    if (!r)
        return;
    struct sx_client *c = r->c;
    sx_origin_cancelled(c, r); /* a probe freed while out */
    if (r->state == RQ_QUEUED)
        sx_queue_unlink(c, r);
    if (r->easy)
        sx_client_stop(c, r, 1);
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
    out->message = r->err ? (r->errbuf[0] ? r->errbuf : sx_client_err_name(r->err))
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
    out->dry_run = r->dry_run;
    out->sent = r->request_bytes > 0;
    out->idempotent = r->idempotent;
    out->queue_wait = r->queue_wait;
}

void sx_req_pool_free(struct sx_client *c)
{
    while (c->free_reqs) {
        struct sx_req *r = c->free_reqs;
        c->free_reqs = r->next;
        sx_buf_free(&r->hbuf);
        sx_buf_free(&r->body_buf);
        sx_buf_free(&r->urlbuf);
        free(r);
    }
}

const char *sx_req_find_header(const struct sx_buf *h, const char *name,
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

