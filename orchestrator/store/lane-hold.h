/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A lane held out of service by an operator (lanectl drain, revoke): the
 * hold survives restarts of lanekeeper and of the host, and apply, restart
 * and health respect it until undrain or unrevoke lifts it. One file a
 * lane, STORE/holds/LANE, written atomically:
 *
 *     state=draining|drained|revoked
 *     since=2026-11-27T16:00:00Z
 *     reason=TEXT
 *     labels=a,b,c          (drain: the labels undrain restores)
 *     job=TEXT              (revoke: the job the stop killed, if any)
 *     credential=HEX        (revoke: the fingerprint of the GitHub
 *                            credential then configured; unrevoke needs
 *                            another)
 *
 * Values are one line of printable text; a file that is not exactly this
 * is an error, never "not held". */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

enum lane_hold_state {
        HOLD_NONE,
        HOLD_DRAINING,      /* routing labels removed; the unit still runs a job */
        HOLD_DRAINED,       /* labels removed, unit stopped */
        HOLD_REVOKED,       /* stopped, deregistered, credentials purged */
        _HOLD_STATE_MAX,
        _HOLD_STATE_INVALID = -EINVAL,
};

#define HOLD_TEXT_MAX 300
#define HOLD_FP_HEX 33      /* 128 bits of a fingerprint, hex, NUL */

struct lane_hold {
        enum lane_hold_state state;
        char since[32];
        char reason[HOLD_TEXT_MAX];
        char labels[HOLD_TEXT_MAX];
        char job[HOLD_TEXT_MAX];
        char credential[HOLD_FP_HEX];
};

const char *lane_hold_state_to_string(enum lane_hold_state s);
enum lane_hold_state lane_hold_state_from_string(const char *s);

/* A reason an operator gives: 1 to 200 printable characters (UTF-8 allowed,
 * no control character). */
int lane_hold_reason_validate(const char *reason, const char **ret_reason);

/* LANE's hold: 0 (HOLD_NONE when there is no file), or -errno; a file that
 * does not parse is -EBADMSG. */
int lane_hold_load(const char *store_dir, const char *lane, struct lane_hold *ret);
/* Write LANE's hold atomically (HOLD_NONE removes it). */
int lane_hold_save(const char *store_dir, const char *lane, const struct lane_hold *h);

/* The lanes held: their names, sorted, into a malloc'd array of N strings
 * (free each and the array). */
int lane_hold_list(const char *store_dir, char ***ret, size_t *ret_n);
