/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drain, undrain, rotate, revoke, unrevoke: a lane taken out of service
 * and back, and its credentials renewed or burnt.
 *
 * GitHub has no drain switch for a self-hosted runner: a drain takes off
 * the labels jobs route by (the labels API keeps GitHub's read-only ones
 * and lanekeeper keeps the managed label, both said in the record), waits
 * until the runner is idle, checks again and stops the unit; a job that
 * slipped in between the check and the stop gets the unit started again
 * and is waited for. A running job is never killed by a drain. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "gh-api.h"
#include "macro.h"
#include "proto-register.h"
#include "proto-time.h"

#define IDLE_POLL_MS 2000
#define SLIP_MAX 3                /* jobs that slipped in before a drain gives up */
#define UNBUSY_WAIT_MS 30000      /* revoke: for GitHub to see the killed job end */

/* Write the lane's hold STATE (HOLD_NONE lifts it), keeping the first
 * drain's time and labels. */
static bool hold_step(struct exec_run *x, enum lane_hold_state state) {
        const struct exec_ops *ops = x->ops;
        const struct observation *o = &x->res->o;
        const struct lane_desired *d = x->req->lane;
        struct exec_step *st = exec_step_begin(x, "hold");
        struct lane_hold h = { .state = state };
        bool keep = (state == HOLD_DRAINING || state == HOLD_DRAINED) &&
                    (strcmp(o->hold, "draining") == 0 || strcmp(o->hold, "drained") == 0);
        int r;

        if (keep && o->hold_since[0])
                snprintf(h.since, sizeof h.since, "%s", o->hold_since);
        else
                proto_utc_iso(ops->wall_time(ops->data), h.since, sizeof h.since);
        snprintf(h.reason, sizeof h.reason, "%s", x->req->reason ? x->req->reason : keep ? o->hold_reason : "");
        label_list(d->labels, d->n_labels, h.labels, sizeof h.labels);
        snprintf(h.job, sizeof h.job, "%s", x->res->killed_job);
        snprintf(h.credential, sizeof h.credential, "%s", state == HOLD_REVOKED && x->req->credential_fp ?
                 x->req->credential_fp : "");
        r = ops->hold_save(ops->data, d->name, &h);
        if (r < 0)
                return exec_step_end(x, st, false, "cannot write the lane's hold: %s", strerror(-r));
        if (state == HOLD_NONE)
                return exec_step_end(x, st, true, "the lane is no longer held");
        return exec_step_end(x, st, true, "the lane is %s since %s", lane_hold_state_to_string(state), h.since);
}

/* Take the routing labels off: the runner keeps the managed label (and
 * GitHub's read-only labels, if it was registered with them). */
static bool unroute(struct exec_run *x) {
        const struct exec_ops *ops = x->ops;
        const struct observation *o = &x->res->o;
        const struct lane_desired *d = x->req->lane;
        struct gate_ctx c = exec_gate_ctx(x);
        _cleanup_(freep) struct gh_runner *got = calloc(1, sizeof *got);
        struct exec_step *st = exec_step_begin(x, "labels");
        const char *keep[] = { c.managed_label };
        char scope[160], err[512], left[EXEC_DETAIL_MAX] = "";
        bool ro = false;
        int r;

        if (!got)
                return exec_step_end(x, st, false, "out of memory");
        if (!o->github_known)
                return exec_step_end(x, st, false, "GitHub could not be read: %s", o->github_detail);
        if (o->n_runners == 0)
                return exec_step_end(x, st, true, "GitHub lists no runner named %s: no job can be routed to it", d->name);
        if (!ops->github_data)
                return exec_step_end(x, st, false, "no GitHub client: %s", ops->github_problem);
        lane_scope(d, scope, sizeof scope);
        r = ops->github->set_labels(ops->github_data, scope, o->runners[0].id, keep, 1, got, err, sizeof err);
        if (r < 0)
                return exec_step_end(x, st, false, "%s", err);
        for (size_t i = 0; i < got->n_labels; i++) {
                if (gate_routing_label(&c, got->labels[i]))
                        return exec_step_end(x, st, false, "runner %lld still has the label %s after the labels API "
                                             "removed the custom ones", o->runners[0].id, got->labels[i]);
                ro |= strcasecmp(got->labels[i], c.managed_label) != 0;
                snprintf(left + strlen(left), sizeof left - strlen(left), "%s%s", i ? "," : "", got->labels[i]);
        }
        snprintf(x->res->routed_by, sizeof x->res->routed_by, "%s", left);
        return exec_step_end(x, st, true, "runner %lld keeps only %s: %s", o->runners[0].id, left,
                             ro ? "GitHub's read-only labels stay, so a job asking only for those can still be routed "
                                  "to it (drain then waits for that job); the labels cannot guarantee the drain"
                                : "no workflow routes by the managed label alone; no new job reaches it");
}

