/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who is calling: admitted only if the peer's uid is a maintainer named in
 * the policy and its cgroup lies in no lane unit (job code never reaches
 * the helper, even if it found the socket). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "proto-peer.h"
#include "proto-policy.h"

struct peer {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        char user[PROTO_USER_NAME_MAX + 1];
        char cgroup[512];
};

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
