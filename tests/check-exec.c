/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executor with fakes: a small world (a unit, GitHub's runners, the
 * lane directory, a store) that the fake helper and GitHub change as the
 * real ones would. Every action, every gate failing on its own, a fault at
 * each step, idempotency and the lock; each asserting the outcome, the
 * steps taken, what changed in the world and what was recorded. */
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <unistd.h>

#include "exec.h"
#include "gh-api.h"
#include "proto-register.h"
#include "test-util.h"

struct runner {
        long long id;
        bool online, busy;
        size_t n_labels;
        char labels[LANE_MAX_LABELS + 1][PROTO_LABEL_MAX + 1];
};

static struct world {
        bool unit, managed, active, enabled, configured;
        long long main_uid;               /* as the unit runs it; -1: the lane user's */
        size_t n_runners;
        struct runner r[2];
        long long next_id;
        bool github_down, github_down_after_stop, baseline_ready, readonly_label, runner_stays_offline, delete_lags, remove_keeps_unit;
        int relist_after;                 /* > 0: a deleted runner is listed again after this many observations */
        int observations;
        bool offer_pending, offer_purge, offer_taken, offer_withdrawn;
        bool offer_clear, clear_leaves;   /* a cache clear offered; the unit leaves entries behind */
        size_t workers;                   /* Runner.Worker processes in the unit */
        struct proto_cache_stats cache;
        char offered_token[64];
        size_t unit_procs, user_procs;
        long dir_entries;
        bool locked, have_key, key_elsewhere, append_fails;
        struct idempotency_result key;
        int n_records;
        char last_status[16], last_failed[32];
        const char *fail;                 /* the step or call that fails */
        long long now;
        char calls[1024];                 /* helper verbs, in order */
} w;

static struct lane_desired lane;
static struct plan_policy pol;
static const char *const repos[] = { "acme/site" }, *const roots[] = { "/srv/r" }, *const users[] = { "runner" };
#define UID 4242

static bool failing(const char *what) {
        return w.fail && strcmp(w.fail, what) == 0;
}

static void add_runner(bool online, const char *extra_label) {
        struct runner *r = &w.r[w.n_runners++];

        *r = (struct runner) { .id = w.next_id++, .online = online };
        for (size_t i = 0; i < lane.n_labels; i++)
                strcpy(r->labels[r->n_labels++], lane.labels[i]);
        if (extra_label)
                strcpy(r->labels[r->n_labels++], extra_label);
}

/* ---- the fake helper: it changes the world as systemd would ---- */

static void note(const char *verb) {
        snprintf(w.calls + strlen(w.calls), sizeof w.calls - strlen(w.calls), "%s%s", w.calls[0] ? " " : "", verb);
}

static int refused(const char *verb, struct helper_reply *reply) {
        *reply = (struct helper_reply) { .error = PROTO_E_SYSTEMD_FAILED, .changed = -1 };
        snprintf(reply->reason, sizeof reply->reason, "%s failed (fault)", verb);
        return -EPERM;
}

/* The unit starts: its ExecStartPre= takes a pending offer (registering,
 * or emptying the directory and failing the start), then the runner runs. */
static int start(const char *verb, struct helper_reply *reply) {
        note(verb);
        if (failing(verb))
                return refused(verb, reply);
        if (!w.unit)
                return refused(verb, reply);
        if (w.offer_pending) {
                w.offer_pending = false, w.offer_taken = true;
                if (w.offer_purge) {
                        w.dir_entries = w.dir_entries < 0 ? w.dir_entries : 0;
                        return refused(verb, reply);   /* a purge fails the start by design */
                }
                if (w.offer_clear) {   /* lanekeeper-register clears, measures, and the runner starts */
                        w.cache = (struct proto_cache_stats) { .entries = w.clear_leaves ? 2 : 0, .measured = 1796000000 };
                        goto run;
                }
                w.configured = true;
                if (w.n_runners == 0)
                        add_runner(false, NULL);
        }
run:
        w.active = w.enabled = true;
        for (size_t i = 0; i < w.n_runners; i++)
                w.r[i].online = !w.runner_stays_offline;
        *reply = (struct helper_reply) { .changed = 1 };
        return 0;
}

static int h_install_unit(void *d, const struct helper_request *req, struct helper_reply *reply) {
        (void) d;
        note("install-unit");
        ck_assert_str_eq(req->user, "runner");
        ck_assert_str_eq(req->root, "/srv/r");
        if (failing("install-unit"))
                return refused("install-unit", reply);
        w.unit = w.managed = true;
        *reply = (struct helper_reply) { .changed = 1 };
        return 0;
}

static int h_daemon_reload(void *d, const struct helper_request *req, struct helper_reply *reply) {
        (void) d;
        ck_assert_ptr_null(req->lane);
        note("daemon-reload");
        if (failing("daemon-reload"))
                return refused("daemon-reload", reply);
        *reply = (struct helper_reply) { .changed = -1 };
        return 0;
}

static int h_enable_now(void *d, const struct helper_request *req, struct helper_reply *reply) {
        (void) d, (void) req;
        return start("enable-now", reply);
}

static int h_restart(void *d, const struct helper_request *req, struct helper_reply *reply) {
        (void) d, (void) req;
        return start("restart", reply);
}

