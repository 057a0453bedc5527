/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executor's bookkeeping in the store (DESIGN §6): one lock a lane, so
 * that a second apply on the same lane stops at once ("lane busy"), and
 * idempotency keys, so that the same key returns the first result and does
 * nothing again. Files: STORE/locks/LANE.lock, STORE/keys/SHA256(KEY).json;
 * a key names no path, whatever it holds. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define IDEMPOTENCY_KEY_MAX 128

/* Take LANE's lock without waiting: a file descriptor (close it to release;
 * the kernel releases it when the process dies), -EBUSY when another holds
 * it, or another negative errno. */
int lane_lock(const char *store_dir, const char *lane, int *ret_fd);

/* A key: 1 to 128 printable ASCII characters, no space. */
int idempotency_key_validate(const char *key, const char **ret_reason);

struct idempotency_result {
        char lane[65];
        char command[16];        /* "apply", "restart", "remove" */
        char status[16];         /* "completed" or "failed" */
        int exit_status;
        uint64_t audit_seq;
};

/* The first result recorded under KEY: 0, -ENOENT when none. A key first
 * used for another lane or command is -EEXIST (*ret then says for what). */
int idempotency_lookup(const char *store_dir, const char *key, const char *lane, const char *command,
                       struct idempotency_result *ret);

/* Record RESULT under KEY, atomically; the first writer wins (-EEXIST). */
int idempotency_record(const char *store_dir, const char *key, const struct idempotency_result *result);
