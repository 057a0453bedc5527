/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The field's rollout criteria for trusted pull requests on self-hosted
 * runners (field document 003, sections 6, 7, 10 and 11), computed from
 * GitHub's runs and jobs: which pull-request runs are trusted, where each
 * was routed, whether its runner came up, how long its jobs waited and how
 * long their setup took; the four success criteria over the latest N
 * trusted runs, the four rollback triggers of the routing guard, and the
 * canary stages. Pure: GitHub's answers come in as struct slo_input (see
 * route-gather.c), time is an argument. lanectl-slo is documented in
 * lanectl(1). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define SLO_LAST_DEFAULT 50
#define SLO_LAST_MAX 500
#define SLO_TEXT_MAX 300

/* Why a run is or is not trusted (the field's definition: a pull request
 * from the same repository whose author is not a bot and is the
 * repository's OWNER, a MEMBER or a COLLABORATOR). */
enum slo_trust {
        SLO_TRUSTED,
        SLO_NOT_PULL_REQUEST,        /* another event: not counted at all */
        SLO_FORK,                    /* head repository is another one */
        SLO_BOT,                     /* author (or actor) is a bot */
        SLO_ASSOCIATION,             /* CONTRIBUTOR, FIRST_TIME_CONTRIBUTOR, NONE, ... */
        SLO_TRUST_UNKNOWN,           /* the pull request could not be read */
        _SLO_TRUST_MAX,
        _SLO_TRUST_INVALID = -EINVAL,
};

/* Where a run's jobs were sent. */
enum slo_route {
        SLO_ROUTE_NONE,              /* it has no jobs (yet): not counted */
        SLO_ROUTE_SELF_HOSTED,       /* some job asks for a self-hosted label */
        SLO_ROUTE_HOSTED,            /* every job asks for hosted labels */
        _SLO_ROUTE_MAX,
        _SLO_ROUTE_INVALID = -EINVAL,
};

/* What became of a self-hosted job's runner. */
enum slo_life {
        SLO_LIFE_PENDING,            /* queued, or claimed and no step begun yet */
        SLO_LIFE_STARTED,            /* its steps began: the runner did its part */
        SLO_LIFE_NEVER_CLAIMED,      /* ended (cancelled, timed out) with no runner */
        SLO_LIFE_RUNNER_LOST,        /* a runner took it and it ended before any step */
        _SLO_LIFE_MAX,
        _SLO_LIFE_INVALID = -EINVAL,
};

struct slo_job {
        long long id;
        char name[128];
        char status[16], conclusion[24];
        bool self_hosted;            /* its labels ask for a self-hosted target */
        long long runner_id;         /* 0: none */
        char runner_name[128];
        time_t created, started, completed;   /* 0: not known */
        bool step_begun;             /* a step after GitHub's own "Set up job" began */
        time_t first_step;           /* when the first of them began; 0: not known */
};

struct slo_run {
        long long id;
        unsigned attempt;
        char event[32], status[16], conclusion[24], url[256];
        time_t created;
        long long pr;                /* 0: GitHub names none (a fork's run names none) */
        bool same_repo;              /* head repository is the repository itself */
        bool pr_known;               /* the pull request was read */
        char author[64], association[32];
        bool author_bot, actor_bot;
        int expect_self_hosted;      /* routing was on (1) or off (0) when it was made; -1 not known */
        size_t job0, n_jobs;         /* its jobs in slo_input.jobs */
        bool jobs_known;
};

/* Newest first, as GitHub lists them. */
struct slo_input {
        time_t now;
        size_t n_runs;
        struct slo_run *runs;
        size_t n_jobs;
        struct slo_job *jobs;
};

struct slo_thresholds {
        double lifecycle_pct;        /* >= 98 */
        double routing_pct;          /* >= 100 */
        double queue_wait_s;         /* p95 <= 120 */
        double setup_s;              /* p95 <= 180 */
        unsigned guard_window;       /* queue-wait trigger: the latest 10 trusted runs */
        unsigned consecutive;        /* boot-failure trigger: 2 runs in a row */
        unsigned offline_s;          /* offline this long after a recovery attempt: 600 */
};

void slo_thresholds_default(struct slo_thresholds *t);

