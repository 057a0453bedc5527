/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Desired state of one lane: /etc/lanekeeper/lanes.d/NAME.conf (INI).
 * See lanekeeper-lane(5). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "ini-diag.h"
#include "proto-policy.h"
#include "proto-validate.h"

#define LANE_MAX_LABELS   32
#define LANE_GROUP_MAX    64
#define LANE_MANAGED_LABEL POLICY_DEFAULT_MANAGED_LABEL   /* the default; policy.conf may choose another */

enum version_policy_kind {
        VERSION_ANY,
        VERSION_MINIMUM,
        VERSION_PINNED,
        _VERSION_POLICY_MAX,
        _VERSION_POLICY_INVALID = -EINVAL,
};

struct version_policy {
        enum version_policy_kind kind;
        unsigned major, minor, patch;
};

struct lane_desired {
        char name[PROTO_LANE_NAME_MAX + 1];
        char repository[PROTO_OWNER_MAX + PROTO_REPO_NAME_MAX + 2];   /* or ... */
        char organisation[PROTO_OWNER_MAX + 1];                       /* ... this */
        char host[PROTO_HOST_NAME_MAX + 1];
        char root[PROTO_PATH_MAX + 1];
        char user[PROTO_USER_NAME_MAX + 1];
        char group[LANE_GROUP_MAX + 1];
        char labels[LANE_MAX_LABELS][PROTO_LABEL_MAX + 1];
        size_t n_labels;
        struct version_policy version;
        bool managed;
        bool dedicated;       /* lanectl gate run may empty its work directory before each run (lane files only) */
};

/* Parse one lane file. Every problem goes to *diags with its line; returns
 * 0 when there was none, -EINVAL otherwise (ret is then unspecified). */
int lane_file_parse(FILE *f, struct lane_desired *ret, struct ini_diags *diags);

int version_policy_parse(const char *s, struct version_policy *ret);

/* Shared with pool files: one key of a lane (SEEN: the keys so far, for
 * duplicates): 1 taken (its problems said), 0 not a lane key; the checks
 * of a complete set (required keys but 'managed', one scope, self-hosted).
 * A runner group name; a label list ("a, b c")
 * appended to LABELS (*N of LANE_MAX_LABELS), each problem to DIAGS at LINE. */
int lane_key(struct lane_desired *l, unsigned *seen, const char *key, const char *value, struct ini_diags *diags,
             int line);
void lane_keys_complete(const struct lane_desired *l, unsigned seen, struct ini_diags *diags);
int lane_group_validate(const char *s, const char **ret_reason);
void lane_labels_parse(const char *value, char (*labels)[PROTO_LABEL_MAX + 1], size_t *n, struct ini_diags *diags,
                       int line);
/* "any", "minimum:2.330.0", ... into buf. */
const char *version_policy_format(const struct version_policy *v, char *buf, size_t size);
bool lane_has_label(const struct lane_desired *l, const char *label);
/* Whether lane L serves REPO (OWNER/NAME): its repository, or one of its
 * organisation's (compared without case). */
bool lane_serves_repository(const struct lane_desired *l, const char *repo);
/* The lane's GitHub scope: "repos/OWNER/REPO" or "orgs/ORG". */
void lane_scope(const struct lane_desired *l, char *buf, size_t size);
