/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "macro.h"
#include "proto-peer.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77   /* Linux 6.5; Debian 12's headers predate it */
#endif

bool proto_cgroup_is_lane(const char *path) {
        /* Lane units live at .../system-lanekeeper\x2dlane.slice/lanekeeper-lane@LANE.service[/...] */
        for (const char *p = path; p && *p; p = strchr(p, '/')) {
                while (*p == '/')
                        p++;
                if (strncmp(p, "lanekeeper-lane@", 16) == 0 || strncmp(p, "system-lanekeeper\\x2dlane.slice", 31) == 0)
                        return true;
        }
        return false;
}

static int peer_pidfd(int fd, pid_t pid) {
        int pidfd = -1;
        socklen_t len = sizeof pidfd;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0)
                return pidfd;
        if (errno != ENOPROTOOPT && errno != EINVAL)
                return -errno;
        /* Older kernel: open the pid now; checked against the credentials below. */
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        return pidfd < 0 ? -errno : pidfd;
}

static pid_t pidfd_pid(int pidfd) {
        char path[64], line[128];
        _cleanup_(fclosep) FILE *f = NULL;
        long pid = -1;

        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "Pid: %ld", &pid) == 1)
                        break;
        return pid > 0 ? (pid_t) pid : -ESRCH;
}

static int read_cgroup(pid_t pid, char *buf, size_t size) {
        char path[64], line[1024];
        _cleanup_(fclosep) FILE *f = NULL;

        snprintf(path, sizeof path, "/proc/%d/cgroup", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f))
                if (strncmp(line, "0::", 3) == 0) {
                        size_t n = strcspn(line + 3, "\n");

                        if (n >= size)
                                return -ENAMETOOLONG;   /* never judge a truncated path */
                        memcpy(buf, line + 3, n);
                        buf[n] = '\0';
                        return 0;
                }
        return -ENOMEDIUM;   /* no unified hierarchy: we cannot tell, so we refuse */
}

int proto_peer_cgroup(int fd, struct ucred *ret_cred, char *cgroup, size_t size, const char **ret_reason) {
        _cleanup_(closep) int pidfd = -EBADF;
        socklen_t len = sizeof *ret_cred;
        pid_t pid;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ret_cred, &len) < 0)
                return *ret_reason = "cannot read peer credentials", -errno;
        pidfd = peer_pidfd(fd, ret_cred->pid);
        if (pidfd < 0)
                return *ret_reason = "cannot pin the peer process", pidfd;
        pid = pidfd_pid(pidfd);
        if (pid != ret_cred->pid)
                return *ret_reason = "peer process is gone or not the one that connected", -EPERM;
        if (read_cgroup(pid, cgroup, size) < 0)
                return *ret_reason = "cannot read the peer's cgroup", -EPERM;
        /* Still alive after the read: the pid was not reused while we read.
         * Signal 0 through the pidfd: EPERM (we hold no CAP_KILL) still
         * proves the process exists; only ESRCH means it is gone. */
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno != EPERM)
                return *ret_reason = "peer process exited while being checked", -EPERM;
        return 0;
}
