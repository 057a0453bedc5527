/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lane's actions cache (_work/_actions beneath the lane directory
 * LANE_FD), measured and cleared by lanekeeper-register as the lane's user. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "proto-register.h"

/* Empty the directory DFD, never following a symlink; COUNT grows by what
 * was removed. 0 or -errno. */
int cache_empty_dir(int dfd, unsigned depth, size_t *count);
/* Remove DFD's entry NAME, and what is beneath it (DEPTH deep already). */
int cache_remove_entry(int dfd, const char *name, unsigned depth, size_t *count);

/* Measure the cache: entries, bytes, the oldest entry, damaged ones. */
int cache_measure(int lane_fd, time_t now, struct proto_cache_stats *ret);

/* Remove every entry (MAX_AGE_DAYS 0), or those older than MAX_AGE_DAYS
 * and the damaged ones; RET measures what is left. 0, or the first
 * failure to remove (-errno; the rest was still tried). */
int cache_clear(int lane_fd, time_t now, unsigned max_age_days, size_t *ret_removed, struct proto_cache_stats *ret);

/* PROTO_CACHE_STATS_FILE in LANE_FD, replaced atomically, mode 0640. */
int cache_write_stats(int lane_fd, const struct proto_cache_stats *s);
