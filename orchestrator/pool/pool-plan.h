/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pool supervisor's decision, pure: from what systemd and GitHub say
 * of each slot and how many queued jobs the pool's labels satisfy, the
 * target and the actions that move the pool towards it (lanectl(1), pool
 * supervise). Scale-up starts stopped slots, lowest first; scale-down
 * stops idle slots only, highest first, deleting the idle runner's
 * registration before the unit stops (GitHub refuses a busy one with 422,
 * and the slot then stays); a slot whose runner did not come online
 * within the deadline after its JIT configuration was handed over loses
 * the registration and is started again; a registration left by a slot
 * whose unit is down (handed a JIT configuration it never used) goes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "pool-file.h"

enum slot_state {
        SLOT_STOPPED,      /* unit inactive (or not installed), no runner */
        SLOT_STARTING,     /* unit running or restarting between jobs, its runner not online yet */
        SLOT_IDLE,         /* its runner online, no job */
        SLOT_BUSY,         /* its runner runs a job */
        SLOT_STOPPING,     /* unit deactivating */
        SLOT_FAILED,       /* unit failed, or the install refused */
        _SLOT_STATE_MAX,
};

struct slot_seen {
        bool installed;                /* the slot's unit file is ours */
        char active[24];               /* the unit's ActiveState, "" when not loaded */
        bool refused;                  /* the supervisor refused its install (fingerprint) */
        long long runner_id;           /* GitHub's runner named like the slot, 0: none */
        bool online, busy;
        time_t handed;                 /* when its JIT configuration was handed over, 0: not since */
};

enum pool_act {
        PA_INSTALL,        /* the unit installed (once per slot), then started */
        PA_START,          /* started */
        PA_STOP,           /* an idle slot: its runner deleted, then the unit stopped */
        PA_RECYCLE,        /* never came online: its registration deleted, the unit restarted */
        PA_RESET,          /* failed: started again */
        PA_FORGET,         /* its unit is down and a registration of its name is left (a JIT configuration
                            * it never used): the registration deleted, the unit left alone */
        _PA_MAX,
};

struct pool_action {
        enum pool_act act;
        unsigned slot;                 /* 1..max */
        long long runner_id;           /* PA_STOP, PA_RECYCLE, PA_FORGET: the registration to delete, 0: none */
};

struct pool_decision {
        unsigned target, busy, idle, starting, stopped, failed, stopping;
        unsigned queued, spare, min, max;
        unsigned beyond;               /* slots above max still up (a lowered max): stopped once idle */
        const char *clamp;             /* "min", "max" or NULL: why the target is not busy + queued + spare */
        size_t n_actions;
        struct pool_action actions[POOL_MAX_SLOTS];
};

const char *slot_state_to_string(enum slot_state s);
const char *pool_act_to_string(enum pool_act a);

/* A unit's ActiveState that has its processes up or coming up (active,
 * activating: a restart between jobs too, reloading). */
bool pool_unit_up(const char *active);

/* The state of one slot. */
enum slot_state pool_slot_state(const struct slot_seen *s);

/* The decision for P with SLOTS[0..N_SLOTS-1] (slot N at N-1; N_SLOTS >=
 * p->max: slots above max, left by a lowered max, stop once idle), QUEUED
 * jobs its labels satisfy, at NOW, with NEVER_ONLINE_S the deadline;
 * DRAINING: no slot is started and idle ones stop (busy ones finish). */
void pool_decide(const struct pool_desired *p, const struct slot_seen *slots, unsigned n_slots, unsigned queued,
                 bool draining, time_t now, unsigned never_online_s, struct pool_decision *ret);
