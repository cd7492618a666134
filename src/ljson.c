/*
 * JSON to Lua values in one pass (see ljson.h).  A recursive descent
 * parser pushes values on the Lua stack and moves them into a table sized
 * for them once a container closes, so tables are allocated once and
 * strings without escapes are interned straight from the input.
 */
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "ljson.h"

#define MAX_DEPTH 1000
#define CHUNK 64 /* values (or key and value slots) pending per table */
#define SLACK 8  /* slots for a table being filled, string scratch */
#define SCRATCH 1024
#define KEYS 256   /* object keys remembered between decodes */
#define KEY_MAX 40 /* longest key remembered (Lua's short strings) */

/*
 * The decoder's context, a userdata shared by every decode in a state:
 * uservalue 1 is the null sentinel, uservalue 2 a table anchoring the
 * cached keys.  Finding a key again here costs less than interning it.
 */
struct jkey {
    const char *s; /* the bytes of the anchored Lua string, or NULL */
    size_t len;
};

struct jctx {
    struct jkey keys[KEYS];
};

/* The state of one decode; lives on the C stack. */
struct jparse {
    lua_State *L;
    const char *p, *end; /* cursor, end of input */
    struct jkey *keys;   /* key cache, anchored at kidx */
    int kidx;
    int nullidx;      /* stack index of the null sentinel */
    int depth;        /* containers open */
    const char *what; /* error: what is wrong, and where */
    const char *where;
    char scratch[SCRATCH]; /* strings with escapes that fit */
};

static const char ctx_key = 'J';

static int value(struct jparse *J);

/* Records an error for the callers to pass up; returns -1. */
static int fail(struct jparse *J, const char *where, const char *what)
{
    J->where = where;
    J->what = where < J->end ? what : "unexpected end of input";
    return -1;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* Skips white space, then consumes c if it comes next. */
static int next_is(struct jparse *J, char c)
{
    J->p = skip_ws(J->p, J->end);
    if (J->p < J->end && *J->p == c) {
        J->p++;
        return 1;
    }
    return 0;
}

/* ---- strings ---------------------------------------------------------- */

#define ONES ((uint64_t)0x0101010101010101u)

#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_BYTE(m) (__builtin_ctzll(m) >> 3)
#endif

/*
 * The high bit of each of 8 bytes that is '"', '\\' or below 0x20, by the
 * word tests for "a byte less than n" and "a zero byte".  A borrow can
 * mark a byte above a true match, never below: the lowest mark is exact.
 */
static uint64_t special_bytes(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
    uint64_t t =
        ((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b);
    return t & (ONES * 0x80);
}

/* The first '"', '\\' or control character at or after p, or end. */
static const char *scan_plain(const char *p, const char *end)
{
    uint64_t w, m;
    for (; end - p >= 8; p += 8) {
        memcpy(&w, p, 8);
        if ((m = special_bytes(w)) != 0) {
#ifdef FIRST_BYTE
            return p + FIRST_BYTE(m);
#else
            break;
#endif
        }
    }
    while (p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\')
        p++;
    return p;
}

static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], lc = c | 0x20;
        if (c >= '0' && c <= '9')
            v = v << 4 | (c - '0');
        else if (lc >= 'a' && lc <= 'f')
            v = v << 4 | (lc - 'a' + 10);
        else
            return -1;
    }
    return v;
}

static char *put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/*
 * \uXXXX at q (r ends the string): a surrogate pair becomes one 4-byte
 * UTF-8 sequence; a lone surrogate is encoded on its own as 3 bytes
 * (WTF-8), as Lua's "\u{D800}" and utf8.char do, since we pass invalid
 * UTF-8 through anyway.  Returns the byte after the escape, or NULL.
 */
static const char *unicode(struct jparse *J, const char *q, const char *r,
                           char **o)
{
    long cp = r - q >= 6 ? hex4(q + 2) : -1, lo = -1;
    if (cp < 0) {
        fail(J, q, "invalid \\u escape");
        return NULL;
    }
    q += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && r - q >= 6 && q[0] == '\\' &&
        q[1] == 'u' && (lo = hex4(q + 2)) >= 0xDC00 && lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        q += 6;
    }
    *o = put_utf8(*o, (unsigned long)cp);
    return q;
}

