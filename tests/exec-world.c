/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "exec-world.h"


struct world w;
struct lane_desired lane;
struct plan_policy pol;
struct exec_result res;
static const char *const repos[] = { "acme/site" }, *const roots[] = { "/srv/r" }, *const users[] = { "runner" };

static bool failing(const char *what) {
        return w.fail && strcmp(w.fail, what) == 0;
}

void add_runner(bool online, const char *extra_label) {
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
                if (w.offer_forget) {
                        w.configured = false;
                        return refused(verb, reply);   /* a forget fails the start by design */
                }
                if (w.offer_purge) {
                        w.dir_entries = w.dir_entries < 0 ? w.dir_entries : 0;
                        return refused(verb, reply);   /* a purge fails the start by design */
                }
                if (w.offer_clear) {   /* lanekeeper-register clears, measures, and the runner starts */
                        w.cache = (struct proto_cache_stats) { .entries = w.clear_leaves ? 2 : 0, .measured = 1796000000 };
                        goto run;
                }
                w.configured = true;
                w.cred_stamp += !w.creds_kept;
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
        *reply = (struct helper_reply) { .changed = w.unit && w.unit_same ? 0 : 1 };
        snprintf(reply->unit_name, sizeof reply->unit_name, "lanekeeper-lane@%s.service", req->lane);
        w.unit = w.managed = true;
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
        w.killed_job |= w.workers > 0;
        w.workers = 0;
        for (size_t i = 0; i < w.n_runners; i++) {
                w.killed_job |= w.r[i].busy;
                w.r[i].online = w.r[i].busy = false;   /* a running job is cancelled as the runner stops */
        }
        if (w.slip_on_stop && w.n_runners) {   /* a job reached it as it stopped; it ends 5 s later */
                w.slip_on_stop = false;
                w.r[0].busy = true;
                w.busy_until = w.now + 5000;
        }
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

void f_observe(void *d, const struct lane_desired *l, struct observation *o) {
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
        o->local_configured = o->local_credentials = o->local_rsaparams = w.configured;
        o->local_credentials_stamp = w.configured ? w.cred_stamp : 0;
        if (w.hold.state != HOLD_NONE) {
                snprintf(o->hold, sizeof o->hold, "%s", lane_hold_state_to_string(w.hold.state));
                snprintf(o->hold_since, sizeof o->hold_since, "%s", w.hold.since);
                snprintf(o->hold_reason, sizeof o->hold_reason, "%s", w.hold.reason);
                snprintf(o->hold_credential, sizeof o->hold_credential, "%s", w.hold.credential);
        }
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
        w.offer_forget = reg->forget;
        w.offer_pending = true, w.offer_purge = reg->purge, w.offer_clear = reg->clear_actions || reg->reset_work,
        w.offer_reset = reg->reset_work, w.offer_taken = w.offer_withdrawn = false;
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
        if (w.busy_until && w.now >= w.busy_until) {   /* the job ended */
                w.busy_until = 0;
                w.workers = 0;
                for (size_t i = 0; i < w.n_runners; i++)
                        w.r[i].busy = false;
        }
}

static int f_hold_save(void *d, const char *l, const struct lane_hold *h) {
        (void) d;
        ck_assert_str_eq(l, lane.name);
        if (w.hold_save_fails)
                return -EROFS;
        w.hold = *h;
        w.hold_saves++;
        return 0;
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

static int f_key_record(void *d, const char *key, const struct idempotency_result *k) {
        (void) d, (void) key;
        ck_assert(!w.have_key);
        w.have_key = true, w.key = *k;
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
        w.last_proven[0] = w.last_smoke[0] = '\0';
        if (json_object_object_get_ex(rec, "proven", &v))
                snprintf(w.last_proven, sizeof w.last_proven, "%s", json_object_get_string(v));
        if (json_object_object_get_ex(rec, "smoke", &v))
                snprintf(w.last_smoke, sizeof w.last_smoke, "%s", json_object_to_json_string(v));
        /* no token ever reaches a record */
        ck_assert_ptr_null(strstr(json_object_to_json_string(rec), "faketoken"));
        return 0;
}

const struct exec_ops ops = {
        .helper = &fake_helper, .helper_data = NULL, .github = &fake_github, .github_data = &w,
        .github_problem = "none", .observe = f_observe, .offer_start = f_offer_start, .offer_end = f_offer_end,
        .unit_processes = f_unit_procs, .user_processes = f_user_procs, .lane_dir_entries = f_dir_entries,
        .unit_workers = f_workers, .cache_stats = f_cache_stats,
        .legacy_unit = f_legacy, .now_ms = f_now, .wall_time = f_wall, .sleep_ms = f_sleep, .user_uid = f_uid,
        .lock = f_lock, .key_lookup = f_key_lookup, .key_record = f_key_record, .append_record = f_append,
        .hold_save = f_hold_save,
};

/* ---- running it ---- */


const struct exec_ops *world_ops;

const char *step_detail(const char *name) {
        for (size_t i = 0; i < res.n_steps; i++)
                if (strcmp(res.steps[i].name, name) == 0)
                        return res.steps[i].detail;
        return "(no such step)";
}

void setup(void) {
        memset(&w, 0, sizeof w);
        world_ops = NULL;
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

enum exec_outcome run(enum exec_cmd cmd, bool purge, bool dry_run) {
        struct exec_request req = {
                .cmd = cmd, .lane = &lane, .pol = &pol, .key = dry_run ? NULL : "key-1", .host = "h1",
                .web_url = "https://github.com/acme/site", .timeout_s = 5, .purge = purge, .dry_run = dry_run,
                .reason = w.reason, .credential_fp = w.credential_fp, .idle_wait_s = w.idle_wait_s,
                .prove = w.prove, .plan = { .this_host = "h1", .same_name_lanes = 1, .confirmed = !dry_run,
                          .idempotency_key = dry_run ? NULL : "key-1" },
        };

        w.calls[0] = '\0';
        return exec_lane(world_ops ?: &ops, &req, &res);
}

/* "token offer install-unit ..." : the steps taken, in order. */
const char *steps(void) {
        static char buf[512];

        buf[0] = '\0';
        for (size_t i = 0; i < res.n_steps; i++)
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? " " : "", res.steps[i].name);
        return buf;
}

/* A lane running under lanekeeper, online with exactly its labels. */
void supervised(void) {
        w.unit = w.managed = w.active = w.enabled = w.configured = true;
        add_runner(true, NULL);
}


