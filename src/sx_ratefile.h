/*
 * The shared limiter's state file: one small text record per (API key,
 * base URL origin), named by a SHA-256 of both (no secret in a file name),
 * in a directory that must be ours, 0700 and not a symlink.  Locked with
 * flock (the kernel drops the lock when a holder dies), never blocking:
 * the caller retries a busy lock on a timer.  Pure libc.
 */
#ifndef SX_RATEFILE_H
#define SX_RATEFILE_H
#include <stddef.h>

#include "sx_gcra.h"

#define SX_RATEFILE_PATH_MAX 512
#define SX_RATEFILE_RECORD 256 /* bytes: the record is padded to this */

struct sx_ratefile {
    int fd; /* -1: not open */
    char path[SX_RATEFILE_PATH_MAX];
    char boot[40]; /* this boot's id (/proc/sys/kernel/random/boot_id) */
};

/* "/tmp/stockx-<uid>": the same for every process of the user. */
void sx_ratefile_default_dir(char *buf, size_t len);

/*
 * Opens (creating) the state file of key and origin under dir (NULL: the
 * default), creating dir 0700 if missing.  Refused, with a message that
 * says why and what to do: a dir that is a symlink, not a directory, not
 * ours, or open to group or others; a file that is not a regular file of
 * ours (O_NOFOLLOW, 0600).  0 or -1.
 */
int sx_ratefile_open(struct sx_ratefile *f, const char *dir, const char *key,
                     const char *origin, char *err, size_t errlen);

/*
 * Tries the lock without waiting: 1 locked and *s read, 0 busy (try again
 * shortly), -1 error (err).  A missing, corrupt or foreign-version record
 * reads as a fresh state, and one of another boot keeps only its days (the
 * monotonic times mean nothing now); *note then says which, else "".
 */
int sx_ratefile_lock(struct sx_ratefile *f, struct sx_gcra_state *s,
                     char *note, size_t notelen, char *err, size_t errlen);

/* Writes *s (if not NULL) and releases the lock; 0 or -1 with err. */
int sx_ratefile_unlock(struct sx_ratefile *f, const struct sx_gcra_state *s,
                       char *err, size_t errlen);

void sx_ratefile_close(struct sx_ratefile *f);

/* The first 32 hex digits of SHA-256(data) into hex[33]. */
void sx_ratefile_hash(const void *data, size_t len, char hex[33]);

#endif
