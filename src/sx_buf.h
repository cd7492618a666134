/*
 * A growable byte buffer with an explicit size cap.  Appends past the cap
 * fail cleanly (-1) and leave the buffer as it was.  The data is always
 * NUL-terminated after a successful append, so text can be read as a C
 * string.
 */
#ifndef SX_BUF_H
#define SX_BUF_H
#include <stddef.h>

struct sx_buf {
    char *data;   /* NULL until the first append */
    size_t len;   /* bytes in use, not counting the NUL */
    size_t cap;   /* bytes allocated */
    size_t max;   /* largest len allowed; 0 means SX_BUF_MAX_DEFAULT */
};

#define SX_BUF_MAX_DEFAULT ((size_t)64 << 20)

void sx_buf_init(struct sx_buf *b, size_t max);
int sx_buf_add(struct sx_buf *b, const void *p, size_t n);
int sx_buf_addstr(struct sx_buf *b, const char *s);
int sx_buf_addf(struct sx_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sx_buf_reset(struct sx_buf *b); /* len = 0, keeps the memory */
void sx_buf_free(struct sx_buf *b);  /* releases memory, back to init state */

#endif
