/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "helper-admit.h"
#include "macro.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77   /* Linux 6.5; Debian 12's headers predate it */
#endif

bool admit_cgroup_is_lane(const char *path) {
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

void ids_resolve(const struct helper_policy *pol, struct identities *ret) {
        const char (*lists[2])[PROTO_USER_NAME_MAX + 1] = { pol->maintainers, pol->users };
        size_t counts[2] = { pol->n_maintainers, pol->n_users };

        *ret = (struct identities) {};
        for (size_t l = 0; l < 2; l++)
                for (size_t i = 0; i < counts[l] && ret->n < ELEMENTSOF(ret->v); i++) {
                        struct passwd pw, *res = NULL;
                        char buf[4096];

                        if (ids_find(ret, lists[l][i]) ||
                            getpwnam_r(lists[l][i], &pw, buf, sizeof buf, &res) != 0 || !res)
                                continue;
                        snprintf(ret->v[ret->n].name, sizeof ret->v[0].name, "%s", lists[l][i]);
                        ret->v[ret->n].uid = pw.pw_uid;
                        ret->v[ret->n++].gid = pw.pw_gid;
                }
}

const struct identity *ids_find(const struct identities *ids, const char *name) {
        for (size_t i = 0; name && i < ids->n; i++)
                if (strcmp(ids->v[i].name, name) == 0)
                        return &ids->v[i];
        return NULL;
}

static int lookup_maintainer(struct peer *p, const struct helper_policy *pol, const struct identities *ids,
                             const char **ret_reason) {
        for (size_t i = 0; i < pol->n_maintainers; i++) {
                const struct identity *id = ids_find(ids, pol->maintainers[i]);

                if (!id || id->uid != p->uid)
                        continue;
                strcpy(p->user, id->name);
                if (id->gid != p->gid)
                        return *ret_reason = "peer gid is not the maintainer's primary group", -EPERM;
                return 0;
        }
        return *ret_reason = "peer is not a maintainer named in the policy", -EPERM;
}

int admit_peer_cgroup(int fd, struct ucred *ret_cred, char *cgroup, size_t size, const char **ret_reason) {
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

int admit_peer(int fd, const struct helper_policy *pol, const struct identities *ids, struct peer *ret,
               const char **ret_reason) {
        struct ucred cred;
        socklen_t len = sizeof cred;
        int r;

        *ret = (struct peer) { .uid = (uid_t) -1, .gid = (gid_t) -1 };
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return *ret_reason = "cannot read peer credentials", -errno;
        ret->uid = cred.uid, ret->gid = cred.gid, ret->pid = cred.pid;
        r = lookup_maintainer(ret, pol, ids, ret_reason);
        if (r < 0)
                return r;
        r = admit_peer_cgroup(fd, &cred, ret->cgroup, sizeof ret->cgroup, ret_reason);
        if (r < 0)
                return r;
        if (cred.uid != ret->uid || cred.pid != ret->pid)
                return *ret_reason = "peer credentials changed while being checked", -EPERM;
        if (admit_cgroup_is_lane(ret->cgroup))
                return *ret_reason = "peer runs inside a lane unit", -EPERM;
        return 0;
}
