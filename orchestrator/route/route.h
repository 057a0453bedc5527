/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The routing switch of trusted pull requests and its guard: GitHub's runs,
 * jobs and pull requests read into struct slo_input (route-gather.c), the
 * repository's routing record in the store (route-state.c: what the
 * variable said and since when, the canary stage, the guard's trips, the
 * lanes and pools seen offline), and the guard itself (route-guard.c: it
 * evaluates slo.h's triggers and sets the variable to false, never to
 * true). A library: it never prints. lanectl(1) route, slo. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "proto-validate.h"
#include "settings.h"
#include "slo.h"

struct gh_client;
struct json_object;
struct audit_store;

#define ROUTE_REPO_MAX (PROTO_OWNER_MAX + PROTO_REPO_NAME_MAX + 2)

/* ---- route-parse.c (pure) ---- */
int route_parse_run(struct json_object *o, struct slo_run *ret);
/* The pull request's author and association into R (pr_known). */
int route_parse_pull(struct json_object *o, struct slo_run *r);
/* A job; self-hosted when it asks for one of LABELS (without case). */
int route_parse_job(struct json_object *o, const char (*labels)[PROTO_LABEL_MAX + 1], size_t n_labels,
                    struct slo_job *ret);

/* ---- route-gather.c ---- */
/* The pull-request runs of REPO, newest first, until LAST trusted ones
 * (and the untrusted ones beside them) are in, or GitHub's listing ends
 * (at most 1,000 runs: its filtered listings stop there); the pull
 * request of each same-repository run, and the jobs of each run. Every
 * request is conditional (the client's ETag cache). RET's arrays are
 * malloc'd: route_input_free(). */
int route_gather(struct gh_client *c, const char *repo, unsigned last, const struct route_settings *rs, time_t now,
                 struct slo_input *ret, char *err, size_t errlen);
void route_input_free(struct slo_input *in);

/* ---- route-state.c: STORE/route-OWNER+REPO.json ---- */
#define ROUTE_HISTORY_MAX 64
#define ROUTE_OFFLINE_MAX 32

/* The variable was seen to become VALUE at AT; it may have changed as
 * early as FROM (the last reading before that said otherwise). */
struct route_change {
        time_t from, at;
        bool value;
        char by[32];                         /* route enable, route disable, route guard, observed */
        char reason[SLO_TEXT_MAX];
};

struct route_state {
        char repo[ROUTE_REPO_MAX];
        char variable[SETTINGS_VARIABLE_MAX + 1];
        unsigned stage;                      /* the canary stage, 0..ROUTE_STAGE_MAX */
        time_t stage_started;                /* 0: routing never enabled by lanekeeper */
        time_t checked;                      /* the variable last read (or written) */
        bool have_value, value;
        size_t n_history;
        struct route_change history[ROUTE_HISTORY_MAX];   /* oldest first */
        unsigned long trips[_RT_MAX];        /* the guard turned routing off for each trigger */
        time_t last_trip;
        char last_trip_trigger[32], last_trip_evidence[SLO_TEXT_MAX];
        size_t n_offline;
        struct route_offline offline[ROUTE_OFFLINE_MAX];
        time_t last_guard;                   /* the guard's last run */
        char last_guard_result[SLO_TEXT_MAX];
};

void route_state_init(struct route_state *st, const char *repo, const char *variable);
/* REPO's record from STORE_FD: 0; -ENOENT none yet (*ST initialised);
 * -EBADMSG a damaged one (nothing trusted from it). */
int route_state_load(int store_fd, const char *repo, const char *variable, struct route_state *st);
int route_state_save(int store_fd, const struct route_state *st);
/* The variable reads VALUE at NOW: a change from the last reading is
 * added to the history (BY, REASON say who and why). True when it changed. */
bool route_state_observe(struct route_state *st, bool value, time_t now, const char *by, const char *reason);
/* Routing's value when a run was made at T: 1, 0; -1 not known (before
 * the first reading, or between a reading and the one that saw it change). */
