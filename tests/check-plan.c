/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The planner, table-driven: every shape, every action, every blocker, and
 * blockers together. Each case starts from a lane that would be created
 * and changes what it needs. */
#include <string.h>

#include "plan.h"
#include "test-util.h"

static struct lane_desired d;
static struct observation o;
static struct plan_policy pol;
static struct plan_request req;
static const char *const repos[] = { "acme/odoo-tenant-cm-website" }, *const orgs[] = { "acme" };
static const char *const roots[] = { "/srv/lanekeeper/runners" }, *const users[] = { "ghrunner" };

static void base(void) {
        d = (struct lane_desired) { .managed = true, .n_labels = 3 };
        strcpy(d.name, "cm-website");
        strcpy(d.repository, "acme/odoo-tenant-cm-website");
        strcpy(d.host, "ci-1");
        strcpy(d.root, "/srv/lanekeeper/runners");
        strcpy(d.user, "ghrunner");
        strcpy(d.labels[0], "self-hosted");
        strcpy(d.labels[1], "lanekeeper-managed");
        strcpy(d.labels[2], "X64");
        o = (struct observation) { .github_known = true, .local_known = true, .unit_known = true,
                                   .baseline = BASELINE_READY };
        pol = (struct plan_policy) { .host = "ci-1", .repositories = repos, .n_repositories = 1,
                                     .organisations = orgs, .n_organisations = 1, .roots = roots, .n_roots = 1,
                                     .users = users, .n_users = 1 };
        req = (struct plan_request) { .intent = INTENT_PLAN, .this_host = "ci-1", .same_name_lanes = 1 };
}

static void gh_runner(bool online, bool managed_label) {
        struct obs_runner *r = &o.runners[o.n_runners++];

        *r = (struct obs_runner) { .id = 40 + (long long) o.n_runners, .online = online, .n_labels = 2 };
        strcpy(r->name, "cm-website");
        strcpy(r->labels[0], "self-hosted");
        strcpy(r->labels[1], "x64");
        if (managed_label)
                strcpy(r->labels[r->n_labels++], "LANEKEEPER-MANAGED");
}

static void managed_unit(const char *active) {
        o.unit_exists = o.unit_managed = true;
        strcpy(o.unit_name, "lanekeeper-lane@cm-website.service");
        strcpy(o.unit_active, active);
        strcpy(o.unit_user, "ghrunner");
        o.local_configured = o.local_credentials = true;
        strcpy(o.local_agent_name, "cm-website");
}

