/*
 * JSON string escaping with UTF-8 validation (RFC 3629 table 3-7 ranges):
 * runs of bytes that need nothing are copied with one append each.
 */
#include "sx_json.h"

#include <stdio.h>

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/*
 * The length of the UTF-8 sequence at p (n > 0 bytes available) and
 * *ok = 1 if it is valid; else *ok = 0 and the length of its maximal
 * invalid subpart (at least 1), which one U+FFFD replaces.  The ranges of
 * the second byte exclude overlongs (E0, F0), surrogates (ED) and code
 * points past U+10FFFF (F4).
 */
static size_t utf8_seq(const unsigned char *p, size_t n, int *ok)
{
    unsigned lo = 0x80, hi = 0xBF;
    size_t need, i;

    *ok = 0;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        need = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        need = 3;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        need = 4;
    else
        return 1;
    if (p[0] == 0xE0)
        lo = 0xA0;
    else if (p[0] == 0xED)
        hi = 0x9F;
    else if (p[0] == 0xF0)
        lo = 0x90;
    else if (p[0] == 0xF4)
        hi = 0x8F;
    for (i = 1; i < need; i++, lo = 0x80, hi = 0xBF)
        if (i >= n || p[i] < lo || p[i] > hi)
            return i;
    *ok = 1;
    return need;
}

/* An ASCII byte copied as is inside a JSON string. */
static int is_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static int escape_ascii(struct sx_buf *b, unsigned char c)
{
    static const char shorts[] = "\"\"\\\\\bb\ff\nn\rr\tt";
    char esc[8];
    size_t i;

    for (i = 0; i + 1 < sizeof(shorts); i += 2)
        if ((unsigned char)shorts[i] == c) {
            esc[0] = '\\';
            esc[1] = shorts[i + 1];
            return sx_buf_add(b, esc, 2);
        }
    snprintf(esc, sizeof(esc), "\\u%04X", c);
    return sx_buf_add(b, esc, 6);
}

/* Appends s[0..n) escaped; on failure b may hold a prefix of it. */
static int escape(struct sx_buf *b, const unsigned char *s, size_t n)
{
    size_t i = 0, run = 0, k;
    int ok;

    while (i < n) {
        if (is_plain(s[i])) {
            i++;
            continue;
        }
        k = s[i] < 0x80 ? 1 : utf8_seq(s + i, n - i, &ok);
        if (s[i] >= 0x80 && ok) {
            i += k;
            continue;
        }
        if (i > run && sx_buf_add(b, s + run, i - run) < 0)
            return -1;
        if (s[i] < 0x80 ? escape_ascii(b, s[i]) < 0
                        : sx_buf_add(b, REPLACEMENT, 3) < 0)
            return -1;
        i += k;
        run = i;
    }
    return i > run ? sx_buf_add(b, s + run, i - run) : 0;
}

int sx_json_escape(struct sx_buf *b, const char *s, size_t n)
{
    size_t len0 = b->len;

    if (escape(b, (const unsigned char *)s, n) == 0)
        return 0;
    b->len = len0;
    if (b->data != NULL)
        b->data[len0] = '\0';
    return -1;
}