enum slo_verdict { SLO_PASS, SLO_FAIL, SLO_NO_DATA, _SLO_VERDICT_MAX, _SLO_VERDICT_INVALID = -EINVAL };

struct slo_figure {
        enum slo_verdict verdict;
        double value;                /* percent, or seconds */
        double threshold;
        size_t n_runs, n_jobs;       /* behind the figure */
};

/* What each run is, as the report computed it. */
struct slo_run_view {
        enum slo_trust trust;
        enum slo_route route;
        enum slo_life life;          /* its worst self-hosted job */
        bool in_window;              /* among the latest N trusted, or an untrusted one beside them */
        int routing_ok;              /* 1, 0; -1 not counted */
        bool counted_life, counted_wait, counted_setup;
};

struct slo_report {
        unsigned last;
        size_t n_trusted, n_untrusted;       /* in the window */
        size_t n_pending;                    /* self-hosted jobs not yet begun or ended */
        struct slo_figure lifecycle, routing, queue_wait, setup;
        enum slo_verdict verdict;            /* PASS: every figure has data and passes */
        struct slo_run_view *views;          /* one per input run, the caller's array */
};

/* The p-th percentile of V (N values, sorted here) by the nearest-rank
 * method: the value at rank ceil(P/100 * N) of the sorted values. N > 0. */
double slo_percentile(double *v, size_t n, double p);

enum slo_trust slo_classify(const struct slo_run *r);
enum slo_route slo_run_route(const struct slo_input *in, const struct slo_run *r);
enum slo_life slo_job_life(const struct slo_job *j);
/* The run's worst self-hosted job: a runner failure before pending before started. */
enum slo_life slo_run_life(const struct slo_input *in, const struct slo_run *r);
/* Whether a bot's login: "NAME[bot]". */
bool slo_login_is_bot(const char *login);

/* The criteria over the latest LAST trusted pull-request runs of IN (and
 * the untrusted ones made since the oldest of them, for routing).
 * RET->views must hold IN->n_runs entries. */
void slo_compute(const struct slo_input *in, unsigned last, const struct slo_thresholds *t, struct slo_report *ret);

/* ---- the routing guard ---- */

enum route_trigger {
        RT_BOOT_FAILURE,             /* two trusted runs in a row failed before any step for runner reasons */
        RT_QUEUE_WAIT,               /* p95 trusted queue wait over 120 s across the latest 10 */
        RT_OFFLINE,                  /* a lane or pool offline 10 minutes after a recovery attempt */
        RT_MISMATCH,                 /* a trusted run not sent where routing said, or an untrusted one self-hosted */
        _RT_MAX,
        _RT_INVALID = -EINVAL,
};

/* A lane or pool of the repository that is offline, as health and the
 * pool supervisor saw it. */
struct route_offline {
        char name[128];
        time_t since;                /* first seen offline */
        time_t recovery;             /* the first recovery attempt since; 0: none yet */
};

struct route_verdict {
        bool held[_RT_MAX];
        char evidence[_RT_MAX][SLO_TEXT_MAX];
        size_t n_held;
        double queue_p95;            /* -1: no job to measure */
        size_t queue_runs;
};

/* The triggers over the runs of IN made at or after SINCE (routing last
 * enabled; 0: all), and the offline facts. Pure. */
void route_evaluate(const struct slo_input *in, time_t since, const struct route_offline *off, size_t n_off,
                    const struct slo_thresholds *t, struct route_verdict *ret);

/* The evidence of the first trigger that holds ("" none). */
const char *route_verdict_first(const struct route_verdict *v);

/* ---- canary stages (0: 1 trusted PR, 1: the next 10, 2: the next 25, 3: all) ---- */
#define ROUTE_STAGE_MAX 3
/* Trusted runs a stage needs before the next may begin; 0 for the last. */
unsigned route_stage_size(unsigned stage);
/* Trusted self-hosted runs made at or after SINCE that ended. */
size_t route_stage_count(const struct slo_input *in, time_t since);

const char *slo_trust_to_string(enum slo_trust t);
const char *slo_route_to_string(enum slo_route r);
const char *slo_life_to_string(enum slo_life l);
const char *slo_verdict_to_string(enum slo_verdict v);
const char *route_trigger_to_string(enum route_trigger t);
enum route_trigger route_trigger_from_string(const char *s);
