/*
 * Unit tests for sx_ratefile: SHA-256 known answers, the directory and
 * file checks (symlink, mode, owner), the lock (busy from a second open
 * file description), the record round trip, a corrupt record and one of
 * another boot.
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

int main(void)
{
    char base[] = "/tmp/sx-ratefile-test.XXXXXX", cmd[100];
    test_hash();
    if (!mkdtemp(base))
        return 1;
    test_dirs(base);
    test_lock(base);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        return 1;
    return test_report();
}
