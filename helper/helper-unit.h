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

/* Read the unit NAME in DIRFD (at most UNIT_MAX_SIZE): 0, -ENOENT, or an
 * error; never follows a symlink. */
int unit_read_at(int dirfd, const char *name, char *buf, size_t size, size_t *ret_len);

/* Write TEXT as NAME in DIRFD atomically (temp file, fsync, rename, fsync
 * directory), unless the file already holds exactly TEXT (*ret_changed =
 * false). An existing unit that is not managed is never replaced:
 * -EEXIST. */
int unit_write_at(int dirfd, const char *name, const char *text, size_t len, bool *ret_changed);

/* Check the lane directory ROOT/LANE and ROOT/LANE/run.sh: no symlink on the
 * way (openat2), owned by UID, not writable by group or others, run.sh a
 * regular executable file. Returns 0 or a negative errno with a reason. */
int unit_check_lane_dir(const char *root, const char *lane, uid_t uid, const char **ret_reason);
