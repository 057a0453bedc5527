/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "plan.h"

static const char *const status_names[] = { "ready", "blocked" };
static const char *const action_names[] = {
        "create", "adopt", "reconcile", "restart", "remove", "noop", "drain", "undrain", "rotate", "revoke", "unrevoke",
};
static const char *const shape_names[_SHAPE_MAX] = {
        "absent", "github_only", "local_service_only", "supervised_active", "supervised_inactive",
        "mismatched_labels", "unknown_conflict",
};
static const char *const blocker_names[_BLOCK_MAX] = {
        "repository_not_allowlisted", "host_not_approved", "root_outside_allowlist", "missing_managed_label",
        "unmanaged_runner_found", "duplicate_lane", "lane_status_unknown", "service_user_mismatch",
        "unit_name_mismatch", "unsafe_lane", "stale_state", "baseline_not_ready", "mutation_not_confirmed",
        "lane_held", "runner_busy", "credential_unchanged",
};

const char *plan_managed_label(const struct plan_policy *pol) {
        return pol && pol->managed_label && *pol->managed_label ? pol->managed_label : LANE_MANAGED_LABEL;
}

const char *plan_status_to_string(enum plan_status s) {
        return (unsigned) s < ELEMENTSOF(status_names) ? status_names[s] : NULL;
}
const char *plan_action_to_string(enum plan_action a) {
        return (unsigned) a < ELEMENTSOF(action_names) ? action_names[a] : NULL;
}
const char *plan_shape_to_string(enum plan_shape s) {
        return (unsigned) s < ELEMENTSOF(shape_names) ? shape_names[s] : NULL;
}
const char *blocker_to_string(enum blocker_id b) {
        return (unsigned) b < ELEMENTSOF(blocker_names) ? blocker_names[b] : NULL;
}

static const char *const baseline_names[] = { "ready", "not_ready", "unknown" };

const char *baseline_state_to_string(enum baseline_state s) {
        return (unsigned) s < ELEMENTSOF(baseline_names) ? baseline_names[s] : NULL;
}

enum baseline_state baseline_overall(const struct baseline_check *checks, size_t n) {
        bool observed = false;

        for (size_t i = 0; i < n; i++) {
                if (checks[i].state == BASELINE_NOT_READY)
                        return BASELINE_NOT_READY;
                if (checks[i].state == BASELINE_READY)
                        observed = true;
        }
        return observed ? BASELINE_READY : BASELINE_UNKNOWN;
}

bool plan_has_blocker(const struct plan *p, enum blocker_id id) {
        for (size_t i = 0; i < p->n_blockers; i++)
                if (p->blockers[i].id == id)
                        return true;
        return false;
}

_printf_(3, 4)
static void block(struct plan *p, enum blocker_id id, const char *fmt, ...) {
        va_list ap;

        if (plan_has_blocker(p, id) || p->n_blockers >= _BLOCK_MAX)
                return;   /* one entry per blocker id, the first reason kept */
        p->blockers[p->n_blockers].id = id;
        va_start(ap, fmt);
        vsnprintf(p->blockers[p->n_blockers].detail, sizeof p->blockers[0].detail, fmt, ap);
        va_end(ap);
        p->n_blockers++;
}

_printf_(2, 3)
static void step(struct plan *p, const char *fmt, ...) {
        va_list ap;

        if (p->n_steps >= PLAN_MAX_STEPS)
                return;
        va_start(ap, fmt);
        vsnprintf(p->steps[p->n_steps++], sizeof p->steps[0], fmt, ap);
        va_end(ap);
}

static bool in_list(const char *const *list, size_t n, const char *s) {
        for (size_t i = 0; s && *s && i < n; i++)
                if (strcasecmp(list[i], s) == 0)
                        return true;
        return false;
}

static bool runner_has_label(const struct obs_runner *r, const char *label) {
        for (size_t i = 0; i < r->n_labels; i++)
                if (strcasecmp(r->labels[i], label) == 0)
                        return true;
        return false;
}

/* The runner carries exactly the desired labels (GitHub compares without case). */
static bool labels_match(const struct lane_desired *d, const struct obs_runner *r) {
        if (r->n_labels != d->n_labels)
                return false;
        for (size_t i = 0; i < d->n_labels; i++)
                if (!runner_has_label(r, d->labels[i]))
                        return false;
        return true;
}

