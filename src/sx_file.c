/*
 * Private files: atomic replacement and non-blocking lock files (see
 * sx_file.h).
 */
#include "sx_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Makes a rename in path's directory durable; failures do not matter. */
static void sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path + 1), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int sx_file_replace(const char *path, const void *data, size_t n)
{
    return sx_file_replace_mode(path, data, n, 0600);
}

int sx_file_replace_mode(const char *path, const void *data, size_t n,
                         unsigned mode)
{
    char tmp[PATH_MAX];
    int fd, saved;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
        return -1;
    if (fchmod(fd, (mode_t)(mode & 0777)) < 0 || write_all(fd, data, n) < 0 || fsync(fd) < 0) {
        saved = errno;
        close(fd);
        goto err;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        saved = errno;
        goto err;
    }
    sync_dir(path);
    return 0;
err:
    unlink(tmp);
    errno = saved;
    return -1;
}

int sx_file_lock(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}