/* ---- the cases ---- */
static void c_absent(void) {}
static void c_adopt(void) { gh_runner(false, true); o.local_configured = o.local_credentials = true; strcpy(o.local_agent_name, "CM-Website"); }
static void c_github_only_no_local(void) { gh_runner(false, true); }
static void c_github_only_online(void) { c_adopt(); o.runners[0].online = true; }
static void c_github_only_busy(void) { c_adopt(); o.runners[0].busy = true; }
static void c_github_only_other_agent(void) { c_adopt(); strcpy(o.local_agent_name, "another"); }
static void c_local_unit_only(void) { managed_unit("active"); }
static void c_local_config_only(void) { o.local_configured = true; }
static void c_active(void) { gh_runner(true, true); managed_unit("active"); }
static void c_inactive(void) { gh_runner(false, true); managed_unit("failed"); }
static void c_mismatched(void) { c_active(); strcpy(o.runners[0].labels[1], "ARM64"); }
static void c_mismatched_extra(void) { c_active(); strcpy(o.runners[0].labels[o.runners[0].n_labels++], "gpu"); }
static void c_github_unknown(void) { o.github_known = false; }
static void c_systemd_unknown(void) { c_active(); o.unit_known = false; }
static void c_local_unknown(void) { o.local_known = false; }
static void c_two_runners(void) { gh_runner(true, true); gh_runner(false, true); }
static void c_unmanaged_unit(void) { o.unit_exists = true; strcpy(o.unit_name, "lanekeeper-lane@cm-website.service"); }
static void c_unmanaged_runner(void) { gh_runner(true, false); }
static void c_unmanaged_and_mismatched(void) { gh_runner(true, false); strcpy(o.runners[0].labels[1], "ARM64"); }
static void c_repo(void) { strcpy(d.repository, "evil/repo"); }
static void c_org_ok(void) { d.repository[0] = '\0'; strcpy(d.organisation, "ACME"); }
static void c_org_bad(void) { d.repository[0] = '\0'; strcpy(d.organisation, "other"); }
static void c_host_policy(void) { pol.host = "ci-2"; }
static void c_host_none(void) { pol.host = NULL; }
static void c_host_here(void) { req.this_host = "laptop"; }
static void c_root(void) { strcpy(d.root, "/home/runner"); }
static void c_user_policy(void) { strcpy(d.user, "root"); }
static void c_user_observed(void) { c_active(); strcpy(o.unit_user, "root"); }
static void c_unit_name(void) { c_active(); strcpy(o.unit_name, "actions.runner.acme-x.cm-website.service"); }
static void c_managed_label(void) { strcpy(d.labels[1], "linux"); }
static void c_dup_files(void) { req.same_name_lanes = 2; }
static void c_unsafe_name(void) { strcpy(d.name, "../etc"); }
static void c_unsafe_root(void) { strcpy(d.root, "/srv/../etc"); }
static void c_baseline(void) { o.baseline = BASELINE_NOT_READY; }
static void c_baseline_unknown_noop(void) { c_active(); o.baseline = BASELINE_UNKNOWN; }
static void c_apply_unconfirmed(void) { req.intent = INTENT_APPLY; }
static void c_apply_confirmed(void) { req.intent = INTENT_APPLY; req.confirmed = true; req.idempotency_key = "k1"; }
static void c_apply_empty_key(void) { c_apply_confirmed(); req.idempotency_key = ""; }
static void c_restart(void) { c_active(); req.intent = INTENT_RESTART; req.confirmed = true; req.idempotency_key = "k"; }
static void c_restart_nothing(void) { req.intent = INTENT_RESTART; req.confirmed = true; req.idempotency_key = "k"; }
static void c_restart_unmanaged(void) { c_unmanaged_unit(); req.intent = INTENT_RESTART; req.confirmed = true; req.idempotency_key = "k"; }
static void c_remove(void) { c_inactive(); o.baseline = BASELINE_NOT_READY; req.intent = INTENT_REMOVE; req.confirmed = true; req.idempotency_key = "k"; }
static void c_remove_unmanaged(void) { c_unmanaged_runner(); req.intent = INTENT_REMOVE; req.confirmed = true; req.idempotency_key = "k"; }
static void c_remove_unmanaged_unit(void) { gh_runner(false, true); c_unmanaged_unit(); req.intent = INTENT_REMOVE; req.confirmed = true; req.idempotency_key = "k"; }
static void c_remove_busy(void) { c_active(); o.runners[0].busy = true; req.intent = INTENT_REMOVE; req.confirmed = true; req.idempotency_key = "k"; }
static void c_unit_root_moved(void) { c_active(); strcpy(o.unit_root, "/srv/elsewhere"); }
static void c_unit_root_same(void) { c_active(); strcpy(o.unit_root, "/srv/lanekeeper/runners"); }
static void c_all_unknown(void) { o.github_known = o.unit_known = o.local_known = false; }
static void c_many(void) { c_repo(); c_baseline(); c_apply_unconfirmed(); }
/* holds: drain, undrain, rotate, revoke, unrevoke */
static void intent(enum plan_intent i) { req.intent = i; req.confirmed = true; req.idempotency_key = "k"; }
static void held(const char *state) { strcpy(o.hold, state); strcpy(o.hold_since, "2026-11-27T10:00:00Z"); strcpy(o.hold_reason, "maintenance"); strcpy(o.hold_credential, "aaaa"); }
static void c_drain(void) { c_active(); o.baseline = BASELINE_NOT_READY; intent(INTENT_DRAIN); }
static void c_drain_nothing(void) { intent(INTENT_DRAIN); }
static void c_drain_revoked(void) { c_active(); held("revoked"); intent(INTENT_DRAIN); }
static void c_apply_drained(void) { c_active(); held("drained"); intent(INTENT_APPLY); }
static void c_restart_draining(void) { c_active(); held("draining"); intent(INTENT_RESTART); }
static void c_plan_revoked(void) { held("revoked"); }
static void c_apply_hold_unreadable(void) { c_active(); strcpy(o.hold, "unknown"); intent(INTENT_APPLY); }
static void c_remove_drained(void) { c_inactive(); held("drained"); intent(INTENT_REMOVE); }
static void c_undrain(void) { c_inactive(); held("drained"); intent(INTENT_UNDRAIN); }
static void c_undrain_not_drained(void) { c_inactive(); intent(INTENT_UNDRAIN); }
static void c_undrain_revoked(void) { c_inactive(); held("revoked"); intent(INTENT_UNDRAIN); }
static void c_rotate(void) { c_active(); intent(INTENT_ROTATE); }
static void c_rotate_busy(void) { c_active(); o.runners[0].busy = true; intent(INTENT_ROTATE); }
static void c_rotate_unregistered(void) { managed_unit("active"); intent(INTENT_ROTATE); }
static void c_revoke_busy(void) { c_active(); o.runners[0].busy = true; intent(INTENT_REVOKE); }
static void c_revoke_github_down(void) { managed_unit("active"); o.github_known = false; o.baseline = BASELINE_UNKNOWN; intent(INTENT_REVOKE); }
static void c_unrevoke(void) { held("revoked"); intent(INTENT_UNREVOKE); req.credential_fp = "bbbb"; }
static void c_unrevoke_same(void) { c_unrevoke(); req.credential_fp = "aaaa"; }
static void c_unrevoke_none(void) { c_unrevoke(); req.credential_fp = NULL; }
static void c_unrevoke_not_revoked(void) { c_unrevoke(); o.hold[0] = '\0'; }
static void c_site_label(void) { pol.managed_label = "launchplane-managed"; }
static void c_site_label_carried(void) { c_site_label(); strcpy(d.labels[1], "launchplane-managed"); }
static void c_site_label_runner(void) { c_site_label_carried(); gh_runner(true, true); }

