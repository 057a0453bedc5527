/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executor (DESIGN §6), as a library: apply, restart and remove (and,
 * in wave 2, health and the pool supervisor) call exec_lane() for one lane.
 * It locks the lane (busy: nothing done), returns the first result of a
 * key seen before, observes and plans, refuses a blocked plan, performs the
 * planned action (a registration token only when creating, handed to the
 * lane's own unit; the helper's verbs; the labels API for a reconcile; a
 * stop, deregistration and remove-unit for a remove), then polls the
 * completion gates until the deadline, and writes one record: completed
 * only when every gate passed, else failed, naming the step or gate.
 *
 * Every effect goes through struct exec_ops (the helper, GitHub,
 * observation, the hand-off, processes, the clock and the store), so the
 * executor is tested with fakes (tests/check-exec.c). It allocates nothing
 * static: the caller owns the request and the result. It never prints. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "apply-state.h"
#include "gates.h"
#include "helper-client.h"
#include "lane-hold.h"
#include "plan.h"

struct json_object;
struct gh_runner;
struct proto_register;
struct proto_cache_stats;

enum exec_cmd {
        EXEC_APPLY,
        EXEC_RESTART,
        EXEC_REMOVE,
        EXEC_DRAIN,          /* routing labels off, held; the unit stopped once the runner is idle */
        EXEC_UNDRAIN,        /* the labels back, the unit started, the hold lifted */
        EXEC_ROTATE,         /* idle: deregistered and registered again (new credentials) */
        EXEC_REVOKE,         /* at once: stopped (a job killed), credentials purged, deregistered, held */
        EXEC_UNREVOKE,       /* the revoke's hold lifted, with another GitHub credential */
        _EXEC_CMD_MAX,
        _EXEC_CMD_INVALID = -EINVAL,
};

enum exec_outcome {
        EXEC_COMPLETED,     /* every step and gate passed (a dry run: ready) */
        EXEC_BLOCKED,       /* the plan is blocked: nothing done, recorded as refused (a dry run: planned) */
        EXEC_FAILED,        /* a step or gate failed: res->failed names it */
        EXEC_BUSY,          /* another command holds the lane: nothing done, nothing recorded */
        EXEC_REPEATED,      /* the key was used for this lane and command: res->prev is the first result */
        EXEC_ERROR,         /* nothing done, or done but not recorded: res->error says which */
        _EXEC_OUTCOME_MAX,
        _EXEC_OUTCOME_INVALID = -EINVAL,
};

#define EXEC_MAX_STEPS 20
#define EXEC_DETAIL_MAX 300
#define EXEC_DEFAULT_TIMEOUT_S 120
#define EXEC_REGISTER_WAIT_S 60

struct exec_step {
        const char *name;              /* static */
        long long ms;
        bool ok;
        char detail[EXEC_DETAIL_MAX];
};

struct exec_gate {
        enum gate_id id;
        enum gate_verdict verdict;
        char detail[GATE_DETAIL_MAX];
};

/* apply --smoke (exec_request.prove): once every gate passed, before the
 * completed record, the lane proved by a real job. RUN is given the lane
 * and its runner's id on GitHub; it sets *RET_EVIDENCE (a JSON object the
 * record keeps as "smoke", or NULL) and DETAIL (one line: the run and
 * runner, or why not), and returns whether the lane is proven. A lane not
 * proven stays applied: the outcome stays completed, the record says
 * "proven": false, lanectl exits 5. */
struct exec_prove {
        bool (*run)(void *data, const struct lane_desired *d, long long runner_id, struct json_object **ret_evidence,
                    char *detail, size_t size);
        void *data;
};

enum exec_proof {
        PROOF_NOT_ASKED,
        PROOF_PROVEN,
        PROOF_NOT_PROVEN,
};

struct exec_request {
        enum exec_cmd cmd;
        const struct lane_desired *lane;
        const struct plan_policy *pol;
        struct plan_request plan;      /* intent is set from cmd */
        const char *key;               /* NULL only for a dry run */
        const char *host;              /* this host's name, for the record */
        const char *web_url;           /* where config.sh registers (GitHub's web origin + owner[/repo]) */
        unsigned timeout_s;
        bool purge;                    /* remove --purge */
        bool clear_actions;            /* restart: the actions cache cleared as it starts, between jobs only */
        unsigned cache_max_age_days;   /* clear_actions: 0 every entry, else older ones and damaged ones */
        bool reset_work;               /* restart: stopped (its cgroup seen empty), _work emptied as it starts
                                        * (lanectl gate run's destructive reset), between jobs only */
        bool dry_run;                  /* restart/remove without --apply: plan and record only */
        const char *reason;            /* drain, revoke: the operator's, kept in the hold and the record */
        const char *credential_fp;     /* revoke, unrevoke: the GitHub credential's fingerprint */
        unsigned idle_wait_s;          /* drain: how long to wait for the running job (0: not at all) */
        const struct exec_prove *prove;       /* apply: NULL, or the smoke run once the gates passed */
};

