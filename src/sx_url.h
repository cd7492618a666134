/*
 * URL helpers: percent-encoding of query components (RFC 3986 unreserved
 * characters pass through, everything else becomes %XX with upper-case hex)
 * and joining a base URL with a relative path.
 */
#ifndef SX_URL_H
#define SX_URL_H
#include <stddef.h>
#include "sx_buf.h"

/* Appends s[0..n) percent-encoded to out.  0, or -1 if out is full. */
int sx_url_escape(struct sx_buf *out, const char *s, size_t n);

/* 1 if s starts with "http://" or "https://" (any case), else 0. */
int sx_url_is_absolute(const char *s);

/*
 * Appends base joined with path to out: exactly one '/' between them
 * ("https://h/v2" + "listings" and "https://h/v2/" + "/listings" both give
 * "https://h/v2/listings").  An absolute path is appended as it is.
 * Returns 0, or -1 with a reason in err (size errlen) when path is empty,
 * contains a space, CR, LF or other control character, or out is full.
 */
int sx_url_join(struct sx_buf *out, const char *base, const char *path,
                char *err, size_t errlen);

/*
 * 1 if url starts with prefix and the next character of url ends a path
 * segment ('\0', '/', '?' or '#'); used to decide whether a request goes
 * to the configured base URL (and so carries the credentials).
 */
int sx_url_has_prefix(const char *url, const char *prefix);

/*
 * Length of "scheme://authority" at the start of an absolute URL: the
 * origin, and where its path begins.
 */
size_t sx_url_origin_len(const char *url);

/*
 * Removes the "." and ".." segments from the path of the absolute URL in u
 * (RFC 3986 section 5.2.4), as curl would before sending it, so that what
 * is checked against the base URL is what goes out.  Dot segments written
 * with %2e are refused: servers disagree on what they mean.  0, or -1 with
 * a reason.
 */
int sx_url_remove_dots(struct sx_buf *u, char *err, size_t errlen);

/*
 * A Redis server, from "redis://[[user]:password@]host[:port][/db]"
 * (the rate_backend setting).  user and password are percent-decoded;
 * host may be a name, an IPv4 address or an [IPv6] address.
 */
struct sx_redis_addr {
    char host[256];
    int port;        /* 6379 */
    int db;          /* 0 */
    char user[128];  /* "" : none (AUTH password) */
    char pass[256];  /* "" : none */
};

/*
 * Parses url into a (zeroed first).  rediss:// (TLS) is refused: Debian
 * 12's hiredis has none.  0, or -1 with a reason that never holds the
 * password.
 */
int sx_url_redis(const char *url, struct sx_redis_addr *a, char *err,
                 size_t errlen);

/* url with its password (if any) replaced by "***", for logs and output. */
void sx_url_redis_mask(const char *url, char *out, size_t len);

#endif
