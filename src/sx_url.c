/*
 * URL helpers: RFC 3986 percent-encoding, base + path joining with the
 * slash rules the client relies on, and the prefix test that decides
 * whether a request goes to the configured API host.
 */
#include "sx_url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Undoes appends made after `len`, for all-or-nothing operations. */
static void url_rollback(struct sx_buf *out, size_t len)
{
    out->len = len;
    if (out->data != NULL)
        out->data[len] = '\0';
}

static int url_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/* Encodes through a small stack chunk to keep the number of appends low. */
int sx_url_escape(struct sx_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char chunk[256];
    size_t start = out->len, used = 0, i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (used > sizeof(chunk) - 3) {
            if (sx_buf_add(out, chunk, used) < 0)
                goto err;
            used = 0;
        }
        if (url_unreserved(c)) {
            chunk[used++] = (char)c;
        } else {
            chunk[used++] = '%';
            chunk[used++] = hex[c >> 4];
            chunk[used++] = hex[c & 15];
        }
    }
    if (sx_buf_add(out, chunk, used) < 0)
        goto err;
    return 0;
err:
    url_rollback(out, start);
    return -1;
}

int sx_url_is_absolute(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 ||
           strncasecmp(s, "https://", 8) == 0;
}

/* Names the first character that must not appear in a request path. */
static int url_check_path(const char *path, char *err, size_t errlen)
{
    const unsigned char *p;

    if (*path == '\0') {
        snprintf(err, errlen, "empty path");
        return -1;
    }
    for (p = (const unsigned char *)path; *p != '\0'; p++) {
        size_t at = (size_t)(p - (const unsigned char *)path);

        if (*p == ' ')
            snprintf(err, errlen, "space in path at offset %zu", at);
        else if (*p == '\r')
            snprintf(err, errlen, "CR in path at offset %zu", at);
        else if (*p == '\n')
            snprintf(err, errlen, "LF in path at offset %zu", at);
        else if (*p < 0x20 || *p == 0x7f)
            snprintf(err, errlen,
                     "control character 0x%02X in path at offset %zu", *p,
                     at);
        else
            continue;
        return -1;
    }
    return 0;
}

int sx_url_join(struct sx_buf *out, const char *base, const char *path,
                char *err, size_t errlen)
{
    char dummy[1];
    size_t start = out->len, blen = strlen(base);

    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (url_check_path(path, err, errlen) < 0)
        return -1;
    if (sx_url_is_absolute(path)) {
        if (sx_buf_addstr(out, path) == 0)
            return 0;
        goto full;
    }
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    while (*path == '/')
        path++;
    if (sx_buf_add(out, base, blen) < 0 || sx_buf_add(out, "/", 1) < 0 ||
        sx_buf_addstr(out, path) < 0)
        goto full;
    return 0;
full:
    url_rollback(out, start);
    snprintf(err, errlen, "URL too long");
    return -1;
}

/*
 * A prefix that itself ends with '/' already ends on a segment boundary,
 * so "https://h/v2/" covers "https://h/v2/x".  An empty prefix matches
 * nothing: it must never make every host look like the API host.
 */
int sx_url_has_prefix(const char *url, const char *prefix)
{
    size_t n = strlen(prefix);
    char next;

    if (n == 0 || strncmp(url, prefix, n) != 0)
        return 0;
    if (prefix[n - 1] == '/')
        return 1;
    next = url[n];
    return next == '\0' || next == '/' || next == '?' || next == '#';
}

/* 1 if seg[0..n) is "." or "..", also when the dots are %2e-encoded. */
static int url_dot_segment(const char *seg, size_t n, int *encoded)
{
    size_t dots = 0, i = 0;
    *encoded = 0;
    while (i < n) {
        if (seg[i] == '.') {
            i++;
        } else if (n - i >= 3 && seg[i] == '%' && seg[i + 1] == '2' &&
                   (seg[i + 2] == 'e' || seg[i + 2] == 'E')) {
            *encoded = 1;
            i += 3;
        } else {
            return 0;
        }
        dots++;
    }
    return dots == 1 ? 1 : dots == 2 ? 2 : 0;
}

size_t sx_url_origin_len(const char *u)
{
    const char *p = strstr(u, "://");
    p = p ? p + 3 : u;
    return (size_t)(p + strcspn(p, "/?#") - u);
}

int sx_url_remove_dots(struct sx_buf *u, char *err, size_t errlen)
{
    size_t start = sx_url_origin_len(u->data), end = start, out = start;
    char *d = u->data;
    while (d[end] && d[end] != '?' && d[end] != '#')
        end++;
    size_t i = start;
    while (i < end) {
        size_t n = 0;
        int enc, kind;
        i++; /* the '/' */
        while (i + n < end && d[i + n] != '/')
            n++;
        kind = url_dot_segment(d + i, n, &enc);
        if (kind && enc) {
            snprintf(err, errlen, "encoded dot segment ('%%2e') in path");
            return -1;
        }
        if (kind == 2)
            while (out > start && d[--out] != '/') {
            }
        if (kind) {
            if (i + n >= end) /* a trailing "." or "..": keep the '/' */
                d[out++] = '/';
        } else {
            memmove(d + out, d + i - 1, n + 1);
            out += n + 1;
        }
        i += n;
    }
    memmove(d + out, d + end, u->len - end + 1);
    u->len -= end - out;
    return 0;
}

