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

enum pool_mode {
        POOL_MODE_LABELS,              /* demand: the queued jobs its labels satisfy */
        POOL_MODE_SCALE_SET,           /* demand: what GitHub tells the pool's runner scale set */
};

struct pool_desired {
        struct lane_desired lane;      /* the pool's name and what every slot shares; managed */
        unsigned min, max, spare;
        enum pool_mode mode;
        char scale_set[PROTO_LABEL_MAX + 1];   /* mode scale-set: the set's name (the label jobs ask for) */
};

/* Parse one pool file. Every problem goes to *diags with its line; 0 when
 * there was none, -EINVAL otherwise (ret is then unspecified). */
int pool_file_parse(FILE *f, struct pool_desired *ret, struct ini_diags *diags);

/* Slot N (1..max) as a lane: "NAME-N" and the pool's scope, root, user,
 * group, labels and version; managed. */
void pool_slot_lane(const struct pool_desired *p, unsigned n, struct lane_desired *ret);
