/*
 * Growable byte buffer with a hard size cap.  Every append either fits
 * entirely, leaving the data NUL-terminated, or fails with -1 and leaves
 * the buffer exactly as it was.
 */
#include "sx_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SX_BUF_MIN_ALLOC 64

/* The effective cap; kept below SIZE_MAX so len + 1 never overflows. */
static size_t buf_limit(const struct sx_buf *b)
{
    size_t m = b->max ? b->max : SX_BUF_MAX_DEFAULT;

    return m < SIZE_MAX - 1 ? m : SIZE_MAX - 2;
}

void sx_buf_init(struct sx_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

/*
 * Makes room for n more bytes plus the NUL.  Doubles the allocation, but
 * never beyond the cap (plus one byte for the NUL).  0 or -1.
 */
static int buf_reserve(struct sx_buf *b, size_t n)
{
    size_t limit = buf_limit(b);
    size_t need, ncap;
    char *p;

    if (n > limit - b->len)
        return -1;
    need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : SX_BUF_MIN_ALLOC;
    if (ncap > limit + 1)
        ncap = limit + 1;
    while (ncap < need)
        ncap = ncap > (limit + 1) / 2 ? limit + 1 : ncap * 2;
    p = realloc(b->data, ncap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int sx_buf_add(struct sx_buf *b, const void *p, size_t n)
{
    size_t off = 0;
    int inside = 0;

    /* p may point into our own data, which realloc can move. */
    if (p != NULL && b->data != NULL && (const char *)p >= b->data &&
        (const char *)p < b->data + b->cap) {
        inside = 1;
        off = (size_t)((const char *)p - b->data);
    }
    if (buf_reserve(b, n) < 0)
        return -1;
    if (inside)
        p = b->data + off;
    if (n > 0)
        memmove(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sx_buf_addstr(struct sx_buf *b, const char *s)
{
    return sx_buf_add(b, s, strlen(s));
}

/*
 * Measures first, then formats into reserved space, so a failure never
 * leaves a partial (or un-terminated) result behind.
 */
int sx_buf_addf(struct sx_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void sx_buf_reset(struct sx_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void sx_buf_free(struct sx_buf *b)
{
    free(b->data);
    sx_buf_init(b, b->max);
}
