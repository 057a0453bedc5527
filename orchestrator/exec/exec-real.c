/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "apply-state.h"
#include "audit.h"
#include "exec-real.h"
#include "gh-api.h"
#include "gh-client.h"
#include "inventory.h"
#include "observe.h"
#include "proto-time.h"

void exec_observe_hold(const char *store_dir, const char *lane, struct observation *o) {
        struct lane_hold h;
        int r = lane_hold_load(store_dir, lane, &h);

        o->hold[0] = o->hold_reason[0] = o->hold_since[0] = o->hold_credential[0] = '\0';
        if (r < 0) {
                /* fail closed: a hold that cannot be read blocks what it would */
                snprintf(o->hold, sizeof o->hold, "unknown");
                snprintf(o->hold_reason, sizeof o->hold_reason, "%s/holds/%s: %s", store_dir, lane,
                         r == -EBADMSG ? "does not parse" : strerror(-r));
                return;
        }
        if (h.state == HOLD_NONE)
                return;
        snprintf(o->hold, sizeof o->hold, "%s", lane_hold_state_to_string(h.state));
        snprintf(o->hold_reason, sizeof o->hold_reason, "%s", h.reason);
        snprintf(o->hold_since, sizeof o->hold_since, "%s", h.since);
        snprintf(o->hold_credential, sizeof o->hold_credential, "%s", h.credential);
}

/* Observe the lane, GitHub through the client (one conditional listing);
 * GitHub's Date keeps the baseline's clock check current. */
static void real_observe(void *data, const struct lane_desired *d, struct observation *ret) {
        struct exec_real *x = data;
        struct observe_env env = { .bus = x->bus, .bus_problem = x->bus ? NULL : "cannot connect to the system bus",
                                   .baseline = x->bc };
        struct inventory inv = {};
        char scope[160], err[512];
        long long offset;

        if (x->gh) {
                lane_scope(d, scope, sizeof scope);
                if (gh_list_runners(x->gh, scope, d->name, &inv, err, sizeof err) == 0)
                        env.inventory = &inv;
                else
                        env.inventory_problem = err;
                if (gh_clock_offset(x->gh, &offset)) {
                        x->bc->have_clock_offset = true;
                        x->bc->clock_offset_s = offset;
                }
        } else
                env.inventory_problem = x->gh_problem;
        observe_lane(&observe_real, &env, d, ret);
        exec_observe_hold(x->store_dir, d->name, ret);
        inventory_free(&inv);
}

static int real_token(void *data, const char *scope, char **ret_token, size_t *ret_len, char *err, size_t errlen) {
        time_t expires;

        return gh_registration_token(data, scope, ret_token, ret_len, &expires, err, errlen);
}

static int real_set_labels(void *data, const char *scope, long long id, const char *const *labels, size_t n,
                           struct gh_runner *ret, char *err, size_t errlen) {
        return gh_runner_labels(data, scope, id, GH_LABELS_SET, labels, n, ret, err, errlen);
}

static int real_delete(void *data, const char *scope, long long id, char *err, size_t errlen) {
        return gh_runner_delete(data, scope, id, err, errlen);
}

static int real_job(void *data, const char *repo, long long id, char *buf, size_t size, char *err, size_t errlen) {
        return gh_runner_job(data, repo, id, buf, size, err, errlen);
}

static const struct exec_github_ops real_github = {
        .registration_token = real_token,
        .set_labels = real_set_labels,
        .delete_runner = real_delete,
        .runner_job = real_job,
};

static long long real_now_ms(void *data) {
        (void) data;
        return proto_now_ms();
}

static time_t real_wall_time(void *data) {
        (void) data;
        return time(NULL);
}

static void real_sleep_ms(void *data, long long ms) {
        (void) data;
        proto_sleep_ms(ms);
}

static int real_user_uid(void *data, const char *user, uid_t *ret) {
        struct passwd pw, *res = NULL;
        char buf[4096];

        (void) data;
        if (getpwnam_r(user, &pw, buf, sizeof buf, &res) != 0 || !res)
                return -ENOENT;
        *ret = pw.pw_uid;
        return 0;
}

static int real_unit_needs_reload(void *data, const char *unit, char *why, size_t size) {
        return observe_unit_needs_reload(((struct exec_real *) data)->bus, unit, why, size);
}

static int real_lock(void *data, const char *lane, int *ret_fd) {
        return lane_lock(((struct exec_real *) data)->store_dir, lane, ret_fd);
}

static int real_key_lookup(void *data, const char *key, const char *lane, const char *cmd,
                           struct idempotency_result *ret) {
        return idempotency_lookup(((struct exec_real *) data)->store_dir, key, lane, cmd, ret);
}

static int real_key_record(void *data, const char *key, const struct idempotency_result *res) {
        return idempotency_record(((struct exec_real *) data)->store_dir, key, res);
}

static int real_append(void *data, struct json_object *record, uint64_t *ret_seq) {
        return audit_append(((struct exec_real *) data)->store, record, ret_seq);
}

static int real_hold_save(void *data, const char *lane, const struct lane_hold *h) {
        return lane_hold_save(((struct exec_real *) data)->store_dir, lane, h);
}

void exec_real_ops(struct exec_real *r, struct exec_ops *ops) {
        *ops = (struct exec_ops) {
                .helper = &helper_socket_ops,
                .helper_data = &r->helper,
                .github = &real_github,
                .github_data = r->gh,
                .github_problem = r->gh_problem,
                .observe = real_observe,
                .offer_start = exec_real_offer_start,
                .offer_end = exec_real_offer_end,
                .unit_processes = exec_real_unit_processes,
                .user_processes = exec_real_user_processes,
                .lane_dir_entries = exec_real_lane_dir_entries,
                .unit_workers = exec_real_unit_workers,
                .cache_stats = exec_real_cache_stats,
                .legacy_unit = exec_real_legacy_unit,
                .unit_needs_reload = real_unit_needs_reload,
                .watch_start = exec_real_watch_start,
                .watch_wait = exec_real_watch_wait,
                .watch_end = exec_real_watch_end,
                .now_ms = real_now_ms,
                .wall_time = real_wall_time,
                .sleep_ms = real_sleep_ms,
                .user_uid = real_user_uid,
                .lock = real_lock,
                .key_lookup = real_key_lookup,
                .key_record = real_key_record,
                .append_record = real_append,
                .hold_save = real_hold_save,
                .data = r,
        };
}
