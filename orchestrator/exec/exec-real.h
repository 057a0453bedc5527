/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executor's real ops: the helper over its socket, GitHub through the
 * client, observation over D-Bus and the file system, the hand-off socket
 * served by a child, /proc, the clock, and the store (locks, keys, audit). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "exec.h"
#include "helper-client.h"

typedef struct sd_bus sd_bus;
struct audit_store;
struct baseline_config;
struct gh_client;

struct exec_real {
        struct helper_conn helper;
        struct gh_client *gh;              /* NULL: none (gh_problem says why) */
        char gh_problem[512];
        sd_bus *bus;                       /* NULL: systemd is not read */
        struct baseline_config *bc;        /* its clock offset is updated from GitHub's Date */
        const char *register_dir;          /* the hand-off sockets' directory */
        const char *store_dir;             /* locks and keys */
        struct audit_store *store;
};

/* The lane's hold from the store into O (hold "unknown" with the reason
 * when it cannot be read). */
void exec_observe_hold(const char *store_dir, const char *lane, struct observation *o);

/* Fill OPS with the real functions, all taking R as their data. */
void exec_real_ops(struct exec_real *r, struct exec_ops *ops);

/* exec-watch.c: exec_ops.watch_* */
unsigned exec_real_watch_start(void *data, const struct lane_desired *d, struct exec_watch **ret, char *why,
                               size_t size);
int exec_real_watch_wait(void *data, struct exec_watch *w, long long ms, char *why, size_t size);
void exec_real_watch_end(void *data, struct exec_watch *w);

/* exec-proc.c */
size_t exec_real_unit_processes(void *data, const char *unit, char *buf, size_t size);
size_t exec_real_user_processes(void *data, uid_t uid, const char *unit, char *buf, size_t size);
size_t exec_real_unit_workers(void *data, const char *unit);
long exec_real_lane_dir_entries(void *data, const struct lane_desired *d);
int exec_real_cache_stats(void *data, const struct lane_desired *d, struct proto_cache_stats *ret);
void exec_real_legacy_unit(void *data, const char *lane, char *buf, size_t size, bool *ret_enabled);

/* exec-offer.c */
int exec_real_offer_start(void *data, const struct lane_desired *d, uid_t uid, struct proto_register *reg,
                          struct exec_offer **ret, char *err, size_t errlen);
bool exec_real_offer_end(void *data, struct exec_offer *offer, bool withdraw, char *err, size_t errlen);
