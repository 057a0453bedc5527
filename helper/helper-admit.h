/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who is calling: admitted only if the peer's uid is a maintainer named in
 * the policy and its cgroup lies in no lane unit (job code never reaches
 * the helper, even if it found the socket). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "proto-policy.h"

struct peer {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        char user[PROTO_USER_NAME_MAX + 1];
        char cgroup[512];
};

/* Whether a cgroup path (as in /proc/PID/cgroup "0::PATH") lies inside a
 * lanekeeper lane unit. Pure. */
bool admit_cgroup_is_lane(const char *path);

/* Credentials of the peer on FD (SO_PEERCRED; its cgroup read through
 * SO_PEERPIDFD where the kernel has it, else pidfd_open, and trusted only
 * if the pidfd still refers to a live process afterwards, so that the pid
 * was not reused meanwhile). Fills *ret even on refusal, as far as known,
 * for the log. Returns 0, -EPERM with a reason, or another errno. */
/* The peer's credentials and its cgroup, read race-safely (above). */
struct ucred;
int admit_peer_cgroup(int fd, struct ucred *ret_cred, char *cgroup, size_t size, const char **ret_reason);

/* Users the policy names, resolved once before confinement: a confined
 * helper cannot ask NSS (which may need sockets), so admission and the
 * verbs compare against this table. */
struct identity {
        char name[PROTO_USER_NAME_MAX + 1];
        uid_t uid;
        gid_t gid;
};

struct identities {
        size_t n;
        struct identity v[2 * POLICY_MAX_ITEMS];
};

/* Resolve every maintainer and runner user of POL; names that do not
 * exist are left out. */
void ids_resolve(const struct helper_policy *pol, struct identities *ret);
const struct identity *ids_find(const struct identities *ids, const char *name);

/* Admit the peer on FD: its uid is that of a maintainer of POL (resolved in
 * IDS), its gid that maintainer's primary group, its cgroup in no lane. */
int admit_peer(int fd, const struct helper_policy *pol, const struct identities *ids, struct peer *ret,
               const char **ret_reason);
