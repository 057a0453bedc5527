/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "helper-unit.h"
#include "lane-template.h"   /* generated from policy/lanekeeper-lane@.service */
#include "macro.h"

static int check_params(const struct unit_params *p, const char **ret_reason) {
        const char *reason;

        if (proto_validate_lane_name(p->lane, &reason) < 0 || proto_validate_user_name(p->user, &reason) < 0 ||
            proto_validate_abs_subpath(p->root, &reason) < 0) {
                if (ret_reason)
                        *ret_reason = reason;
                return -EINVAL;
        }
        return 0;
}

int unit_render(const struct unit_params *p, char *buf, size_t size, size_t *ret_len, const char **ret_reason) {
        static const struct {
                const char *token;
                size_t offset;
        } subst[] = {
                { "@LANE@", offsetof(struct unit_params, lane) },
                { "@USER@", offsetof(struct unit_params, user) },
                { "@ROOT@", offsetof(struct unit_params, root) },
        };
        size_t n;
        int r;

        r = check_params(p, ret_reason);
        if (r < 0)
                return r;
        r = snprintf(buf, size, UNIT_MARKER "lane=%s user=%s root=%s\n", p->lane, p->user, p->root);
        if (r < 0 || (size_t) r >= size)
                return -ENOBUFS;
        n = (size_t) r;
        for (const char *t = lane_template; *t;) {
                const char *value = NULL;
                size_t skip = 1, vlen;

                for (size_t i = 0; *t == '@' && i < ELEMENTSOF(subst); i++)
                        if (strncmp(t, subst[i].token, strlen(subst[i].token)) == 0) {
                                value = (const char *) p + subst[i].offset;
                                skip = strlen(subst[i].token);
                        }
                vlen = value ? strlen(value) : 1;
                if (n + vlen >= size)
                        return -ENOBUFS;
                memcpy(buf + n, value ?: t, vlen);
                n += vlen;
                t += skip;
        }
        buf[n] = '\0';
        *ret_len = n;
        return 0;
}

bool unit_is_managed(const char *text, size_t len, struct unit_params *ret) {
        static char again[UNIT_MAX_SIZE];
        struct unit_params p = {};
        size_t n;
        int end = 0;

        if (len < strlen(UNIT_MARKER) || strncmp(text, UNIT_MARKER, strlen(UNIT_MARKER)) != 0)
                return false;
        if (sscanf(text + strlen(UNIT_MARKER), "lane=%64s user=%32s root=%1024s\n%n", p.lane, p.user, p.root, &end) != 3 ||
            end == 0)
                return false;
        if (unit_render(&p, again, sizeof again, &n, NULL) < 0 || n != len || memcmp(again, text, len) != 0)
                return false;
        if (ret)
                *ret = p;
        return true;
}

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
        if (r == 0 && !unit_is_managed(old, old_len, NULL))
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
