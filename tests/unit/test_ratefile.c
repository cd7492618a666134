/*
 * Unit tests for sx_ratefile: SHA-256 known answers, the directory and
 * file checks (symlink, mode, owner), the lock (busy from a second open
 * file description), the record round trip, a corrupt record and one of
 * another boot; a record of an older UTC day read back by a new process
 * at explicit times (a faked clock, no sleeping): the next day's count
 * restarts, a wall clock stepped back keeps counting the newer day.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sx_ratefile.h"
#include "testhelp.h"

static void test_hash(void)
{
    static const char *const in[] = {
        "", "abc",
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
    static const char *const want[] = {
        "e3b0c44298fc1c149afbf4c8996fb924", "ba7816bf8f01cfea414140de5dae2223",
        "248d6a61d20638b8e5c026930c3e6039"};
    char hex[33], big[1000];
    for (int i = 0; i < 3; i++) {
        sx_ratefile_hash(in[i], strlen(in[i]), hex);
        test_cond("SHA-256 known answer", strcmp(hex, want[i]) == 0);
    }
    memset(big, 'a', sizeof big);
    sx_ratefile_hash(big, sizeof big, hex); /* printf 'a%.0s' {1..1000} */
    test_cond("SHA-256 of 1000 a", strcmp(hex, "41edece42d63e8d9bf515a9ba6"
                                               "932e1c") == 0);
}

static void test_dirs(const char *base)
{
    struct sx_ratefile f;
    char d[300], l[300], err[300];
    snprintf(d, sizeof d, "%s/new", base);
    test_cond("creates the directory",
              sx_ratefile_open(&f, d, "k", "http://h", err, sizeof err) == 0);
    struct stat st;
    test_cond("dir 0700", stat(d, &st) == 0 && (st.st_mode & 0777) == 0700);
    test_cond("file 0600", stat(f.path, &st) == 0 &&
                               (st.st_mode & 0777) == 0600);
    test_cond("name is a hash, not the key",
              strstr(f.path, "/rate-") && !strstr(f.path, "http"));
    sx_ratefile_close(&f);
    snprintf(l, sizeof l, "%s/link", base);
    test_cond("symlink made", symlink(d, l) == 0);
    test_cond("a symlinked directory is refused",
              sx_ratefile_open(&f, l, "k", "http://h", err, sizeof err) < 0 &&
                  strstr(err, "symlink"));
    chmod(d, 0755);
    test_cond("a directory open to others is refused",
              sx_ratefile_open(&f, d, "k", "http://h", err, sizeof err) < 0 &&
                  strstr(err, "chmod 700"));
    chmod(d, 0700);
}

static void test_lock(const char *base)
{
    struct sx_ratefile a, b;
    struct sx_gcra_state s, t;
    char d[300], err[300], note[200];
    snprintf(d, sizeof d, "%s/lock", base);
    sx_ratefile_open(&a, d, "key1", "http://h:1", err, sizeof err);
    sx_ratefile_open(&b, d, "key1", "http://h:1", err, sizeof err);
    test_cond("one file per key and origin", strcmp(a.path, b.path) == 0);
    test_cond("lock a", sx_ratefile_lock(&a, &s, note, sizeof note, err,
                                         sizeof err) == 1);
    test_cond("new file: fresh state", s.tat_ns == 0 && s.spent_day == -1 &&
                                           note[0] == '\0');
    test_cond("b sees it busy", sx_ratefile_lock(&b, &t, note, sizeof note,
                                                 err, sizeof err) == 0);
    s.tat_ns = 123456789012LL;
    s.penalty_ns = 5;
    s.day = 20000;
    s.day_count = 42;
    s.spent_day = 19999;
    test_cond("write and unlock", sx_ratefile_unlock(&a, &s, err,
                                                     sizeof err) == 0);
    test_cond("b locks now", sx_ratefile_lock(&b, &t, note, sizeof note, err,
                                              sizeof err) == 1);
    test_cond("round trip", memcmp(&s, &t, sizeof s) == 0);
    sx_ratefile_unlock(&b, NULL, err, sizeof err);
    pwrite(a.fd, "garbage", 7, 0);
    sx_ratefile_lock(&a, &t, note, sizeof note, err, sizeof err);
    test_cond("corrupt record: reset and said",
              t.day_count == 0 && t.spent_day == -1 && strstr(note, "corrupt"));
    sx_ratefile_unlock(&a, &s, err, sizeof err);
    strcpy(a.boot, "another-boot");
    sx_ratefile_lock(&a, &t, note, sizeof note, err, sizeof err);
    test_cond("another boot: times reset, days kept",
              t.tat_ns == 0 && t.penalty_ns == 0 && t.day_count == 42 &&
                  t.day == 20000 && strstr(note, "boot"));
    sx_ratefile_unlock(&a, NULL, err, sizeof err);
    sx_ratefile_open(&b, d, "key2", "http://h:1", err, sizeof err);
    test_cond("another key: another file", strcmp(a.path, b.path) != 0);
    sx_ratefile_close(&a);
    sx_ratefile_close(&b);
}

