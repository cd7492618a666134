/*
 * JSON string escaping, written once: RFC 8259 escapes, and invalid UTF-8
 * replaced so that every string written is valid UTF-8 and valid JSON.
 */
#ifndef SX_JSON_H
#define SX_JSON_H
#include <stddef.h>

#include "sx_buf.h"

/*
 * Appends the n bytes at s as the body of a JSON string (no quotes).
 * '"' and '\\' are escaped, \b \f \n \r \t get their short escapes and the
 * other control characters (NUL included) \u00XX.  Valid UTF-8 is copied
 * as is; anything else (a stray continuation byte, C0/C1/F5-FF, overlong
 * forms, surrogates D800-DFFF, code points above U+10FFFF, a truncated
 * sequence) becomes U+FFFD (EF BF BD), one per maximal invalid subpart as
 * Unicode recommends: "\xE2\x82" is one U+FFFD, "\xC0\x80" two.
 * Returns 0, or -1 (b's cap reached, out of memory) leaving b unchanged.
 */
int sx_json_escape(struct sx_buf *b, const char *s, size_t n);

#endif