int route_state_expect(const struct route_state *st, time_t t);
/* Since when routing has been on (the reading that saw it turn on); 0 off or unknown. */
time_t route_state_enabled_since(const struct route_state *st);
/* NAME (a lane or pool) seen offline or online at NOW; RECOVERY: a
 * recovery attempt was made for it now. */
void route_state_offline(struct route_state *st, const char *name, bool offline, bool recovery, time_t now);
/* The same, in REPO's record in STORE_FD (read, changed, written when it
 * changed): what health and the pool supervisor tell the guard. */
int route_note_offline(int store_fd, const char *repo, const char *variable, const char *name, bool offline,
                       bool recovery, time_t now);
/* Each run's expect_self_hosted from the history. */
void route_state_apply(const struct route_state *st, struct slo_input *in);
/* REPO's record held for a read, change and write (an exclusive flock on
 * STORE/route-OWNER+REPO.lock, waited for up to 30 s): health, the pool
 * supervisor, the guard and lanectl route each change it, and none may
 * write over what another wrote since its read. The lock's fd (close it
 * to let go), or -errno (-EBUSY: still held by another after 30 s). */
int route_state_lock(int store_fd, const char *repo);
/* "OWNER+REPO", lower case: the record's name stem. */
void route_state_name(const char *repo, char *buf, size_t size);

/* ---- route-guard.c ---- */
struct route_guard_result {
        bool was_on;                         /* the variable said true */
        bool turned_off;                     /* the guard set it to false */
        struct route_verdict verdict;
        struct slo_report report;            /* the criteria over the latest SLO_LAST_DEFAULT */
        bool have_report;
        unsigned stage;
        size_t stage_count;                  /* trusted runs counted in the stage */
        bool next_stage_ok;
        char problem[SLO_TEXT_MAX];          /* why it could not decide; "" */
};

void route_thresholds(const struct route_settings *rs, struct slo_thresholds *ret);
/* The variable NAME of REPO: true only when it says "true" (any case); not set is off. */
int route_read_variable(struct gh_client *c, const char *repo, const char *name, bool *ret, char *err, size_t errlen);
/* An audit record of a change of the variable (STATUS planned, completed,
 * failed; FROM may be NULL; EXTRA, may be NULL, goes in as "evidence"). */
int route_record(struct audit_store *audit, const char *status, const char *host, const char *command,
                 const char *repo, const char *variable, const char *from, const char *to, const char *reason,
                 struct json_object *extra, uint64_t *ret_seq);
/* The report over IN, the triggers (when routing is on) over the runs
 * since it was turned on, and the canary stage's count, for ST. */
int route_assess(const struct settings *s, const struct route_state *st, const struct slo_input *in,
                 struct route_guard_result *res);
void route_guard_result_free(struct route_guard_result *res);

/* The guard of REPO: read the variable and the runs, evaluate the
 * triggers over the runs since routing was turned on and the offline
 * facts of the record, and when one holds and routing is on, set the
 * variable to false; every change audited in AUDIT with its reason
 * (HOST, COMMAND name the caller). STORE_FD holds the record. 0 (RET
 * says what happened; route_guard_result_free() after), or -errno with
 * RET->problem. */
int route_guard(struct gh_client *c, int store_fd, struct audit_store *audit, const struct settings *s,
                const char *repo, const char *host, const char *command, time_t now, struct route_guard_result *ret);

/* The Prometheus text of REPOS' records and reports (lanekeeper_slo_*,
 * lanekeeper_route_*) into F. */
struct route_metrics {
        const struct route_state *st;
        const struct route_guard_result *res;   /* NULL: no figures this time */
};
void route_metrics_write(FILE *f, const struct route_metrics *m, size_t n);

/* ---- route-run.c ---- */
/* The guard over REPOS (N), each with its result in RES (N entries,
 * route_guard_result_free() each after); then the metrics textfile
 * ([route] metrics_file, or STORE/metrics/lanekeeper-route.prom). The
 * number of repositories where a trigger held, or the first -errno. */
int route_guard_repos(struct gh_client *c, const struct settings *s, char (*repos)[ROUTE_REPO_MAX], size_t n,
                      const char *host, const char *command, time_t now, struct route_guard_result *res);
void route_metrics_path(const struct settings *s, char *path, size_t size);
