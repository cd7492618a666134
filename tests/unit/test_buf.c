/*
 * Unit tests for sx_buf: appends, NUL termination, formatted appends and
 * the size cap (a failed append leaves the buffer unchanged).
 */
#include <string.h>

#include "sx_buf.h"
#include "testhelp.h"

static void test_basics(void)
{
    struct sx_buf b;

    sx_buf_init(&b, 0);
    test_cond("init: empty, no memory", b.data == NULL && b.len == 0 &&
                                            b.cap == 0);
    test_cond("add returns 0", sx_buf_add(&b, "abc", 3) == 0);
    test_cond("add: len 3", b.len == 3);
    test_cond("add: NUL-terminated", b.data[3] == '\0');
    test_cond("addstr", sx_buf_addstr(&b, "def") == 0 &&
                            strcmp(b.data, "abcdef") == 0 && b.len == 6);
    test_cond("add binary", sx_buf_add(&b, "x\0y", 3) == 0 && b.len == 9 &&
                                memcmp(b.data + 6, "x\0y", 4) == 0);
    sx_buf_reset(&b);
    test_cond("reset: empty string, memory kept",
              b.len == 0 && b.data != NULL && b.data[0] == '\0' && b.cap > 0);
    sx_buf_free(&b);
    test_cond("free: back to init state", b.data == NULL && b.len == 0 &&
                                              b.cap == 0);

    sx_buf_init(&b, 0);
    test_cond("add of 0 bytes terminates",
              sx_buf_add(&b, "", 0) == 0 && b.data != NULL &&
                  b.data[0] == '\0');
    sx_buf_free(&b);
}

static void test_growth(void)
{
    struct sx_buf b;
    char chunk[100];
    int i, ok = 1;

    memset(chunk, 'z', sizeof(chunk));
    sx_buf_init(&b, 0);
    for (i = 0; i < 1000 && ok; i++)
        ok = sx_buf_add(&b, chunk, sizeof(chunk)) == 0;
    test_cond("100 KB in 100-byte appends", ok && b.len == 100000);
    test_cond("grown buffer terminated", b.data[100000] == '\0' &&
                                             b.cap > b.len);
    test_cond("content intact", b.data[0] == 'z' && b.data[99999] == 'z');
    sx_buf_free(&b);

    /* Appending a buffer to itself must survive realloc moving it. */
    sx_buf_init(&b, 0);
    sx_buf_addstr(&b, "0123456789");
    for (i = 0; i < 8; i++)
        sx_buf_add(&b, b.data, b.len);
    test_cond("self-append", b.len == 2560 &&
                                 memcmp(b.data + 2550, "0123456789", 10) == 0);
    sx_buf_free(&b);
}

static void test_cap(void)
{
    struct sx_buf b;

    sx_buf_init(&b, 10);
    test_cond("fill to cap", sx_buf_add(&b, "0123456789", 10) == 0 &&
                                 b.len == 10);
    test_cond("append past cap fails", sx_buf_add(&b, "x", 1) == -1);
    test_cond("failed append: unchanged",
              b.len == 10 && strcmp(b.data, "0123456789") == 0);
    test_cond("addf past cap fails", sx_buf_addf(&b, "%d", 7) == -1);
    test_cond("failed addf: unchanged",
              b.len == 10 && strcmp(b.data, "0123456789") == 0);
    test_cond("empty append at cap ok", sx_buf_add(&b, "", 0) == 0);
    sx_buf_free(&b);

    sx_buf_init(&b, 10);
    sx_buf_addstr(&b, "abcdef");
    test_cond("straddling append fails", sx_buf_addstr(&b, "ghijk") == -1);
    test_cond("straddling append: unchanged",
              b.len == 6 && strcmp(b.data, "abcdef") == 0);
    test_cond("straddling addf fails", sx_buf_addf(&b, "%s", "ghijk") == -1);
    test_cond("straddling addf: NUL kept, unchanged",
              b.len == 6 && strcmp(b.data, "abcdef") == 0);
    test_cond("exact fit still ok", sx_buf_addstr(&b, "ghij") == 0 &&
                                        strcmp(b.data, "abcdefghij") == 0);
    test_cond("cap never exceeded", b.cap <= 11);
    sx_buf_free(&b);
    test_cond("free keeps max", b.max == 10);

    sx_buf_init(&b, 0);
    test_cond("huge append past default cap fails",
              sx_buf_add(&b, "x", SX_BUF_MAX_DEFAULT + 1) == -1 &&
                  b.len == 0);
    sx_buf_free(&b);
}

static void test_addf(void)
{
    struct sx_buf b;

    sx_buf_init(&b, 0);
    test_cond("addf", sx_buf_addf(&b, "%s=%d", "n", 42) == 0 &&
                          strcmp(b.data, "n=42") == 0 && b.len == 4);
    test_cond("addf appends", sx_buf_addf(&b, " %.1f", 1.5) == 0 &&
                                  strcmp(b.data, "n=42 1.5") == 0);
    test_cond("addf empty", sx_buf_addf(&b, "%s", "") == 0 && b.len == 8);
    sx_buf_reset(&b);
    test_cond("addf long", sx_buf_addf(&b, "%500d|", 1) == 0 &&
                               b.len == 501 && b.data[499] == '1' &&
                               b.data[501] == '\0');
    sx_buf_free(&b);
}

int main(void)
{
    test_basics();
    test_growth();
    test_cap();
    test_addf();
    return test_report();
}
