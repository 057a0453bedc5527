/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit store: append-only JSON records in one directory, each written
 * atomically (temporary file, fsync, rename, fsync of the directory),
 * numbered, and chained: a record carries the SHA-256 of the one before,
 * and HEAD names the last record and its digest. audit_verify() finds a
 * missing, altered or reordered record. Records are redacted before they
 * are written. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "proto-sha256.h"

struct json_object;

struct audit_store {
        int dirfd;
};

/* What a prune left: the last record removed and its digest, and the
 * checkpoint record that carries both (0 and zeros: nothing pruned). */
struct audit_base {
        uint64_t seq;
        char digest[PROTO_SHA256_HEX_SIZE];
        uint64_t checkpoint;
};

struct audit_verify_result {
        uint64_t records;
        uint64_t first_seq;     /* the oldest record kept (1 unless pruned) */
        uint64_t head_seq;
        char head_digest[PROTO_SHA256_HEX_SIZE];
        char problem[256];      /* empty when the chain is intact */
};

/* Open (creating it, mode 0750, if missing) the store directory DIR. */
int audit_open(const char *dir, struct audit_store *ret);
void audit_close(struct audit_store *s);

/* Append RECORD (a JSON object; "schema", "seq" and "prev" are set here,
 * every token-shaped value is redacted in place). Serialised against other
 * writers with a lock. On success *ret_seq is the record's number. */
int audit_append(struct audit_store *s, struct json_object *record, uint64_t *ret_seq);

/* A command's record: "status", "time" (now, UTC), "host" and "command"
 * set first in RECORD (a new object when NULL), then appended as
 * audit_append() does. RECORD is taken (put) either way. */
int audit_append_command(struct audit_store *s, const char *status, const char *host, const char *command,
                         struct json_object *record, uint64_t *ret_seq);

/* Check the whole chain. Returns 0 and an empty problem when intact,
 * -EBADMSG with the first problem found otherwise. */
int audit_verify(struct audit_store *s, struct audit_verify_result *ret);

struct audit_prune_result {
        uint64_t first, last;           /* the records removed (0, 0: none) */
        uint64_t checkpoint;            /* the record that says so */
        char last_digest[PROTO_SHA256_HEX_SIZE];
        char problem[256];
};

/* Remove the oldest records written before BEFORE (their "time"), never
 * the newest, only from an intact chain. First a checkpoint record is
 * appended (command "audit-prune", the range and the digest of the last
 * record removed), then BASE names it, then the files go: a prune killed
 * midway leaves a chain that still verifies. RECORD holds the caller's
 * fields for the checkpoint (consumed). 0, -EBADMSG with the problem (a
 * broken chain: nothing removed), or another -errno. */
int audit_prune(struct audit_store *s, time_t before, struct json_object *record, struct audit_prune_result *ret);

/* The newest record's number (0: none), without checking the chain. */
int audit_head(struct audit_store *s, uint64_t *ret_seq);

/* Read record SEQ (its JSON text, NUL-terminated, malloc'd). */
int audit_read(struct audit_store *s, uint64_t seq, char **ret_text);
