/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "store-file.h"

int store_read_file(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len) {
        _cleanup_(closep) int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_(freep) char *buf = NULL;
        struct stat st;
        ssize_t n;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || (size_t) st.st_size > max)
                return -EBADMSG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        n = read(fd, buf, (size_t) st.st_size);
        if (n != st.st_size)
                return n < 0 ? -errno : -EIO;
        buf[n] = '\0';
        *ret_len = (size_t) n;
        *ret = TAKE_PTR(buf);
        return 0;
}

int store_write_atomic(int dirfd, const char *name, const char *data, size_t len, bool replace) {
        char tmp[128];
        _cleanup_(closep) int fd = -EBADF;
        int r = 0;

        if ((size_t) snprintf(tmp, sizeof tmp, ".tmp-%s", name) >= sizeof tmp)
                return -ENAMETOOLONG;
        (void) unlinkat(dirfd, tmp, 0);   /* left by a writer killed before its rename */
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd < 0)
                return -errno;
        if (write(fd, data, len) != (ssize_t) len || fsync(fd) < 0)
                r = errno ? -errno : -EIO;
        if (r == 0 && renameat2(dirfd, tmp, dirfd, name, replace ? 0 : RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        return fsync(dirfd) < 0 ? -errno : 0;
}

int store_prune_files(int dirfd, time_t before, bool (*name_ok)(const char *name), unsigned long *ret_n) {
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *e;
        int ret = 0;

        *ret_n = 0;
        if (!d) {
                ret = -errno;
                if (fd >= 0)
                        close(fd);
                return ret;
        }
        while ((e = readdir(d))) {
                struct stat st;

                if (!name_ok(e->d_name) || fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode) || st.st_mtime >= before)
                        continue;
                if (unlinkat(dirfd, e->d_name, 0) == 0)
                        (*ret_n)++;
                else if (errno != ENOENT && ret == 0)
                        ret = -errno;
        }
        closedir(d);
        return ret;
}