static int h_stop(void *d, const struct helper_request *req, struct helper_reply *reply) {
        (void) d, (void) req;
        note("stop");
        if (failing("stop"))
                return refused("stop", reply);
        w.active = false;
        for (size_t i = 0; i < w.n_runners; i++)
                w.r[i].online = false;
        w.github_down |= w.github_down_after_stop;
        *reply = (struct helper_reply) { .changed = 1 };
        return 0;
}

static int h_remove_unit(void *d, const struct helper_request *req, struct helper_reply *reply) {
        (void) d, (void) req;
        note("remove-unit");
        if (failing("remove-unit"))
                return refused("remove-unit", reply);
        w.unit = w.remove_keeps_unit, w.active = w.enabled = false;
        *reply = (struct helper_reply) { .changed = 1 };
        return 0;
}

static int h_load_bpf(void *d, const struct helper_request *req, struct helper_reply *reply) {
        (void) d, (void) req;
        return refused("load-bpf", reply);
}

static const struct helper_ops fake_helper = {
        h_install_unit, h_daemon_reload, h_enable_now, h_restart, h_stop, h_remove_unit, h_load_bpf,
};

/* ---- fake GitHub ---- */

static int g_token(void *d, const char *scope, char **ret, size_t *ret_len, char *err, size_t errlen) {
        (void) d;
        ck_assert_str_eq(scope, "repos/acme/site");
        if (failing("token"))
                return snprintf(err, errlen, "GitHub answered 502"), -EIO;
        *ret = strdup("AAAAfaketokenAAAA");
        *ret_len = strlen(*ret);
        return 0;
}

static int g_labels(void *d, const char *scope, long long id, const char *const *labels, size_t n, struct gh_runner *ret,
                    char *err, size_t errlen) {
        struct runner *r = &w.r[0];

        (void) d, (void) scope;
        if (failing("labels"))
                return snprintf(err, errlen, "GitHub answered 422"), -EIO;
        ck_assert_int_eq(id, r->id);
        r->n_labels = 0;
        for (size_t i = 0; i < n; i++)
                strcpy(r->labels[r->n_labels++], labels[i]);
        if (w.readonly_label)
                strcpy(r->labels[r->n_labels++], "Linux");
        *ret = (struct gh_runner) { .id = id, .n_labels = r->n_labels };
        memcpy(ret->labels, r->labels, sizeof r->labels[0] * r->n_labels);
        return 0;
}

static int g_delete(void *d, const char *scope, long long id, char *err, size_t errlen) {
        (void) d, (void) scope;
        if (failing("deregister"))
                return snprintf(err, errlen, "GitHub answered 503"), -EIO;
        ck_assert_int_eq(id, w.r[0].id);
        if (!w.delete_lags)
                w.n_runners = 0;
        return 0;
}

static int g_job(void *d, const char *repo, long long id, char *buf, size_t size, char *err, size_t errlen) {
        (void) d, (void) repo, (void) id, (void) err, (void) errlen;
        snprintf(buf, size, "job \"integration\" (id 7) of run 6, CI");
        return 0;
}

static const struct exec_github_ops fake_github = { g_token, g_labels, g_delete, g_job };

/* ---- observation, hand-off, processes, clock, store ---- */

static void f_observe(void *d, const struct lane_desired *l, struct observation *o) {
        (void) d;
        w.observations++;
        if (w.relist_after > 0 && w.n_runners == 0 && --w.relist_after == 0)
                add_runner(false, NULL);
        *o = (struct observation) { .github_known = !w.github_down, .local_known = true, .unit_known = true,
                                    .baseline = w.baseline_ready ? BASELINE_READY : BASELINE_NOT_READY };
        snprintf(o->github_detail, sizeof o->github_detail, "%s", w.github_down ? "GitHub answered 500" : "");
        for (size_t i = 0; !w.github_down && i < w.n_runners; i++) {
                struct obs_runner *r = &o->runners[o->n_runners++];

                *r = (struct obs_runner) { .id = w.r[i].id, .online = w.r[i].online, .busy = w.r[i].busy,
                                           .n_labels = w.r[i].n_labels };
                snprintf(r->name, sizeof r->name, "%s", l->name);
                memcpy(r->labels, w.r[i].labels, sizeof r->labels[0] * w.r[i].n_labels);
        }
        o->local_exists = true;
        o->local_configured = o->local_credentials = w.configured;
        if (w.configured)
                snprintf(o->local_agent_name, sizeof o->local_agent_name, "%s", l->name);
        o->unit_exists = w.unit, o->unit_managed = w.managed;
        snprintf(o->unit_name, sizeof o->unit_name, "lanekeeper-lane@%s.service", l->name);
        snprintf(o->unit_load, sizeof o->unit_load, "%s", w.unit ? "loaded" : "not-found");
        snprintf(o->unit_active, sizeof o->unit_active, "%s", w.active ? "active" : "inactive");
        snprintf(o->unit_sub, sizeof o->unit_sub, "%s", w.active ? "running" : "dead");
        snprintf(o->unit_file_state, sizeof o->unit_file_state, "%s", w.enabled ? "enabled" : "disabled");
        o->main_pid = w.active ? 99 : 0;
        o->main_uid = w.active ? (w.main_uid >= 0 ? w.main_uid : UID) : -1;
        if (w.unit)
                snprintf(o->unit_user, sizeof o->unit_user, "%s", l->user);
        o->n_checks = 1;
        o->checks[0] = (struct baseline_check) { .name = "disk_space",
                                                 .state = w.baseline_ready ? BASELINE_READY : BASELINE_NOT_READY };
        snprintf(o->checks[0].detail, sizeof o->checks[0].detail, "%s", w.baseline_ready ? "enough" : "1 MiB free");
}