#define B(x) (1u << BLOCK_##x)
static const struct {
        const char *name;
        void (*arrange)(void);
        enum plan_status status;
        enum plan_action action;
        enum plan_shape shape;
        unsigned blockers;   /* exactly these */
} cases[] = {
        { "absent: create", c_absent, PLAN_READY, ACTION_CREATE, SHAPE_ABSENT, 0 },
        { "github only, registration here: adopt", c_adopt, PLAN_READY, ACTION_ADOPT, SHAPE_GITHUB_ONLY, 0 },
        { "github only, nothing here: stale", c_github_only_no_local, PLAN_BLOCKED, ACTION_ADOPT, SHAPE_GITHUB_ONLY, B(STALE_STATE) },
        { "github only, online elsewhere", c_github_only_online, PLAN_BLOCKED, ACTION_ADOPT, SHAPE_GITHUB_ONLY, B(UNMANAGED_RUNNER) },
        { "github only, busy", c_github_only_busy, PLAN_BLOCKED, ACTION_ADOPT, SHAPE_GITHUB_ONLY, B(UNMANAGED_RUNNER) },
        { "github only, other agent here", c_github_only_other_agent, PLAN_BLOCKED, ACTION_ADOPT, SHAPE_GITHUB_ONLY, B(STALE_STATE) },
        { "managed unit, no runner: reconcile", c_local_unit_only, PLAN_READY, ACTION_RECONCILE, SHAPE_LOCAL_SERVICE_ONLY, 0 },
        { "local config only: reconcile", c_local_config_only, PLAN_READY, ACTION_RECONCILE, SHAPE_LOCAL_SERVICE_ONLY, 0 },
        { "supervised active: noop", c_active, PLAN_READY, ACTION_NOOP, SHAPE_SUPERVISED_ACTIVE, 0 },
        { "supervised inactive: restart", c_inactive, PLAN_READY, ACTION_RESTART, SHAPE_SUPERVISED_INACTIVE, 0 },
        { "labels differ: reconcile", c_mismatched, PLAN_READY, ACTION_RECONCILE, SHAPE_MISMATCHED_LABELS, 0 },
        { "extra label: reconcile", c_mismatched_extra, PLAN_READY, ACTION_RECONCILE, SHAPE_MISMATCHED_LABELS, 0 },
        { "GitHub unreadable", c_github_unknown, PLAN_BLOCKED, ACTION_NOOP, SHAPE_UNKNOWN_CONFLICT, B(LANE_STATUS_UNKNOWN) },
        { "systemd unreadable", c_systemd_unknown, PLAN_BLOCKED, ACTION_NOOP, SHAPE_UNKNOWN_CONFLICT, B(LANE_STATUS_UNKNOWN) },
        { "runner directory unreadable", c_local_unknown, PLAN_BLOCKED, ACTION_NOOP, SHAPE_UNKNOWN_CONFLICT, B(LANE_STATUS_UNKNOWN) },
        { "two runners of one name", c_two_runners, PLAN_BLOCKED, ACTION_NOOP, SHAPE_UNKNOWN_CONFLICT, B(DUPLICATE_LANE) },
        { "unmanaged unit", c_unmanaged_unit, PLAN_BLOCKED, ACTION_NOOP, SHAPE_UNKNOWN_CONFLICT, B(UNMANAGED_RUNNER) },
        { "unmanaged runner", c_unmanaged_runner, PLAN_BLOCKED, ACTION_NOOP, SHAPE_UNKNOWN_CONFLICT, B(UNMANAGED_RUNNER) },
        { "unmanaged runner with other labels", c_unmanaged_and_mismatched, PLAN_BLOCKED, ACTION_NOOP, SHAPE_UNKNOWN_CONFLICT, B(UNMANAGED_RUNNER) },
        { "repository not allowlisted", c_repo, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(REPOSITORY_NOT_ALLOWLISTED) },
        { "organisation allowlisted", c_org_ok, PLAN_READY, ACTION_CREATE, SHAPE_ABSENT, 0 },
        { "organisation not allowlisted", c_org_bad, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(REPOSITORY_NOT_ALLOWLISTED) },
        { "host not the approved one", c_host_policy, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(HOST_NOT_APPROVED) },
        { "no approved host", c_host_none, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(HOST_NOT_APPROVED) },
        { "planned on another host", c_host_here, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(HOST_NOT_APPROVED) },
        { "root outside allowlist", c_root, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(ROOT_OUTSIDE_ALLOWLIST) },
        { "user not allowed", c_user_policy, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(SERVICE_USER_MISMATCH) },
        { "runner runs as another user", c_user_observed, PLAN_BLOCKED, ACTION_NOOP, SHAPE_SUPERVISED_ACTIVE, B(SERVICE_USER_MISMATCH) },
        { "unit name differs", c_unit_name, PLAN_BLOCKED, ACTION_NOOP, SHAPE_SUPERVISED_ACTIVE, B(UNIT_NAME_MISMATCH) },
        { "managed label missing", c_managed_label, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(MISSING_MANAGED_LABEL) },
        { "two lane files", c_dup_files, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(DUPLICATE_LANE) },
        { "unsafe lane name", c_unsafe_name, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(UNSAFE_LANE) },
        { "unsafe root", c_unsafe_root, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(UNSAFE_LANE) | B(ROOT_OUTSIDE_ALLOWLIST) },
        { "baseline not ready", c_baseline, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(BASELINE_NOT_READY) },
        { "baseline unknown, nothing to do", c_baseline_unknown_noop, PLAN_READY, ACTION_NOOP, SHAPE_SUPERVISED_ACTIVE, 0 },
        { "apply unconfirmed", c_apply_unconfirmed, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(UNCONFIRMED_MUTATION) },
        { "apply confirmed", c_apply_confirmed, PLAN_READY, ACTION_CREATE, SHAPE_ABSENT, 0 },
        { "apply without a key", c_apply_empty_key, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(UNCONFIRMED_MUTATION) },
        { "restart a supervised lane", c_restart, PLAN_READY, ACTION_RESTART, SHAPE_SUPERVISED_ACTIVE, 0 },
        { "restart with no unit", c_restart_nothing, PLAN_BLOCKED, ACTION_RESTART, SHAPE_ABSENT, B(STALE_STATE) },
        { "restart an unmanaged unit", c_restart_unmanaged, PLAN_BLOCKED, ACTION_RESTART, SHAPE_UNKNOWN_CONFLICT, B(UNMANAGED_RUNNER) },
        { "remove a supervised lane", c_remove, PLAN_READY, ACTION_REMOVE, SHAPE_SUPERVISED_INACTIVE, 0 },
        { "remove an unmanaged runner", c_remove_unmanaged, PLAN_BLOCKED, ACTION_REMOVE, SHAPE_UNKNOWN_CONFLICT, B(UNMANAGED_RUNNER) },
        { "remove a unit lanekeeper did not write", c_remove_unmanaged_unit, PLAN_BLOCKED, ACTION_REMOVE, SHAPE_UNKNOWN_CONFLICT, B(UNMANAGED_RUNNER) },
        { "remove a runner that is running a job", c_remove_busy, PLAN_BLOCKED, ACTION_REMOVE, SHAPE_SUPERVISED_ACTIVE, B(STALE_STATE) },
        { "managed unit runs the lane from another root", c_unit_root_moved, PLAN_BLOCKED, ACTION_NOOP, SHAPE_SUPERVISED_ACTIVE, B(STALE_STATE) },
        { "managed unit from the lane's root", c_unit_root_same, PLAN_READY, ACTION_NOOP, SHAPE_SUPERVISED_ACTIVE, 0 },
        { "nothing readable", c_all_unknown, PLAN_BLOCKED, ACTION_NOOP, SHAPE_UNKNOWN_CONFLICT, B(LANE_STATUS_UNKNOWN) },
        { "drain a supervised lane (the baseline does not matter)", c_drain, PLAN_READY, ACTION_DRAIN, SHAPE_SUPERVISED_ACTIVE, 0 },
        { "drain with no unit", c_drain_nothing, PLAN_BLOCKED, ACTION_DRAIN, SHAPE_ABSENT, B(STALE_STATE) },
        { "drain a revoked lane", c_drain_revoked, PLAN_BLOCKED, ACTION_DRAIN, SHAPE_SUPERVISED_ACTIVE, B(LANE_HELD) },
        { "apply to a drained lane", c_apply_drained, PLAN_BLOCKED, ACTION_NOOP, SHAPE_SUPERVISED_ACTIVE, B(LANE_HELD) },
        { "restart a draining lane", c_restart_draining, PLAN_BLOCKED, ACTION_RESTART, SHAPE_SUPERVISED_ACTIVE, B(LANE_HELD) },
        { "plan a revoked lane", c_plan_revoked, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(LANE_HELD) },
        { "apply when the hold cannot be read", c_apply_hold_unreadable, PLAN_BLOCKED, ACTION_NOOP, SHAPE_SUPERVISED_ACTIVE, B(LANE_HELD) },
        { "remove a drained lane", c_remove_drained, PLAN_READY, ACTION_REMOVE, SHAPE_SUPERVISED_INACTIVE, 0 },
        { "undrain", c_undrain, PLAN_READY, ACTION_UNDRAIN, SHAPE_SUPERVISED_INACTIVE, 0 },
        { "undrain a lane not drained", c_undrain_not_drained, PLAN_BLOCKED, ACTION_UNDRAIN, SHAPE_SUPERVISED_INACTIVE, B(STALE_STATE) },
        { "undrain a revoked lane", c_undrain_revoked, PLAN_BLOCKED, ACTION_UNDRAIN, SHAPE_SUPERVISED_INACTIVE, B(LANE_HELD) },
        { "rotate an idle lane", c_rotate, PLAN_READY, ACTION_ROTATE, SHAPE_SUPERVISED_ACTIVE, 0 },
        { "rotate a busy runner", c_rotate_busy, PLAN_BLOCKED, ACTION_ROTATE, SHAPE_SUPERVISED_ACTIVE, B(RUNNER_BUSY) },
        { "rotate with no registration", c_rotate_unregistered, PLAN_BLOCKED, ACTION_ROTATE, SHAPE_LOCAL_SERVICE_ONLY, B(STALE_STATE) },
        { "revoke a busy runner", c_revoke_busy, PLAN_READY, ACTION_REVOKE, SHAPE_SUPERVISED_ACTIVE, 0 },
        { "revoke with GitHub unreadable", c_revoke_github_down, PLAN_READY, ACTION_REVOKE, SHAPE_LOCAL_SERVICE_ONLY, 0 },
        { "unrevoke with a new credential", c_unrevoke, PLAN_READY, ACTION_UNREVOKE, SHAPE_ABSENT, 0 },
        { "unrevoke with the same credential", c_unrevoke_same, PLAN_BLOCKED, ACTION_UNREVOKE, SHAPE_ABSENT, B(CREDENTIAL_UNCHANGED) },
        { "unrevoke with no credential", c_unrevoke_none, PLAN_BLOCKED, ACTION_UNREVOKE, SHAPE_ABSENT, B(CREDENTIAL_UNCHANGED) },
        { "unrevoke a lane not revoked", c_unrevoke_not_revoked, PLAN_BLOCKED, ACTION_UNREVOKE, SHAPE_ABSENT, B(STALE_STATE) },
        { "the site's managed label, lane without it", c_site_label, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT, B(MISSING_MANAGED_LABEL) },
        { "the site's managed label carried", c_site_label_carried, PLAN_READY, ACTION_CREATE, SHAPE_ABSENT, 0 },
        { "the site's label: a runner with only lanekeeper's is not managed", c_site_label_runner, PLAN_BLOCKED, ACTION_NOOP, SHAPE_UNKNOWN_CONFLICT, B(UNMANAGED_RUNNER) },
        { "three blockers at once", c_many, PLAN_BLOCKED, ACTION_CREATE, SHAPE_ABSENT,
          B(REPOSITORY_NOT_ALLOWLISTED) | B(BASELINE_NOT_READY) | B(UNCONFIRMED_MUTATION) },
};