/* Decodes the escape at q (a backslash before r) into *o; returns the
 * byte after it, or NULL. */
static const char *unescape(struct jparse *J, const char *q, const char *r,
                            char **o)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *k = q[1] ? strchr(from, q[1]) : NULL;
    if (q[1] == 'u')
        return unicode(J, q, r, o);
    if (!k) {
        fail(J, q, "invalid escape");
        return NULL;
    }
    *(*o)++ = to[k - from];
    return q + 2;
}

/* The closing quote of the string whose text starts at s (q: its first
 * special byte), or NULL.  Escapes are skipped, not checked, here. */
static const char *string_end(struct jparse *J, const char *s, const char *q)
{
    for (;;) {
        if (q < J->end && *q == '"')
            return q;
        if (q < J->end && (unsigned char)*q < 0x20) {
            fail(J, q, "control character in string");
            return NULL;
        }
        if (J->end - q < 2) {
            fail(J, s - 1, "unterminated string");
            return NULL;
        }
        q = scan_plain(q + 2, J->end);
    }
}

/*
 * [-0, +1] A string with escapes; q is its first special byte.  Decoded
 * text is never longer than the raw text, so it goes to the scratch
 * buffer, or to a userdata (collected even if we raise) when too long.
 */
static int string_escaped(struct jparse *J, const char *s, const char *q)
{
    const char *r = string_end(J, s, q);
    char *out, *o;
    if (!r)
        return -1;
    if ((size_t)(r - s) <= sizeof J->scratch)
        out = J->scratch;
    else
        out = lua_newuserdatauv(J->L, (size_t)(r - s), 0); /* box */
    memcpy(out, s, (size_t)(q - s));
    o = out + (q - s);
    while (q < r) {
        const char *bs = memchr(q, '\\', (size_t)(r - q));
        size_t n = (size_t)((bs ? bs : r) - q);
        memcpy(o, q, n);
        o += n;
        q += n;
        if (bs && !(q = unescape(J, q, r, &o)))
            return -1;
    }
    lua_pushlstring(J->L, out, (size_t)(o - out)); /* box? str */
    if (out != J->scratch)
        lua_remove(J->L, -2);
    J->p = r + 1;
    return 0;
}

/* Cache slot of a key: its length and first and last 8 bytes, mixed by
 * a multiplication (Fibonacci hashing). */
static unsigned key_slot(const char *s, size_t len)
{
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + len - 8, 8);
    } else {
        for (size_t i = 0; i < len; i++)
            a = a << 8 | (unsigned char)s[i];
    }
    a = (a ^ (b * 0xC2B2AE3D27D4EB4Fu) ^ len) * 0x9E3779B97F4A7C15u;
    return (unsigned)(a >> 56) % KEYS;
}

/* memcmp(a, b, n) == 0 for the short n of keys, without a call. */
static int same(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    for (; n >= 8; n -= 8, a += 8, b += 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return 0;
    }
    while (n > 0 && *a == *b)
        n--, a++, b++;
    return n == 0;
}

/* [-0, +1] The key s[0..len), from the cache or interned and cached. */
static void push_key(struct jparse *J, const char *s, size_t len)
{
    unsigned slot = key_slot(s, len);
    struct jkey *k = &J->keys[slot];
    if (k->s && k->len == len && same(k->s, s, len)) {
        lua_rawgeti(J->L, J->kidx, slot + 1);
        return;
    }
    lua_pushlstring(J->L, s, len);
    lua_pushvalue(J->L, -1);
    lua_rawseti(J->L, J->kidx, slot + 1); /* anchored before k points */
    k->s = lua_tostring(J->L, -1);
    k->len = len;
}

/* [-0, +1] The string at J->p (its opening quote); an object key when
 * key is set. */