/* Policy and desired state: blockers that hold whatever was observed. */
static void check_policy(const struct lane_desired *d, const struct plan_policy *pol, const struct plan_request *req,
                         struct plan *p) {
        const char *reason;

        if (proto_validate_lane_name(d->name, &reason) < 0)
                block(p, BLOCK_UNSAFE_LANE, "lane name %s", reason);
        if (proto_validate_abs_subpath(d->root, &reason) < 0)
                block(p, BLOCK_UNSAFE_LANE, "registration root %s", reason);
        if (d->repository[0] ? !in_list(pol->repositories, pol->n_repositories, d->repository)
                             : !in_list(pol->organisations, pol->n_organisations, d->organisation))
                block(p, BLOCK_REPOSITORY_NOT_ALLOWLISTED, "%s '%s' is not allowlisted by the policy",
                      d->repository[0] ? "repository" : "organisation", d->repository[0] ? d->repository : d->organisation);
        if (!pol->host || strcasecmp(pol->host, d->host) != 0)
                block(p, BLOCK_HOST_NOT_APPROVED, "host '%s' is not the policy's approved host", d->host);
        else if (!req->this_host || strcasecmp(req->this_host, d->host) != 0)
                block(p, BLOCK_HOST_NOT_APPROVED, "the lane belongs to host '%s', this is '%s'", d->host,
                      req->this_host ?: "unknown");
        if (!in_list(pol->roots, pol->n_roots, d->root))
                block(p, BLOCK_ROOT_OUTSIDE_ALLOWLIST, "root '%s' is not a registration root of the policy", d->root);
        if (!in_list(pol->users, pol->n_users, d->user))
                block(p, BLOCK_SERVICE_USER_MISMATCH, "user '%s' is not a runner user of the policy", d->user);
        if (d->managed && !lane_has_label(d, plan_managed_label(pol)))
                block(p, BLOCK_MISSING_MANAGED_LABEL, "a managed lane must carry the label '%s'", plan_managed_label(pol));
        if (req->same_name_lanes > 1)
                block(p, BLOCK_DUPLICATE_LANE, "%zu lane files declare '%s'", req->same_name_lanes, d->name);
}

/* What is there: the shape, and the blockers that come with it. */
static void classify(const struct lane_desired *d, const struct observation *o, const char *managed,
                     bool github_needed, struct plan *p) {
        const struct obs_runner *r = o->n_runners == 1 ? &o->runners[0] : NULL;
        bool local = o->local_configured || o->unit_exists;
        char unit[128];

        if ((github_needed && !o->github_known) || !o->unit_known || !o->local_known) {
                p->shape = SHAPE_UNKNOWN_CONFLICT;
                /* every source that could not be read, each with its reason */
                char why[sizeof p->blockers[0].detail] = "";
                size_t len = 0;

                if (github_needed && !o->github_known)
                        len += (size_t) snprintf(why + len, sizeof why - len, "GitHub: %s; ",
                                                 o->github_detail[0] ? o->github_detail : "not read");
                if (!o->unit_known && len < sizeof why)
                        len += (size_t) snprintf(why + len, sizeof why - len, "systemd: %s; ",
                                                 o->unit_detail[0] ? o->unit_detail : "not read");
                if (!o->local_known && len < sizeof why)
                        snprintf(why + len, sizeof why - len, "the runner directory: %s; ",
                                 o->local_detail[0] ? o->local_detail : "not read");
                block(p, BLOCK_LANE_STATUS_UNKNOWN, "%snothing is guessed", why);
                return;
        }
        if (o->n_runners > 1) {
                p->shape = SHAPE_UNKNOWN_CONFLICT;
                block(p, BLOCK_DUPLICATE_LANE, "%zu GitHub runners are named '%s' (compared without case)", o->n_runners,
                      d->name);
                return;
        }
        if (proto_unit_name_for_lane(d->name, unit, sizeof unit) < 0)
                unit[0] = '\0';   /* an unsafe name is blocked already; no unit name to compare */
        if (o->unit_exists && !o->unit_managed) {
                p->shape = SHAPE_UNKNOWN_CONFLICT;
                block(p, BLOCK_UNMANAGED_RUNNER, "unit %s exists but was not written by lanekeeper",
                      o->unit_name[0] ? o->unit_name : unit[0] ? unit : "of this lane");
                return;
        }
        if (o->unit_exists && o->unit_name[0] && unit[0] && strcmp(o->unit_name, unit) != 0)
                block(p, BLOCK_UNIT_NAME_MISMATCH, "the lane's unit is %s, expected %s", o->unit_name, unit);
        if (o->unit_exists && o->unit_user[0] && strcmp(o->unit_user, d->user) != 0)
                block(p, BLOCK_SERVICE_USER_MISMATCH, "the unit runs the runner as '%s', the lane says '%s'", o->unit_user,
                      d->user);
        if (o->unit_exists && o->unit_managed && o->unit_root[0] && strcmp(o->unit_root, d->root) != 0)
                block(p, BLOCK_STALE_STATE, "the unit runs the lane from %s, the lane file says %s", o->unit_root, d->root);
        if (r && !runner_has_label(r, managed) && !o->unit_managed) {
                p->shape = SHAPE_UNKNOWN_CONFLICT;
                block(p, BLOCK_UNMANAGED_RUNNER, "GitHub runner %lld '%s' lacks the label '%s'", r->id, r->name,
                      managed);
                return;
        }
        if (!r && !local)
                p->shape = SHAPE_ABSENT;
        else if (r && !o->unit_exists)
                p->shape = SHAPE_GITHUB_ONLY;
        else if (!r)
                p->shape = SHAPE_LOCAL_SERVICE_ONLY;
        else if (!labels_match(d, r))
                p->shape = SHAPE_MISMATCHED_LABELS;
        else
                p->shape = strcmp(o->unit_active, "active") == 0 ? SHAPE_SUPERVISED_ACTIVE : SHAPE_SUPERVISED_INACTIVE;
}

