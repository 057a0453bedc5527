/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanekeeper-register --run: the lane unit's ExecStart=. A pool slot
 * (proto-slot.h) gets its directory cleaned to the runner install, proves
 * the install unchanged, and runs ./run.sh with one JIT configuration in
 * ACTIONS_RUNNER_INPUT_JITCONFIG; any other lane runs ./run.sh as it is. */
#pragma once

#include <stddef.h>

#include "proto-sha256.h"
#include "proto-slot.h"

/* Remove from the slot directory DFD every entry a run leaves and, when
 * KEEP is not empty, every entry KEEP does not name; never following a
 * symlink. RET_KEEP gets the entries left (sorted, comma-separated),
 * *RET_REMOVED counts what was removed. 0 or -errno (ERR says what). */
int slot_clean(int dfd, const char *keep, char ret_keep[PROTO_SLOT_KEEP_BUF], size_t *ret_removed, char *err,
               size_t errlen);

/* The fingerprint of the entries KEEP names beneath DFD (proto-slot.h). */
int slot_fingerprint(int dfd, const char *keep, char hex[PROTO_SHA256_HEX_SIZE], char *err, size_t errlen);

/* The run phase for LANE on the hand-off connection FD (-1: nothing is
 * offered, run.sh starts as it is); FD is closed before run.sh starts.
 * Returns only on failure (an exit status). */
int slot_run(const char *lane, int fd);
