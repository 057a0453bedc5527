/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lane directory check, before every install and start. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "proto-policy.h"
#include "helper-unit.h"
#include "macro.h"

/* One component beneath DIRFD, not followed if a symlink, owned by UID and
 * not writable by group or others; *ret_mode gets its mode. */
static int open_owned(int dirfd, const char *name, const char *what, const char *path, uid_t uid, mode_t *ret_mode,
                      char *reason, size_t size) {
        _cleanup_(closep) int fd = -EBADF;
        struct stat st;

        fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return snprintf(reason, size, "%s '%s' does not exist", what, path), -ENOENT;
        if (fd < 0 || fstat(fd, &st) < 0)
                return snprintf(reason, size, "%s '%s' cannot be examined: %m", what, path), -errno;
        if (S_ISLNK(st.st_mode))
                return snprintf(reason, size, "%s '%s' is a symbolic link", what, path), -ELOOP;
        if (st.st_uid != uid)
                return snprintf(reason, size, "%s '%s' is not owned by the lane's user (owner uid %u, expected %u)",
                                what, path, (unsigned) st.st_uid, (unsigned) uid), -EPERM;
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return snprintf(reason, size, "%s '%s' is writable by group or others (mode %04o)", what, path,
                                (unsigned) st.st_mode & 07777), -EPERM;
        *ret_mode = st.st_mode;
        return TAKE_FD(fd);
}

int unit_check_lane_dir_at(int anchor_fd, const char *root_rel, uid_t root_owner, const char *lane, uid_t uid,
                           char *reason, size_t size) {
        _cleanup_(closep) int rootfd = -EBADF, lanefd = -EBADF, run = -EBADF;
        char path[PROTO_PATH_MAX + PROTO_LANE_NAME_MAX + 16], err[448];
        mode_t mode;

        rootfd = policy_open_trusted(anchor_fd, root_rel, root_owner, true, "registration root", err, sizeof err);
        if (rootfd < 0)
                return snprintf(reason, size, "%s", err), rootfd;
        snprintf(path, sizeof path, "/%s/%s", root_rel, lane);
        lanefd = open_owned(rootfd, lane, "lane directory", path, uid, &mode, reason, size);
        if (lanefd < 0)
                return lanefd;
        if (!S_ISDIR(mode))
                return snprintf(reason, size, "lane directory '%s' is not a directory", path), -ENOTDIR;
        snprintf(path, sizeof path, "/%s/%s/run.sh", root_rel, lane);
        run = open_owned(lanefd, "run.sh", "run.sh", path, uid, &mode, reason, size);
        if (run < 0)
                return run;
        if (!S_ISREG(mode))
                return snprintf(reason, size, "run.sh '%s' is not a regular file", path), -EBADFD;
        if (!(mode & S_IXUSR))
                return snprintf(reason, size, "run.sh '%s' is not executable by its owner", path), -EACCES;
        return 0;
}
