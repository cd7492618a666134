/*
 * Unit tests for sx_url: percent-encoding, base + path joining (slash
 * rules and rejected paths) and the credential prefix test.
 */
#include <string.h>

#include "sx_url.h"
#include "testhelp.h"

/* Escapes s into a fresh buffer and compares with want. */
static int esc_is(const char *s, size_t n, const char *want)
{
    struct sx_buf b;
    int ok;

    sx_buf_init(&b, 0);
    ok = sx_url_escape(&b, s, n) == 0 && strcmp(b.data, want) == 0 &&
         b.len == strlen(want);
    sx_buf_free(&b);
    return ok;
}

static void test_escape(void)
{
    const char *unres = "ABCXYZabcxyz0189-._~";
    struct sx_buf b;

    test_cond("unreserved kept", esc_is(unres, strlen(unres), unres));
    test_cond("space -> %20", esc_is("a b", 3, "a%20b"));
    test_cond("comma -> %2C", esc_is("a,b", 3, "a%2Cb"));
    test_cond("slash escaped", esc_is("a/b", 3, "a%2Fb"));
    test_cond("reserved escaped", esc_is("?&=+#%", 6, "%3F%26%3D%2B%23%25"));
    test_cond("UTF-8 bytes, upper-case hex",
              esc_is("\xc3\xa9\xe2\x82\xac", 5, "%C3%A9%E2%82%AC"));
    test_cond("NUL byte inside length", esc_is("a\0b", 3, "a%00b"));
    test_cond("0xFF", esc_is("\xff", 1, "%FF"));
    test_cond("empty", esc_is("", 0, ""));

    sx_buf_init(&b, 8);
    sx_buf_addstr(&b, "q=");
    test_cond("escape past cap fails", sx_url_escape(&b, "a b c", 5) == -1);
    test_cond("failed escape leaves buffer", b.len == 2 &&
                                                 strcmp(b.data, "q=") == 0);
    test_cond("escape that fits", sx_url_escape(&b, "a,b", 3) == 0 &&
                                      strcmp(b.data, "q=a%2Cb") == 0);
    sx_buf_free(&b);
}

static void test_long_escape(void)
{
    char in[1000];
    struct sx_buf b;
    size_t i;
    int ok = 1;

    memset(in, ' ', sizeof(in));
    sx_buf_init(&b, 0);
    ok = sx_url_escape(&b, in, sizeof(in)) == 0 && b.len == 3000;
    for (i = 0; ok && i < 3000; i += 3)
        ok = memcmp(b.data + i, "%20", 3) == 0;
    test_cond("1000 spaces -> 1000 x %20 (chunk boundaries)", ok);
    sx_buf_free(&b);
}

static void test_absolute(void)
{
    test_cond("http:// absolute", sx_url_is_absolute("http://x/y"));
    test_cond("HTTPS:// absolute", sx_url_is_absolute("HTTPS://x"));
    test_cond("relative path", !sx_url_is_absolute("/v2/x"));
    test_cond("ftp not absolute", !sx_url_is_absolute("ftp://x"));
    test_cond("http: without // not absolute", !sx_url_is_absolute("http:x"));
    test_cond("empty", !sx_url_is_absolute(""));
}

/* Joins into a fresh buffer; 1 if the result is want. */
static int join_is(const char *base, const char *path, const char *want)
{
    struct sx_buf b;
    char err[100];
    int ok;

    sx_buf_init(&b, 0);
    ok = sx_url_join(&b, base, path, err, sizeof(err)) == 0 &&
         strcmp(b.data, want) == 0;
    sx_buf_free(&b);
    return ok;
}

/* 1 if the join fails with an error message containing want. */
static int join_fails(const char *path, const char *want)
{
    struct sx_buf b;
    char err[100] = "";
    int ok;

    sx_buf_init(&b, 0);
    sx_buf_addstr(&b, "keep");
    ok = sx_url_join(&b, "https://h/v2", path, err, sizeof(err)) == -1 &&
         strstr(err, want) != NULL && strcmp(b.data, "keep") == 0;
    sx_buf_free(&b);
    return ok;
}