struct exec_offer {
        int dummy;
};
static struct exec_offer the_offer;

static int f_offer_start(void *d, const struct lane_desired *l, uid_t uid, struct proto_register *reg,
                         struct exec_offer **ret, char *err, size_t errlen) {
        (void) d;
        ck_assert_int_eq(uid, UID);
        if (failing("offer")) {
                proto_register_wipe(reg);
                return snprintf(err, errlen, "cannot bind the hand-off socket"), -EADDRINUSE;
        }
        ck_assert(!w.offer_pending);
        w.offer_pending = true, w.offer_purge = reg->purge, w.offer_clear = reg->clear_actions, w.offer_taken = w.offer_withdrawn = false;
        snprintf(w.offered_token, sizeof w.offered_token, "%.60s", reg->token);
        proto_register_wipe(reg);
        snprintf(err, errlen, "/run/lanekeeper-register/%s.sock", l->name);
        *ret = &the_offer;
        return 0;
}

static bool f_offer_end(void *d, struct exec_offer *offer, bool withdraw, char *err, size_t errlen) {
        (void) d;
        ck_assert_ptr_eq(offer, &the_offer);
        w.offer_withdrawn = withdraw;
        w.offer_pending = false;
        snprintf(err, errlen, "%s", w.offer_taken ? "" : "the lane's unit did not ask within 60 s");
        return w.offer_taken && !failing("config.sh");
}

static size_t f_unit_procs(void *d, const char *unit, char *buf, size_t size) {
        (void) d, (void) unit;
        snprintf(buf, size, "%s", w.unit_procs ? "123 (Runner.Worker)" : "");
        return w.unit_procs;
}

static size_t f_user_procs(void *d, uid_t uid, const char *unit, char *buf, size_t size) {
        (void) d, (void) unit;
        ck_assert_int_eq(uid, UID);
        snprintf(buf, size, "%s", w.user_procs ? "777 (sleep)" : "");
        return w.user_procs;
}

static size_t f_workers(void *d, const char *unit) {
        (void) d, (void) unit;
        return w.workers;
}

static int f_cache_stats(void *d, const struct lane_desired *l, struct proto_cache_stats *ret) {
        (void) d, (void) l;
        *ret = w.cache;
        return w.cache.measured ? 0 : -ENOENT;
}

static long f_dir_entries(void *d, const struct lane_desired *l) {
        (void) d, (void) l;
        return w.dir_entries;
}

static void f_legacy(void *d, const char *l, char *buf, size_t size, bool *enabled) {
        (void) d, (void) l;
        buf[0] = '\0';
        *enabled = false;
        (void) size;
}

static long long f_now(void *d) {
        (void) d;
        return w.now;
}

static time_t f_wall(void *d) {
        (void) d;
        return 1796000000;
}

static void f_sleep(void *d, long long ms) {
        (void) d;
        w.now += ms;
}

static int f_uid(void *d, const char *user, uid_t *ret) {
        (void) d;
        if (strcmp(user, "runner") != 0)
                return -ENOENT;
        *ret = UID;
        return 0;
}

static int f_lock(void *d, const char *l, int *ret) {
        (void) d, (void) l;
        if (w.locked)
                return -EBUSY;
        *ret = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return *ret < 0 ? -errno : 0;
}

static int f_key_lookup(void *d, const char *key, const char *l, const char *cmd, struct idempotency_result *ret) {
        (void) d, (void) key;
        if (w.key_elsewhere)
                return -EEXIST;
        if (!w.have_key)
                return -ENOENT;
        ck_assert_str_eq(w.key.lane, l);
        ck_assert_str_eq(w.key.command, cmd);
        *ret = w.key;
        return 0;
}

static int f_key_record(void *d, const char *key, const struct idempotency_result *res) {
        (void) d, (void) key;
        ck_assert(!w.have_key);
        w.have_key = true, w.key = *res;
        return 0;
}

static int f_append(void *d, struct json_object *rec, uint64_t *seq) {
        struct json_object *v;

        (void) d;
        if (w.append_fails)
                return -ENOSPC;
        *seq = (uint64_t) ++w.n_records;
        ck_assert(json_object_object_get_ex(rec, "status", &v));
        snprintf(w.last_status, sizeof w.last_status, "%s", json_object_get_string(v));
        w.last_failed[0] = '\0';
        if (json_object_object_get_ex(rec, "failed", &v))
                snprintf(w.last_failed, sizeof w.last_failed, "%s", json_object_get_string(v));
        /* no token ever reaches a record */
        ck_assert_ptr_null(strstr(json_object_to_json_string(rec), "faketoken"));
        return 0;
}

