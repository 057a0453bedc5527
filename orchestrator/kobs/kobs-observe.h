/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One observed window of a lane and its artifacts (lanectl observe, and
 * each run of lanectl gate run). */
#pragma once

#include "kobs-report.h"
#include "kobs.h"

#define KOBS_TARBALL "observation.tar.gz"
#define KOBS_OBJECT_DEFAULT "observe"

struct gh_client;

struct kobs_observe {
        /* what to observe */
        const char *bpf_socket, *lane, *object, *repo;
        uint32_t ring;                        /* 0: the helper's default */
        long long job_id;                     /* 0: a --duration window */
        unsigned duration_s, timeout_s;
        struct gh_client *gh;
        /* called once attached: a gate dispatches its workflow here and sets job_id */
        int (*started)(void *data, struct kobs_observe *o, char *err, size_t errlen);
        void *data;
        /* what was seen */
        struct kobs_session s;
        struct kobs_job job;
        bool verified;
        uint32_t worker;
        bool worker_exited;
        uint64_t from_ms, to_ms, drain_us, high_water;
        uint64_t drops[LK_HOOK_MAX], sent[LK_HOOK_MAX];
};

/* A workflow to run in the window: dispatched once attached. */
#define KOBS_MAX_INPUTS 16
struct kobs_dispatch {
        const char *repo, *workflow, *ref;
        const char *inputs[KOBS_MAX_INPUTS];     /* KEY=VALUE */
        size_t n_inputs;
};
/* Dispatch D; *RET_RUN and *RET_JOB the run made and its (first) job. */
int kobs_dispatch(struct gh_client *gh, const struct kobs_dispatch *d, long long *ret_run, long long *ret_job,
                  char *err, size_t errlen);

/* GitHub's job ID of REPO. */
int kobs_job_get(struct gh_client *gh, const char *repo, long long id, struct kobs_job *ret, char *err, size_t errlen);
/* Attach, watch, drain, detach. 0, or -errno with ERR: -EPERM the helper
 * refused (nothing was observed), -ETIME the job did not end in time (the
 * records so far are kept and can be written). */
int kobs_observe_run(struct kobs_observe *o, char *err, size_t errlen);
/* The artifacts of O into DIR (an open directory): events.ndjson,
 * observation-health.json, capability-surface.json, correlation-report.json,
 * manifest.json and observation.tar.gz; REP gets the report (freed by the caller). */
int kobs_observe_write(struct kobs_observe *o, const char *run_id, int dir, struct kobs_report *rep, char *err,
                       size_t errlen);
/* events.ndjson in DIR: every record of IN (REP its report), one
 * canonical line each, streamed to a temporary file, synced, renamed. */
int kobs_write_events(int dir, const struct kobs_input *in, const struct kobs_report *rep, char *err, size_t errlen);
