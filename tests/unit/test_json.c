/*
 * Unit tests for sx_json_escape: RFC 8259 escapes, valid UTF-8 copied at
 * every boundary, each kind of invalid sequence replaced by U+FFFD, the
 * buffer cap, and random bytes always giving valid UTF-8 without raw
 * control characters.
 */
#include <stdlib.h>
#include <string.h>

#include "sx_json.h"
#include "testhelp.h"

#define R "\xEF\xBF\xBD" /* U+FFFD */

/* 1 if escaping the n bytes at in gives exactly want. */
static int esc_n(const char *in, size_t n, const char *want)
{
    struct sx_buf b;
    int ok;

    sx_buf_init(&b, 0);
    ok = sx_json_escape(&b, in, n) == 0 && b.len == strlen(want) &&
         memcmp(b.len ? b.data : "", want, b.len) == 0;
    if (!ok)
        printf("  got '%.*s', want '%s'\n", (int)b.len,
               b.data ? b.data : "", want);
    sx_buf_free(&b);
    return ok;
}

static int esc(const char *in, const char *want)
{
    return esc_n(in, strlen(in), want);
}

static void test_escapes(void)
{
    test_cond("empty", esc("", ""));
    test_cond("plain", esc("hello, world", "hello, world"));
    test_cond("quote and backslash", esc("a\"b\\c", "a\\\"b\\\\c"));
    test_cond("short escapes", esc("\b\f\n\r\t", "\\b\\f\\n\\r\\t"));
    test_cond("other controls", esc("\x01\x1f", "\\u0001\\u001F"));
    test_cond("NUL inside n", esc_n("a\0b", 3, "a\\u0000b"));
    test_cond("DEL is valid JSON as is", esc("\x7f", "\x7f"));
    test_cond("slash not escaped", esc("a/b", "a/b"));
    test_cond("n bounds the input", esc_n("abcdef", 3, "abc"));
}

static void test_valid(void)
{
    static const char *const ok[] = {
        "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
        "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF",
        "\xEE\x80\x80", "\xEF\xBF\xBF", "\xF0\x90\x80\x80",
        "\xF4\x8F\xBF\xBF", R,
    };
    size_t i;
    int good = 1;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        good = esc(ok[i], ok[i]) && good;
    test_cond("valid UTF-8 at every boundary copied", good);
    test_cond("valid UTF-8 next to escapes",
              esc("\xC3\xA9\"\xE2\x82\xAC\n", "\xC3\xA9\\\"\xE2\x82\xAC\\n"));
}

static void test_invalid(void)
{
    test_cond("lone continuation", esc("a\x80z", "a" R "z"));
    test_cond("two continuations", esc("\x80\xBF", R R));
    test_cond("C0 80 overlong NUL", esc("\xC0\x80", R R));
    test_cond("C1 BF overlong", esc("\xC1\xBF", R R));
    test_cond("E0 80 80 overlong", esc("\xE0\x80\x80", R R R));
    test_cond("E0 9F BF overlong", esc("\xE0\x9F\xBF", R R R));
    test_cond("F0 80 80 80 overlong", esc("\xF0\x80\x80\x80", R R R R));
    test_cond("F0 8F BF BF overlong", esc("\xF0\x8F\xBF\xBF", R R R R));
    test_cond("surrogate D800", esc("\xED\xA0\x80", R R R));
    test_cond("surrogate DFFF", esc("\xED\xBF\xBF", R R R));
    test_cond("U+110000", esc("\xF4\x90\x80\x80", R R R R));
    test_cond("F5 lead", esc("\xF5\x80\x80\x80", R R R R));
    test_cond("FE, FF", esc("\xFE\xFF", R R));
    test_cond("5-byte form", esc("\xF8\x88\x80\x80\x80", R R R R R));
    test_cond("truncated 2-byte at end", esc("ab\xC3", "ab" R));
    test_cond("truncated 3-byte at end: one U+FFFD", esc("\xE2\x82", R));
    test_cond("truncated 4-byte at end: one U+FFFD",
              esc("\xF0\x9F\x98", R));
    test_cond("truncated then ASCII", esc("\xE2\x82" "A", R "A"));
    test_cond("truncated then valid", esc("\xC3\xC3\xA9", R "\xC3\xA9"));
    test_cond("truncated then quote", esc("\xF0\x9F\"", R "\\\""));
    test_cond("truncated by n", esc_n("\xE2\x82\xAC", 2, R));
    test_cond("lead then NUL", esc_n("\xC3\0", 2, R "\\u0000"));
}

static void test_cap(void)
{
    struct sx_buf b;

    sx_buf_init(&b, 8);
    test_cond("fits", sx_json_escape(&b, "abc", 3) == 0 && b.len == 3);
    test_cond("past the cap: -1",
              sx_json_escape(&b, "d\"e\xFF" "fgh", 7) == -1);
    test_cond("and b unchanged", b.len == 3 && strcmp(b.data, "abc") == 0);
    test_cond("exactly to the cap", sx_json_escape(&b, "\n\xFF", 2) == 0 &&
                                        b.len == 8);
    sx_buf_free(&b);
}

/*
 * An independent check: decode each sequence by its leading bits and
 * refuse overlongs, surrogates and code points past U+10FFFF.
 */
static int valid_utf8_json(const unsigned char *p, size_t n)
{
    size_t i = 0, len, k;
    unsigned long cp;

    while (i < n) {
        if (p[i] < 0x20 || p[i] == '"')
            return 0; /* raw control or unescaped quote */
        if (p[i] == '\\') {
            i += i + 1 < n && p[i + 1] == 'u' ? 6 : 2;
            continue;
        }
        len = p[i] < 0x80 ? 1 : (p[i] >> 5) == 6 ? 2 : (p[i] >> 4) == 14 ? 3
            : (p[i] >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n)
            return 0;
        cp = len == 1 ? p[i] : p[i] & (0x7F >> len);
        for (k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
            (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static void test_random(void)
{
    unsigned char in[64];
    struct sx_buf b;
    int round, ok = 1;
    size_t i;

    srand(12345);
    sx_buf_init(&b, 0);
    for (round = 0; round < 20000 && ok; round++) {
        size_t n = (size_t)rand() % sizeof(in);

        for (i = 0; i < n; i++)
            in[i] = (unsigned char)(round % 2 ? rand() : 0x80 + rand() % 0x80);
        sx_buf_reset(&b);
        ok = sx_json_escape(&b, (const char *)in, n) == 0 &&
             valid_utf8_json((const unsigned char *)b.data, b.len);
    }
    sx_buf_free(&b);
    test_cond("random bytes: output always valid UTF-8 JSON", ok);
    test_cond("the checker refuses raw invalid input",
              !valid_utf8_json((const unsigned char *)"\xED\xA0\x80", 3) &&
                  !valid_utf8_json((const unsigned char *)"\xC0\x80", 2) &&
                  !valid_utf8_json((const unsigned char *)"\xE2\x82", 2));
}

int main(void)
{
    test_escapes();
    test_valid();
    test_invalid();
    test_cap();
    test_random();
    return test_report();
}
