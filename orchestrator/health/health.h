/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Health (lanectl health, lanectl status): what a cron'd health script does
 * today, done from one snapshot of GitHub and of this host's lanes.
 *
 * The snapshot (health-gather.c) holds the active runs of the repositories
 * this host's lanes serve, their jobs, the runners of the lanes' scopes and
 * each lane's observation. The planner (health-plan.c) is pure: from the
 * snapshot and the [health] settings it finds what is wrong and plans the
 * actions, each checked against the rule that nothing of another host, an
 * unmanaged runner or a label set this host does not serve is touched, and
 * capped per cycle. The actions (health-act.c) each write a planned record,
 * act (GitHub for runs, exec_lane() for lanes) and write completed or
 * failed. A library: it never prints. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lane-file.h"
#include "observation.h"
#include "proto-register.h"
#include "settings.h"

#define HEALTH_MAX_LABELS 16          /* of a job or runner kept; more are marked truncated */
#define HEALTH_MAX_REPOS 64
#define HEALTH_MAX_ACTIONS 256
#define HEALTH_MAX_FINDINGS 128
#define HEALTH_TEXT_MAX 300
#define HEALTH_REPO_MAX (PROTO_OWNER_MAX + PROTO_REPO_NAME_MAX + 2)
#define HEALTH_MAX_CACHE_HITS 32
#define HEALTH_CACHE_WINDOW_S (24 * 3600)   /* failed runs older than this are not looked at */

struct hlabels {
        size_t n;
        bool truncated;
        char v[HEALTH_MAX_LABELS][PROTO_LABEL_MAX + 1];
};

struct hjob {
        long long id, run_id, runner_id;     /* runner_id 0: none yet */
        char name[128];
        char status[16], conclusion[24];
        char runner_name[PROTO_FOREIGN_NAME_MAX + 1];
        time_t created, started;             /* 0: not yet */
        struct hlabels labels;
};

struct hrun {
        long long id, workflow_id;
        unsigned attempt;
        size_t repo;                         /* index in snapshot.repos */
        char name[128], branch[256], event[32], status[16], conclusion[24], url[256];
        time_t created;
        size_t job0, n_jobs;                 /* its jobs in snapshot.jobs */
        bool jobs_known;
};

struct hrepo {
        char name[HEALTH_REPO_MAX];
        char default_branch[256];            /* "" when it could not be read */
        bool known;                          /* its runs and their jobs were read */
        char problem[HEALTH_TEXT_MAX];
};

struct hrunner {
        long long id;
        char name[PROTO_FOREIGN_NAME_MAX + 1];
        bool online, busy;
        struct hlabels labels;
        int lane;                            /* index in snapshot.lanes, -1: not this host's */
};

struct hlane {
        const struct lane_desired *d;
        struct observation o;
        bool enabled;                        /* health may act on it (its file says managed) */
        bool have_cache;                     /* its unit's measurement of the actions cache */
        struct proto_cache_stats cache;
};

/* A failed job of a lane's runner whose log says the runner found no
 * action.yml in the lane's actions cache: the cache is damaged. */
struct hcache_hit {
        size_t repo;
        long long run_id, job_id;
        unsigned attempt;
        int lane;
        bool rerun_ok;                       /* the run's latest attempt is this one, completed */
        bool reran_before;                   /* health reran an earlier attempt of it already */
        char path[200];                      /* the entry the log names */
};

struct health_snapshot {
        time_t now;                          /* GitHub's clock when known, else ours */
        bool have_offset;
        long long clock_offset_s;            /* GitHub's minus ours */
        bool have_rate;
        long long rate_remaining, rate_limit;
        size_t n_repos;
        struct hrepo repos[HEALTH_MAX_REPOS];
        size_t n_runs, cap_runs;
        struct hrun *runs;
        size_t n_jobs, cap_jobs;
        struct hjob *jobs;
        bool runners_known;                  /* every lane scope's runners were read */
        char runners_problem[HEALTH_TEXT_MAX];
        size_t n_runners, cap_runners;
        struct hrunner *runners;
        size_t n_lanes;
        struct hlane *lanes;                 /* the caller's array */
        bool cache_examined;                 /* the recent failures were looked at */
        char cache_problem[HEALTH_TEXT_MAX];
        size_t n_cache_hits;
        struct hcache_hit cache_hits[HEALTH_MAX_CACHE_HITS];
};

enum health_check {
        HC_STALE,
        HC_SUPERSEDED,
        HC_PR_PRIORITY,
        HC_CACHE,
        HC_OFFLINE,
        HC_CLOCK,
        _HC_MAX,
        _HC_INVALID = -EINVAL,
};