static void choose_apply(const struct observation *o, struct plan *p) {
        const struct obs_runner *r = o->n_runners == 1 ? &o->runners[0] : NULL;

        switch (p->shape) {
        case SHAPE_ABSENT:
                p->action = ACTION_CREATE;
                break;
        case SHAPE_GITHUB_ONLY:
                /* Registered, not supervised here: adopt only what this host
                 * holds the registration of, and never a runner that is busy
                 * or online under another supervisor. */
                p->action = ACTION_ADOPT;
                if (!o->local_configured || !o->local_credentials)
                        block(p, BLOCK_STALE_STATE, "GitHub knows runner %lld but this host holds no registration for it",
                              r ? r->id : 0);
                else if (r && !o->local_agent_name[0])
                        block(p, BLOCK_STALE_STATE, "the local registration (.runner) cannot be read to compare it with "
                              "runner %lld; make it readable to the maintainer's group", r->id);
                else if (r && strcasecmp(o->local_agent_name, r->name) != 0)
                        block(p, BLOCK_STALE_STATE, "the local registration is for '%s', not '%s'", o->local_agent_name,
                              r->name);
                else if (r && (r->online || r->busy))
                        block(p, BLOCK_UNMANAGED_RUNNER, "runner %lld is %s under another supervisor; stop it first",
                              r->id, r->busy ? "busy" : "online");
                break;
        case SHAPE_LOCAL_SERVICE_ONLY:
        case SHAPE_MISMATCHED_LABELS:
                p->action = ACTION_RECONCILE;
                break;
        case SHAPE_SUPERVISED_INACTIVE:
                p->action = ACTION_RESTART;
                break;
        case SHAPE_SUPERVISED_ACTIVE:
                p->action = ACTION_NOOP;
                break;
        case SHAPE_UNKNOWN_CONFLICT:
        case _SHAPE_MAX:
                p->action = ACTION_NOOP;
                break;
        }
}

