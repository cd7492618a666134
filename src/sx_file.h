/*
 * Private files: replace one atomically (a new file next to it, created
 * exclusively with an unpredictable name so a planted symlink is never
 * followed, mode 0600, fsync'ed, renamed over the old one, the directory
 * fsync'ed), and take a lock file without blocking.  For the sandbox's
 * --state file and the client's OAuth tokens.
 */
#ifndef SX_FILE_H
#define SX_FILE_H
#include <stddef.h>

/* 0, or -1 with errno set; on failure path is left as it was. */
int sx_file_replace(const char *path, const void *data, size_t n);
/* The same with another mode (0644 for a metrics textfile). */
int sx_file_replace_mode(const char *path, const void *data, size_t n,
                         unsigned mode);

/*
 * An exclusive flock on path (created 0600 if missing, symlinks not
 * followed): the open descriptor, or -1 with errno (EWOULDBLOCK when
 * another process holds it).  Closing the descriptor releases it; so does
 * the kernel when the holder dies.
 */
int sx_file_lock(const char *path);

#endif
