/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl's side of the registration hand-off (proto-register.h): a
 * one-shot socket PROTO_REGISTER_DIR/LANE.sock that answers exactly one
 * admitted request, from the lane's user inside the lane's own unit, and
 * is gone afterwards. Nobody else learns anything: others are logged and
 * closed without an answer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto-register.h"

struct reg_offer {
        int fd;
        char path[128];
        char lane[PROTO_LANE_NAME_MAX + 1];
        unsigned refused;        /* requests refused while waiting */
};

/* Whether CGROUP (from /proc/PID/cgroup) is the lane unit of LANE itself,
 * not a sub-cgroup, not another lane. Pure. */
bool reg_cgroup_is_lane_unit(const char *cgroup, const char *lane);

/* Create and listen on DIR/LANE.sock (a stale socket of a killed lanectl is
 * replaced). DIR must be a directory owned by root or by us and not
 * writable by others. */
int reg_offer_open(struct reg_offer *o, const char *dir, const char *lane, char *err, size_t errlen);

/* Wait up to TIMEOUT_MS for the lane's request and answer it with R: 0,
 * -ETIMEDOUT, or another error with ERR set. Requests from any other uid or
 * cgroup are refused (logged to stderr) and waiting goes on. */
int reg_offer_serve(struct reg_offer *o, uid_t lane_uid, const struct proto_register *r, int timeout_ms, char *err,
                    size_t errlen);

/* Close and unlink. Safe to call twice. */
void reg_offer_close(struct reg_offer *o);
