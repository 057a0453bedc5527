/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /etc/lanekeeper/policy.conf: what the helper may do, for whom.
 * See lanekeeper-policy(5). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "proto-sha256.h"
#include "proto-validate.h"

#define POLICY_MAX_ITEMS  32
#define POLICY_MAX_SIZE   (64 * 1024)
#define POLICY_DEFAULT_MANAGED_LABEL "lanekeeper-managed"

struct policy_bpf_object {
        char name[PROTO_BPF_OBJECT_MAX + 1];
        char path[PROTO_PATH_MAX + 1];
        char sha256[PROTO_SHA256_HEX_SIZE];
};

struct helper_policy {
        char host[PROTO_HOST_NAME_MAX + 1];
        char managed_label[PROTO_LABEL_MAX + 1];      /* [lanes] managed_label; "" = the default */
        size_t n_maintainers, n_users, n_roots, n_repositories, n_organisations, n_bpf;
        char maintainers[POLICY_MAX_ITEMS][PROTO_USER_NAME_MAX + 1];
        char users[POLICY_MAX_ITEMS][PROTO_USER_NAME_MAX + 1];
        char roots[POLICY_MAX_ITEMS][PROTO_PATH_MAX + 1];
        char repositories[POLICY_MAX_ITEMS][PROTO_OWNER_MAX + PROTO_REPO_NAME_MAX + 2];
        char organisations[POLICY_MAX_ITEMS][PROTO_OWNER_MAX + 1];
        struct policy_bpf_object bpf[POLICY_MAX_ITEMS];
};

/* Load REL beneath the directory ANCHOR_FD (production: "/" and the full
 * path without its leading slash). The anchor, every directory on the way
 * and the file itself must be owned by OWNER (root in production) or root,
 * not writable by group or others, and not symlinks; the file is regular
 * and at most 64 KiB. Unknown sections and keys, bad values and duplicates
 * are errors. On failure err holds "LINE: reason" or a reason. */
int policy_load_at(int anchor_fd, const char *rel, uid_t owner, struct helper_policy *ret,
                   char *err, size_t errlen);
int policy_load(const char *path, struct helper_policy *ret, char *err, size_t errlen);

/* Walk REL beneath ANCHOR_FD component by component, never following a
 * symlink: the anchor and every directory on the way (and the final file
 * or, with WANT_DIR, directory) owned by OWNER or root and not writable by
 * group or others. Returns an fd (O_PATH for a directory) or a negative
 * errno with err naming the component and why, e.g. "directory 'srv' is
 * writable by group or others (mode 0777)". WHAT names the final one. */
int policy_open_trusted(int anchor_fd, const char *rel, uid_t owner, bool want_dir, const char *what,
                        char *err, size_t errlen);

/* A BPF object the policy names, read once: PATH (absolute) trusted as
 * above, a regular file of at most POLICY_MAX_OBJECT bytes, into a buffer
 * the caller frees, with its sha256 in hex. */
#define POLICY_MAX_OBJECT (4 << 20)
int policy_read_object(const char *path, void **ret_buf, size_t *ret_size, char hex[PROTO_SHA256_HEX_SIZE],
                       char *err, size_t errlen);

/* The site's managed label: [lanes] managed_label or the default. */
const char *policy_managed_label(const struct helper_policy *p);

bool policy_has_user(const struct helper_policy *p, const char *user);
bool policy_has_maintainer(const struct helper_policy *p, const char *user);
/* The configured root that equals ROOT, or NULL. */
const char *policy_find_root(const struct helper_policy *p, const char *root);
const struct policy_bpf_object *policy_find_bpf(const struct helper_policy *p, const char *name);