/* Whether the runner is running a job, by GitHub and by the unit's cgroup
 * (a Runner.Worker: the job has reached the runner, GitHub may lag). */
static bool busy(struct exec_run *x) {
        const struct observation *o = &x->res->o;

        exec_observe(x);
        return (o->n_runners == 1 && o->runners[0].busy) ||
               (o->unit_name[0] && x->ops->unit_workers(x->ops->data, o->unit_name) > 0);
}

/* Wait until idle (at most the request's idle_wait_s), check again, stop.
 * A job that slipped in meanwhile: the unit starts again and the wait goes
 * on. *LEFT: busy at the deadline (the lane stays draining). */
static bool stop_when_idle(struct exec_run *x, bool *left) {
        const struct exec_ops *ops = x->ops;
        long long deadline = ops->now_ms(ops->data) + (long long) x->req->idle_wait_s * 1000;
        char job[EXEC_DETAIL_MAX] = "";
        struct exec_step *st;

        *left = false;
        for (unsigned slips = 0;;) {
                st = exec_step_begin(x, "idle");
                while (busy(x) && ops->now_ms(ops->data) < deadline) {
                        if (!job[0])
                                exec_busy_job(x, job, sizeof job);
                        ops->sleep_ms(ops->data, IDLE_POLL_MS);
                }
                if (busy(x)) {   /* checked again right before the stop */
                        if (!job[0])
                                exec_busy_job(x, job, sizeof job);
                        *left = true;
                        return exec_step_end(x, st, true, "%s; the lane stays draining: nothing new reaches it, and "
                                             "lanectl drain %s again stops it once the job has ended",
                                             job[0] ? job : "the runner is running a job", x->req->lane->name);
                }
                exec_step_end(x, st, true, "%s", job[0] ? "the job ended" : "the runner is idle");
                if (!exec_stop_unit(x, false))
                        return false;
                exec_observe(x);
                if (!(x->res->o.n_runners == 1 && x->res->o.runners[0].busy))
                        return true;
                /* GitHub gave it a job between the check and the stop: the
                 * runner gets it back and the wait goes on */
                exec_step_end(x, exec_step_begin(x, "slipped"), true, "runner %lld took a job as it stopped; starting "
                              "it again to run it", x->res->o.runners[0].id);
                if (!exec_helper_step(x, "start-again", PROTO_VERB_ENABLE_NOW))
                        return false;
                if (++slips >= SLIP_MAX)
                        return exec_step_end(x, exec_step_begin(x, "idle"), false, "%u jobs slipped in as the unit "
                                             "stopped; the lane stays draining", slips);
                job[0] = '\0';
        }
}

bool exec_drain(struct exec_run *x) {
        bool left;

        if (!hold_step(x, HOLD_DRAINING) || !unroute(x) || !stop_when_idle(x, &left))
                return false;
        x->res->left_draining = left;
        return left || hold_step(x, HOLD_DRAINED);
}

