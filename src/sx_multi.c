/*
 * curl multi + libevent glue (see sx_multi.h).  Pitfalls handled: no curl
 * calls inside curl's callbacks (except curl_multi_assign), a timer value
 * of 0 runs on the next loop pass, a REMOVE for a socket we never saw is
 * ignored, and messages are drained after every socket action, timer
 * ticks included.
 */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>

#include "sx_log.h"
#include "sx_multi.h"

struct sx_sock {
    struct event ev;
    curl_socket_t fd;
    int what;             /* CURL_POLL_* registered now */
    struct sx_multi *m;
};

struct sx_multi {
    struct event_base *base;
    CURLM *curl;
    struct event *timer;
    struct sx_multi_ops ops;
    void *ud;
    long sockets;
};

static void drain(struct sx_multi *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->curl, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        void *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&priv);
        m->ops.done(m->ud, priv, msg->data.result);
    }
}

static void action(struct sx_multi *m, curl_socket_t fd, int flags)
{
    int running;
    CURLMcode rc = curl_multi_socket_action(m->curl, fd, flags, &running);
    if (rc != CURLM_OK) {
        struct sx_log_field f[] = {{"error", curl_multi_strerror(rc), 0}};
        sx_log(SX_LOG_ERROR, "pool.error", f, 1);
    }
    drain(m);
    m->ops.after(m->ud);
}

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    struct sx_sock *s = arg;
    int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) |
                (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    action(s->m, fd, flags);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void sock_remove(struct sx_multi *m, curl_socket_t fd,
                        struct sx_sock *s)
{
    if (!s)
        return; /* a socket curl never announced */
    event_del(&s->ev);
    free(s);
    m->sockets--;
    curl_multi_assign(m->curl, fd, NULL);
}

/* CURLMOPT_SOCKETFUNCTION */
static int sock_cb(CURL *e, curl_socket_t fd, int what, void *mp, void *sp)
{
    struct sx_multi *m = mp;
    struct sx_sock *s = sp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        sock_remove(m, fd, s);
        return 0;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return -1;
        s->fd = fd;
        s->m = m;
        s->what = -1;
        m->sockets++;
        curl_multi_assign(m->curl, fd, s);
    } else if (s->what == what) {
        return 0; /* unchanged: no epoll_ctl */
    } else {
        event_del(&s->ev);
    }
    s->what = what;
    short ev = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
               (what & CURL_POLL_OUT ? EV_WRITE : 0);
    event_assign(&s->ev, m->base, fd, ev, on_socket_event, s);
    if (what != CURL_POLL_NONE)
        event_add(&s->ev, NULL);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: arm our evtimer; 0 runs on the next pass. */
static int timer_cb(CURLM *cm, long ms, void *mp)
{
    struct sx_multi *m = mp;
    (void)cm;
    if (ms < 0) {
        evtimer_del(m->timer);
    } else {
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(m->timer, &tv);
    }
    return 0;
}

struct sx_multi *sx_multi_new(struct event_base *base,
                              const struct sx_multi_ops *ops, void *ud)
{
    struct sx_multi *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->base = base;
    m->ops = *ops;
    m->ud = ud;
    m->curl = curl_multi_init();
    m->timer = evtimer_new(base, on_timer, m);
    if (!m->curl || !m->timer)
        goto err;
    curl_multi_setopt(m->curl, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(m->curl, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->curl, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(m->curl, CURLMOPT_TIMERDATA, m);
    curl_multi_setopt(m->curl, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    return m;
err:
    sx_multi_free(m);
    return NULL;
}

void sx_multi_free(struct sx_multi *m)
{
    if (!m)
        return;
    if (m->curl)
        curl_multi_cleanup(m->curl);
    if (m->timer)
        event_free(m->timer);
    free(m);
}

CURLM *sx_multi_curl(const struct sx_multi *m) { return m->curl; }

long sx_multi_sockets(const struct sx_multi *m) { return m->sockets; }
