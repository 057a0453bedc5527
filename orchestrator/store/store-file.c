/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
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

int store_write_path(const char *path, const char *text, size_t len, mode_t mode, uid_t uid, gid_t gid) {
        _cleanup_(closep) int fd = -EBADF, dfd = -EBADF;
        char tmp[PATH_MAX + 64], dir[PATH_MAX + 1];
        const char *slash = strrchr(path, '/');
        size_t off = 0;

        if (!slash)
                return -EINVAL;
        snprintf(dir, sizeof dir, "%.*s", (int) (slash - path) ?: 1, path);
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int) getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, mode) < 0 || ((uid != (uid_t) -1 || gid != (gid_t) -1) && fchown(fd, uid, gid) < 0))
                goto fail;
        while (off < len) {
                ssize_t n = write(fd, text + off, len - off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        goto fail;
                off += (size_t) n;
        }
        if (fsync(fd) < 0 || rename(tmp, path) < 0)
                goto fail;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
fail:
        {
                int e = errno;

                (void) unlink(tmp);
                return -e;
        }
}