bool exec_undrain(struct exec_run *x) {
        const struct exec_ops *ops = x->ops;
        const struct observation *o = &x->res->o;
        const struct lane_desired *d = x->req->lane;
        _cleanup_(freep) struct gh_runner *got = calloc(1, sizeof *got);
        const char *labels[LANE_MAX_LABELS];
        struct exec_step *st = exec_step_begin(x, "labels");
        char scope[160], err[512];
        int r;

        if (!got)
                return exec_step_end(x, st, false, "out of memory");
        if (!o->github_known)
                return exec_step_end(x, st, false, "GitHub could not be read: %s", o->github_detail);
        if (o->n_runners == 1) {
                if (!ops->github_data)
                        return exec_step_end(x, st, false, "no GitHub client: %s", ops->github_problem);
                for (size_t i = 0; i < d->n_labels; i++)
                        labels[i] = d->labels[i];
                lane_scope(d, scope, sizeof scope);
                r = ops->github->set_labels(ops->github_data, scope, o->runners[0].id, labels, d->n_labels, got, err,
                                            sizeof err);
                if (r < 0)
                        return exec_step_end(x, st, false, "%s", err);
                exec_step_end(x, st, true, "labels of the lane file set on runner %lld", o->runners[0].id);
        } else
                exec_step_end(x, st, true, "GitHub lists no runner named %s (deleted while drained?): lanectl apply "
                              "registers it again", d->name);
        return hold_step(x, HOLD_NONE) && exec_helper_step(x, "enable-now", PROTO_VERB_ENABLE_NOW);
}

bool exec_rotate(struct exec_run *x) {
        x->res->old_runner_id = x->res->o.runners[0].id;
        x->res->old_credentials_stamp = x->res->o.local_credentials_stamp;
        return exec_take_down(x, true, false) && exec_create(x);
}

/* After rotate's gates: another registration, other credential files. */
bool exec_rotated(struct exec_run *x) {
        const struct observation *o = &x->res->o;
        struct exec_step *st = exec_step_begin(x, "credentials");

        if (o->n_runners != 1 || o->runners[0].id == x->res->old_runner_id)
                return exec_step_end(x, st, false, "GitHub still lists the old registration %lld",
                                     x->res->old_runner_id);
        if (!o->local_credentials || !o->local_rsaparams)
                return exec_step_end(x, st, false, "the new registration left no .credentials or "
                                     ".credentials_rsaparams in the lane directory");
        if (o->local_credentials_stamp == x->res->old_credentials_stamp)
                return exec_step_end(x, st, false, ".credentials is still the old file");
        return exec_step_end(x, st, true, "runner %lld replaced by %lld; the old registration is deleted and its "
                             ".credentials replaced", x->res->old_runner_id, o->runners[0].id);
}

/* The credentials removed by the lane's own unit (the forget answer):
 * its start fails by design, the runner never runs. */
static bool forget(struct exec_run *x) {
        struct proto_register reg = { .forget = true };
        struct exec_step *st = exec_step_begin(x, "forget");

        snprintf(reg.name, sizeof reg.name, "%s", x->req->lane->name);
        if (!exec_answer_by_start(x, st, &reg, "revoke"))
                return false;
        return exec_step_end(x, st, true, "the lane's unit removed its registration and credentials");
}

/* Deregister after the stop: GitHub refuses to delete a runner it still
 * sees busy until the killed job has ended there. */
static bool revoke_deregister(struct exec_run *x) {
        const struct exec_ops *ops = x->ops;
        const struct observation *o = &x->res->o;
        long long deadline = ops->now_ms(ops->data) + UNBUSY_WAIT_MS;

        exec_observe(x);
        while (o->n_runners == 1 && o->runners[0].busy && ops->now_ms(ops->data) < deadline) {
                ops->sleep_ms(ops->data, 1000);
                exec_observe(x);
        }
        if (!o->github_known)
                return exec_step_end(x, exec_step_begin(x, "deregister"), false, "GitHub could not be read: %s",
                                     o->github_detail);
        return o->n_runners == 0 || exec_deregister(x, o->runners[0].id, false);
}

/* Everything is tried: a step that fails does not keep the next one from
 * being done (the credentials go even when GitHub cannot be reached). */
bool exec_revoke(struct exec_run *x) {
        const struct observation *o = &x->res->o;
        bool unit = o->unit_exists && o->unit_managed, ok;

        x->keep_down = true;   /* a failed stop never starts the unit again */
        exec_busy_job(x, x->res->killed_job, sizeof x->res->killed_job);
        if (!hold_step(x, HOLD_REVOKED))
                return false;   /* never act without the hold written: apply would undo it */
        ok = !unit || exec_stop_unit(x, false);
        if (unit)
                ok &= forget(x);
        ok &= revoke_deregister(x);
        if (unit)
                ok &= exec_helper_step(x, "remove-unit", PROTO_VERB_REMOVE_UNIT);
        return ok;
}

bool exec_unrevoke(struct exec_run *x) {
        return hold_step(x, HOLD_NONE);
}
