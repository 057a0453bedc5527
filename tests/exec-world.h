/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executor's fake world for its tests (check-exec.c, check-exec-hold.c):
 * a unit, GitHub's runners, the lane directory, a store, that the fake
 * helper and GitHub change as the real ones would (exec-world.c). */
#pragma once

#include <json-c/json.h>

#include "exec.h"
#include "gh-api.h"
#include "proto-register.h"
#include "test-util.h"

#define UID 4242

struct runner {
        long long id;
        bool online, busy;
        size_t n_labels;
        char labels[LANE_MAX_LABELS + 1][PROTO_LABEL_MAX + 1];
};

struct world {
        bool unit, managed, active, enabled, configured;
        long long main_uid;               /* as the unit runs it; -1: the lane user's */
        size_t n_runners;
        struct runner r[2];
        long long next_id;
        bool github_down, github_down_after_stop, baseline_ready, readonly_label, runner_stays_offline, delete_lags, remove_keeps_unit;
        int relist_after;                 /* > 0: a deleted runner is listed again after this many observations */
        int observations;
        bool offer_pending, offer_purge, offer_taken, offer_withdrawn;
        bool offer_clear, clear_leaves;   /* a cache clear offered; the unit leaves entries behind */
        bool offer_reset;                 /* the clear offered was a work reset */
        size_t workers;                   /* Runner.Worker processes in the unit */
        struct proto_cache_stats cache;
        char offered_token[64];
        size_t unit_procs, user_procs;
        long dir_entries;
        bool locked, have_key, key_elsewhere, append_fails;
        struct idempotency_result key;
        int n_records;
        char last_status[16], last_failed[32];
        const char *fail;                 /* the step or call that fails */
        long long now;
        char calls[1024];                 /* helper verbs, in order */
        /* holds (drain, revoke) */
        struct lane_hold hold;
        int hold_saves;
        bool hold_save_fails, offer_forget;
        unsigned long long cred_stamp;    /* which .credentials file: a new registration writes another */
        long long busy_until;             /* the running job ends at this time (0: never by itself) */
        bool slip_on_stop;                /* GitHub gives the runner a job as it stops */
        bool creds_kept;                  /* a registration leaves .credentials as it was */
        bool killed_job;                  /* a stop found the runner running a job (and ended it) */
        const char *reason, *credential_fp;
        unsigned idle_wait_s;
        const struct exec_prove *prove;   /* apply --smoke */
        char last_proven[8], last_smoke[256];   /* the last record's "proven" ("" none) and "smoke" */
        bool unit_same;                   /* install-unit finds the unit file as it would write it */
};

extern struct world w;
extern const struct exec_ops *world_ops;   /* run() uses these when set (setup: NULL, the fakes) */
extern struct lane_desired lane;
extern struct plan_policy pol;
extern struct exec_result res;
extern const struct exec_ops ops;

void add_runner(bool online, const char *extra_label);
void f_observe(void *d, const struct lane_desired *l, struct observation *o);
/* A lane that would be created; the world empty. */
void setup(void);
/* Run CMD on the lane (with w.reason, w.credential_fp, w.idle_wait_s). */
enum exec_outcome run(enum exec_cmd cmd, bool purge, bool dry_run);
/* The detail of the last run's step NAME ("(no such step)"). */
const char *step_detail(const char *name);
/* "token offer install-unit ...": the steps taken, in order. */
const char *steps(void);
/* A lane running under lanekeeper, online with exactly its labels. */
void supervised(void);

#define ck_steps(want) ck_assert_msg(strcmp(steps(), want) == 0, "steps '%s', expected '%s'", steps(), want)
#define ck_outcome(o) ck_assert_msg(res.outcome == (o), "outcome %s, expected %s (failed: %s, error: %s)",  \
                                    exec_outcome_to_string(res.outcome), exec_outcome_to_string(o),         \
                                    res.failed ?: "-", res.error)