static void next_steps(const struct lane_desired *d, const struct observation *o, struct plan *p) {
        for (size_t i = 0; i < p->n_blockers; i++)
                switch (p->blockers[i].id) {
                case BLOCK_REPOSITORY_NOT_ALLOWLISTED:
                case BLOCK_HOST_NOT_APPROVED:
                case BLOCK_ROOT_OUTSIDE_ALLOWLIST:
                        step(p, "fix the lane file or ask root to allow it in /etc/lanekeeper/policy.conf");
                        break;
                case BLOCK_UNMANAGED_RUNNER:
                        step(p, "retire the runner that lanekeeper does not manage, then plan again");
                        break;
                case BLOCK_LANE_STATUS_UNKNOWN:
                        step(p, "make %s%s%s%s%s readable to this user, then plan again",
                             !o->github_known ? "GitHub" : "",
                             !o->github_known && (!o->unit_known || !o->local_known) ? " and " : "",
                             !o->unit_known ? "the system bus (systemd)" : "",
                             !o->unit_known && !o->local_known ? " and " : "",
                             !o->local_known ? "the runner directory" : "");
                        break;
                case BLOCK_UNCONFIRMED_MUTATION:
                        step(p, "repeat with --confirm %s and an idempotency key", d->name);
                        break;
                case BLOCK_BASELINE_NOT_READY:
                        step(p, "fix the baseline checks that are not ready");
                        break;
                case BLOCK_LANE_HELD:
                case BLOCK_RUNNER_BUSY:
                case BLOCK_CREDENTIAL_UNCHANGED:
                case BLOCK_MISSING_MANAGED_LABEL:
                case BLOCK_DUPLICATE_LANE:
                case BLOCK_SERVICE_USER_MISMATCH:
                case BLOCK_UNIT_NAME_MISMATCH:
                case BLOCK_UNSAFE_LANE:
                case BLOCK_STALE_STATE:
                case _BLOCK_MAX:
                        step(p, "resolve: %s", p->blockers[i].detail);
                        break;
                }
        if (p->n_blockers == 0 && p->action <= ACTION_RESTART)
                step(p, "lanectl apply %s --confirm %s", d->name, d->name);
        else if (p->n_blockers == 0 && p->action != ACTION_NOOP)
                step(p, "lanectl %s %s --confirm %s", plan_action_to_string(p->action), d->name, d->name);
}

/* ": disk_space, cgroup_v2" for the checks that are not ready, or "". */
static const char *failing_checks(const struct observation *o, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < o->n_checks && len < size; i++)
                if (o->checks[i].state == BASELINE_NOT_READY && o->checks[i].name)
                        len += (size_t) snprintf(buf + len, size - len, "%s%s", len ? ", " : ": ", o->checks[i].name);
        return buf;
}

/* A hold (drain, revoke) blocks what would put the lane back to work. */
static void check_hold(const struct lane_desired *d, const struct observation *o, struct plan *p) {
        if (!o->hold[0])
                return;
        if (strcmp(o->hold, "unknown") == 0)
                block(p, BLOCK_LANE_HELD, "whether the lane is drained or revoked cannot be read: %s", o->hold_reason);
        else
                block(p, BLOCK_LANE_HELD, "the lane is %s since %s (%s); lanectl %s %s lifts it", o->hold,
                      o->hold_since, o->hold_reason, strcmp(o->hold, "revoked") == 0 ? "unrevoke" : "undrain", d->name);
}

static bool managed_unit(const struct observation *o) {
        return o->unit_exists && o->unit_managed;
}

/* drain, undrain, rotate, revoke, unrevoke. */
static void choose_hold(const struct lane_desired *d, const struct observation *o, const struct plan_request *req,
                        struct plan *p) {
        const struct obs_runner *r = o->n_runners == 1 ? &o->runners[0] : NULL;
        bool revoked = strcmp(o->hold, "revoked") == 0, unknown = strcmp(o->hold, "unknown") == 0;

        if (unknown)
                check_hold(d, o, p);
        switch (req->intent) {
        case INTENT_DRAIN:
                p->action = ACTION_DRAIN;
                if (revoked)
                        block(p, BLOCK_LANE_HELD, "the lane is revoked since %s: nothing to drain", o->hold_since);
                if (!managed_unit(o))
                        block(p, BLOCK_STALE_STATE, "there is no lanekeeper unit to drain");
                break;
        case INTENT_UNDRAIN:
                p->action = ACTION_UNDRAIN;
                if (revoked)
                        block(p, BLOCK_LANE_HELD, "the lane is revoked, not drained: lanectl unrevoke %s", d->name);
                else if (!unknown && strcmp(o->hold, "draining") != 0 && strcmp(o->hold, "drained") != 0)
                        block(p, BLOCK_STALE_STATE, "the lane is not drained");
                if (!managed_unit(o))
                        block(p, BLOCK_STALE_STATE, "there is no lanekeeper unit to start");
                break;
        case INTENT_ROTATE:
                p->action = ACTION_ROTATE;
                check_hold(d, o, p);
                if (!managed_unit(o))
                        block(p, BLOCK_STALE_STATE, "there is no lanekeeper unit: lanectl apply %s registers the lane",
                              d->name);
                if (!r)
                        block(p, BLOCK_STALE_STATE, "GitHub lists no runner named %s: nothing to rotate", d->name);
                else if (r->busy)
                        block(p, BLOCK_RUNNER_BUSY, "runner %lld is busy running a job; rotate waits for an idle runner "
                              "(or lanectl revoke %s stops it at once)", r->id, d->name);
                break;
        case INTENT_REVOKE:
                p->action = ACTION_REVOKE;
                if (!managed_unit(o) && !r && !o->local_configured && !o->local_credentials)
                        step(p, "nothing is registered or installed for %s: the revoke only holds the lane", d->name);
                break;
        case INTENT_UNREVOKE:
                p->action = ACTION_UNREVOKE;
                if (!revoked && !unknown)
                        block(p, BLOCK_STALE_STATE, "the lane is not revoked");
                else if (revoked && (!req->credential_fp || !*req->credential_fp))
                        block(p, BLOCK_CREDENTIAL_UNCHANGED, "no GitHub credential is configured: configure a new one "
                              "first");
                else if (revoked && strcmp(req->credential_fp, o->hold_credential) == 0)
                        block(p, BLOCK_CREDENTIAL_UNCHANGED, "the GitHub credential configured is the one in use when %s "
                              "was revoked (%s); revoke it on GitHub, configure a new one, then unrevoke", d->name,
                              o->hold_since);
                break;
        case INTENT_PLAN:
        case INTENT_APPLY:
        case INTENT_RESTART:
        case INTENT_REMOVE:
                break;
        }
}

