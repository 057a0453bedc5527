/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Taking a runner down and off GitHub; remove and remove --purge. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "macro.h"
#include "proto-register.h"

#define PROCESSES_GONE_MS 10000
#define PROCESSES_POLL_MS 200
#define UNLISTED_POLL_MS 1000

/* After a failure with the unit stopped: start it again, so that the lane is
 * never left half-removed. */
static void start_again(struct exec_run *x) {
        if (!x->keep_down)
                (void) exec_helper_step(x, "start-again", PROTO_VERB_ENABLE_NOW);
}

/* Stop the unit and see its processes gone (with PURGE_CHECK: and no
 * process of the lane's user that could hold files in the lane directory).
 * A failure after the stop starts the unit again. */
bool exec_stop_unit(struct exec_run *x, bool purge_check) {
        const struct exec_ops *ops = x->ops;
        const char *unit = x->res->o.unit_name;
        struct exec_step *st;
        long long deadline;
        char procs[200];
        size_t n;

        if (!exec_helper_step(x, "stop", PROTO_VERB_STOP))
                return false;
        st = exec_step_begin(x, "processes");
        deadline = ops->now_ms(ops->data) + PROCESSES_GONE_MS;
        while ((n = ops->unit_processes(ops->data, unit, procs, sizeof procs)) && ops->now_ms(ops->data) < deadline)
                ops->sleep_ms(ops->data, PROCESSES_POLL_MS);
        if (n) {
                exec_step_end(x, st, false, "%zu processes remain in %s: %s", n, unit, procs);
                start_again(x);
                return false;
        }
        exec_step_end(x, st, true, "no process left in %s", unit);
        if (!purge_check)
                return true;
        /* nothing may hold files in the directory: no process of the lane's
         * user anywhere but in other lanes' units */
        st = exec_step_begin(x, "purge-check");
        n = ops->user_processes(ops->data, x->res->uid, unit, procs, sizeof procs);
        if (n) {
                exec_step_end(x, st, false, "%zu processes of %s run outside any other lane's unit and could hold "
                              "files in the lane directory; not purging: %s", n, x->req->lane->user, procs);
                start_again(x);
                return false;
        }
        return exec_step_end(x, st, true, "no process of %s could hold files in the lane directory", x->req->lane->user);
}

/* Re-read the runner WAS: the same id, not busy. *ID becomes 0 when GitHub
 * no longer lists it. */
static bool reread(struct exec_run *x, long long *id) {
        const struct observation *o = &x->res->o;
        struct exec_step *st = exec_step_begin(x, "reread");
        long long was = *id;

        exec_observe(x);
        if (!o->github_known)
                return exec_step_end(x, st, false, "GitHub could not be read: %s", o->github_detail);
        if (o->n_runners == 0) {
                *id = 0;
                return exec_step_end(x, st, true, "runner %lld is already gone", was);
        }
        if (o->n_runners > 1 || o->runners[0].id != was)
                return exec_step_end(x, st, false, "GitHub now lists another runner named %s (id %lld, was %lld)",
                                     x->req->lane->name, o->runners[0].id, was);
        if (o->runners[0].busy)
                return exec_step_end(x, st, false, "runner %lld took a job while stopping", was);
        return exec_step_end(x, st, true, "runner %lld, %s, not busy", was, o->runners[0].online ? "still online" : "offline");
}

/* Delete the registration; wait until GitHub no longer lists it. */
bool exec_deregister(struct exec_run *x, long long id, bool unit) {
        const struct exec_ops *ops = x->ops;
        const struct observation *o = &x->res->o;
        struct exec_step *st = exec_step_begin(x, "deregister");
        char scope[160], err[512];
        long long deadline;
        bool gone;
        int r;

        lane_scope(x->req->lane, scope, sizeof scope);
        if (!ops->github_data)
                r = -ENOTCONN, snprintf(err, sizeof err, "no GitHub client: %.480s", ops->github_problem);
        else
                r = ops->github->delete_runner(ops->github_data, scope, id, err, sizeof err);
        if (r < 0) {
                exec_step_end(x, st, false, "%s", err);
                if (unit)
                        start_again(x);
                return false;
        }
        exec_step_end(x, st, true, "runner %lld deleted", id);
        st = exec_step_begin(x, "unlisted");
        deadline = ops->now_ms(ops->data) + (long long) x->req->timeout_s * 1000;
        for (;;) {
                exec_observe(x);
                gone = o->github_known && o->n_runners == 0;
                if (gone || ops->now_ms(ops->data) >= deadline)
                        break;
                ops->sleep_ms(ops->data, UNLISTED_POLL_MS);
        }
        /* deleted, yet listed: nothing to start again */
        return exec_step_end(x, st, gone, gone ? "GitHub no longer lists %s" : "GitHub still lists %s", x->req->lane->name);
}