START_TEST(test_case) {
        struct plan p;
        unsigned got = 0;

        base();
        cases[_i].arrange();
        plan_lane(&d, &o, &pol, &req, &p);
        for (size_t i = 0; i < p.n_blockers; i++)
                got |= 1u << p.blockers[i].id;
        ck_assert_msg(p.status == cases[_i].status && p.action == cases[_i].action && p.shape == cases[_i].shape &&
                              got == cases[_i].blockers,
                      "%s: got %s/%s/%s blockers 0x%x (%s), want %s/%s/%s 0x%x", cases[_i].name,
                      plan_status_to_string(p.status), plan_action_to_string(p.action), plan_shape_to_string(p.shape), got,
                      p.n_blockers ? p.blockers[0].detail : "-", plan_status_to_string(cases[_i].status),
                      plan_action_to_string(cases[_i].action), plan_shape_to_string(cases[_i].shape), cases[_i].blockers);
        /* Blocked plans say what to do; ready ones with work name the command. */
        if (p.status == PLAN_BLOCKED || p.action != ACTION_NOOP)
                ck_assert_uint_gt(p.n_steps, 0);
        for (size_t i = 0; i < p.n_blockers; i++)
                ck_assert_msg(p.blockers[i].detail[0], "%s: blocker without detail", cases[_i].name);
        /* a hold's blocker says how it is lifted */
        if (plan_has_blocker(&p, BLOCK_LANE_HELD) && strcmp(o.hold, "unknown") != 0 && req.intent != INTENT_DRAIN &&
            req.intent != INTENT_UNDRAIN)
                ck_assert_reason_has(p.blockers[0].detail, strcmp(o.hold, "revoked") == 0 ? "lanectl unrevoke cm-website"
                                                                                         : "lanectl undrain cm-website");
}
END_TEST

