/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lane unit: rendered from the compiled-in template, recognised as
 * ours only when its bytes are exactly what we would render again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto-sha256.h"
#include "proto-validate.h"

#define UNIT_DIR "/etc/systemd/system"
#define UNIT_MARKER "# lanekeeper-helper managed unit: "
#define UNIT_MAX_SIZE 16384

struct unit_params {
        char lane[PROTO_LANE_NAME_MAX + 1];
        char user[PROTO_USER_NAME_MAX + 1];
        char root[PROTO_PATH_MAX + 1];
};

/* Render into buf (UNIT_MAX_SIZE); -EINVAL with a reason for a bad
 * parameter. *ret_len gets the length. */
int unit_render(const struct unit_params *p, char *buf, size_t size, size_t *ret_len, const char **ret_reason);

/* Whether TEXT is a unit the helper wrote: the marker line parses and the
 * whole text equals what those parameters render. Fills *ret on success. */
bool unit_is_managed(const char *text, size_t len, struct unit_params *ret);

/* Read the unit NAME in DIRFD (at most UNIT_MAX_SIZE - 1 bytes): 0,
 * -ENOENT, -ELOOP (a symlink), -EBADFD (not a regular file), -EFBIG (too
 * large to be ours), -EMLINK (more than one link), or another error. */
int unit_read_at(int dirfd, const char *name, char *buf, size_t size, size_t *ret_len);

/* Write TEXT as NAME in DIRFD atomically (temp file, fsync, rename, fsync
 * directory), unless the file already holds exactly TEXT (*ret_changed =
 * false). An existing unit that is not managed is never replaced:
 * -EEXIST. */
int unit_write_at(int dirfd, const char *name, const char *text, size_t len, bool *ret_changed);


/* Check the registration root ROOT_REL beneath ANCHOR_FD ("/" in
 * production) and the lane directory in it, before every install and
 * start: no symlink on the way; the anchor, every directory down to the
 * root and the root itself owned by ROOT_OWNER or root and not writable by
 * group or others; ROOT/LANE and ROOT/LANE/run.sh owned by UID and not
 * writable by group or others; run.sh a regular file its owner may
 * execute. Returns 0 or a negative errno with a reason naming the path. */
int unit_check_lane_dir_at(int anchor_fd, const char *root_rel, uid_t root_owner, const char *lane, uid_t uid,
                           char *reason, size_t size);
