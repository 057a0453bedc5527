/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "macro.h"
#include "pool-plan.h"

const char *slot_state_to_string(enum slot_state s) {
        static const char *const names[_SLOT_STATE_MAX] = {
                [SLOT_STOPPED] = "stopped", [SLOT_STARTING] = "starting", [SLOT_IDLE] = "idle",
                [SLOT_BUSY] = "busy", [SLOT_STOPPING] = "stopping", [SLOT_FAILED] = "failed",
        };
        return (unsigned) s < _SLOT_STATE_MAX ? names[s] : "?";
}

const char *pool_act_to_string(enum pool_act a) {
        static const char *const names[_PA_MAX] = {
                [PA_INSTALL] = "install", [PA_START] = "start", [PA_STOP] = "stop",
                [PA_RECYCLE] = "recycle", [PA_RESET] = "reset", [PA_FORGET] = "forget",
        };
        return (unsigned) a < _PA_MAX ? names[a] : "?";
}

bool pool_unit_up(const char *active) {
        return strcmp(active, "active") == 0 || strcmp(active, "activating") == 0 || strcmp(active, "reloading") == 0;
}

enum slot_state pool_slot_state(const struct slot_seen *s) {
        if (s->refused || strcmp(s->active, "failed") == 0)
                return SLOT_FAILED;
        if (s->runner_id && s->online)
                return s->busy ? SLOT_BUSY : SLOT_IDLE;
        if (strcmp(s->active, "deactivating") == 0)
                return SLOT_STOPPING;
        if (s->installed && pool_unit_up(s->active))
                return SLOT_STARTING;
        return SLOT_STOPPED;
}

static void add(struct pool_decision *d, enum pool_act act, unsigned slot, long long runner_id) {
        if (d->n_actions < ELEMENTSOF(d->actions))
                d->actions[d->n_actions++] = (struct pool_action) { .act = act, .slot = slot, .runner_id = runner_id };
}

static bool acted(const struct pool_decision *d, unsigned slot) {
        for (size_t i = 0; i < d->n_actions; i++)
                if (d->actions[i].slot == slot)
                        return true;
        return false;
}

/* Start NEED slots: failed ones that did not refuse first (a refused
 * install waits for the operator), then stopped ones, lowest first. */
static void scale_up(const struct pool_desired *p, const struct slot_seen *slots, const enum slot_state *st,
                     unsigned need, struct pool_decision *d) {
        for (unsigned n = 1; n <= p->max && need > 0; n++)
                if (st[n - 1] == SLOT_FAILED && !slots[n - 1].refused) {
                        add(d, PA_RESET, n, 0);
                        need--;
                }
        for (unsigned n = 1; n <= p->max && need > 0; n++)
                if (st[n - 1] == SLOT_STOPPED) {
                        add(d, slots[n - 1].installed ? PA_START : PA_INSTALL, n, 0);
                        need--;
                }
}

/* Stop SURPLUS slots that run no job: those still starting first
 * (between jobs, in their restart delay, or their runner not yet online),
 * then idle ones, highest first. An idle runner is the warm spare a job
 * claims at once; a slot that just finished a job must not outlive it
 * only to leave the pool with nothing online for its restart delay. */
static void scale_down(const struct pool_desired *p, const struct slot_seen *slots, const enum slot_state *st,
                       unsigned surplus, struct pool_decision *d) {
        static const enum slot_state order[] = { SLOT_STARTING, SLOT_IDLE };

        for (size_t k = 0; k < ELEMENTSOF(order); k++)
                for (unsigned n = p->max; n >= 1 && surplus > 0; n--)
                        if (st[n - 1] == order[k] && !acted(d, n)) {
                                add(d, PA_STOP, n, slots[n - 1].runner_id);
                                surplus--;
                        }
}

/* Slots above a lowered max: stopped once no job runs on them (a busy
 * one finishes; when its unit starts again between jobs, it stops). */
