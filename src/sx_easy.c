/*
 * The easy-handle pool (see sx_easy.h): a fixed array, last in first out,
 * so the warmest handle is reused first.
 */
#include "sx_easy.h"

CURL *sx_easy_get(struct sx_easy_pool *p)
{
    if (p->n > 0) {
        p->n--;
        if (p->slot[p->n].dirty)
            curl_easy_reset(p->slot[p->n].easy);
        return p->slot[p->n].easy;
    }
    return curl_easy_init();
}

void sx_easy_put(struct sx_easy_pool *p, CURL *e, int dirty)
{
    if (p->n < SX_EASY_POOL) {
        p->slot[p->n].easy = e;
        p->slot[p->n++].dirty = dirty;
    } else {
        curl_easy_cleanup(e);
    }
}

void sx_easy_dirty_all(struct sx_easy_pool *p)
{
    for (int i = 0; i < p->n; i++)
        p->slot[i].dirty = 1;
}

void sx_easy_free_all(struct sx_easy_pool *p)
{
    while (p->n > 0)
        curl_easy_cleanup(p->slot[--p->n].easy);
}