static int string(struct jparse *J, int key)
{
    const char *s = J->p + 1, *q = scan_plain(s, J->end);
    size_t len = (size_t)(q - s);
    if (q == J->end || *q != '"')
        return string_escaped(J, s, q);
    J->p = q + 1;
    if (key && len <= KEY_MAX)
        push_key(J, s, len);
    else
        lua_pushlstring(J->L, s, len);
    return 0;
}

/* ---- numbers ---------------------------------------------------------- */

/* A number literal as m * 10^e, while its digits fit. */
struct jnum {
    uint64_t m;
    int nd; /* significant digits in m */
    int e;
    int big;   /* more than 19 significant digits: m is useless */
    int isint; /* no fraction, no exponent */
};

/* Reads the digits at p (after the point when frac); returns their end. */
static const char *digits(const char *p, const char *end, struct jnum *n,
                          int frac)
{
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (n->nd < 19) {
            n->m = n->m * 10 + (uint64_t)(*p - '0');
            n->nd += n->m != 0;
            n->e -= frac;
        } else {
            n->big = 1;
        }
    }
    return p;
}

/* The exponent after 'e' at p; returns its end, or NULL. */
static const char *exponent(struct jparse *J, const char *p, struct jnum *n)
{
    int neg = 0, e = 0;
    if (p < J->end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    if (p >= J->end || *p < '0' || *p > '9') {
        fail(J, p, "expected a digit in the exponent");
        return NULL;
    }
    for (; p < J->end && *p >= '0' && *p <= '9'; p++)
        if (e < 100000) /* past any double; strtod sees the literal */
            e = e * 10 + (*p - '0');
    n->e += neg ? -e : e;
    n->isint = 0;
    return p;
}

/* Checks the number at J->p against the grammar; returns its end. */
static const char *scan_number(struct jparse *J, struct jnum *n)
{
    const char *p = J->p + (*J->p == '-'), *end = J->end, *f;
    if (p >= end || *p < '0' || *p > '9') {
        fail(J, p, "expected a digit");
        return NULL;
    }
    if (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9') {
        fail(J, p, "leading zero in a number");
        return NULL;
    }
    p = *p == '0' ? p + 1 : digits(p, end, n, 0);
    if (p < end && *p == '.') {
        n->isint = 0;
        f = digits(p + 1, end, n, 1);
        if (f == p + 1) {
            fail(J, f, "expected a digit after '.'");
            return NULL;
        }
        p = f;
    }
    if (p < end && (*p == 'e' || *p == 'E'))
        p = exponent(J, p + 1, n);
    return p;
}

static const double exact_pow10[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * Literals the fast paths don't take (integers out of range, long or
 * extreme floats) go to Lua's own conversion: strtod, made independent of
 * the locale's decimal point, and a float for integers that overflow.
 */
static int slow_number(struct jparse *J, const char *s, size_t len)
{
    char buf[64];
    const char *z = buf;
    size_t ok;
    if (len < sizeof buf) {
        memcpy(buf, s, len);
        buf[len] = '\0';
    } else {
        z = lua_pushlstring(J->L, s, len); /* a NUL-terminated copy */
    }
    ok = lua_stringtonumber(J->L, z);
    if (z != buf)
        lua_remove(J->L, ok ? -2 : -1);
    return ok ? 0 : fail(J, s, "number not convertible");
}

/* [-0, +1] The number at J->p. */
static int number(struct jparse *J)
{
    struct jnum n = {0, 0, 0, 0, 1};
    const char *s = J->p, *e = scan_number(J, &n);
    int neg = *s == '-';
    if (!e)
        return -1;
    J->p = e;
    if (n.isint && !n.big && n.m <= (uint64_t)LUA_MAXINTEGER + (unsigned)neg) {
        lua_pushinteger(J->L, (lua_Integer)(neg ? 0 - n.m : n.m));
        return 0;
    }
#if FLT_EVAL_METHOD == 0
    /* Clinger's fast path: m and 10^|e| are exact doubles, so one
     * correctly rounded operation gives the correctly rounded result. */
    if (!n.isint && !n.big && n.m <= (uint64_t)1 << 53 && n.e >= -22 &&
        n.e <= 22) {
        double d = (double)n.m;
        d = n.e < 0 ? d / exact_pow10[-n.e] : d * exact_pow10[n.e];
        lua_pushnumber(J->L, neg ? -d : d);
        return 0;
    }
#endif
    return slow_number(J, s, (size_t)(e - s));
}

/* ---- containers ------------------------------------------------------- */

static int enter(struct jparse *J)
{
    if (J->depth >= MAX_DEPTH)
        return fail(J, J->p, "nested deeper than 1000");
    if (!lua_checkstack(J->L, CHUNK + SLACK))
        return fail(J, J->p, "out of Lua stack");
    J->depth++;
    J->p++;
    return 0;
}

/*
 * [-2n, +0|1] Moves the n key-value pairs above base into the table at
 * base (have) or into a new table of the right size left at base.  Pairs
 * go in input order: with duplicate keys the last one wins.
 */
static void flush_pairs(lua_State *L, int base, int have, int n)
{
    int t = base, first = base + have;
    if (!have) {
        lua_createtable(L, 0, n);
        t = lua_gettop(L);
    }
    for (int i = 0; i < n; i++) {
        lua_pushvalue(L, first + 2 * i);
        lua_pushvalue(L, first + 2 * i + 1);
        lua_rawset(L, t);
    }
    if (!have && n > 0)
        lua_replace(L, base);
    lua_settop(L, base);
}

/* [-n, +0|1] The same for array items; returns the new length. */
static lua_Integer flush_items(lua_State *L, int base, int have, int n,
                               lua_Integer len)
{
    int t = base, first = base + have;
    if (!have) {
        lua_createtable(L, n, 0);
        t = lua_gettop(L);
    }
    for (int i = 0; i < n; i++) {
        lua_pushvalue(L, first + i);
        lua_rawseti(L, t, ++len);
    }
    if (!have && n > 0)
        lua_replace(L, base);
    lua_settop(L, base);
    return len;
}

/* [-0, +2] One "key": value of an object. */
static int member(struct jparse *J)
{
    J->p = skip_ws(J->p, J->end);
    if (J->p >= J->end || *J->p != '"')
        return fail(J, J->p, "expected a string key");
    if (string(J, 1) < 0)
        return -1;
    if (!next_is(J, ':'))
        return fail(J, J->p, "expected ':'");
    return value(J);
}

/* [-0, +1] The object at J->p. */
static int object(struct jparse *J)
{
    int base = lua_gettop(J->L) + 1, have = 0, n = 0;
    if (enter(J) < 0)
        return -1;
    if (!next_is(J, '}')) {
        do {
            if (member(J) < 0)
                return -1;
            if (++n == CHUNK / 2) {
                flush_pairs(J->L, base, have, n);
                have = 1;
                n = 0;
            }
        } while (next_is(J, ','));
        if (!next_is(J, '}'))
            return fail(J, J->p, "expected ',' or '}'");
    }
    flush_pairs(J->L, base, have, n);
    J->depth--;
    return 0;
}

/* [-0, +1] The array at J->p. */
static int array(struct jparse *J)
{
    int base = lua_gettop(J->L) + 1, have = 0, n = 0;
    lua_Integer len = 0;
    if (enter(J) < 0)
        return -1;
    if (!next_is(J, ']')) {
        do {
            if (value(J) < 0)
                return -1;
            if (++n == CHUNK) {
                len = flush_items(J->L, base, have, n, len);
                have = 1;
                n = 0;
            }
        } while (next_is(J, ','));
        if (!next_is(J, ']'))
            return fail(J, J->p, "expected ',' or ']'");
    }
    flush_items(J->L, base, have, n, len);
    J->depth--;
    return 0;
}

/* ---- values ----------------------------------------------------------- */

/* [-0, +1] true, false or null at J->p. */
static int word(struct jparse *J)
{
    static const char *const words[] = {"true", "false", "null"};
    int k = *J->p == 't' ? 0 : *J->p == 'f' ? 1 : 2;
    size_t n = strlen(words[k]);
    if ((size_t)(J->end - J->p) < n || memcmp(J->p, words[k], n) != 0)
        return fail(J, J->p, "invalid literal");
    J->p += n;
    if (k == 2)
        lua_pushvalue(J->L, J->nullidx);
    else
        lua_pushboolean(J->L, k == 0);
    return 0;
}

/* [-0, +1] The value after optional white space at J->p. */
static int value(struct jparse *J)
{
    char c;
    J->p = skip_ws(J->p, J->end);
    c = J->p < J->end ? *J->p : '\0';
    switch (c) {
    case '"':
        return string(J, 0);
    case '{':
        return object(J);
    case '[':
        return array(J);
    case 't':
    case 'f':
    case 'n':
        return word(J);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return number(J);
        return fail(J, J->p, "expected a value");
    }
}

/* [-0, +(0|1)] sx_ljson_decode with the context at ctxidx. */
static int decode(lua_State *L, int ctxidx, const char *s, size_t len,
                  char *err, size_t errlen)
{
    struct jparse J;
    int top = lua_gettop(L);
    J.L = L;
    J.p = s;
    J.end = s + len;
    J.depth = 0;
    J.keys = ((struct jctx *)lua_touserdata(L, ctxidx))->keys;
    J.nullidx = top + 1;
    J.kidx = top + 2;
    if (!lua_checkstack(L, SLACK + 2)) {
        fail(&J, s, "out of Lua stack");
    } else {
        lua_getiuservalue(L, ctxidx, 1); /* null */
        lua_getiuservalue(L, ctxidx, 2); /* null keys */
        if (value(&J) == 0) {            /* null keys v */
            J.p = skip_ws(J.p, J.end);
            if (J.p == J.end) {
                lua_replace(L, top + 1);
                lua_settop(L, top + 1);
                return 0;
            }
            fail(&J, J.p, "unexpected data after the value");
        }
    }
    lua_settop(L, top);
    if (err && errlen)
        snprintf(err, errlen, "invalid JSON at byte %zu: %s",
                 (size_t)(J.where - s) + 1, J.what);
    return -1;
}

/* [-1, +1] Replaces the null sentinel on top with a new context. */
static void new_ctx(lua_State *L)
{
    struct jctx *C = lua_newuserdatauv(L, sizeof *C, 2); /* null ctx */
    for (int i = 0; i < KEYS; i++) {
        C->keys[i].s = NULL;
        C->keys[i].len = 0;
    }
    lua_insert(L, -2);
    lua_setiuservalue(L, -2, 1);
    lua_createtable(L, KEYS, 0);
    lua_setiuservalue(L, -2, 2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ctx_key);
}

int sx_ljson_decode(lua_State *L, const char *s, size_t len, char *err,
                   size_t errlen)
{
    int rc;
    luaL_checkstack(L, 2, "JSON");
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ctx_key) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        lua_pushlightuserdata(L, NULL); /* what cjson.null is */
        new_ctx(L);
    }
    rc = decode(L, lua_gettop(L), s, len, err, errlen); /* ctx [v] */
    lua_remove(L, rc == 0 ? -2 : -1);
    return rc;
}

/* json_decode(s) -> value; raises "invalid JSON at byte N: ..." */
static int l_json_decode(lua_State *L)
{
    size_t len;
    char err[128];
    const char *s = luaL_checklstring(L, 1, &len);
    if (decode(L, lua_upvalueindex(1), s, len, err, sizeof err) < 0)
        return luaL_error(L, "%s", err);
    return 1;
}

/* [-0, +1] cjson.null, or the NULL light userdata it is if cjson cannot
 * be loaded. */
static void push_cjson_null(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
        lua_getfield(L, -1, "null"); /* cjson null */
        lua_remove(L, -2);
        if (!lua_isnil(L, -1))
            return;
    }
    lua_pop(L, 1);
    lua_pushlightuserdata(L, NULL);
}

void sx_ljson_openlib(lua_State *L)
{
    push_cjson_null(L);
    new_ctx(L);
    lua_pushcclosure(L, l_json_decode, 1);
    lua_setfield(L, -2, "json_decode");
}