void plan_lane(const struct lane_desired *d, const struct observation *o, const struct plan_policy *pol,
               const struct plan_request *req, struct plan *p) {
        bool mutating = req->intent != INTENT_PLAN;
        const char *managed = plan_managed_label(pol);
        char failing[128];

        *p = (struct plan) { .action = ACTION_NOOP };
        check_policy(d, pol, req, p);
        /* a revoke must work when GitHub cannot be read: the credential may be what was revoked */
        classify(d, o, managed, req->intent != INTENT_REVOKE, p);
        switch (req->intent) {
        case INTENT_PLAN:
        case INTENT_APPLY:
                check_hold(d, o, p);
                choose_apply(o, p);
                break;
        case INTENT_RESTART:
                check_hold(d, o, p);
                p->action = ACTION_RESTART;
                if (!o->unit_exists || !o->unit_managed)
                        block(p, o->unit_exists ? BLOCK_UNMANAGED_RUNNER : BLOCK_STALE_STATE,
                              "there is no lanekeeper unit to restart");
                if (req->idle_only && o->n_runners == 1 && o->runners[0].busy)
                        block(p, BLOCK_STALE_STATE, "runner %lld is busy running a job; this restart waits for "
                              "the job to end", o->runners[0].id);
                break;
        case INTENT_REMOVE:
                p->action = ACTION_REMOVE;
                if (o->n_runners == 1 && !runner_has_label(&o->runners[0], managed))
                        block(p, BLOCK_UNMANAGED_RUNNER, "GitHub runner %lld is not lanekeeper's", o->runners[0].id);
                if (o->unit_exists && !o->unit_managed)
                        block(p, BLOCK_UNMANAGED_RUNNER, "%s was not written by lanekeeper", o->unit_name);
                if (o->n_runners == 1 && o->runners[0].busy)
                        block(p, BLOCK_STALE_STATE, "runner %lld is busy running a job; remove it once the job is done",
                              o->runners[0].id);
                break;
        case INTENT_DRAIN:
        case INTENT_UNDRAIN:
        case INTENT_ROTATE:
        case INTENT_REVOKE:
        case INTENT_UNREVOKE:
                choose_hold(d, o, req, p);
                break;
        }
        /* what starts or registers a runner needs the baseline */
        if (o->baseline != BASELINE_READY && p->action != ACTION_NOOP && p->action != ACTION_REMOVE &&
            p->action != ACTION_DRAIN && p->action != ACTION_REVOKE && p->action != ACTION_UNREVOKE)
                block(p, BLOCK_BASELINE_NOT_READY, "baseline readiness is %s%s",
                      o->baseline == BASELINE_UNKNOWN ? "unknown" : "not ready", failing_checks(o, failing, sizeof failing));
        if (mutating && (!req->confirmed || !req->idempotency_key || !*req->idempotency_key))
                block(p, BLOCK_UNCONFIRMED_MUTATION, "a mutation needs --confirm %s and an idempotency key", d->name);
        p->status = p->n_blockers ? PLAN_BLOCKED : PLAN_READY;
        next_steps(d, o, p);
}
