/*
 * The HTTP server behind sx_server.h: evhttp for parsing and keep-alive,
 * plus a per-request object that outlives the handler while a delayed,
 * chunked or truncated answer is still being sent.  No Lua here.
 */
#include "sx_server.h"
#include "sx_http.h"
#include "sx_list.h"
#include "sx_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define MAX_HEADERS_SIZE (64 * 1024)
#define MAX_BODY_SIZE (16 * 1024 * 1024)

enum phase {
    PHASE_HANDLER, /* the handler has not answered yet */
    PHASE_DELAY,   /* waiting for reply.delay */
    PHASE_BODY,    /* headers sent, body going out in pieces */
    PHASE_DRAIN,   /* truncated body written, waiting to close */
    PHASE_STALL,   /* never answers */
    PHASE_DONE     /* handed over to evhttp */
};

struct sx_server {
    struct event_base *base;
    struct evhttp *http;
    int port;
    long connections;
    void (*handler)(struct sx_server_req *, void *);
    void *ud;
    struct sx_list live;        /* requests not yet handed over */
    long nlive;
    int dispatching; /* inside the handler */
    int doomed;      /* sx_server_free() was called from the handler */
};

/*
 * Owned by the server from the request callback until the answer is handed
 * to evhttp (PHASE_DONE), the connection is dropped, or the client goes
 * away.  ev belongs to evhttp unless evhttp detached it (client gone while
 * we still owed the answer); then we must free it.
 */
struct sx_server_req {
    struct sx_server *srv;
    struct evhttp_request *ev;
    struct evhttp_connection *evcon;
    char *path;
    enum phase phase;
    int in_handler;
    int status;
    struct evbuffer *body;  /* body bytes not yet sent */
    struct evbuffer *piece; /* scratch for one chunk */
    size_t left;            /* bytes to send before ending or dropping */
    int drop;
    size_t chunk_size;
    struct timeval chunk_tv;
    struct event *timer;
    struct event *watch; /* notices the client leaving; see watch_peer() */
    struct sx_list link;        /* on srv->live */
};

static void req_step(evutil_socket_t fd, short what, void *arg);

/* ---- request objects ------------------------------------------------ */

static void link_req(struct sx_server *srv, struct sx_server_req *r)
{
    sx_list_push_front(&srv->live, &r->link);
    srv->nlive++;
}

static void unlink_req(struct sx_server_req *r)
{
    sx_list_remove(&r->link);
    r->srv->nlive--;
}

static void req_free(struct sx_server_req *r)
{
    unlink_req(r);
    if (r->timer)
        event_free(r->timer);
    if (r->watch)
        event_free(r->watch);
    if (r->body)
        evbuffer_free(r->body);
    if (r->piece)
        evbuffer_free(r->piece);
    free(r->path);
    free(r);
}

static char *decode_path(struct evhttp_request *ev)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;

    if (raw == NULL || *raw == '\0')
        raw = "/";
    return evhttp_uridecode(raw, 0, NULL);
}

static struct sx_server_req *req_new(struct sx_server *srv,
                                     struct evhttp_request *ev)
{
    struct sx_server_req *r = calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    r->srv = srv;
    r->ev = ev;
    r->evcon = evhttp_request_get_connection(ev);
    link_req(srv, r);
    r->path = decode_path(ev);
    r->body = evbuffer_new();
    r->piece = evbuffer_new();
    r->timer = evtimer_new(srv->base, req_step, r);
    if (r->path == NULL || r->body == NULL || r->piece == NULL ||
        r->timer == NULL) {
        req_free(r);
        return NULL;
    }
    return r;
}

/*
 * The answer is evhttp's from now on: returns r's evhttp request and frees
 * r unless the handler still uses it.  Call it *before* the evhttp call
 * that hands the answer over: ending a reply on a connection that closes
 * after it (HTTP/1.0, "Connection: close") frees the connection at once,
 * and its close callback must not find r any more.
 */
static struct evhttp_request *req_finish(struct sx_server_req *r)
{
    struct evhttp_request *ev = r->ev;

    r->phase = PHASE_DONE;
    r->ev = NULL;
    if (!r->in_handler)
        req_free(r);
    return ev;
}

/*
 * The client went away (or the server is closing) while r was unanswered.
 * If evhttp detached the request from its connection it is ours to free;
 * otherwise evhttp frees it with the connection.
 */
static void req_abort(struct sx_server_req *r)
{
    if (r->ev && evhttp_request_get_connection(r->ev) == NULL)
        evhttp_request_free(r->ev);
    r->ev = NULL;
    req_free(r);
}

/* ---- sending -------------------------------------------------------- */

static void arm(struct sx_server_req *r, const struct timeval *tv)
{
    evtimer_add(r->timer, tv);
}

/*
 * Closes r's connection abruptly; r and its evhttp request are freed.  r
 * goes first, so that the close callback (on_close) no longer sees it.
 */
static void drop_connection(struct sx_server_req *r)
{
    struct evhttp_connection *evcon = NULL;

    if (r->ev)
        evcon = evhttp_request_get_connection(r->ev);
    if (evcon == NULL) { /* evhttp already let go of it */
        req_abort(r);
        return;
    }
    req_free(r);
    evhttp_connection_free(evcon); /* frees the request too */
}

