/*
 * A small HTTP/1.1 server on libevent's evhttp, running in the caller's
 * event_base next to the client.  One handler sees every request and
 * answers it through sx_server_respond(), optionally with transport faults
 * (delay, truncated body, stall, slow chunks) for testing clients.
 */
#ifndef SX_SERVER_H
#define SX_SERVER_H
#include <stddef.h>

struct event_base;
struct sx_server;
struct sx_server_req;

struct sx_server_header {
    const char *name;
    const char *value;
};

/*
 * What to answer.  Zero-initialised means "200, no headers, empty body, no
 * faults".  Everything is copied by sx_server_respond().
 */
struct sx_server_reply {
    int status;                            /* 0 means 200 */
    const struct sx_server_header *headers;
    int nheaders;
    const char *body;
    size_t len;
    double delay;       /* seconds to wait before answering */
    int drop;           /* 1: send the full Content-Length but only ... */
    size_t drop_after;  /* ... this many body bytes, then close */
    int stall;          /* 1: never answer; the client has to give up */
    size_t chunk_size;  /* > 0: send the body in pieces of this size ... */
    double chunk_delay; /* ... with this many seconds between them */
};

/*
 * Listens on host:port (port 0 picks a free one) and calls handler for
 * every request.  Returns NULL with a reason in err on failure.
 */
struct sx_server *sx_server_new(struct event_base *base, const char *host,
                                int port,
                                void (*handler)(struct sx_server_req *req,
                                                void *ud),
                                void *ud, char *err, size_t errlen);
int sx_server_port(const struct sx_server *srv);
long sx_server_connections(const struct sx_server *srv); /* accepted */
long sx_server_pending(const struct sx_server *srv);     /* unanswered */

/*
 * Closes the listener and every connection, dropping unanswered requests.
 * Called from inside the handler it takes effect when the handler returns
 * (so that request's answer is dropped too).
 */
void sx_server_free(struct sx_server *srv);

/*
 * The request, valid only inside the handler.  The handler must call
 * sx_server_respond() before it returns; if it does not, the server
 * answers 500 itself.
 */
const char *sx_server_req_method(const struct sx_server_req *req);
const char *sx_server_req_path(const struct sx_server_req *req);  /* decoded */
const char *sx_server_req_query(const struct sx_server_req *req); /* raw, "" */
const char *sx_server_req_header(const struct sx_server_req *req,
                                 const char *name); /* any case; or NULL */
const char *sx_server_req_body(struct sx_server_req *req, size_t *len);

/*
 * Iterates over the request headers in arrival order: start with it = NULL;
 * returns the next position, or NULL at the end.
 */
const void *sx_server_req_header_next(const struct sx_server_req *req,
                                      const void *it, const char **name,
                                      const char **value);

/* Answers r; a second call for the same request is ignored. */
void sx_server_respond(struct sx_server_req *r,
                       const struct sx_server_reply *rep);

#endif
