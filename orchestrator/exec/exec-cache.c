/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A restart that clears the lane's actions cache (lanectl health's cache
 * check): between jobs only, through the lane's own unit, as the lane's
 * user, as remove --purge empties a directory. lanectl offers a
 * clear-actions answer on the hand-off socket and has the helper restart
 * the unit: its ExecStartPre (lanekeeper-register) takes the answer,
 * clears, measures what is left into the lane directory and lets the
 * runner start. Verified by reading that measurement back.
 *
 * lanectl gate run's reset is the same with a reset-work answer: the unit
 * stopped first and its processes seen gone (the cgroup empty, nothing of
 * the last run left running), then started with the whole _work emptied. */
#include <errno.h>
#include <string.h>

#include "exec.h"
#include "proto-register.h"

#define MEASURE_WAIT_MS (30 * 1000)
#define MEASURE_POLL_MS 200

/* The measurement the unit wrote after SINCE (wall clock), or an error. */
static int measured(struct exec_run *x, time_t since, struct proto_cache_stats *ret) {
        const struct exec_ops *ops = x->ops;
        long long deadline = ops->now_ms(ops->data) + MEASURE_WAIT_MS;
        int r;

        for (;;) {
                r = ops->cache_stats(ops->data, x->req->lane, ret);
                if (r == 0 && ret->measured >= (long long) since)
                        return 0;
                if (ops->now_ms(ops->data) >= deadline)
                        return r < 0 ? r : -ETIMEDOUT;
                ops->sleep_ms(ops->data, MEASURE_POLL_MS);
        }
}

bool exec_clear_actions(struct exec_run *x) {
        const struct exec_ops *ops = x->ops;
        const struct lane_desired *d = x->req->lane;
        const char *unit = x->res->o.unit_name;
        bool reset = x->req->reset_work;
        struct proto_register reg = { .clear_actions = !reset, .reset_work = reset,
                                      .max_age_days = reset ? 0 : x->req->cache_max_age_days };
        struct exec_step *st = exec_step_begin(x, "idle-check");
        struct exec_offer *offer = NULL;
        struct proto_cache_stats cs;
        char err[512], herr[512] = "";
        time_t since;
        int r;

        /* GitHub said idle (the plan); the unit's own processes say it too */
        if (ops->unit_workers(ops->data, unit) > 0)
                return exec_step_end(x, st, false, "a job runs in %s (Runner.Worker); the actions cache is cleared "
                                     "only between jobs", unit);
        exec_step_end(x, st, true, "no job runs in %s", unit);
        if (reset && !exec_stop_unit(x, false))
                return false;
        st = exec_step_begin(x, reset ? "reset-work" : "clear-actions");
        snprintf(reg.name, sizeof reg.name, "%s", d->name);
        since = ops->wall_time(ops->data);
        if (ops->offer_start(ops->data, d, x->res->uid, &reg, &offer, err, sizeof err) < 0)
                return exec_step_end(x, st, false, "%s", err);
        r = exec_helper_call(x, PROTO_VERB_RESTART, herr, sizeof herr);
        if (!ops->offer_end(ops->data, offer, r == -EHOSTDOWN, err, sizeof err))
                return exec_step_end(x, st, false, "the lane's unit did not take the %s: %s",
                                     reset ? "work reset" : "cache clear",
                                     err[0] ? err : r < 0 ? herr : "no request");
        if (r < 0)
                return exec_step_end(x, st, false, "restart: %s", herr);
        r = measured(x, since, &cs);
        if (r < 0)
                return exec_step_end(x, st, false, "the unit wrote no measurement of %s/%s/_work/_actions after the "
                                     "%s: %s (see the unit's journal)", d->root, d->name, reset ? "reset" : "clear",
                                     strerror(-r));
        if (reg.max_age_days == 0 && cs.entries > 0)
                return exec_step_end(x, st, false, "%llu entries are left in the actions cache (see the unit's journal)",
                                     cs.entries);
        if (cs.damaged > 0)
                return exec_step_end(x, st, false, "%llu damaged entries are left in the actions cache", cs.damaged);
        if (reset)
                return exec_step_end(x, st, true, "%s/%s/_work emptied as the runner started", d->root, d->name);
        return exec_step_end(x, st, true, "%llu entries left (%llu bytes)", cs.entries, cs.bytes);
}