struct exec_result {
        enum exec_outcome outcome;
        struct observation o;
        bool planned;                  /* p holds the plan */
        struct plan p;
        size_t n_steps;
        struct exec_step steps[EXEC_MAX_STEPS];
        size_t n_gates;
        struct exec_gate gates[_GATE_ID_MAX];
        bool gates_checked;            /* the last step was the gates */
        const char *failed;            /* the step or gate that failed; NULL otherwise */
        char busy_job[EXEC_DETAIL_MAX];       /* the job a busy runner runs (remove) */
        char legacy_unit[256];         /* svc.sh's unit for this runner, when installed */
        char routed_by[EXEC_DETAIL_MAX];      /* drain: the labels that still route jobs to it, if any */
        char killed_job[EXEC_DETAIL_MAX];     /* revoke: the job the stop killed */
        long long old_runner_id;       /* rotate: the registration replaced */
        unsigned long long old_credentials_stamp;
        bool left_draining;            /* drain: the runner still runs a job; the unit was not stopped */
        bool legacy_enabled;
        uid_t uid;                     /* the lane user's, resolved once the lane is locked */
        long long started_ms, duration_ms;
        enum exec_proof proof;         /* apply with exec_request.prove: whether the smoke proved the lane */
        long long proof_ms;
        char proof_detail[EXEC_DETAIL_MAX];
        uint64_t seq;                  /* the record's number */
        struct idempotency_result prev;       /* EXEC_REPEATED */
        char error[512];               /* EXEC_ERROR */
};

/* GitHub, as the executor needs it; DATA NULL in exec_ops means no client
 * (exec_ops.github_problem says why). */
struct exec_github_ops {
        int (*registration_token)(void *data, const char *scope, char **ret_token, size_t *ret_len, char *err,
                                  size_t errlen);
        int (*set_labels)(void *data, const char *scope, long long id, const char *const *labels, size_t n,
                          struct gh_runner *ret, char *err, size_t errlen);
        int (*delete_runner)(void *data, const char *scope, long long id, char *err, size_t errlen);
        int (*runner_job)(void *data, const char *repo, long long id, char *buf, size_t size, char *err, size_t errlen);
};

struct exec_offer;   /* a hand-off being served: the ops' own */
struct exec_watch;   /* what the gates wait on: the ops' own */

enum exec_watch_flags {
        EXEC_WATCH_UNIT = 1 << 0,      /* the unit's state changes (PropertiesChanged) */
        EXEC_WATCH_RUNNER = 1 << 1,    /* "Listening for Jobs" written to the runner's _diag log */
};

struct exec_ops {
        const struct helper_ops *helper;
        void *helper_data;
        const struct exec_github_ops *github;
        void *github_data;             /* NULL: no GitHub client */
        const char *github_problem;    /* why there is none */
        /* Observe the lane (GitHub's listing, the directory, the unit, baseline). */
        void (*observe)(void *data, const struct lane_desired *d, struct observation *ret);
        /* Offer REG (wiped here) on the lane's hand-off socket; end it (WITHDRAW:
         * nothing will ask) and say whether the answer was taken (ERR: why not). */
        int (*offer_start)(void *data, const struct lane_desired *d, uid_t uid, struct proto_register *reg,
                           struct exec_offer **ret, char *err, size_t errlen);
        bool (*offer_end)(void *data, struct exec_offer *offer, bool withdraw, char *err, size_t errlen);
        /* Processes in the unit's cgroup; processes of UID that could hold
         * files in the lane directory: their number, a few named in BUF. */
        size_t (*unit_processes)(void *data, const char *unit, char *buf, size_t size);
        size_t (*user_processes)(void *data, uid_t uid, const char *unit, char *buf, size_t size);
        /* Processes named Runner.Worker (a job) in the unit's cgroup. */
        size_t (*unit_workers)(void *data, const char *unit);
        /* The actions cache measurement the lane's unit left (proto-register.h). */
        int (*cache_stats)(void *data, const struct lane_desired *d, struct proto_cache_stats *ret);
        /* Entries left in the lane directory, or -errno. */
        long (*lane_dir_entries)(void *data, const struct lane_desired *d);
        /* Whether systemd must reload to see UNIT's file as written now: 1
         * (loaded, and its file or drop-ins changed since; or unknown), 0
         * (not loaded, or loaded as not found: read on its start). WHY says
         * which. NULL: always reload. */
        int (*unit_needs_reload)(void *data, const char *unit, char *why, size_t size);
        /* svc.sh's unit for the lane, if installed: its name into BUF. */
        void (*legacy_unit)(void *data, const char *lane, char *buf, size_t size, bool *ret_enabled);
        /* What wakes the gates before their next poll (NULL: they only
         * poll): watch_start watches the lane D for what may change its
         * observation (exec_watch_flags: its unit's state over the bus,
         * the runner saying in _diag that it listens; 0 and no watch when
         * neither can be watched, WHY says why); watch_wait returns 1 when
         * one of them happened (WHY: which) or 0 after MS; watch_end
         * releases it. */
        unsigned (*watch_start)(void *data, const struct lane_desired *d, struct exec_watch **ret, char *why,
                                size_t size);
        int (*watch_wait)(void *data, struct exec_watch *w, long long ms, char *why, size_t size);
        void (*watch_end)(void *data, struct exec_watch *w);
        long long (*now_ms)(void *data);           /* monotonic */
        time_t (*wall_time)(void *data);           /* for the record's time */
        void (*sleep_ms)(void *data, long long ms);
        /* The uid of USER: 0, or -ENOENT. */
        int (*user_uid)(void *data, const char *user, uid_t *ret);
        /* The store: the lane lock (an fd, -EBUSY), keys, records. */
        int (*lock)(void *data, const char *lane, int *ret_fd);
        int (*key_lookup)(void *data, const char *key, const char *lane, const char *cmd, struct idempotency_result *ret);
        int (*key_record)(void *data, const char *key, const struct idempotency_result *res);
        int (*append_record)(void *data, struct json_object *record, uint64_t *ret_seq);
        /* The lane's hold (lane-hold.h): HOLD_NONE lifts it. */
        int (*hold_save)(void *data, const char *lane, const struct lane_hold *h);
        void *data;                    /* passed to every function above but helper and github */
};

