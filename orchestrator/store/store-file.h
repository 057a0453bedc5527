/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Files of the store (audit records, idempotency keys): read whole, and
 * written atomically (temporary file, fsync, rename, fsync directory). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* NAME of DIRFD into a malloc'd, NUL-terminated buffer: a regular file of
 * at most MAX bytes, not a link. */
int store_read_file(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len);

/* Write NAME atomically, mode 0640. With REPLACE false an existing NAME is
 * kept and -EEXIST returned (the first writer wins). */
int store_write_atomic(int dirfd, const char *name, const char *data, size_t len, bool replace);

/* Remove DIRFD's regular files (never links or directories) whose names
 * NAME_OK accepts and whose modification time is before BEFORE; their
 * number into *RET_N. 0 or the first -errno (the others still tried). */
int store_prune_files(int dirfd, time_t before, bool (*name_ok)(const char *name), unsigned long *ret_n);

/* PATH replaced atomically by TEXT (LEN bytes) with MODE, and owner UID
 * and GID unless both are -1: a temporary file beside it, written,
 * synced, renamed over it, the directory synced. 0 or -errno (nothing
 * left behind). */
int store_write_path(const char *path, const char *text, size_t len, mode_t mode, uid_t uid, gid_t gid);
