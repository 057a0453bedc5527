/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "helper-unit.h"
#include "macro.h"

int unit_read_at(int dirfd, const char *name, char *buf, size_t size, size_t *ret_len) {
        _cleanup_(closep) int fd = -EBADF;
        struct stat st;
        ssize_t n;

        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_size >= (off_t) size)
                return -EFBIG;
        if (st.st_nlink != 1)
                return -EMLINK;   /* a hard link elsewhere: another name could change it */
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        *ret_len = (size_t) n;
        return 0;
}

int unit_write_at(int dirfd, const char *name, const char *text, size_t len, bool *ret_changed) {
        static char old[UNIT_MAX_SIZE];
        char tmp[PROTO_PATH_MAX];
        _cleanup_(closep) int fd = -EBADF;
        size_t old_len;
        int r;

        r = unit_read_at(dirfd, name, old, sizeof old, &old_len);
        if (r == 0 && old_len == len && memcmp(old, text, len) == 0) {
                *ret_changed = false;
                return 0;
        }
        if (r == 0 && !proto_unit_is_managed(old, old_len, NULL))
                return -EEXIST;
        if (r < 0 && r != -ENOENT)
                return r == -ELOOP || r == -EMLINK || r == -EBADFD || r == -EFBIG ? -EEXIST : r;   /* not ours either */
        snprintf(tmp, sizeof tmp, ".#%s.lanekeeper-tmp", name);
        (void) unlinkat(dirfd, tmp, 0);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, text, len) != (ssize_t) len || fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
                r = errno ? -errno : -EIO;
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                r = -errno;
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        if (fsync(dirfd) < 0)
                return -errno;
        *ret_changed = true;
        return 0;
}
