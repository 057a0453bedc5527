/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lane unit files in /etc/systemd/system: read without following a link,
 * written atomically, never over a unit the helper did not write. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto-sha256.h"
#include "proto-unit.h"

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