static const struct exec_ops ops = {
        .helper = &fake_helper, .helper_data = NULL, .github = &fake_github, .github_data = &w,
        .github_problem = "none", .observe = f_observe, .offer_start = f_offer_start, .offer_end = f_offer_end,
        .unit_processes = f_unit_procs, .user_processes = f_user_procs, .lane_dir_entries = f_dir_entries,
        .unit_workers = f_workers, .cache_stats = f_cache_stats,
        .legacy_unit = f_legacy, .now_ms = f_now, .wall_time = f_wall, .sleep_ms = f_sleep, .user_uid = f_uid,
        .lock = f_lock, .key_lookup = f_key_lookup, .key_record = f_key_record, .append_record = f_append,
};

/* ---- running it ---- */

static struct exec_result res;

static void setup(void) {
        memset(&w, 0, sizeof w);
        w.main_uid = -1, w.next_id = 100, w.baseline_ready = true, w.dir_entries = 3;
        lane = (struct lane_desired) { .managed = true, .n_labels = 3 };
        strcpy(lane.name, "lane-a");
        strcpy(lane.repository, "acme/site");
        strcpy(lane.host, "h1");
        strcpy(lane.root, "/srv/r");
        strcpy(lane.user, "runner");
        strcpy(lane.labels[0], "self-hosted");
        strcpy(lane.labels[1], "X64");
        strcpy(lane.labels[2], "lanekeeper-managed");
        pol = (struct plan_policy) { .host = "h1", .repositories = repos, .n_repositories = 1, .roots = roots,
                                     .n_roots = 1, .users = users, .n_users = 1 };
}

static enum exec_outcome run(enum exec_cmd cmd, bool purge, bool dry_run) {
        struct exec_request req = {
                .cmd = cmd, .lane = &lane, .pol = &pol, .key = dry_run ? NULL : "key-1", .host = "h1",
                .web_url = "https://github.com/acme/site", .timeout_s = 5, .purge = purge, .dry_run = dry_run,
                .plan = { .this_host = "h1", .same_name_lanes = 1, .confirmed = !dry_run,
                          .idempotency_key = dry_run ? NULL : "key-1" },
        };

        w.calls[0] = '\0';
        return exec_lane(&ops, &req, &res);
}

/* "token offer install-unit ..." : the steps taken, in order. */
static const char *steps(void) {
        static char buf[512];

        buf[0] = '\0';
        for (size_t i = 0; i < res.n_steps; i++)
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? " " : "", res.steps[i].name);
        return buf;
}

/* A lane running under lanekeeper, online with exactly its labels. */
static void supervised(void) {
        w.unit = w.managed = w.active = w.enabled = w.configured = true;
        add_runner(true, NULL);
}

#define ck_steps(want) ck_assert_msg(strcmp(steps(), want) == 0, "steps '%s', expected '%s'", steps(), want)
#define ck_outcome(o) ck_assert_msg(res.outcome == (o), "outcome %s, expected %s (failed: %s, error: %s)",  \
                                    exec_outcome_to_string(res.outcome), exec_outcome_to_string(o),         \
                                    res.failed ?: "-", res.error)

/* ---- every action ---- */

START_TEST(test_create) {
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_int_eq(res.p.action, ACTION_CREATE);
        ck_steps("token offer install-unit daemon-reload enable-now config.sh gates");
        ck_assert_str_eq(w.calls, "install-unit daemon-reload enable-now");
        ck_assert(w.offer_taken && !w.offer_withdrawn);
        ck_assert_str_eq(w.offered_token, "AAAAfaketokenAAAA");
        ck_assert_int_eq(w.n_runners, 1);
        ck_assert_str_eq(w.last_status, "completed");
        ck_assert(w.have_key);
        ck_assert_int_eq(w.key.exit_status, 0);
        ck_assert_int_eq(exec_exit_status(&res), 0);
        ck_assert_int_eq(res.n_gates, 3);
        for (size_t i = 0; i < res.n_gates; i++)
                ck_assert_int_eq(res.gates[i].verdict, VERDICT_PASS);
        ck_assert_reason_has(res.gates[0].detail, "active (running), enabled, main process 99 as runner");
}
END_TEST

START_TEST(test_adopt) {
        w.configured = true;
        add_runner(false, NULL);
        (void) run(EXEC_APPLY, false, false);
        ck_assert_int_eq(res.p.action, ACTION_ADOPT);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("install-unit daemon-reload enable-now gates");
        ck_assert_int_eq(w.r[0].id, 100);   /* the same registration, now supervised */
}
END_TEST

START_TEST(test_reconcile_labels) {
        supervised();
        w.r[0].n_labels = 2;   /* X64 missing... */
        strcpy(w.r[0].labels[1], "lanekeeper-managed");
        (void) run(EXEC_APPLY, false, false);
        ck_assert_int_eq(res.p.action, ACTION_RECONCILE);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("labels gates");
        ck_assert_str_eq(w.calls, "");
        ck_assert_int_eq(w.r[0].n_labels, 3);
}
END_TEST

