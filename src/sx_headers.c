/*
 * Header lists (see sx_headers.h).  curl copies each line it is given, so
 * the temporary lines built here are wiped at once; the lists themselves
 * are wiped when freed, since they may carry the API key or the token.
 */
#include "sx_headers.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sx_headers {
    int refs;
    char *api_key, *token;
    struct curl_slist *plain; /* Accept */
    struct curl_slist *base;  /* Accept + credentials */
};

static void wipe_str(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

void sx_headers_free_list(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next)
        memset(p->data, 0, strlen(p->data));
    curl_slist_free_all(l);
}

/* Appends "prefix value" (value NULL: nothing); 0 or -1 out of memory. */
static int append2(struct curl_slist **l, const char *prefix,
                   const char *value)
{
    if (!value)
        return 0;
    size_t n = strlen(prefix) + strlen(value) + 1;
    char *line = malloc(n);
    if (!line)
        return -1;
    snprintf(line, n, "%s%s", prefix, value);
    struct curl_slist *nl = curl_slist_append(*l, line);
    memset(line, 0, n);
    free(line);
    if (!nl)
        return -1;
    *l = nl;
    return 0;
}

static int add_defaults(struct curl_slist **l, const struct sx_headers *h,
                        int accept, int creds)
{
    if (accept && append2(l, "Accept: ", "application/json") < 0)
        return -1;
    if (creds && (append2(l, "x-api-key: ", h->api_key) < 0 ||
                  append2(l, "Authorization: Bearer ", h->token) < 0))
        return -1;
    return 0;
}

struct sx_headers *sx_headers_new(const char *api_key, const char *token,
                                  char *err, size_t errlen)
{
    struct sx_headers *h = calloc(1, sizeof *h);
    if (!h)
        goto oom;
    h->refs = 1;
    if ((api_key && !(h->api_key = strdup(api_key))) ||
        (token && !(h->token = strdup(token))))
        goto oom;
    if (add_defaults(&h->plain, h, 1, 0) < 0 ||
        add_defaults(&h->base, h, 1, 1) < 0)
        goto oom;
    return h;
oom:
    snprintf(err, errlen, "out of memory");
    sx_headers_unref(h);
    return NULL;
}

struct sx_headers *sx_headers_ref(struct sx_headers *h)
{
    h->refs++;
    return h;
}

void sx_headers_unref(struct sx_headers *h)
{
    if (!h || --h->refs > 0)
        return;
    sx_headers_free_list(h->plain);
    sx_headers_free_list(h->base);
    wipe_str(h->api_key);
    wipe_str(h->token);
    free(h);
}

struct curl_slist *sx_headers_shared(const struct sx_headers *h, int creds)
{
    return creds ? h->base : h->plain;
}

struct curl_slist *sx_headers_compose(const struct sx_headers *h,
                                      const struct curl_slist *own,
                                      int accept, int creds)
{
    struct curl_slist *l = NULL, *nl;
    for (const struct curl_slist *p = own; p; p = p->next) {
        if (!(nl = curl_slist_append(l, p->data)))
            goto oom;
        l = nl;
    }
    if (add_defaults(&l, h, accept, creds) < 0)
        goto oom;
    return l;
oom:
    sx_headers_free_list(l);
    return NULL;
}

/* RFC 9110 token characters. */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int check_header(const char *name, size_t nlen, const char *value,
                        size_t vlen, char *err, size_t errlen)
{
    if (nlen == 0) {
        snprintf(err, errlen, "empty header name");
        return -1;
    }
    for (size_t i = 0; i < nlen; i++) {
        unsigned char c = (unsigned char)name[i];
        if (is_tchar(c))
            continue;
        snprintf(err, errlen, "header name '%.*s' contains %s",
                 (int)(nlen > 64 ? 64 : nlen), name,
                 c == 0 ? "a NUL byte" : c == ':' ? "':'"
                 : c == '\r' || c == '\n' ? "CR or LF"
                 : c == ' ' ? "a space" : "a character not allowed in a name");
        return -1;
    }
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == 0 || c == '\r' || c == '\n') {
            snprintf(err, errlen, "header value for '%.*s' contains %s",
                     (int)(nlen > 64 ? 64 : nlen), name,
                     c ? "CR or LF" : "a NUL byte");
            return -1;
        }
    }
    return 0;
}

int sx_headers_add(struct curl_slist **l, const char *name, size_t nlen,
                   const char *value, size_t vlen, char *err, size_t errlen)
{
    if (check_header(name, nlen, value, vlen, err, errlen) < 0)
        return -1;
    char *line = malloc(nlen + vlen + 3);
    if (!line) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* "Name;" sends an empty header; "Name:" would remove it */
    if (vlen)
        sprintf(line, "%s: %s", name, value);
    else
        sprintf(line, "%s;", name);
    struct curl_slist *nl = curl_slist_append(*l, line);
    memset(line, 0, nlen + vlen + 2); /* may hold a secret */
    free(line);
    if (!nl) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *l = nl;
    return 0;
}
