/*
 * The shared limiter's state file (see sx_ratefile.h): directory and file
 * checks, the boot id, a non-blocking flock, and a text record padded to a
 * fixed size so that one pwrite replaces it whole.  Also the SHA-256 that
 * names the file (FIPS 180-4; the constants are computed from their
 * definition, checked by the unit test's known answers).
 */
#include "sx_ratefile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "stockx-rate"
#define VERSION 2 /* 2: the adaptive rate's wmax= and cut= */

/* ---- SHA-256 ------------------------------------------------------------ */

struct sha {
    uint32_t h[8], k[64];
    uint8_t block[64];
    size_t used;
    uint64_t bits;
};

static uint32_t ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

/* The first 32 bits of the fractional part of p^e (e = 1/2 or 1/3). */
static uint32_t frac32(int p, int cube)
{
    long double r = cube ? cbrtl((long double)p) : sqrtl((long double)p);
    return (uint32_t)((r - floorl(r)) * 4294967296.0L);
}

static void sha_init(struct sha *s)
{
    int n = 0;
    for (int p = 2; n < 64; p++) {
        int prime = 1;
        for (int d = 2; d * d <= p; d++)
            prime = prime && p % d != 0;
        if (!prime)
            continue;
        if (n < 8)
            s->h[n] = frac32(p, 0);
        s->k[n++] = frac32(p, 1);
    }
    s->used = 0;
    s->bits = 0;
}

static void sha_block(struct sha *s, const uint8_t *b)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ w[i - 15] >> 3;
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ w[i - 2] >> 10;
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, s->h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t e = v[4], a = v[0];
        uint32_t t1 = v[7] + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
                      ((e & v[5]) ^ (~e & v[6])) + s->k[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
                      ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof *v);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        s->h[i] += v[i];
}

static void sha_update(struct sha *s, const uint8_t *p, size_t n)
{
    s->bits += (uint64_t)n * 8;
    while (n--) {
        s->block[s->used++] = *p++;
        if (s->used == 64) {
            sha_block(s, s->block);
            s->used = 0;
        }
    }
}

void sx_ratefile_hash(const void *data, size_t len, char hex[33])
{
    struct sha s;
    uint8_t pad = 0x80, zero = 0, lenb[8];
    uint64_t bits;
    sha_init(&s);
    sha_update(&s, data, len);
    bits = s.bits;
    sha_update(&s, &pad, 1);
    while (s.used != 56)
        sha_update(&s, &zero, 1);
    for (int i = 0; i < 8; i++)
        lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha_update(&s, lenb, 8);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x",
                 (unsigned)(s.h[i / 4] >> (24 - 8 * (i % 4))) & 0xff);
}

/* ---- the directory and the file ------------------------------------------ */

void sx_ratefile_default_dir(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/stockx-%lu", (unsigned long)geteuid());
}

static int failf(char *err, size_t errlen, const char *what,
                 const char *path, const char *why)
{
    snprintf(err, errlen, "rate state %s '%s': %s", what, path, why);
    return -1;
}

/* Opens dir (creating it 0700) and checks what it is, through the fd. */
static int open_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    int fd;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return failf(err, errlen, "directory", dir, strerror(errno));
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return failf(err, errlen, "directory", dir, errno == ELOOP ||
                     errno == ENOTDIR ? "a symlink or not a directory; "
                     "refusing it (set rate_state_dir, or remove it)"
                     : strerror(errno));
    if (fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0) {
        close(fd);
        return failf(err, errlen, "directory", dir, "must be owned by you "
                     "and not open to group or others (chmod 700), or set "
                     "rate_state_dir");
    }
    return fd;
}

/* "/proc/sys/kernel/random/boot_id", or "unknown". */
static void read_boot_id(char *buf, size_t len)
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    snprintf(buf, len, "unknown");
    if (f) {
        if (fscanf(f, "%39s", buf) != 1)
            snprintf(buf, len, "unknown");
        fclose(f);
    }
}

