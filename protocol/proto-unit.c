/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "lane-template.h"   /* generated from policy/lanekeeper-lane@.service */
#include "macro.h"
#include "proto-unit.h"

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

int proto_unit_render(const struct unit_params *p, char *buf, size_t size, size_t *ret_len, const char **ret_reason) {
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

bool proto_unit_is_managed(const char *text, size_t len, struct unit_params *ret) {
        char again[UNIT_MAX_SIZE];
        struct unit_params p = {};
        size_t n;
        int end = 0;

        if (len < strlen(UNIT_MARKER) || strncmp(text, UNIT_MARKER, strlen(UNIT_MARKER)) != 0)
                return false;
        if (sscanf(text + strlen(UNIT_MARKER), "lane=%64s user=%32s root=%1024s\n%n", p.lane, p.user, p.root, &end) != 3 ||
            end == 0)
                return false;
        if (proto_unit_render(&p, again, sizeof again, &n, NULL) < 0 || n != len || memcmp(again, text, len) != 0)
                return false;
        if (ret)
                *ret = p;
        return true;
}

int proto_cgroup_id(const char *cgroup, uint64_t *ret, char *err, size_t errlen) {
        _cleanup_(closep) int fd = -EBADF;
        char path[PROTO_PATH_MAX + 32];
        struct statfs sfs;
        struct stat st;

        if (cgroup[0] != '/' || strstr(cgroup, "/.") || strlen(cgroup) > PROTO_PATH_MAX)
                return snprintf(err, errlen, "'%s' is not a cgroup path", cgroup), -EINVAL;
        snprintf(path, sizeof path, "/sys/fs/cgroup%s", cgroup);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0)
                return snprintf(err, errlen, "cannot open the cgroup %s: %m", path), -errno;
        if (sfs.f_type != CGROUP2_SUPER_MAGIC)
                return snprintf(err, errlen, "%s is not on a cgroup v2 hierarchy", path), -EMEDIUMTYPE;
        *ret = (uint64_t) st.st_ino;
        return 0;
}
