/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executor with fakes: a small world (a unit, GitHub's runners, the
 * lane directory, a store) that the fake helper and GitHub change as the
 * real ones would. Every action, every gate failing on its own, a fault at
 * each step, idempotency and the lock; each asserting the outcome, the
 * steps taken, what changed in the world and what was recorded. */
#include <stdlib.h>

#include "exec-world.h"

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

/* systemd's side of a daemon-reload, as observe_unit_needs_reload reads
 * it: LOADED says systemd holds an older copy of the unit. */
static bool loaded;
static int f_needs_reload(void *data, const char *unit, char *why, size_t size) {
        (void) data;
        ck_assert_str_eq(unit, "lanekeeper-lane@lane-a.service");
        snprintf(why, size, loaded ? "loaded, its file changed" : "systemd has not loaded it");
        return loaded ? 1 : 0;
}

static struct exec_ops reload_ops;
static void with_reload_check(bool is_loaded) {
        reload_ops = ops;
        reload_ops.unit_needs_reload = f_needs_reload;
        world_ops = &reload_ops;
        loaded = is_loaded;
}

/* A new unit is read by systemd when it starts: no daemon-reload. */
START_TEST(test_create_no_reload) {
        with_reload_check(false);
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("token offer install-unit daemon-reload enable-now config.sh gates");
        ck_assert_str_eq(w.calls, "install-unit enable-now");
        ck_assert_reason_has(step_detail("daemon-reload"), "skipped: systemd has not loaded it");
}
END_TEST

/* A unit systemd holds loaded from an older file is reloaded. */
START_TEST(test_adopt_reload_when_loaded) {
        with_reload_check(true);
        w.configured = true;
        add_runner(false, NULL);
        (void) run(EXEC_APPLY, false, false);
        ck_assert_int_eq(res.p.action, ACTION_ADOPT);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_str_eq(w.calls, "install-unit daemon-reload enable-now");
        ck_assert_reason_has(step_detail("daemon-reload"), "ok: loaded, its file changed");
}
END_TEST

/* A unit file written as it was needs nothing, loaded or not. */
START_TEST(test_reregister_unchanged_no_reload) {
        with_reload_check(true);
        supervised();
        w.unit_same = true;
        w.r[0].n_labels = 2;
        strcpy(w.r[0].labels[1], "lanekeeper-managed");
        w.readonly_label = true;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_reason_has(step_detail("daemon-reload"), "skipped: lanekeeper-lane@lane-a.service is unchanged");
        ck_assert_ptr_null(strstr(w.calls, "daemon-reload"));
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
static enum exec_outcome run_clear_or_reset(bool reset) {
        struct exec_request req = {
                .cmd = EXEC_RESTART, .lane = &lane, .pol = &pol, .key = "key-c", .host = "h1", .timeout_s = 5,
                .clear_actions = !reset, .reset_work = reset, .plan = { .this_host = "h1", .same_name_lanes = 1, .confirmed = true,
                                                 .idempotency_key = "key-c" },
        };

        w.calls[0] = '\0';
        return exec_lane(&ops, &req, &res);
}

static enum exec_outcome run_clear(void) {
        return run_clear_or_reset(false);
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

/* gate run's reset: stopped and seen empty first, then the reset offered
 * and the unit started; nothing offered while a process stays, and the
 * unit started again; refused while a job runs. */
START_TEST(test_reset_work) {
        supervised();
        w.cache = (struct proto_cache_stats) { .entries = 5, .measured = 1700000000 };
        (void) run_clear_or_reset(true);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("idle-check stop processes reset-work gates");
        ck_assert_str_eq(w.calls, "stop restart");
        ck_assert(w.offer_taken && w.offer_reset && !w.offer_purge);
        ck_assert_uint_eq(w.cache.entries, 0);
        /* a process outlives the stop: no reset offered, the lane started again */
        setup();
        supervised();
        w.unit_procs = 1;
        (void) run_clear_or_reset(true);
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(res.failed, "processes");
        ck_assert_str_eq(w.calls, "stop enable-now");
        ck_assert(!w.offer_taken && !w.offer_reset);
        /* busy on GitHub: refused before anything is done */
        setup();
        supervised();
        w.r[0].busy = true;
        (void) run_clear_or_reset(true);
        ck_outcome(EXEC_BLOCKED);
        ck_assert_str_eq(w.calls, "");
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
        struct gate_ctx c = { .d = &lane, .uid = UID };

        supervised();
        f_observe(NULL, &lane, &vo);
        verdicts[_i].arrange();
        v = gate_eval(verdicts[_i].gate, &vo, &c);
        ck_assert_msg(v == verdicts[_i].verdict, "%s: %s, expected %s", gate_id_to_string(verdicts[_i].gate),
                      gate_verdict_to_string(v), gate_verdict_to_string(verdicts[_i].verdict));
        gate_describe(verdicts[_i].gate, v, &vo, &c, detail, sizeof detail);
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
        tcase_add_test(actions, test_create_no_reload);
        tcase_add_test(actions, test_adopt_reload_when_loaded);
        tcase_add_test(actions, test_reregister_unchanged_no_reload);
        tcase_add_test(actions, test_reconcile_labels);
        tcase_add_test(actions, test_reconcile_reregisters);
        tcase_add_test(actions, test_reconcile_busy_deferred);
        tcase_add_test(actions, test_reconcile_deleted_registration);
        tcase_add_test(actions, test_restart_inactive);
        tcase_add_test(actions, test_restart_command);
        tcase_add_test(actions, test_clear_actions);
        tcase_add_test(actions, test_reset_work);
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