/* Labels the API cannot remove: taken down, off GitHub, registered again. */
START_TEST(test_reconcile_reregisters) {
        supervised();
        w.r[0].n_labels = 2;
        strcpy(w.r[0].labels[1], "lanekeeper-managed");
        w.readonly_label = true;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("labels stop processes reread deregister unlisted token offer install-unit daemon-reload enable-now "
                 "config.sh gates");
        ck_assert_int_eq(w.n_runners, 1);
        ck_assert_int_eq(w.r[0].id, 101);   /* a new registration, with exactly the desired labels */
}
END_TEST

/* ...but never under a running job: deferred, and the labels gate says so. */
START_TEST(test_reconcile_busy_deferred) {
        supervised();
        w.r[0].n_labels = 2;
        strcpy(w.r[0].labels[1], "lanekeeper-managed");
        w.readonly_label = true;
        w.r[0].busy = true;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_FAILED);
        ck_steps("labels reregister gates");
        ck_assert_str_eq(res.failed, "github_online");
        ck_assert_str_eq(w.calls, "");
        ck_assert_int_eq(exec_exit_status(&res), 4);
}
END_TEST

/* Configured here, unknown to GitHub (its registration deleted): registered again. */
START_TEST(test_reconcile_deleted_registration) {
        w.unit = w.managed = w.active = w.enabled = w.configured = true;
        (void) run(EXEC_APPLY, false, false);
        ck_assert_int_eq(res.p.action, ACTION_RECONCILE);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("token offer install-unit daemon-reload restart config.sh gates");
}
END_TEST

START_TEST(test_restart_inactive) {
        supervised();
        w.active = false;
        (void) run(EXEC_APPLY, false, false);
        ck_assert_int_eq(res.p.action, ACTION_RESTART);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("restart gates");
        ck_assert_str_eq(w.calls, "restart");
}
END_TEST