/* Every shape, action and blocker is reached by some case above. */
START_TEST(test_coverage) {
        unsigned shapes = 0, actions = 0, blockers = 0;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                shapes |= 1u << cases[i].shape;
                actions |= 1u << cases[i].action;
                blockers |= cases[i].blockers;
        }
        ck_assert_uint_eq(shapes, (1u << _SHAPE_MAX) - 1);
        ck_assert_uint_eq(actions, (1u << (ACTION_UNREVOKE + 1)) - 1);
        ck_assert_uint_eq(blockers, (1u << _BLOCK_MAX) - 1);
}
END_TEST

/* An unknown status names every source that could not be read, with its
 * reason. */
START_TEST(test_unknown_detail) {
        struct plan p;

        base();
        o.github_known = o.unit_known = false;
        strcpy(o.github_detail, "HTTP 502");
        strcpy(o.unit_detail, "no system bus");
        plan_lane(&d, &o, &pol, &req, &p);
        ck_assert(plan_has_blocker(&p, BLOCK_LANE_STATUS_UNKNOWN));
        ck_assert_reason_has(p.blockers[0].detail, "GitHub: HTTP 502");
        ck_assert_reason_has(p.blockers[0].detail, "systemd: no system bus");
        ck_assert_ptr_null(strstr(p.blockers[0].detail, "runner directory"));
        /* the next step names what to make readable, and only that */
        ck_assert_str_eq(p.steps[0], "make GitHub and the system bus (systemd) readable to this user, then plan again");
        o.github_known = true;
        o.local_known = false;
        plan_lane(&d, &o, &pol, &req, &p);
        ck_assert_str_eq(p.steps[0], "make the system bus (systemd) and the runner directory readable to this user, "
                                     "then plan again");
}
END_TEST

