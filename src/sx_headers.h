/*
 * Request header lists.  The shared defaults of one configuration (Accept,
 * and the credentials for the base URL) are reference-counted: a running
 * transfer keeps the set it started with after stockx.configure replaced
 * it.  Requests with headers of their own get a list composed per attempt.
 * Every line that may hold a secret is wiped before it is freed.
 */
#ifndef SX_HEADERS_H
#define SX_HEADERS_H
#include <stddef.h>

struct curl_slist;
struct sx_headers;

/* The shared lists for these credentials (NULL: none); NULL + err. */
struct sx_headers *sx_headers_new(const char *api_key, const char *token,
                                  char *err, size_t errlen);
struct sx_headers *sx_headers_ref(struct sx_headers *h);
void sx_headers_unref(struct sx_headers *h); /* NULL is fine */

/* The shared list: Accept, plus the credentials if creds. */
struct curl_slist *sx_headers_shared(const struct sx_headers *h, int creds);

/*
 * A new list: own (copied), then Accept unless accept is 0, then the
 * credentials of h if creds.  NULL when out of memory.
 */
struct curl_slist *sx_headers_compose(const struct sx_headers *h,
                                      const struct curl_slist *own,
                                      int accept, int creds);

/*
 * Appends "name: value" to *l after checking both: a name is an RFC 9110
 * token (no ':', space, CR, LF or NUL), a value has no CR, LF or NUL (the
 * lengths let NUL be seen).  0, or -1 with a message naming the header.
 */
int sx_headers_add(struct curl_slist **l, const char *name, size_t nlen,
                   const char *value, size_t vlen, char *err, size_t errlen);

/* Wipes and frees a list (NULL is fine). */
void sx_headers_free_list(struct curl_slist *l);

#endif