START_TEST(test_restart_command) {
        supervised();
        (void) run(EXEC_RESTART, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("restart gates");
}
END_TEST

/* The cache check's restart: the clear offered, the unit restarted, the
 * measurement read back; refused while a job runs (GitHub's word or the
 * unit's own Runner.Worker); failed when entries are left. */
static enum exec_outcome run_clear(void) {
        struct exec_request req = {
                .cmd = EXEC_RESTART, .lane = &lane, .pol = &pol, .key = "key-c", .host = "h1", .timeout_s = 5,
                .clear_actions = true, .plan = { .this_host = "h1", .same_name_lanes = 1, .confirmed = true,
                                                 .idempotency_key = "key-c" },
        };

        w.calls[0] = '\0';
        return exec_lane(&ops, &req, &res);
}

START_TEST(test_clear_actions) {
        supervised();
        w.cache = (struct proto_cache_stats) { .entries = 5, .measured = 1700000000 };
        (void) run_clear();
        ck_outcome(EXEC_COMPLETED);
        ck_steps("idle-check clear-actions gates");
        ck_assert_str_eq(w.calls, "restart");
        ck_assert(w.offer_taken && w.offer_clear && !w.offer_purge);
        ck_assert_str_eq(w.last_status, "completed");
        /* entries left behind: failed, named */
        setup();
        supervised();
        w.clear_leaves = true;
        (void) run_clear();
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(res.failed, "clear-actions");
        /* busy on GitHub: refused before anything is done */
        setup();
        supervised();
        w.r[0].busy = true;
        (void) run_clear();
        ck_outcome(EXEC_BLOCKED);
        ck_assert_str_eq(w.calls, "");
        /* idle on GitHub, a job's worker in the unit: nothing restarted */
        setup();
        supervised();
        w.workers = 1;
        (void) run_clear();
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(res.failed, "idle-check");
        ck_assert_str_eq(w.calls, "");
        ck_assert(!w.offer_taken);
}
END_TEST

START_TEST(test_noop) {
        supervised();
        (void) run(EXEC_APPLY, false, false);
        ck_assert_int_eq(res.p.action, ACTION_NOOP);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("gates");
        ck_assert_str_eq(w.calls, "");
}
END_TEST

START_TEST(test_remove) {
        supervised();
        (void) run(EXEC_REMOVE, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("stop processes reread deregister unlisted remove-unit gates");
        ck_assert_str_eq(w.calls, "stop remove-unit");
        ck_assert(!w.unit);
        ck_assert_int_eq(w.n_runners, 0);
        ck_assert_int_eq(res.n_gates, 2);
        ck_assert_int_eq(res.gates[0].id, GATE_UNIT_REMOVED);
        ck_assert_int_eq(res.gates[1].id, GATE_GITHUB_DEREGISTERED);
}
END_TEST

START_TEST(test_remove_purge) {
        supervised();
        (void) run(EXEC_REMOVE, true, false);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("stop processes purge-check reread deregister unlisted purge remove-unit gates");
        ck_assert_str_eq(w.calls, "stop enable-now remove-unit");   /* the purge: the unit's start, failing by design */
        ck_assert(w.offer_taken && w.offer_purge);
        ck_assert_int_eq(w.dir_entries, 0);
}
END_TEST

START_TEST(test_remove_github_only) {
        w.configured = true;
        add_runner(false, NULL);
        (void) run(EXEC_REMOVE, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("reread deregister unlisted gates");
        ck_assert_str_eq(w.calls, "");
}
END_TEST

/* A dry run plans and records, and changes nothing. */
START_TEST(test_dry_run) {
        supervised();
        (void) run(EXEC_REMOVE, false, true);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_int_eq(res.p.action, ACTION_REMOVE);
        ck_steps("");
        ck_assert_str_eq(w.calls, "");
        ck_assert_str_eq(w.last_status, "planned");
        ck_assert(!w.have_key);
}
END_TEST

/* A busy runner blocks a remove, naming its job; nothing is done. */
START_TEST(test_blocked) {
        supervised();
        w.r[0].busy = true;
        (void) run(EXEC_REMOVE, false, false);
        ck_outcome(EXEC_BLOCKED);
        ck_assert_str_eq(w.calls, "");
        ck_assert_str_eq(w.last_status, "refused");
        ck_assert_reason_has(res.busy_job, "job \"integration\" (id 7) of run 6, CI runs on runner 100");
        ck_assert(!w.have_key);   /* free for the same request once resolved */
        ck_assert_int_eq(exec_exit_status(&res), 1);
}
END_TEST

/* ---- every gate failing on its own ---- */

START_TEST(test_gate_unit_alone) {
        supervised();
        w.main_uid = 0;   /* the runner runs as root, not as its user */
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(res.failed, "unit_active");
        ck_assert_int_eq(res.gates[0].verdict, VERDICT_WRONG_USER);
        ck_assert_int_eq(res.gates[1].verdict, VERDICT_PASS);
        ck_assert_int_eq(res.gates[2].verdict, VERDICT_PASS);
        ck_assert_str_eq(w.last_failed, "unit_active");
        ck_assert_int_ge(w.now, 5000);   /* polled until the deadline */
}
END_TEST

START_TEST(test_gate_github_alone) {
        w.runner_stays_offline = true;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(res.failed, "github_online");
        ck_assert_int_eq(res.gates[0].verdict, VERDICT_PASS);
        ck_assert_int_eq(res.gates[1].verdict, VERDICT_RUNNER_OFFLINE);
        ck_assert_int_eq(res.gates[2].verdict, VERDICT_PASS);
        ck_assert_reason_has(res.steps[res.n_steps - 1].detail, "github_online: runner 100 is offline");
}
END_TEST

START_TEST(test_gate_baseline_alone) {
        supervised();
        w.baseline_ready = false;   /* a noop is not blocked by the baseline: its gate fails */
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(res.failed, "baseline_ready");
        ck_assert_int_eq(res.gates[0].verdict, VERDICT_PASS);
        ck_assert_int_eq(res.gates[1].verdict, VERDICT_PASS);
        ck_assert_int_eq(res.gates[2].verdict, VERDICT_BASELINE_NOT_READY);
        ck_assert_str_eq(res.gates[2].detail, "not_ready: disk_space (1 MiB free)");
}
END_TEST

START_TEST(test_gate_unit_removed_alone) {
        supervised();
        w.remove_keeps_unit = true;
        (void) run(EXEC_REMOVE, false, false);
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(res.failed, "unit_removed");
        ck_assert_int_eq(res.gates[1].verdict, VERDICT_PASS);
}
END_TEST

START_TEST(test_gate_deregistered_alone) {
        supervised();
        w.relist_after = 2;   /* gone while "unlisted" looks, listed again by the gates */
        (void) run(EXEC_REMOVE, false, false);
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(res.failed, "github_deregistered");
        ck_assert_int_eq(res.gates[0].verdict, VERDICT_PASS);
        ck_assert_int_eq(res.gates[1].verdict, VERDICT_STILL_LISTED);
}
END_TEST

/* Each verdict, from the observation that earns it (pure). */
static struct observation vo;
static void v_ok(void) {}
static void v_systemd(void) { vo.unit_known = false; }
static void v_no_unit(void) { vo.unit_managed = false; }
static void v_stopped(void) { strcpy(vo.unit_sub, "exited"); }
static void v_disabled(void) { strcpy(vo.unit_file_state, "disabled"); }
static void v_uid(void) { vo.main_uid = 0; }
static void v_github(void) { vo.github_known = false; }
static void v_two(void) { vo.n_runners = 2; }
static void v_offline(void) { vo.runners[0].online = false; }
static void v_labels(void) { strcpy(vo.runners[0].labels[1], "ARM64"); }
static void v_baseline(void) { vo.baseline = BASELINE_UNKNOWN; }
static void v_gone(void) { vo.unit_exists = false; vo.n_runners = 0; }

static const struct {
        enum gate_id gate;
        void (*arrange)(void);
        enum gate_verdict verdict;
        const char *detail;
} verdicts[] = {
        { GATE_UNIT_ACTIVE, v_ok, VERDICT_PASS, "lanekeeper-lane@lane-a.service active (running), enabled" },
        { GATE_UNIT_ACTIVE, v_systemd, VERDICT_SYSTEMD_UNREADABLE, "systemd could not be read" },
        { GATE_UNIT_ACTIVE, v_no_unit, VERDICT_NO_MANAGED_UNIT, "no lanekeeper unit for the lane" },
        { GATE_UNIT_ACTIVE, v_stopped, VERDICT_UNIT_NOT_RUNNING, "is active (exited)" },
        { GATE_UNIT_ACTIVE, v_disabled, VERDICT_UNIT_NOT_ENABLED, "is disabled, not enabled" },
        { GATE_UNIT_ACTIVE, v_uid, VERDICT_WRONG_USER, "runs as uid 0, not runner (4242)" },
        { GATE_GITHUB_ONLINE, v_ok, VERDICT_PASS, "runner 100 online with exactly the desired labels" },
        { GATE_GITHUB_ONLINE, v_github, VERDICT_GITHUB_UNREADABLE, "GitHub could not be read" },
        { GATE_GITHUB_ONLINE, v_two, VERDICT_RUNNER_COUNT, "2 runners named lane-a" },
        { GATE_GITHUB_ONLINE, v_offline, VERDICT_RUNNER_OFFLINE, "runner 100 is offline" },
        { GATE_GITHUB_ONLINE, v_labels, VERDICT_LABELS_DIFFER, "has labels self-hosted,ARM64,lanekeeper-managed" },
        { GATE_BASELINE_READY, v_ok, VERDICT_PASS, "1 checks ready" },
        { GATE_BASELINE_READY, v_baseline, VERDICT_BASELINE_NOT_READY, "unknown:" },
        { GATE_UNIT_REMOVED, v_ok, VERDICT_UNIT_STILL_THERE, "is still there (loaded, active)" },
        { GATE_UNIT_REMOVED, v_gone, VERDICT_PASS, "no unit for the lane" },
        { GATE_UNIT_REMOVED, v_systemd, VERDICT_SYSTEMD_UNREADABLE, "systemd could not be read" },
        { GATE_GITHUB_DEREGISTERED, v_ok, VERDICT_STILL_LISTED, "GitHub still lists runner 100 (online)" },
        { GATE_GITHUB_DEREGISTERED, v_gone, VERDICT_PASS, "GitHub lists no runner named lane-a" },
        { GATE_GITHUB_DEREGISTERED, v_github, VERDICT_GITHUB_UNREADABLE, "GitHub could not be read" },
};

START_TEST(test_gate_verdicts) {
        char detail[GATE_DETAIL_MAX];
        enum gate_verdict v;

        supervised();
        f_observe(NULL, &lane, &vo);
        verdicts[_i].arrange();
        v = gate_eval(verdicts[_i].gate, &vo, &lane, UID);
        ck_assert_msg(v == verdicts[_i].verdict, "%s: %s, expected %s", gate_id_to_string(verdicts[_i].gate),
                      gate_verdict_to_string(v), gate_verdict_to_string(verdicts[_i].verdict));
        gate_describe(verdicts[_i].gate, v, &vo, &lane, UID, detail, sizeof detail);
        ck_assert_reason_has(detail, verdicts[_i].detail);
}
END_TEST

/* ---- a fault at each step ---- */

static const struct {
        const char *fault;
        const char *steps;
        const char *calls;
        bool withdrawn;
} create_faults[] = {
        { "token", "token", "", false },
        { "offer", "token offer", "", false },
        { "install-unit", "token offer install-unit", "install-unit", true },
        { "daemon-reload", "token offer install-unit daemon-reload", "install-unit daemon-reload", true },
        { "enable-now", "token offer install-unit daemon-reload enable-now", "install-unit daemon-reload enable-now", true },
        { "config.sh", "token offer install-unit daemon-reload enable-now config.sh",
          "install-unit daemon-reload enable-now", false },
};

START_TEST(test_create_fault) {
        w.fail = create_faults[_i].fault;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_FAILED);
        ck_steps(create_faults[_i].steps);
        ck_assert_str_eq(w.calls, create_faults[_i].calls);
        ck_assert_str_eq(res.failed, create_faults[_i].fault);
        ck_assert_str_eq(w.last_status, "failed");
        ck_assert_int_eq(w.n_records, 1);
        ck_assert(!w.offer_pending);   /* no offer is left behind */
        ck_assert_int_eq(w.offer_withdrawn, create_faults[_i].withdrawn);
        ck_assert(w.have_key && w.key.exit_status == 4);
}
END_TEST

static const struct {
        const char *fault;
        bool purge;
        const char *steps;
        const char *calls;     /* start-again after a stop: the lane is never left half-removed */
} remove_faults[] = {
        { "stop", false, "stop", "stop" },
        { "processes", false, "stop processes start-again", "stop enable-now" },
        { "reread", false, "stop processes reread start-again", "stop enable-now" },
        { "deregister", false, "stop processes reread deregister start-again", "stop enable-now" },
        { "unlisted", false, "stop processes reread deregister unlisted", "stop" },
        { "remove-unit", false, "stop processes reread deregister unlisted remove-unit", "stop remove-unit" },
        { "purge-check", true, "stop processes purge-check start-again", "stop enable-now" },
        { "purge", true, "stop processes purge-check reread deregister unlisted purge remove-unit",
          "stop enable-now remove-unit" },
};

START_TEST(test_remove_fault) {
        const char *f = remove_faults[_i].fault;

        supervised();
        if (strcmp(f, "processes") == 0)
                w.unit_procs = 1;
        else if (strcmp(f, "reread") == 0)
                w.github_down_after_stop = true;   /* readable for the plan, not after the stop */
        else if (strcmp(f, "unlisted") == 0)
                w.delete_lags = true;
        else if (strcmp(f, "purge-check") == 0)
                w.user_procs = 1;
        else if (strcmp(f, "purge") == 0)
                w.dir_entries = -EACCES;
        else
                w.fail = f;
        (void) run(EXEC_REMOVE, remove_faults[_i].purge, false);
        ck_outcome(EXEC_FAILED);
        ck_steps(remove_faults[_i].steps);
        ck_assert_str_eq(w.calls, remove_faults[_i].calls);
        ck_assert_str_eq(res.failed, f);
        ck_assert_str_eq(w.last_status, "failed");
        ck_assert_str_eq(w.last_failed, f);
}
END_TEST

START_TEST(test_labels_fault) {
        supervised();
        w.r[0].n_labels = 2;
        strcpy(w.r[0].labels[1], "lanekeeper-managed");
        w.fail = "labels";
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_FAILED);
        ck_steps("labels");
        ck_assert_str_eq(res.failed, "labels");
        ck_assert_reason_has(res.steps[0].detail, "GitHub answered 422");
}
END_TEST

/* No record, no claim: a record that cannot be written is an error, and
 * the key stays free for the same request. */
START_TEST(test_record_fault) {
        w.append_fails = true;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_ERROR);
        ck_assert_reason_has(res.error, "cannot write the audit record");
        ck_assert_reason_has(res.error, "the result is not recorded");
        ck_assert(!w.have_key);
        ck_assert_int_eq(exec_exit_status(&res), 2);
}
END_TEST

