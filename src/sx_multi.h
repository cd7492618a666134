/*
 * The curl multi handle driven by a libevent loop, in the shape of curl's
 * hiperfifo example: one event per socket (kept with curl_multi_assign),
 * one evtimer, curl_multi_info_read drained after every socket action.
 * It knows nothing of requests: it reports finished transfers to its owner.
 */
#ifndef SX_MULTI_H
#define SX_MULTI_H
#include <curl/curl.h>

struct event_base;
struct sx_multi;

struct sx_multi_ops {
    /*
     * A transfer finished (priv: its CURLINFO_PRIVATE).  Called while
     * curl's messages are drained: record it, call no curl function.
     */
    void (*done)(void *ud, void *priv, CURLcode result);
    /* After each socket action and its messages: curl may be called. */
    void (*after)(void *ud);
};

struct sx_multi *sx_multi_new(struct event_base *base,
                              const struct sx_multi_ops *ops, void *ud);
/* Frees the multi handle; easy handles still in it are the owner's. */
void sx_multi_free(struct sx_multi *m);
/* For curl_multi_add_handle, _remove_handle and _setopt (limits). */
CURLM *sx_multi_curl(const struct sx_multi *m);
long sx_multi_sockets(const struct sx_multi *m); /* watched now */

#endif