/* Ready only when one check was observed and none failed. */
static const struct {
        enum baseline_state states[4];
        size_t n;
        enum baseline_state want;
} overall[] = {
        { {}, 0, BASELINE_UNKNOWN },
        { { BASELINE_UNKNOWN, BASELINE_UNKNOWN }, 2, BASELINE_UNKNOWN },
        { { BASELINE_READY }, 1, BASELINE_READY },
        { { BASELINE_UNKNOWN, BASELINE_READY, BASELINE_UNKNOWN }, 3, BASELINE_READY },
        { { BASELINE_READY, BASELINE_NOT_READY }, 2, BASELINE_NOT_READY },
        { { BASELINE_UNKNOWN, BASELINE_NOT_READY }, 2, BASELINE_NOT_READY },
        { { BASELINE_NOT_READY, BASELINE_READY, BASELINE_READY, BASELINE_READY }, 4, BASELINE_NOT_READY },
};

START_TEST(test_baseline_overall) {
        struct baseline_check c[4] = {};

        for (size_t i = 0; i < overall[_i].n; i++)
                c[i].state = overall[_i].states[i];
        ck_assert_int_eq(baseline_overall(c, overall[_i].n), overall[_i].want);
}
END_TEST

/* There is no "completed": a plan is ready or blocked, nothing else. */
START_TEST(test_names) {
        ck_assert_str_eq(plan_status_to_string(PLAN_READY), "ready");
        ck_assert_str_eq(plan_status_to_string(PLAN_BLOCKED), "blocked");
        ck_assert_ptr_null(plan_status_to_string((enum plan_status) 2));
        for (int s = 0; s < _SHAPE_MAX; s++)
                ck_assert_ptr_nonnull(plan_shape_to_string((enum plan_shape) s));
        for (int b = 0; b < _BLOCK_MAX; b++)
                ck_assert_ptr_nonnull(blocker_to_string((enum blocker_id) b));
        ck_assert_str_eq(plan_shape_to_string(SHAPE_GITHUB_ONLY), "github_only");
        ck_assert_str_eq(blocker_to_string(BLOCK_UNMANAGED_RUNNER), "unmanaged_runner_found");
        ck_assert_ptr_null(blocker_to_string(_BLOCK_MAX));
}
END_TEST

int main(void) {
        Suite *s = suite_create("plan");
        TCase *tc = tcase_create("plan");

        tcase_add_loop_test(tc, test_case, 0, (int) ELEMENTSOF(cases));
        tcase_add_test(tc, test_coverage);
        tcase_add_test(tc, test_unknown_detail);
        tcase_add_loop_test(tc, test_baseline_overall, 0, (int) ELEMENTSOF(overall));
        tcase_add_test(tc, test_names);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
