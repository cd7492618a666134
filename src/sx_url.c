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