/*
 * Drops the connection once the truncated body has left our buffer, so
 * the client sees exactly drop_after body bytes and then EOF.
 */
static void drain_then_close(struct sx_server_req *r)
{
    static const struct timeval poll_tv = {0, 1000};
    struct evhttp_connection *evcon = NULL;
    struct bufferevent *bev;

    if (r->ev)
        evcon = evhttp_request_get_connection(r->ev);
    if (evcon && !r->in_handler) {
        bev = evhttp_connection_get_bufferevent(evcon);
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
            drop_connection(r);
            return;
        }
    }
    if (evcon == NULL)
        req_abort(r);
    else
        arm(r, &poll_tv);
}

/*
 * evhttp stops reading a connection while its request is unanswered, so
 * it would notice a client that gave up only when we write.  For answers
 * that take time (delay, stall, slow body) we watch the socket ourselves:
 * EOF or an error means the client left, and we free everything at once.
 * If the client sends more data instead we stop watching (MSG_PEEK does
 * not consume it, and evhttp reads it after our answer).
 */
static void on_peer(evutil_socket_t fd, short what, void *arg)
{
    struct sx_server_req *r = arg;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    (void)what;
    if (n > 0)
        event_del(r->watch);
    else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
                        errno != EINTR))
        drop_connection(r);
}

static void watch_peer(struct sx_server_req *r)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(r->evcon);
    evutil_socket_t fd = bufferevent_getfd(bev);

    if (fd < 0)
        return;
    r->watch = event_new(r->srv->base, fd, EV_READ | EV_PERSIST, on_peer, r);
    if (r->watch)
        event_add(r->watch, NULL);
}

static void send_piece(struct sx_server_req *r)
{
    size_t n = r->left;

    if (r->chunk_size > 0 && n > r->chunk_size)
        n = r->chunk_size;
    if (n > 0) {
        evbuffer_remove_buffer(r->body, r->piece, n);
        evhttp_send_reply_chunk(r->ev, r->piece);
        evbuffer_drain(r->piece, evbuffer_get_length(r->piece)); /* HEAD */
        r->left -= n;
    }
    if (r->left > 0) {
        arm(r, &r->chunk_tv);
    } else if (r->drop) {
        r->phase = PHASE_DRAIN;
        drain_then_close(r);
    } else {
        evhttp_send_reply_end(req_finish(r)); /* may free the connection */
    }
}

/* Sends the status line and headers, then the body (maybe in pieces). */
static void start_reply(struct sx_server_req *r)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    size_t len = evbuffer_get_length(r->body);
    char cl[32];

    if (!r->drop && r->chunk_size == 0) {
        int status = r->status;
        struct evbuffer *body = r->body;

        r->body = NULL; /* req_finish may free r: keep the body till sent */
        evhttp_send_reply(req_finish(r), status, sx_http_reason(status), body);
        evbuffer_free(body);
        return;
    }
    snprintf(cl, sizeof cl, "%zu", len);
    evhttp_add_header(out, "Content-Length", cl);
    r->left = r->drop && r->left < len ? r->left : len;
    r->phase = PHASE_BODY;
    evhttp_send_reply_start(r->ev, r->status, sx_http_reason(r->status));
    send_piece(r);
}

static void req_step(evutil_socket_t fd, short what, void *arg)
{
    struct sx_server_req *r = arg;

    (void)fd;
    (void)what;
    switch (r->phase) {
    case PHASE_DELAY: start_reply(r); break;
    case PHASE_BODY: send_piece(r); break;
    case PHASE_DRAIN: drain_then_close(r); break;
    default: break;
    }
}


static void copy_headers(struct sx_server_req *r,
                         const struct sx_server_reply *rep)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    int i;

    for (i = 0; i < rep->nheaders; i++) {
        const struct sx_server_header *h = &rep->headers[i];
        if (evutil_ascii_strcasecmp(h->name, "Content-Length") == 0)
            continue; /* always computed here */
        evhttp_add_header(out, h->name, h->value);
    }
}

void sx_server_respond(struct sx_server_req *r,
                       const struct sx_server_reply *rep)
{
    if (r->phase != PHASE_HANDLER)
        return;
    r->status = rep->status ? rep->status : 200;
    copy_headers(r, rep);
    if (rep->len > 0)
        evbuffer_add(r->body, rep->body, rep->len);
    r->drop = rep->drop;
    r->left = rep->drop_after;
    r->chunk_size = rep->chunk_size;
    r->chunk_tv = sx_time_tv(rep->chunk_delay);
    if (rep->stall) {
        r->phase = PHASE_STALL;
    } else if (rep->delay > 0) {
        struct timeval tv = sx_time_tv(rep->delay);
        r->phase = PHASE_DELAY;
        arm(r, &tv);
    } else {
        start_reply(r);
    }
}

/* ---- request accessors ---------------------------------------------- */