static void test_join(void)
{
    const char *want = "https://h/v2/listings";

    test_cond("no slashes", join_is("https://h/v2", "listings", want));
    test_cond("base slash", join_is("https://h/v2/", "listings", want));
    test_cond("path slash", join_is("https://h/v2", "/listings", want));
    test_cond("both slashes", join_is("https://h/v2/", "/listings", want));
    test_cond("doubled slashes", join_is("https://h/v2//", "//listings",
                                         want));
    test_cond("query kept", join_is("https://h", "a/b?x=1&y=%20",
                                    "https://h/a/b?x=1&y=%20"));
    test_cond("absolute path kept",
              join_is("https://h/v2", "https://o/x?y", "https://o/x?y"));
    test_cond("absolute HTTP kept",
              join_is("https://h/v2", "HTTP://o/", "HTTP://o/"));

    test_cond("empty path rejected", join_fails("", "empty"));
    test_cond("space rejected", join_fails("a b", "space"));
    test_cond("CR rejected", join_fails("a\rb", "CR"));
    test_cond("LF rejected", join_fails("a\nHost: x", "LF"));
    test_cond("tab rejected", join_fails("a\tb", "control character 0x09"));
    test_cond("DEL rejected", join_fails("a\x7f", "control character 0x7F"));
    test_cond("error names the offset", join_fails("abc d", "offset 3"));
    test_cond("absolute path with CRLF rejected",
              join_fails("https://o/x\r\n", "CR"));
}

static void test_join_errors(void)
{
    struct sx_buf b;
    char err[100] = "";

    sx_buf_init(&b, 12);
    sx_buf_addstr(&b, "x");
    test_cond("join past cap fails",
              sx_url_join(&b, "https://h", "abcdef", err, sizeof(err)) == -1);
    test_cond("join past cap: message", strstr(err, "too long") != NULL);
    test_cond("join past cap: buffer unchanged",
              b.len == 1 && strcmp(b.data, "x") == 0);
    sx_buf_free(&b);

    sx_buf_init(&b, 0);
    test_cond("NULL err buffer tolerated",
              sx_url_join(&b, "https://h", "", NULL, 0) == -1);
    test_cond("tiny err buffer truncated, terminated",
              sx_url_join(&b, "https://h", "", err, 3) == -1 &&
                  strcmp(err, "em") == 0);
    sx_buf_free(&b);
}

static void test_prefix(void)
{
    const char *p = "https://api.stockx.com/v2";

    test_cond("exact", sx_url_has_prefix("https://api.stockx.com/v2", p));
    test_cond("slash", sx_url_has_prefix("https://api.stockx.com/v2/x", p));
    test_cond("query", sx_url_has_prefix("https://api.stockx.com/v2?a", p));
    test_cond("fragment", sx_url_has_prefix("https://api.stockx.com/v2#f", p));
    test_cond("longer segment no",
              !sx_url_has_prefix("https://api.stockx.com/v23", p));
    test_cond("other host no",
              !sx_url_has_prefix("https://api.stockx.com.evil/v2", p));
    test_cond("host suffix no", !sx_url_has_prefix(
                                    "https://api.stockx.com.evil.io/",
                                    "https://api.stockx.com"));
    test_cond("host then port no", !sx_url_has_prefix(
                                       "https://api.stockx.com:81/",
                                       "https://api.stockx.com"));
    test_cond("host then path", sx_url_has_prefix("https://api.stockx.com/x",
                                                  "https://api.stockx.com"));
    test_cond("shorter url no", !sx_url_has_prefix("https://api", p));
    test_cond("prefix ending in slash",
              sx_url_has_prefix("https://h/v2/x", "https://h/v2/"));
    test_cond("empty prefix matches nothing", !sx_url_has_prefix("", "") &&
                                                  !sx_url_has_prefix("/x", ""));
}

/* dots(in) -> the URL after sx_url_remove_dots, or "ERR: reason". */
static const char *dots(const char *in)
{
    static char out[256];
    char err[128];
    struct sx_buf b;
    sx_buf_init(&b, 0);
    sx_buf_addstr(&b, in);
    if (sx_url_remove_dots(&b, err, sizeof err) < 0)
        snprintf(out, sizeof out, "ERR: %s", err);
    else
        snprintf(out, sizeof out, "%s", b.data);
    sx_buf_free(&b);
    return out;
}