enum health_verb { HV_CANCEL_RUN, HV_RERUN_FAILED, HV_CLEAR_CACHE, HV_RESTART, HV_REREGISTER, HV_FINISH_DRAIN, _HV_MAX };

enum health_result { HR_PLANNED, HR_COMPLETED, HR_FAILED, HR_SKIPPED, HR_CAPPED, _HR_MAX };

struct health_action {
        enum health_check check;
        enum health_verb verb;
        int repo;                            /* -1: none */
        long long run_id;
        long long job_id;                    /* stale: the job that must still be queued */
        int lane;                            /* -1: none */
        int after;                           /* -1, or the action that must complete first */
        unsigned attempt;                    /* rerun: the attempt that failed */
        unsigned max_age_days;               /* clear-cache: 0 every entry */
        char reason[HEALTH_TEXT_MAX];
        enum health_result result;
        char detail[HEALTH_TEXT_MAX];
        uint64_t seq;                        /* the last record written for it */
};

/* What a check found that is not an action: a degraded lane, a run left
 * alone and why. */
struct health_finding {
        enum health_check check;
        int lane;                            /* -1: none */
        bool degraded;                       /* counts against health (exit 1) */
        char text[HEALTH_TEXT_MAX];
};

struct health_plan {
        size_t n_actions;
        struct health_action actions[HEALTH_MAX_ACTIONS];
        size_t n_findings, findings_dropped;
        struct health_finding findings[HEALTH_MAX_FINDINGS];
};

/* The queue per label set: the exact set jobs ask for (without case). */
struct health_labelset {
        struct hlabels labels;
        size_t queued, stale, online_runners, busy_runners;
        time_t oldest;                       /* the oldest queued job's created_at */
        bool served;                         /* some lane of this host has every label */
        char repos[HEALTH_TEXT_MAX];         /* the repositories whose jobs ask for it */
};

const char *health_check_to_string(enum health_check c);
enum health_check health_check_from_string(const char *s);
const char *health_verb_to_string(enum health_verb v);
const char *health_result_to_string(enum health_result r);

/* Whether a runner with labels HAVE can take a job asking for WANT: every
 * wanted label, compared without case. */
bool health_labels_match(const struct hlabels *want, const struct hlabels *have);
/* The lane of this host that would run J (its labels, as GitHub lists
 * them or as its file wants them), or -1. */
int health_job_lane(const struct health_snapshot *s, const struct hjob *j);
/* The lane whose runner runs or ran J (by runner id, else by name), or -1. */
int health_runner_lane(const struct health_snapshot *s, const struct hjob *j);
bool health_job_active(const struct hjob *j);
bool health_run_active(const struct hrun *r);

/* Plan a cycle: the checks ONLY selects (all when NULL), within the caps
 * of HS. Pure. */
void health_plan(const struct health_snapshot *s, const struct health_settings *hs, const bool *only,
                 struct health_plan *ret);

/* Whether every active job of R is this host's (queued for labels a lane
 * here serves, or on a lane's runner); if not, BUF says which is not. */
bool health_run_all_ours(const struct health_snapshot *s, const struct hrun *r, char *buf, size_t size);

/* The queue per label set: at most MAX sets filled, their number returned
 * (a job whose set does not fit is left out). */
size_t health_queue(const struct health_snapshot *s, const struct health_settings *hs, struct health_labelset *ret,
                    size_t max);

/* Whether LOG (a job's) says the runner found no action.yml under an
 * entry of the actions cache beneath LANE_DIR (ROOT/LANE); the entry's
 * path into PATH. The log is the job's output: what it says is only a
 * reason to clear that lane's own cache and rerun its failed jobs once. */
bool health_log_cache_damage(const char *log, size_t len, const char *lane_dir, char *path, size_t size);

/* The cache check (health-cache.c): plans clear-cache and rerun-failed-jobs. */
void health_check_cache(const struct health_snapshot *s, const struct health_settings *hs, struct health_plan *p);

/* ---- for health's own files ---- */
void health_plan_finding(struct health_plan *p, enum health_check c, int lane, bool degraded, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
struct health_action *health_plan_action(struct health_plan *p, enum health_check c, enum health_verb v, int repo,
                                         long long run_id, int lane, const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));

/* Whether GitHub lists the lane's runner with labels other than its
 * file's (compared without case). */
bool health_lane_labels_drift(const struct hlane *l);

/* Add to the snapshot's arrays (grown as needed): 0 or -ENOMEM. */
int health_add_run(struct health_snapshot *s, const struct hrun *r);
int health_add_job(struct health_snapshot *s, const struct hjob *j);
int health_add_runner(struct health_snapshot *s, const struct hrunner *r);
void health_snapshot_free(struct health_snapshot *s);
