/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The smoke: a lane (or a pool) proved by a real job. lanekeeper's smoke
 * workflow (smoke_workflow(): committed by the operator in each
 * repository) is dispatched through workflow_dispatch with the lane's
 * routing labels and a nonce; the run is followed through the jobs API;
 * it passes only when its job ran on the lane's own runner (its id and
 * name, or one of the pool's slots), concluded success, and its step's
 * marker line, with the nonce, is in the job's log. The judgement is pure
 * (smoke_judge); smoke_run() talks to GitHub. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lane-file.h"

#define SMOKE_NONCE_HEX 16
#define SMOKE_MARKER "lanekeeper smoke passed"
#define SMOKE_WORKFLOW_DEFAULT "lanekeeper-smoke.yml"
#define SMOKE_DEADLINE_DEFAULT_S 600
#define SMOKE_TEXT_MAX 600

struct gh_client;

/* What a smoke's job must have run on. */
struct smoke_expect {
        char name[PROTO_LANE_NAME_MAX + 1];      /* the lane, or the pool */
        bool pool;                               /* runners named NAME-N (N 1..max) */
        unsigned pool_max;
        long long runner_id;                     /* the lane's runner on GitHub; 0 for a pool */
        char labels[LANE_MAX_LABELS][PROTO_LABEL_MAX + 1];
        size_t n_labels;
        char nonce[SMOKE_NONCE_HEX + 1];
};

/* A job of the jobs API, as the smoke reads it. */
struct smoke_job {
        long long id, runner_id;
        char name[128], status[24], conclusion[24], runner_name[128], html_url[512];
        time_t created, started, completed;
        time_t first_step;                       /* the first step after "Set up job" began, 0: none */
};

struct smoke_result {
        char repo[PROTO_OWNER_MAX + PROTO_REPO_NAME_MAX + 2];
        char ref[256], sha[48];
        long long run_id;
        char run_url[512], html_url[512];
        bool have_job;
        struct smoke_job job;
        bool claimed;                            /* a runner took the job */
        bool marker;                             /* the marker line with the nonce is in the log */
        bool passed;
        char reason[SMOKE_TEXT_MAX];             /* why not, or "" */
        long long queue_wait_s, setup_s, duration_s;   /* -1: not known */
};

/* The workflow file, YAML: lanectl smoke --print-workflow. */
const char *smoke_workflow(void);

/* GitHub's job object O into *RET: 0, or -EBADMSG when it has no id. */
int smoke_parse_job(struct json_object *o, struct smoke_job *ret);

/* Whether the runner NAME (id ID) is what E expects. */
bool smoke_runner_ok(const struct smoke_expect *e, const char *name, long long id);

/* The verdict on an ended job J with its LOG (NULL: not read) into R:
 * passed, or the first reason it did not (not claimed, another runner,
 * the conclusion with the log's first error, no marker); the timings. */
void smoke_judge(const struct smoke_expect *e, const struct smoke_job *j, const char *log, struct smoke_result *r);

/* One smoke in REPO: WORKFLOW (a file name or id in the repository)
 * dispatched on REF (NULL: the repository's default branch), its run
 * followed until its job ends or DEADLINE_S pass (then cancelled), its
 * log read, judged. 0 with *R (passed or not, its reason), or -errno with
 * ERR when GitHub could not be asked (R->run_id set if a run was made). */
int smoke_run(struct gh_client *c, const char *repo, const char *workflow, const char *ref,
              const struct smoke_expect *e, unsigned deadline_s, struct smoke_result *r, char *err, size_t errlen);

/* What a dispatch may change of the workflow's inputs (the negative cases). */
struct smoke_inputs {
        const char *extra_label;                 /* a label added to E's (one nobody serves) */
        unsigned sleep_s;                        /* the step waits first */
        unsigned timeout_min;                    /* the job's timeout-minutes (0: the workflow's) */
};

/* The steps of smoke_run(), for callers that act between them: the run
 * made (0, R->run_id set; 1 refused, R's reason; -errno with ERR); its
 * first job read (1 ended, 0 not yet, -errno); an ended job's log read
 * and judged into R. */
int smoke_start(struct gh_client *c, const char *repo, const char *workflow, const char *ref,
                const struct smoke_expect *e, const struct smoke_inputs *d, struct smoke_result *r, char *err,
                size_t errlen);
int smoke_job_state(struct gh_client *c, const char *repo, struct smoke_result *r, struct smoke_job *j, char *err,
                    size_t errlen);
void smoke_end(struct gh_client *c, const char *repo, const struct smoke_expect *e, const struct smoke_job *j,
               struct smoke_result *r);

/* E's nonce: SMOKE_NONCE_HEX random hex digits (getrandom). */
int smoke_nonce(struct smoke_expect *e);