const char *sx_server_req_method(const struct sx_server_req *r)
{
    switch (evhttp_request_get_command(r->ev)) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "UNKNOWN";
    }
}

const char *sx_server_req_path(const struct sx_server_req *r)
{
    return r->path;
}

const char *sx_server_req_query(const struct sx_server_req *r)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->ev);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;

    return q ? q : "";
}

const char *sx_server_req_header(const struct sx_server_req *r,
                                 const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

const void *sx_server_req_header_next(const struct sx_server_req *r,
                                      const void *it, const char **name,
                                      const char **value)
{
    const struct evkeyval *kv = it;

    if (kv == NULL)
        kv = evhttp_request_get_input_headers(r->ev)->tqh_first;
    else
        kv = kv->next.tqe_next;
    if (kv == NULL)
        return NULL;
    *name = kv->key;
    *value = kv->value;
    return kv;
}

/* The body is not NUL-terminated; it stays valid inside the handler. */
const char *sx_server_req_body(struct sx_server_req *r, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
    const char *p;

    *len = evbuffer_get_length(in);
    if (*len == 0)
        return "";
    p = (const char *)evbuffer_pullup(in, -1);
    return p ? p : (*len = 0, "");
}

/* ---- the server ----------------------------------------------------- */

static void destroy(struct sx_server *srv)
{
    while (!sx_list_empty(&srv->live))
        req_abort(sx_list_entry(srv->live.next, struct sx_server_req, link));
    evhttp_free(srv->http); /* frees the connections and their requests */
    free(srv);
}

/* evhttp calls this for every connection it closes, for any reason. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct sx_server *srv = arg;
    struct sx_list *it, *next;

    sx_list_foreach_safe(&srv->live, it, next) {
        struct sx_server_req *r = sx_list_entry(it, struct sx_server_req, link);
        if (r->evcon == evcon && r->phase != PHASE_HANDLER &&
            r->phase != PHASE_DONE)
            req_abort(r);
    }
}

/*
 * Without TCP_NODELAY a body larger than one segment waits for the
 * client's delayed ACK (40 ms on Linux) before its last piece goes out.
 */
static void set_nodelay(struct evhttp_connection *evcon)
{
    evutil_socket_t fd =
        bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    int one = 1;

    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    static const char body[] = "{\"statusCode\":500,\"message\":\"no answer\"}";
    static const struct sx_server_header json = {"Content-Type",
                                                 "application/json"};
    static const struct sx_server_reply none = {
        .status = 500, .headers = &json, .nheaders = 1,
        .body = body, .len = sizeof body - 1};
    struct sx_server *srv = arg;
    struct sx_server_req *r = req_new(srv, ev);

    if (r == NULL) {
        evhttp_send_error(ev, 500, NULL);
        return;
    }
    evhttp_connection_set_closecb(r->evcon, on_close, srv);
    set_nodelay(r->evcon);
    r->in_handler = 1;
    srv->dispatching++;
    srv->handler(r, srv->ud);
    srv->dispatching--;
    r->in_handler = 0;
    if (r->phase == PHASE_HANDLER)
        sx_server_respond(r, &none);
    if (r->phase == PHASE_DONE)
        req_free(r);
    else
        watch_peer(r);
    if (srv->doomed && srv->dispatching == 0)
        destroy(srv);
}

/* Counts accepted connections; evhttp calls this once per accept. */
static struct bufferevent *on_accept(struct event_base *base, void *arg)
{
    struct sx_server *srv = arg;

    srv->connections++;
    return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static int bound_port(struct evhttp_bound_socket *bs)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

struct sx_server *sx_server_new(struct event_base *base, const char *host,
                                int port,
                                void (*handler)(struct sx_server_req *,
                                                void *),
                                void *ud, char *err, size_t errlen)
{
    struct sx_server *srv = calloc(1, sizeof *srv);
    struct evhttp_bound_socket *bs;

    if (srv == NULL || (srv->http = evhttp_new(base)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    srv->base = base;
    sx_list_init(&srv->live);
    srv->handler = handler;
    srv->ud = ud;
    evhttp_set_allowed_methods(srv->http,
        EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
        EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(srv->http, MAX_HEADERS_SIZE);
    evhttp_set_max_body_size(srv->http, MAX_BODY_SIZE);
    evhttp_set_gencb(srv->http, on_request, srv);
    evhttp_set_bevcb(srv->http, on_accept, srv);
    errno = 0;
    bs = evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)port);
    if (bs == NULL || (srv->port = bound_port(bs)) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port,
                 errno ? strerror(errno) : "bind failed");
        goto err;
    }
    return srv;
err:
    if (srv && srv->http)
        evhttp_free(srv->http);
    free(srv);
    return NULL;
}

int sx_server_port(const struct sx_server *srv)
{
    return srv->port;
}

long sx_server_connections(const struct sx_server *srv)
{
    return srv->connections;
}

long sx_server_pending(const struct sx_server *srv)
{
    return srv->nlive;
}

void sx_server_free(struct sx_server *srv)
{
    if (srv == NULL)
        return;
    if (srv->dispatching > 0) {
        srv->doomed = 1;
        return;
    }
    destroy(srv);
}