const char *exec_cmd_to_string(enum exec_cmd c);
const char *exec_outcome_to_string(enum exec_outcome o);
/* lanectl's exit status for an outcome (lanectl(1)): 0 completed, 1
 * blocked, 2 error, 3 busy, 4 failed, 5 completed but not proven by the
 * smoke; a repeated key: the first result's. */
int exec_exit_status(const struct exec_result *res);

/* Where config.sh registers D (exec_request.web_url): GitHub's web origin
 * for the API URL API, then /OWNER[/REPO]. */
void exec_web_url(const char *api, const struct lane_desired *d, char *buf, size_t size);

/* Run REQ for one lane; RES is filled whatever the outcome. Returns the outcome. */
enum exec_outcome exec_lane(const struct exec_ops *ops, const struct exec_request *req, struct exec_result *res);

/* The audit record of RES with STATUS (planned, refused, completed, failed)
 * at WHEN (UTC, ISO 8601): the one place records are rendered. */
struct json_object *exec_record(const struct exec_request *req, const struct exec_result *res, const char *status,
                                const char *when);

/* ---- for the executor's own files (exec-*.c) ---- */
struct exec_run {
        const struct exec_ops *ops;
        const struct exec_request *req;
        struct exec_result *res;
        bool keep_down;                /* revoke: a failed stop never starts the unit again */
        struct json_object *proof;     /* the smoke's evidence, for the record */
};
struct exec_step *exec_step_begin(struct exec_run *x, const char *name);
bool exec_step_end(struct exec_run *x, struct exec_step *st, bool ok, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void exec_observe(struct exec_run *x);
bool exec_helper_step(struct exec_run *x, const char *name, enum proto_verb verb);
/* Steps install-unit and daemon-reload, the reload only when needed. */
bool exec_install_unit(struct exec_run *x);
int exec_helper_call(struct exec_run *x, enum proto_verb verb, char *err, size_t errlen);
bool exec_create(struct exec_run *x);
bool exec_reconcile(struct exec_run *x);
bool exec_remove(struct exec_run *x);
bool exec_take_down(struct exec_run *x, bool unit, bool purge_check);
bool exec_clear_actions(struct exec_run *x);
bool exec_drain(struct exec_run *x);
bool exec_undrain(struct exec_run *x);
bool exec_rotate(struct exec_run *x);
bool exec_rotated(struct exec_run *x);
bool exec_revoke(struct exec_run *x);
bool exec_unrevoke(struct exec_run *x);
bool exec_stop_unit(struct exec_run *x, bool purge_check);
bool exec_answer_by_start(struct exec_run *x, struct exec_step *st, struct proto_register *reg, const char *what);
bool exec_deregister(struct exec_run *x, long long id, bool unit);
void exec_busy_job(struct exec_run *x, char *buf, size_t size);
struct gate_ctx exec_gate_ctx(const struct exec_run *x);
