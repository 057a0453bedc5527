/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drain, undrain, rotate, revoke, unrevoke in the executor's fake world:
 * a running job is never killed by a drain, a job that slips in as the
 * unit stops is run, the hold is written before anything is done and
 * keeps apply from undoing it, a rotate never runs under a job and leaves
 * other credentials, a revoke acts even when GitHub cannot be reached. */
#include <stdlib.h>

#include "exec-world.h"

static const char *labels_of(const struct runner *r) {
        static char buf[256];

        label_list(r->labels, r->n_labels, buf, sizeof buf);
        return buf;
}

static void busy_job(long long ends_ms) {
        w.r[0].busy = true;
        w.workers = 1;
        w.busy_until = ends_ms;
}

START_TEST(test_drain_idle) {
        supervised();
        w.reason = "kernel update";
        (void) run(EXEC_DRAIN, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("hold labels idle stop processes hold gates");
        ck_assert_str_eq(w.calls, "stop");
        ck_assert_str_eq(labels_of(&w.r[0]), "lanekeeper-managed");
        ck_assert_str_eq(res.routed_by, "lanekeeper-managed");
        ck_assert_int_eq(w.hold.state, HOLD_DRAINED);
        ck_assert_str_eq(w.hold.reason, "kernel update");
        ck_assert_str_eq(w.hold.labels, "self-hosted,X64,lanekeeper-managed");
        ck_assert(!w.killed_job);
        ck_assert_str_eq(w.last_status, "completed");
        ck_assert_int_eq(res.n_gates, 2);
}
END_TEST

/* A job running through the drain completes; the unit stops after it. */
START_TEST(test_drain_waits_for_the_job) {
        supervised();
        busy_job(45000);
        w.reason = "r";
        w.idle_wait_s = 3600;
        (void) run(EXEC_DRAIN, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert(!w.killed_job);
        ck_assert_int_ge(w.now, 45000);
        ck_assert_str_eq(w.calls, "stop");
        ck_assert_int_eq(w.hold.state, HOLD_DRAINED);
        ck_assert_reason_has(res.steps[2].detail, "the job ended");
}
END_TEST

/* The job outlives the wait: the lane stays draining, nothing stopped. */
START_TEST(test_drain_deadline) {
        supervised();
        busy_job(0);
        w.reason = "r";
        w.idle_wait_s = 10;
        (void) run(EXEC_DRAIN, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert(res.left_draining);
        ck_assert_str_eq(w.calls, "");
        ck_assert(!w.killed_job);
        ck_assert_int_eq(w.hold.state, HOLD_DRAINING);
        ck_assert_reason_has(res.steps[2].detail, "job \"integration\" (id 7) of run 6, CI");
        ck_assert_reason_has(res.steps[2].detail, "the lane stays draining");
        ck_assert_int_eq(res.n_gates, 1);   /* labels only: the unit still runs the job */
        ck_assert_int_eq(res.gates[0].id, GATE_GITHUB_UNROUTED);
}
END_TEST

/* GitHub hands it a job between the last check and the stop: the unit
 * starts again, the job runs, then the drain stops it. */
START_TEST(test_drain_job_slips_in) {
        supervised();
        w.slip_on_stop = true;
        w.reason = "r";
        w.idle_wait_s = 600;
        (void) run(EXEC_DRAIN, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_str_eq(w.calls, "stop enable-now stop");
        ck_steps("hold labels idle stop processes slipped start-again idle stop processes hold gates");
        ck_assert_int_eq(w.hold.state, HOLD_DRAINED);
}
END_TEST

/* Read-only labels stay: the record says which still route to it. */
START_TEST(test_drain_readonly_labels) {
        supervised();
        w.readonly_label = true;
        w.reason = "r";
        (void) run(EXEC_DRAIN, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_str_eq(res.routed_by, "lanekeeper-managed,Linux");
        ck_assert_reason_has(res.steps[1].detail, "the labels cannot guarantee the drain");
}
END_TEST

/* No hold written, nothing done: apply could otherwise undo it. */
START_TEST(test_drain_hold_unwritable) {
        supervised();
        w.hold_save_fails = true;
        w.reason = "r";
        (void) run(EXEC_DRAIN, false, false);
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(res.failed, "hold");
        ck_assert_str_eq(w.calls, "");
        ck_assert_str_eq(labels_of(&w.r[0]), "self-hosted,X64,lanekeeper-managed");
}
END_TEST

START_TEST(test_apply_refuses_a_drained_lane) {
        supervised();
        w.reason = "r";
        (void) run(EXEC_DRAIN, false, false);
        w.have_key = false;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_BLOCKED);
        ck_assert(plan_has_blocker(&res.p, BLOCK_LANE_HELD));
        ck_assert_reason_has(res.p.blockers[0].detail, "lanectl undrain lane-a");
        ck_assert_str_eq(w.calls, "");
        ck_assert(!w.active);
        w.have_key = false;
        (void) run(EXEC_RESTART, false, false);
        ck_outcome(EXEC_BLOCKED);
}
END_TEST

START_TEST(test_undrain) {
        supervised();
        w.reason = "r";
        (void) run(EXEC_DRAIN, false, false);
        w.have_key = false;
        w.reason = NULL;
        (void) run(EXEC_UNDRAIN, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("labels hold enable-now gates");
        ck_assert_str_eq(labels_of(&w.r[0]), "self-hosted,X64,lanekeeper-managed");
        ck_assert_int_eq(w.hold.state, HOLD_NONE);
        ck_assert(w.active && w.r[0].online);
}
END_TEST

START_TEST(test_undrain_not_drained) {
        supervised();
        (void) run(EXEC_UNDRAIN, false, false);
        ck_outcome(EXEC_BLOCKED);
        ck_assert_str_eq(w.calls, "");
}
END_TEST

START_TEST(test_rotate) {
        supervised();
        w.cred_stamp = 7;
        (void) run(EXEC_ROTATE, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("stop processes reread deregister unlisted token offer install-unit daemon-reload enable-now config.sh "
                 "gates credentials");
        ck_assert_int_eq(res.old_runner_id, 100);
        ck_assert_int_eq(w.r[0].id, 101);
        ck_assert_int_eq(w.cred_stamp, 8);
        ck_assert_str_eq(w.offered_token, "AAAAfaketokenAAAA");
}
END_TEST

/* The registration comes back, but the credentials file is the old one. */
START_TEST(test_rotate_same_credentials) {
        supervised();
        w.creds_kept = true;
        (void) run(EXEC_ROTATE, false, false);
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(res.failed, "credentials");
        ck_assert_reason_has(res.steps[res.n_steps - 1].detail, ".credentials is still the old file");
}
END_TEST

START_TEST(test_rotate_busy) {
        supervised();
        busy_job(0);
        (void) run(EXEC_ROTATE, false, false);
        ck_outcome(EXEC_BLOCKED);
        ck_assert(plan_has_blocker(&res.p, BLOCK_RUNNER_BUSY));
        ck_assert_reason_has(res.busy_job, "job \"integration\" (id 7)");
        ck_assert_str_eq(w.calls, "");
        ck_assert_int_eq(w.r[0].id, 100);
}
END_TEST

START_TEST(test_revoke_kills_the_job) {
        supervised();
        busy_job(0);
        w.reason = "key leaked";
        w.credential_fp = "0123abcd";
        (void) run(EXEC_REVOKE, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("hold stop processes forget deregister unlisted remove-unit gates");
        ck_assert_str_eq(w.calls, "stop enable-now remove-unit");
        ck_assert(w.killed_job);
        ck_assert_reason_has(res.killed_job, "job \"integration\" (id 7) of run 6, CI");
        ck_assert_int_eq(w.hold.state, HOLD_REVOKED);
        ck_assert_str_eq(w.hold.credential, "0123abcd");
        ck_assert_reason_has(w.hold.job, "id 7");
        ck_assert(!w.configured && !w.unit);
        ck_assert_int_eq(w.n_runners, 0);
        ck_assert_int_eq(res.n_gates, 3);
}
END_TEST

/* GitHub cannot be reached (the credential itself may be revoked): the
 * unit stops and the credentials go all the same; the record fails. */
START_TEST(test_revoke_without_github) {
        supervised();
        w.github_down = true;
        w.reason = "r";
        (void) run(EXEC_REVOKE, false, false);
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(w.calls, "stop enable-now remove-unit");
        ck_assert(!w.configured && !w.unit);
        ck_assert_int_eq(w.hold.state, HOLD_REVOKED);
        ck_assert_str_eq(res.failed, "deregister");
}
END_TEST

START_TEST(test_unrevoke) {
        supervised();
        w.reason = "r";
        w.credential_fp = "aaaa";
        (void) run(EXEC_REVOKE, false, false);
        ck_outcome(EXEC_COMPLETED);
        w.have_key = false;
        w.reason = NULL;
        (void) run(EXEC_APPLY, false, false);   /* revoked: apply registers nothing */
        ck_outcome(EXEC_BLOCKED);
        ck_assert_reason_has(res.p.blockers[0].detail, "lanectl unrevoke lane-a");
        w.have_key = false;
        (void) run(EXEC_UNREVOKE, false, false);   /* the same credential */
        ck_outcome(EXEC_BLOCKED);
        ck_assert(plan_has_blocker(&res.p, BLOCK_CREDENTIAL_UNCHANGED));
        ck_assert_int_eq(w.hold.state, HOLD_REVOKED);
        w.credential_fp = "bbbb";
        (void) run(EXEC_UNREVOKE, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_steps("hold");
        ck_assert_int_eq(w.hold.state, HOLD_NONE);
        w.have_key = false;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_int_eq(res.p.action, ACTION_CREATE);
}
END_TEST

/* ---- apply --smoke: the proof hook ---- */

struct proof_fake {
        bool pass;
        int calls;
        long long runner_id;
        char lane[PROTO_LANE_NAME_MAX + 1];
};

static bool fake_prove(void *data, const struct lane_desired *d, long long runner_id, struct json_object **ret,
                       char *detail, size_t size) {
        struct proof_fake *p = data;

        p->calls++;
        p->runner_id = runner_id;
        snprintf(p->lane, sizeof p->lane, "%s", d->name);
        *ret = json_object_new_object();
        json_object_object_add(*ret, "passed", json_object_new_boolean(p->pass));
        snprintf(detail, size, "%s", p->pass ? "run 7 on runner lane-a" : "the job ran on runner lane-other");
        return p->pass;
}

START_TEST(test_apply_smoke_proven) {
        struct proof_fake pf = { .pass = true };
        struct exec_prove pr = { .run = fake_prove, .data = &pf };

        w.prove = &pr;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_int_eq(pf.calls, 1);
        ck_assert_str_eq(pf.lane, "lane-a");
        ck_assert_int_eq(pf.runner_id, w.r[0].id);   /* the registration the gates saw */
        ck_assert_int_eq(res.proof, PROOF_PROVEN);
        ck_assert_str_eq(res.proof_detail, "run 7 on runner lane-a");
        ck_assert_str_eq(w.last_status, "completed");
        ck_assert_str_eq(w.last_proven, "true");
        ck_assert_str_eq(w.last_smoke, "{ \"passed\": true }");
        ck_assert_int_eq(exec_exit_status(&res), 0);
        ck_assert_int_eq(res.n_gates, 3);   /* the gates stay in the record */
        ck_assert(res.gates_checked);
}
END_TEST

/* Not proven: the lane stays applied (completed, the key taken), the
 * record says so, the exit status 5. */
START_TEST(test_apply_smoke_not_proven) {
        struct proof_fake pf = { .pass = false };
        struct exec_prove pr = { .run = fake_prove, .data = &pf };

        w.prove = &pr;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_int_eq(res.proof, PROOF_NOT_PROVEN);
        ck_assert_str_eq(w.last_status, "completed");
        ck_assert_str_eq(w.last_proven, "false");
        ck_assert_int_eq(w.unit && w.active, true);   /* nothing taken down */
        ck_assert_int_eq(w.n_runners, 1);
        ck_assert_int_eq(exec_exit_status(&res), 5);
        ck_assert(w.have_key);
        ck_assert_int_eq(w.key.exit_status, 5);       /* the same key again answers the same */
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_REPEATED);
        ck_assert_int_eq(pf.calls, 1);
        ck_assert_int_eq(exec_exit_status(&res), 5);
}
END_TEST

/* No smoke unless every gate passed, and only for apply. */
START_TEST(test_apply_smoke_only_after_the_gates) {
        struct proof_fake pf = { .pass = true };
        struct exec_prove pr = { .run = fake_prove, .data = &pf };

        w.prove = &pr;
        w.runner_stays_offline = true;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_FAILED);
        ck_assert_int_eq(pf.calls, 0);
        ck_assert_int_eq(res.proof, PROOF_NOT_ASKED);
        ck_assert_str_eq(w.last_proven, "");
        ck_assert_int_eq(exec_exit_status(&res), 4);
        setup();
        supervised();
        w.prove = &pr;
        (void) run(EXEC_RESTART, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_int_eq(pf.calls, 0);
        ck_assert_str_eq(w.last_proven, "");
}
END_TEST

int main(void) {
        Suite *s = suite_create("exec-hold");
        TCase *drain = tcase_create("drain"), *rotate = tcase_create("rotate"), *revoke = tcase_create("revoke");

        tcase_add_checked_fixture(drain, setup, NULL);
        tcase_add_test(drain, test_drain_idle);
        tcase_add_test(drain, test_drain_waits_for_the_job);
        tcase_add_test(drain, test_drain_deadline);
        tcase_add_test(drain, test_drain_job_slips_in);
        tcase_add_test(drain, test_drain_readonly_labels);
        tcase_add_test(drain, test_drain_hold_unwritable);
        tcase_add_test(drain, test_apply_refuses_a_drained_lane);
        tcase_add_test(drain, test_undrain);
        tcase_add_test(drain, test_undrain_not_drained);
        suite_add_tcase(s, drain);

        tcase_add_checked_fixture(rotate, setup, NULL);
        tcase_add_test(rotate, test_rotate);
        tcase_add_test(rotate, test_rotate_same_credentials);
        tcase_add_test(rotate, test_rotate_busy);
        suite_add_tcase(s, rotate);

        tcase_add_checked_fixture(revoke, setup, NULL);
        tcase_add_test(revoke, test_revoke_kills_the_job);
        tcase_add_test(revoke, test_revoke_without_github);
        tcase_add_test(revoke, test_unrevoke);
        tcase_add_test(revoke, test_apply_smoke_proven);
        tcase_add_test(revoke, test_apply_smoke_not_proven);
        tcase_add_test(revoke, test_apply_smoke_only_after_the_gates);
        suite_add_tcase(s, revoke);
        return run_suite(s);
}