/* ---- a record of an older UTC day, through the file ------------------- */

#define D0 20000LL /* an older UTC day */
#define QUOTA 5
#define S 1000000000LL
static const struct sx_gcra_params day_params = {S, 1, QUOTA, 0};

/* Writes *s as the record of key "day" under dir, as a process would. */
static int put_record(const char *dir, const struct sx_gcra_state *s)
{
    struct sx_ratefile f;
    struct sx_gcra_state old;
    char err[300], note[200];
    int ok =
        sx_ratefile_open(&f, dir, "day", "http://h", err, sizeof err) == 0 &&
        sx_ratefile_lock(&f, &old, note, sizeof note, err, sizeof err) == 1 &&
        sx_ratefile_unlock(&f, s, err, sizeof err) == 0;
    sx_ratefile_close(&f);
    return ok;
}

/*
 * A new process on the key reserves one request at now_ns (monotonic)
 * and utc_s (the wall clock, faked): open, lock, read, decide, write,
 * unlock.  *s is the state it wrote; 0 if a step failed.
 */
static int reserve_at(const char *dir, int64_t now_ns, int64_t utc_s,
                      struct sx_gcra_state *s, struct sx_gcra_verdict *v)
{
    struct sx_ratefile f;
    char err[300], note[200];
    int ok =
        sx_ratefile_open(&f, dir, "day", "http://h", err, sizeof err) == 0 &&
        sx_ratefile_lock(&f, s, note, sizeof note, err, sizeof err) == 1;
    if (ok) {
        sx_gcra_reserve(s, &day_params, now_ns, utc_s, v);
        ok = sx_ratefile_unlock(&f, s, err, sizeof err) == 0;
    }
    sx_ratefile_close(&f);
    return ok;
}

/* The day's count spent on D0, then a reservation on day D0 + days. */
static void spent_then(const char *dir, int64_t days)
{
    struct sx_gcra_state s = {0, 0, D0, QUOTA, -1, 0, 0};
    struct sx_gcra_verdict v;
    char what[120];
    snprintf(what, sizeof what, "spent on an older day, %lld day(s) later: "
             "the count restarts at 1, left quota - 1", (long long)days);
    test_cond("older day written", put_record(dir, &s));
    test_cond(what, reserve_at(dir, 10 * S, (D0 + days) * 86400 + 5, &s, &v) &&
                        v.admitted && s.day == D0 + days &&
                        s.day_count == 1 && v.left == QUOTA - 1);
}

static void test_old_day(const char *base)
{
    struct sx_gcra_state s = {0, 0, D0, QUOTA, -1, 0, 0}, t;
    struct sx_gcra_verdict v;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/days", base);

    test_cond("a spent day written", put_record(dir, &s));
    test_cond("that day: refused, retry at 00:00 UTC",
              reserve_at(dir, S, D0 * 86400 + 86000, &t, &v) &&
                  !v.admitted && v.left == 0 && v.retry_s == 400 &&
                  t.day_count == QUOTA);
    spent_then(dir, 1);
    spent_then(dir, 3);

    /* the wall clock stepped back into D0 after D0 + 1 counted one */
    spent_then(dir, 1);
    test_cond("stepped back: counts the newer day",
              reserve_at(dir, 12 * S, D0 * 86400 + 86000, &t, &v) &&
                  v.admitted && t.day == D0 + 1 && t.day_count == 2 &&
                  v.left == QUOTA - 2);
    test_cond("stepped back: left is the newer day's",
              sx_gcra_left(&t, &day_params, D0 * 86400 + 86000) ==
                  QUOTA - 2);
    test_cond("and the record says so",
              reserve_at(dir, 14 * S, (D0 + 1) * 86400 + 60, &t, &v) &&
                  t.day == D0 + 1 && t.day_count == 3);

    /* the server marked D0 spent (a long Retry-After), count not spent */
    struct sx_gcra_state m = {0, 0, D0, 2, D0, 0, 0};
    test_cond("spent_day written", put_record(dir, &m));
    test_cond("spent_day: that day refused",
              reserve_at(dir, S, D0 * 86400 + 100, &t, &v) && !v.admitted &&
                  v.left == 0 && t.spent_day == D0);
    test_cond("spent_day, the next day: count 1, left quota - 1",
              reserve_at(dir, 2 * S, (D0 + 1) * 86400 + 1, &t, &v) &&
                  v.admitted && t.day == D0 + 1 && t.day_count == 1 &&
                  v.left == QUOTA - 1);
    test_cond("spent_day, stepped back: the newer day counts",
              reserve_at(dir, 3 * S, D0 * 86400 + 200, &t, &v) &&
                  v.admitted && t.day == D0 + 1 && t.day_count == 2 &&
                  v.left == QUOTA - 2);
}

int main(void)
{
    char base[] = "/tmp/sx-ratefile-test.XXXXXX", cmd[100];
    test_hash();
    if (!mkdtemp(base))
        return 1;
    test_dirs(base);
    test_lock(base);
    test_old_day(base);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        return 1;
    return test_report();
}