static void test_dots(void)
{
    static const char *const cases[][2] = {
        {"https://h/v2/../outside", "https://h/outside"},
        {"https://h/v2/a/./b/../c", "https://h/v2/a/c"},
        {"https://h/v2/x/..", "https://h/v2/"},
        {"https://h/v2/x/.", "https://h/v2/x/"},
        {"https://h/../../a", "https://h/a"},
        {"https://h", "https://h"},
        {"https://h/", "https://h/"},
        {"https://h/a?x=/../b", "https://h/a?x=/../b"},
        {"https://h/a/..?q", "https://h/?q"},
        {"https://h/a/b#/../c", "https://h/a/b#/../c"},
        {"https://h/a/.hidden/..b", "https://h/a/.hidden/..b"},
        {"https://h/v2//x/../y", "https://h/v2//y"},
        {"http://h:8080/v2/./x", "http://h:8080/v2/x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = dots(cases[i][0]);
        test_cond(cases[i][0], strcmp(got, cases[i][1]) == 0);
        if (strcmp(got, cases[i][1]) != 0)
            printf("    got %s, want %s\n", got, cases[i][1]);
    }
    test_cond("%2e%2e refused", strncmp(dots("https://h/v2/%2e%2e/x"),
                                        "ERR: encoded dot", 16) == 0);
    test_cond("%2E. refused", strncmp(dots("https://h/v2/%2E./x"),
                                      "ERR:", 4) == 0);
    test_cond(".%2e at the end refused",
              strncmp(dots("https://h/v2/.%2e"), "ERR:", 4) == 0);
    test_cond("%2e inside a name is fine",
              strcmp(dots("https://h/a%2eb"), "https://h/a%2eb") == 0);
}

/* sx_url_redis: the error text for url, or "" when it parsed. */
static const char *redis_err(const char *url, struct sx_redis_addr *a)
{
    static char err[300];
    err[0] = '\0';
    if (sx_url_redis(url, a, err, sizeof err) == 0)
        err[0] = '\0';
    return err;
}

static void test_redis(void)
{
    struct sx_redis_addr a;
    char m[200];
    test_cond("host only: port 6379, db 0",
              !*redis_err("redis://127.0.0.1", &a) &&
              strcmp(a.host, "127.0.0.1") == 0 && a.port == 6379 &&
              a.db == 0 && !a.pass[0] && !a.user[0]);
    test_cond("port and db",
              !*redis_err("redis://localhost:6390/3", &a) &&
              strcmp(a.host, "localhost") == 0 && a.port == 6390 &&
              a.db == 3);
    test_cond("trailing slash: db 0",
              !*redis_err("REDIS://h:1/", &a) && a.port == 1 && a.db == 0);
    test_cond("password, percent-decoded",
              !*redis_err("redis://:s%40cr%3At@h:7000/1", &a) &&
              strcmp(a.pass, "s@cr:t") == 0 && !a.user[0] &&
              strcmp(a.host, "h") == 0 && a.port == 7000 && a.db == 1);
    test_cond("user and password (ACL)",
              !*redis_err("redis://bob:pw@h", &a) &&
              strcmp(a.user, "bob") == 0 && strcmp(a.pass, "pw") == 0);
    test_cond("an '@' in the password: the last '@' ends it",
              !*redis_err("redis://:a@b@h", &a) &&
              strcmp(a.pass, "a@b") == 0 && strcmp(a.host, "h") == 0);
    test_cond("IPv6", !*redis_err("redis://[::1]:6380", &a) &&
              strcmp(a.host, "::1") == 0 && a.port == 6380);
    test_cond("rediss:// refused, naming TLS",
              strstr(redis_err("rediss://h:6379", &a), "TLS") != NULL);
    test_cond("http:// refused",
              strstr(redis_err("http://h", &a), "not a redis://") != NULL);
    test_cond("port 0 refused",
              strstr(redis_err("redis://h:0", &a), "port") != NULL);
    test_cond("port 65536 refused",
              strstr(redis_err("redis://h:65536", &a), "port") != NULL);
    test_cond("port not a number refused",
              strstr(redis_err("redis://h:x", &a), "port") != NULL);
    test_cond("db not a number refused",
              strstr(redis_err("redis://h/x", &a), "database") != NULL);
    test_cond("no host refused",
              strstr(redis_err("redis://:pw@", &a), "no host") != NULL);
    test_cond("query refused",
              strstr(redis_err("redis://h?db=1", &a), "query") != NULL);
    test_cond("user without password refused",
              strstr(redis_err("redis://bob@h", &a), "password") != NULL);
    test_cond("bad escape refused",
              strstr(redis_err("redis://:%zz@h", &a), "escape") != NULL);
    test_cond("an error never holds the password",
              strstr(redis_err("redis://:hunter2@h:99999", &a),
                     "hunter2") == NULL);
    sx_url_redis_mask("redis://:hunter2@h:1/2", m, sizeof m);
    test_cond("mask: password", strcmp(m, "redis://:***@h:1/2") == 0);
    sx_url_redis_mask("redis://bob:pw@h", m, sizeof m);
    test_cond("mask: user kept", strcmp(m, "redis://bob:***@h") == 0);
    sx_url_redis_mask("redis://h:1", m, sizeof m);
    test_cond("mask: nothing to mask", strcmp(m, "redis://h:1") == 0);
}

int main(void)
{
    test_redis();
    test_dots();
    test_escape();
    test_long_escape();
    test_absolute();
    test_join();
    test_join_errors();
    test_prefix();
    return test_report();
}
