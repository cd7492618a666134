/*
 * A small free list of curl easy handles: curl keeps per-handle state
 * worth reusing (connection affinity, DNS and TLS session caches).  A
 * handle that carried anything but a plain GET is reset before reuse.
 */
#ifndef SX_EASY_H
#define SX_EASY_H
#include <curl/curl.h>

#define SX_EASY_POOL 64

struct sx_easy_pool {
    struct {
        CURL *easy;
        int dirty; /* options of an earlier request may linger */
    } slot[SX_EASY_POOL];
    int n;
};

/* A handle (reset if dirty), or a new one; NULL when out of memory. */
CURL *sx_easy_get(struct sx_easy_pool *p);
/* Gives e back; dirty: it must be reset before its next use. */
void sx_easy_put(struct sx_easy_pool *p, CURL *e, int dirty);
/* Every pooled handle is reset before reuse (the configuration changed). */
void sx_easy_dirty_all(struct sx_easy_pool *p);
void sx_easy_free_all(struct sx_easy_pool *p);

#endif