/* ---- idempotency and the lock ---- */

START_TEST(test_same_key_again) {
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_int_eq(w.n_records, 1);
        w.unit = w.active = false;   /* whatever happened since, the key's result stands */
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_REPEATED);
        ck_assert_str_eq(w.calls, "");
        ck_assert_int_eq(w.n_records, 1);
        ck_assert_str_eq(res.prev.status, "completed");
        ck_assert_int_eq(res.prev.audit_seq, 1);
        ck_assert_int_eq(exec_exit_status(&res), 0);
        ck_assert_int_eq(w.observations, 2);   /* the first run's plan and gates only */
}
END_TEST

START_TEST(test_key_of_another_lane) {
        w.key_elsewhere = true;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_ERROR);
        ck_assert_reason_has(res.error, "used for another lane or command");
        ck_assert_int_eq(w.observations, 0);
        ck_assert_int_eq(w.n_records, 0);
}
END_TEST

START_TEST(test_lane_busy) {
        w.locked = true;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_BUSY);
        ck_assert_int_eq(w.observations, 0);
        ck_assert_int_eq(w.n_records, 0);
        ck_assert_str_eq(w.calls, "");
        ck_assert_int_eq(exec_exit_status(&res), 3);
}
END_TEST

START_TEST(test_no_user) {
        strcpy(lane.user, "nobody");
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_ERROR);
        ck_assert_reason_has(res.error, "no user nobody on this host");
        ck_assert_int_eq(w.n_records, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("exec");
        TCase *actions = tcase_create("actions"), *gates = tcase_create("gates"), *faults = tcase_create("faults"),
              *keys = tcase_create("keys");

        tcase_add_checked_fixture(actions, setup, NULL);
        tcase_add_test(actions, test_create);
        tcase_add_test(actions, test_adopt);
        tcase_add_test(actions, test_reconcile_labels);
        tcase_add_test(actions, test_reconcile_reregisters);
        tcase_add_test(actions, test_reconcile_busy_deferred);
        tcase_add_test(actions, test_reconcile_deleted_registration);
        tcase_add_test(actions, test_restart_inactive);
        tcase_add_test(actions, test_restart_command);
        tcase_add_test(actions, test_clear_actions);
        tcase_add_test(actions, test_noop);
        tcase_add_test(actions, test_remove);
        tcase_add_test(actions, test_remove_purge);
        tcase_add_test(actions, test_remove_github_only);
        tcase_add_test(actions, test_dry_run);
        tcase_add_test(actions, test_blocked);
        suite_add_tcase(s, actions);

        tcase_add_checked_fixture(gates, setup, NULL);
        tcase_add_test(gates, test_gate_unit_alone);
        tcase_add_test(gates, test_gate_github_alone);
        tcase_add_test(gates, test_gate_baseline_alone);
        tcase_add_test(gates, test_gate_unit_removed_alone);
        tcase_add_test(gates, test_gate_deregistered_alone);
        tcase_add_loop_test(gates, test_gate_verdicts, 0, (int) ELEMENTSOF(verdicts));
        suite_add_tcase(s, gates);

        tcase_add_checked_fixture(faults, setup, NULL);
        tcase_add_loop_test(faults, test_create_fault, 0, (int) ELEMENTSOF(create_faults));
        tcase_add_loop_test(faults, test_remove_fault, 0, (int) ELEMENTSOF(remove_faults));
        tcase_add_test(faults, test_labels_fault);
        tcase_add_test(faults, test_record_fault);
        suite_add_tcase(s, faults);

        tcase_add_checked_fixture(keys, setup, NULL);
        tcase_add_test(keys, test_same_key_again);
        tcase_add_test(keys, test_key_of_another_lane);
        tcase_add_test(keys, test_lane_busy);
        tcase_add_test(keys, test_no_user);
        suite_add_tcase(s, keys);
        return run_suite(s);
}