static void beyond_max(const struct pool_desired *p, const struct slot_seen *slots, unsigned n_slots,
                       struct pool_decision *d) {
        for (unsigned n = p->max + 1; n <= n_slots && n <= POOL_MAX_SLOTS; n++)
                switch (pool_slot_state(&slots[n - 1])) {
                case SLOT_BUSY: d->beyond++; break;
                case SLOT_IDLE:
                case SLOT_STARTING: d->beyond++, add(d, PA_STOP, n, slots[n - 1].runner_id); break;
                case SLOT_FAILED:
                        if (slots[n - 1].installed && pool_unit_up(slots[n - 1].active))
                                d->beyond++, add(d, PA_STOP, n, slots[n - 1].runner_id);
                        break;
                case SLOT_STOPPED:
                case SLOT_STOPPING:
                case _SLOT_STATE_MAX: break;
                }
}

/* Registrations left by slots whose unit is down: a runner cannot be
 * behind them (the supervisor alone starts a stopped unit, and no pass
 * acts while its last actions run), so they are JIT configurations never
 * used: an orphan on GitHub until removed. */
static void forget(const struct slot_seen *slots, unsigned n_slots, struct pool_decision *d) {
        for (unsigned n = 1; n <= n_slots && n <= POOL_MAX_SLOTS; n++) {
                const struct slot_seen *s = &slots[n - 1];

                if (s->runner_id && !s->online && !s->busy && !pool_unit_up(s->active) &&
                    strcmp(s->active, "deactivating") != 0)
                        add(d, PA_FORGET, n, s->runner_id);
        }
}

void pool_decide(const struct pool_desired *p, const struct slot_seen *slots, unsigned n_slots, unsigned queued,
                 bool draining, time_t now, unsigned never_online_s, struct pool_decision *ret) {
        enum slot_state st[POOL_MAX_SLOTS];
        unsigned want, live;

        *ret = (struct pool_decision) { .queued = queued, .spare = p->spare, .min = p->min, .max = p->max };
        forget(slots, n_slots, ret);
        beyond_max(p, slots, n_slots, ret);
        for (unsigned n = 1; n <= p->max && n <= POOL_MAX_SLOTS; n++) {
                st[n - 1] = pool_slot_state(&slots[n - 1]);
                switch (st[n - 1]) {
                case SLOT_STOPPED: ret->stopped++; break;
                case SLOT_STARTING: ret->starting++; break;
                case SLOT_IDLE: ret->idle++; break;
                case SLOT_BUSY: ret->busy++; break;
                case SLOT_STOPPING: ret->stopping++; break;
                case SLOT_FAILED:
                case _SLOT_STATE_MAX: ret->failed++; break;
                }
        }
        want = ret->busy + queued + p->spare;
        ret->target = want < p->min ? p->min : want > p->max ? p->max : want;
        ret->clamp = want < p->min ? "min" : want > p->max ? "max" : NULL;
        if (draining) {
                ret->target = ret->busy;
                ret->clamp = "drain";
        }
        /* never online: the registration goes, the slot starts again */
        for (unsigned n = 1; n <= p->max; n++) {
                const struct slot_seen *s = &slots[n - 1];

                if (st[n - 1] == SLOT_STARTING && s->handed && now - s->handed > (time_t) never_online_s && !draining)
                        add(ret, PA_RECYCLE, n, s->runner_id);
        }
        /* a refused install restarts in a loop (Restart=always): stopped until the operator trusts it */
        for (unsigned n = 1; n <= p->max; n++)
                if (slots[n - 1].refused && slots[n - 1].installed && pool_unit_up(slots[n - 1].active))
                        add(ret, PA_STOP, n, slots[n - 1].runner_id);
        live = ret->busy + ret->idle + ret->starting;
        if (live < ret->target && !draining)
                scale_up(p, slots, st, ret->target - live, ret);
        else if (live > ret->target)
                scale_down(p, slots, st, live - ret->target, ret);
}
