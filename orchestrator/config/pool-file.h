/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Desired state of one pool of ephemeral runners:
 * /etc/lanekeeper/pools.d/NAME.conf (INI). Its slots are lanes named
 * NAME-1 ... NAME-max, each a lane as lanekeeper-lane(5) has them (the
 * policy must allow their root, user and scope like any lane's). See
 * lanekeeper-pool(5). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "ini-diag.h"
#include "lane-file.h"

#define POOL_MAX_SLOTS 100

struct pool_desired {
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
        unsigned min, max, spare;
};

/* Parse one pool file. Every problem goes to *diags with its line; 0 when
 * there was none, -EINVAL otherwise (ret is then unspecified). */
int pool_file_parse(FILE *f, struct pool_desired *ret, struct ini_diags *diags);

/* Slot N (1..max) as a lane: "NAME-N" and the pool's scope, root, user,
 * group, labels and version; managed. */
void pool_slot_lane(const struct pool_desired *p, unsigned n, struct lane_desired *ret);