/* ---- redis:// URLs ------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into out[len]; -1 if bad or too long. */
static int url_decode(const char *s, size_t n, char *out, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= len)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* A decimal number in [lo, hi] filling s[0..n); -1 if not. */
static long url_number(const char *s, size_t n, long lo, long hi)
{
    long v = 0;
    if (n == 0 || n > 9)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi ? v : -1;
}

static int redis_fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "rate_backend: %s (want host or "
             "redis://[:password@]host[:port][/db])", what);
    return -1;
}

/* "user:pass" in s[0..n) into a. */
static int redis_userinfo(const char *s, size_t n, struct sx_redis_addr *a,
                          char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    size_t un = colon ? (size_t)(colon - s) : 0;
    if (!colon)
        return redis_fail(err, errlen, "a user without ':password' before "
                          "'@'");
    if (url_decode(s, un, a->user, sizeof a->user) < 0 ||
        url_decode(colon + 1, n - un - 1, a->pass, sizeof a->pass) < 0)
        return redis_fail(err, errlen, "bad %-escape or too long a user "
                          "or password");
    return 0;
}

/* "host[:port]" in s[0..n) into a. */
static int redis_hostport(const char *s, size_t n, struct sx_redis_addr *a,
                          char *err, size_t errlen)
{
    const char *end = s + n, *port = NULL, *h = s, *he;
    if (n && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb)
            return redis_fail(err, errlen, "an IPv6 address without ']'");
        h = s + 1;
        he = rb;
        if (rb + 1 < end && rb[1] != ':')
            return redis_fail(err, errlen, "text after ']'");
        port = rb + 1 < end ? rb + 2 : NULL;
    } else {
        const char *colon = memchr(s, ':', n);
        he = colon ? colon : end;
        port = colon ? colon + 1 : NULL;
    }
    if (he == h || (size_t)(he - h) >= sizeof a->host)
        return redis_fail(err, errlen, he == h ? "no host" : "too long a "
                          "host");
    for (const char *p = h; p < he; p++)
        if ((unsigned char)*p <= ' ' || *p == '@' || *p == '%')
            return redis_fail(err, errlen, "a bad character in the host");
    memcpy(a->host, h, (size_t)(he - h));
    a->host[he - h] = '\0';
    if (port && (a->port = (int)url_number(port, (size_t)(end - port), 1,
                                           65535)) < 0)
        return redis_fail(err, errlen, "the port must be 1..65535");
    return 0;
}

int sx_url_redis(const char *url, struct sx_redis_addr *a, char *err,
                 size_t errlen)
{
    const char *p, *at, *slash;
    memset(a, 0, sizeof *a);
    a->port = 6379;
    if (strncasecmp(url, "rediss://", 9) == 0) {
        snprintf(err, errlen, "rate_backend: rediss:// (Redis over TLS) is "
                 "not supported: Debian 12's hiredis has no TLS; use "
                 "redis:// on a trusted network, or a TLS tunnel "
                 "(stunnel, spiped) to a local port");
        return -1;
    }
    if (strncasecmp(url, "redis://", 8) != 0)
        return redis_fail(err, errlen, "not a redis:// URL");
    p = url + 8;
    slash = p + strcspn(p, "/?#");
    if (*slash == '?' || *slash == '#')
        return redis_fail(err, errlen, "a query or fragment");
    at = NULL;
    for (const char *q = p; q < slash; q++)
        if (*q == '@')
            at = q;
    if (at && redis_userinfo(p, (size_t)(at - p), a, err, errlen) < 0)
        return -1;
    if (redis_hostport(at ? at + 1 : p, (size_t)(slash - (at ? at + 1 : p)),
                       a, err, errlen) < 0)
        return -1;
    if (*slash == '/' && slash[1] &&
        (a->db = (int)url_number(slash + 1, strlen(slash + 1), 0,
                                 100000)) < 0)
        return redis_fail(err, errlen, "the database must be a number "
                          "0..100000");
    return 0;
}

void sx_url_redis_mask(const char *url, char *out, size_t len)
{
    const char *p = strstr(url, "://"), *slash, *at = NULL, *colon;
    if (!p) {
        snprintf(out, len, "%s", url);
        return;
    }
    p += 3;
    slash = p + strcspn(p, "/?#");
    for (const char *q = p; q < slash; q++)
        if (*q == '@')
            at = q;
    colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
    if (!colon) {
        snprintf(out, len, "%s", url);
        return;
    }
    snprintf(out, len, "%.*s***%s", (int)(colon + 1 - url), url, at);
}