int sx_ratefile_open(struct sx_ratefile *f, const char *dir, const char *key,
                     const char *origin, char *err, size_t errlen)
{
    char def[64], hex[33], buf[SX_RATEFILE_PATH_MAX], name[48];
    struct stat st;
    int dfd;
    f->fd = -1;
    if (!dir)
        sx_ratefile_default_dir(def, sizeof def), dir = def;
    snprintf(buf, sizeof buf, "%s\n%s", key ? key : "", origin);
    sx_ratefile_hash(buf, strlen(buf), hex);
    memset(buf, 0, sizeof buf); /* the key */
    snprintf(name, sizeof name, "rate-%s", hex);
    if ((size_t)snprintf(f->path, sizeof f->path, "%s/%s", dir, name) >=
        sizeof f->path)
        return failf(err, errlen, "directory", dir, "path too long");
    if ((dfd = open_dir(dir, err, errlen)) < 0)
        return -1;
    f->fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                   0600);
    close(dfd);
    if (f->fd < 0)
        return failf(err, errlen, "file", f->path, strerror(errno));
    if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        sx_ratefile_close(f);
        return failf(err, errlen, "file", f->path, "must be a regular file "
                     "of yours, mode 0600 (remove it)");
    }
    read_boot_id(f->boot, sizeof f->boot);
    return 0;
}

void sx_ratefile_close(struct sx_ratefile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* ---- the record ------------------------------------------------------------ */

static void fresh(struct sx_gcra_state *s)
{
    memset(s, 0, sizeof *s);
    s->spent_day = -1;
}

/* Parses the record; 1 same boot, 0 another boot, -1 not a record. */
static int parse(const char *rec, const char *boot, struct sx_gcra_state *s)
{
    char b[40];
    int ver, end = -1;
    long long tat, pen, day, count, spent, wmax, cut;
    if (sscanf(rec, MAGIC " %d %39s tat=%lld penalty=%lld day=%lld "
               "count=%lld spent=%lld wmax=%lld cut=%lld%n", &ver, b, &tat,
               &pen, &day, &count, &spent, &wmax, &cut, &end) != 9 ||
        end < 0 || ver != VERSION || count < 0 || tat < 0 || pen < 0 ||
        wmax < 0 || cut < 0)
        return -1;
    s->adapt_wmax = wmax;
    s->adapt_cut_ns = cut;
    s->tat_ns = tat;
    s->penalty_ns = pen;
    s->day = day;
    s->day_count = count;
    s->spent_day = spent;
    return strcmp(b, boot) == 0;
}

static void read_state(struct sx_ratefile *f, struct sx_gcra_state *s,
                       char *note, size_t notelen)
{
    char rec[SX_RATEFILE_RECORD + 1];
    ssize_t n = pread(f->fd, rec, SX_RATEFILE_RECORD, 0);
    fresh(s);
    note[0] = '\0';
    if (n <= 0)
        return; /* a new file */
    rec[n] = '\0';
    switch (parse(rec, f->boot, s)) {
    case -1:
        fresh(s);
        snprintf(note, notelen, "corrupt or foreign-version record reset");
        break;
    case 0:
        s->tat_ns = s->penalty_ns = 0;
        s->adapt_wmax = s->adapt_cut_ns = 0;
        snprintf(note, notelen, "written by another boot: times reset, "
                 "day count kept");
        break;
    }
}

int sx_ratefile_lock(struct sx_ratefile *f, struct sx_gcra_state *s,
                     char *note, size_t notelen, char *err, size_t errlen)
{
    int rc;
    while ((rc = flock(f->fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
        ;
    if (rc < 0 && errno == EWOULDBLOCK)
        return 0;
    if (rc < 0)
        return failf(err, errlen, "file", f->path, strerror(errno));
    read_state(f, s, note, notelen);
    return 1;
}

int sx_ratefile_unlock(struct sx_ratefile *f, const struct sx_gcra_state *s,
                       char *err, size_t errlen)
{
    char rec[SX_RATEFILE_RECORD + 1];
    int rc = 0;
    if (s) {
        int n = snprintf(rec, sizeof rec, MAGIC " %d %s tat=%lld "
                         "penalty=%lld day=%lld count=%lld spent=%lld "
                         "wmax=%lld cut=%lld",
                         VERSION, f->boot, (long long)s->tat_ns,
                         (long long)s->penalty_ns, (long long)s->day,
                         (long long)s->day_count, (long long)s->spent_day,
                         (long long)s->adapt_wmax,
                         (long long)s->adapt_cut_ns);
        if (n < 0 || n >= SX_RATEFILE_RECORD) {
            flock(f->fd, LOCK_UN);
            return failf(err, errlen, "file", f->path, "record too long");
        }
        memset(rec + n, ' ', SX_RATEFILE_RECORD - (size_t)n);
        rec[SX_RATEFILE_RECORD - 1] = '\n';
        if (pwrite(f->fd, rec, SX_RATEFILE_RECORD, 0) != SX_RATEFILE_RECORD)
            rc = failf(err, errlen, "file", f->path, "short write");
    }
    flock(f->fd, LOCK_UN);
    return rc;
}
