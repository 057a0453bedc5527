/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The canonical artifacts of one observed run, from its records (pure:
 * check-kobs feeds it records of its own). Which records are the job's:
 * with a job, the processes descending from the one Runner.Worker that
 * began inside the window (the worker itself is the runner's, not the
 * job's); without one (--duration), every record of the lane's cgroup.
 * Every file carries "schema" and "run_id"; what differs from run to run
 * by nature (counts, times, ids of the kernel) sits under "measurements",
 * which the determinism gate leaves out (kobs-gate.c). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lk-observe.h"

#define KOBS_WORKER "Runner.Worker"

struct kobs_job {                          /* id 0: no job (a --duration window) */
        long long id, run_id;
        unsigned attempt;
        char name[128], status[24], conclusion[24], runner_name[128];
        char head_sha[48], head_branch[256];
        time_t started, completed;
};

struct kobs_input {
        const char *lane, *run_id;         /* run_id: the same string in every file */
        const struct lk_obs_event *ev;
        size_t n_ev;
        uint64_t bad;                      /* records refused (size, ABI) */
        uint64_t drops[LK_HOOK_MAX], sent[LK_HOOK_MAX];
        uint64_t cgroup_id;
        const char *cgroup_path;
        bool cgroup_verified;              /* lanectl found the same id for the unit's cgroup */
        const struct kobs_job *job;
        const char *object, *digest;       /* the BPF object's policy name and sha256 */
        uint32_t ring_size;
        uint64_t high_water, attach_us, drain_us, from_ms, to_ms;   /* wall clock window */
};

enum kobs_file {
        KOBS_EVENTS,                       /* events.ndjson */
        KOBS_HEALTH,                       /* observation-health.json */
        KOBS_SURFACE,                      /* capability-surface.json */
        KOBS_CORRELATION,                  /* correlation-report.json */
        _KOBS_FILE_MAX,
};

struct kobs_report {
        struct json_object *obj[_KOBS_FILE_MAX];   /* KOBS_EVENTS: NULL (written a record at a time) */
        unsigned char *job;                /* per record: 1 the job's, 0 not (kobs_event_json) */
        bool complete;                     /* kernel layer complete: no drop, no bad record */
        bool clean;                        /* cgroup correlation clean */
        uint64_t drops;
        size_t job_events;
};

extern const char *const kobs_file_names[_KOBS_FILE_MAX];

int kobs_report_build(const struct kobs_input *in, struct kobs_report *ret);
void kobs_report_free(struct kobs_report *r);
/* Record I of IN as events.ndjson holds it (a new reference): built one at
 * a time, so that a window of millions of records never lives as JSON. */
struct json_object *kobs_event_json(const struct kobs_input *in, const struct kobs_report *rep, size_t i);

/* Whether PATH is runtime noise (loader, libraries, /proc, /sys, /dev,
 * locales) rather than something the job chose to read. */
bool kobs_noise_path(const char *path);
/* PATH with run-local names replaced: UUIDs by <uuid>, /proc/<pid> by /proc/<pid>. */
void kobs_normalise_path(const char *path, char *buf, size_t size);