/* Take a runner down and off GitHub: stop the unit, see its processes gone,
 * re-read the runner (same id, not busy), delete the registration (the
 * runner is offline once its listener is stopped), wait until GitHub no
 * longer lists it. A failure before the registration is gone starts the
 * unit again. */
bool exec_take_down(struct exec_run *x, bool unit, bool purge_check) {
        long long id = x->res->o.n_runners == 1 ? x->res->o.runners[0].id : 0;

        if (unit && !exec_stop_unit(x, purge_check))
                return false;
        if (id && !reread(x, &id)) {
                if (unit)
                        start_again(x);
                return false;
        }
        return !id || exec_deregister(x, id, unit);
}

/* remove --purge, once the runner is stopped and deregistered: the lane's
 * own unit empties the directory as the lane's user. lanectl offers a purge
 * answer on the hand-off socket and has the helper start the unit: its
 * ExecStartPre (lanekeeper-register) takes the answer, empties the
 * directory and fails the start on purpose, so the runner never runs.
 * Verified by reading the directory back. */
static bool purge(struct exec_run *x) {
        const struct exec_ops *ops = x->ops;
        const struct lane_desired *d = x->req->lane;
        struct proto_register reg = { .purge = true };
        struct exec_step *st = exec_step_begin(x, "purge");
        long left;

        snprintf(reg.name, sizeof reg.name, "%s", d->name);
        if (!exec_answer_by_start(x, st, &reg, "purge"))
                return false;
        left = ops->lane_dir_entries(ops->data, d);
        if (left < 0)
                return exec_step_end(x, st, false, "cannot read %s/%s back to verify it: %s", d->root, d->name,
                                     strerror((int) -left));
        if (left > 0)
                return exec_step_end(x, st, false, "%ld entries are left in %s/%s (see the unit's journal)", left,
                                     d->root, d->name);
        return exec_step_end(x, st, true, "%s/%s is empty", d->root, d->name);
}

/* Offer REG (a purge or a forget) on the lane's hand-off socket and have
 * the helper start the unit: its ExecStartPre= takes the answer and fails
 * the start by design, so the runner never runs. False, with ST ended
 * saying why, when the unit did not take it. */
bool exec_answer_by_start(struct exec_run *x, struct exec_step *st, struct proto_register *reg, const char *what) {
        const struct exec_ops *ops = x->ops;
        struct exec_offer *offer = NULL;
        char err[512], herr[512];
        int r;

        if (ops->offer_start(ops->data, x->req->lane, x->res->uid, reg, &offer, err, sizeof err) < 0)
                return exec_step_end(x, st, false, "%s", err);
        r = exec_helper_call(x, PROTO_VERB_ENABLE_NOW, herr, sizeof herr);
        if (!ops->offer_end(ops->data, offer, r == -EHOSTDOWN, err, sizeof err))
                return exec_step_end(x, st, false, "the lane's unit did not take the %s: %s", what,
                                     err[0] ? err : r < 0 ? herr : "no request");
        return true;
}

bool exec_remove(struct exec_run *x) {
        const struct lane_desired *d = x->req->lane;
        bool unit = x->res->o.unit_exists && x->res->o.unit_managed, purged;

        if (x->req->purge && !unit)
                return exec_step_end(x, exec_step_begin(x, "purge"), false, "no lanekeeper unit to purge %s/%s through; "
                                     "nothing done (the directory is the lane user's: delete it as root)", d->root,
                                     d->name);
        if (!exec_take_down(x, unit, x->req->purge))
                return false;
        if (!unit)
                return true;
        if (!x->req->purge)
                return exec_helper_step(x, "remove-unit", PROTO_VERB_REMOVE_UNIT);
        purged = purge(x);
        /* deregistered either way: the unit goes; a failed purge is recorded
         * as the failure */
        return exec_helper_step(x, "remove-unit", PROTO_VERB_REMOVE_UNIT) && purged;
}
