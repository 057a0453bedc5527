/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lane unit: rendered from the compiled-in template, recognised as
 * ours only when its bytes are exactly what we would render again. Pure:
 * the helper writes units with it, lanectl recognises them with it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
int proto_unit_render(const struct unit_params *p, char *buf, size_t size, size_t *ret_len, const char **ret_reason);

/* Whether TEXT is a unit the helper wrote: the marker line parses and the
 * whole text equals what those parameters render. Fills *ret on success. */
bool proto_unit_is_managed(const char *text, size_t len, struct unit_params *ret);

/* The id of the cgroup v2 CGROUP (as systemd names a unit's ControlGroup,
 * beneath /sys/fs/cgroup): its directory's inode number, which is what
 * bpf_get_current_cgroup_id() answers. -EMEDIUMTYPE when it is not cgroup
 * v2; ERR says why it failed. */
int proto_cgroup_id(const char *cgroup, uint64_t *ret, char *err, size_t errlen);
