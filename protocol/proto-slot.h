/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pool slot hand-off (lanekeeper-pool(5)): how a slot's unit gets one
 * just-in-time runner configuration per start, from lanectl pool
 * supervise, on the lane's hand-off socket PROTO_REGISTER_DIR/SLOT.sock.
 * The unit's ExecStart= (lanekeeper-register --run SLOT, as the slot's
 * user, in the slot's unit) asks; the supervisor admits it by its
 * credentials, as lanectl apply admits a registration request.
 *
 *   run phase  "LKJIT1 SLOT\n"
 *   answer     "slot=SLOT\nkeep=A,B,...\n"
 *              the top-level entries of the slot's runner install; empty
 *              the first time (then the slot's entries, less the ones a run
 *              leaves, become the install: trust on first use, before any
 *              job ran there)
 *   report     "fingerprint=HEX\nkeep=A,B,...\n"
 *              after every other entry of the slot's directory was
 *              removed: the install's entries and the digest of their
 *              metadata, recursively (proto_slot_fingerprint_*)
 *   answer     "jitconfig=ENCODED\n"   (the runner's credentials: a secret)
 *           or "refuse=REASON\n"       (the install changed: no job here)
 *
 * The registration request of ExecStartPre= ("LKREG1 SLOT\n") is answered
 * "slot=SLOT\n" (proto-register.h): nothing to register, the run phase
 * takes a JIT configuration. Every message is validated on both sides;
 * unknown, missing or repeated keys are errors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "proto-sha256.h"
#include "proto-validate.h"

#define PROTO_SLOT_MAX (32 * 1024)
#define PROTO_SLOT_KEEP_MAX 64               /* entries in a runner install's top level */
#define PROTO_SLOT_ENTRY_MAX 255
#define PROTO_SLOT_KEEP_BUF (PROTO_SLOT_KEEP_MAX * (PROTO_SLOT_ENTRY_MAX + 1))
#define PROTO_SLOT_JIT_MAX (24 * 1024)
#define PROTO_SLOT_REASON_MAX 256

/* Entries a run leaves in the slot directory, never part of the install:
 * removed before every run (the workspace, the runner's diagnostics, the
 * JIT registration the runner writes, run.sh's copy of run-helper.sh,
 * lanekeeper's cache measurement). */
bool proto_slot_is_run_entry(const char *name);

/* A top-level entry name a keep list may hold: 1..255 printable ASCII
 * bytes, no '/' or ',', not "." or "..", not a run entry. */
int proto_slot_validate_entry(const char *name, const char **ret_reason);
/* A comma-separated keep list: each entry valid, none twice, at most
 * PROTO_SLOT_KEEP_MAX; "" is valid (the first use). */
int proto_slot_validate_keep(const char *list, const char **ret_reason);
/* Whether NAME is in the comma-separated LIST. */
bool proto_slot_keep_has(const char *list, const char *name);

int proto_slot_encode_request(const char *slot, char *buf, size_t size, size_t *ret_len);
int proto_slot_decode_request(const char *buf, size_t len, char slot[PROTO_LANE_NAME_MAX + 1], const char **ret_reason);

/* "slot=SLOT\nkeep=LIST\n" */
int proto_slot_encode_rules(const char *slot, const char *keep, char *buf, size_t size, size_t *ret_len);
int proto_slot_decode_rules(const char *buf, size_t len, char slot[PROTO_LANE_NAME_MAX + 1],
                            char keep[PROTO_SLOT_KEEP_BUF], const char **ret_reason);

/* "fingerprint=HEX\nkeep=LIST\n"; LIST must not be empty. */
int proto_slot_encode_report(const char *fingerprint, const char *keep, char *buf, size_t size, size_t *ret_len);
int proto_slot_decode_report(const char *buf, size_t len, char fingerprint[PROTO_SHA256_HEX_SIZE],
                             char keep[PROTO_SLOT_KEEP_BUF], const char **ret_reason);

/* "jitconfig=ENCODED\n" (base64, 1..PROTO_SLOT_JIT_MAX bytes) or
 * "refuse=REASON\n" (printable ASCII). Exactly one of JIT and REASON is
 * non-NULL when encoding; decoding fills one and empties the other. */
int proto_slot_encode_verdict(const char *jit, const char *reason, char *buf, size_t size, size_t *ret_len);
int proto_slot_decode_verdict(const char *buf, size_t len, char jit[PROTO_SLOT_JIT_MAX + 1],
                              char reason[PROTO_SLOT_REASON_MAX + 1], const char **ret_reason);

/* The install's fingerprint: every entry beneath the kept ones, in the
 * order a walk gives them sorted by name, fed as its path relative to the
 * slot directory and its metadata: type, mode, owner, group, size, inode,
 * modification and change times (a job cannot set a change time back),
 * and a symbolic link's target. */
void proto_slot_fingerprint_entry(struct proto_sha256 *c, const char *relpath, const struct stat *st,
                                  const char *link_target);
