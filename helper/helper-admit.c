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
        r = proto_peer_cgroup(fd, &cred, ret->cgroup, sizeof ret->cgroup, ret_reason);
        if (r < 0)
                return r;
        if (cred.uid != ret->uid || cred.pid != ret->pid)
                return *ret_reason = "peer credentials changed while being checked", -EPERM;
        if (proto_cgroup_is_lane(ret->cgroup))
                return *ret_reason = "peer runs inside a lane unit", -EPERM;
        return 0;
}
