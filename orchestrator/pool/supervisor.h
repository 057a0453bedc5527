/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl pool supervise, as a library the command drives from its event
 * loop: per pool, one pass reads GitHub (the scope's runners, the queued
 * jobs of its repositories: conditional requests, so an unchanged poll
 * costs no rate limit) and systemd (each slot's unit), decides
 * (pool-plan.h) and acts through the helper (install-unit once per slot,
 * restart, stop) and GitHub (a runner deleted before its slot stops),
 * each action audited. It keeps nothing it could not rebuild: after a
 * restart, or a kill -9, the next pass reads the same state again. Slots
 * ask for their JIT configuration on their own sockets (slot-serve.h):
 * a new job costs no helper call and no daemon-reload. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "exec-real.h"
#include "pool-plan.h"
#include "proto-policy.h"
#include "slot-serve.h"

#define SUP_MAX_POOLS 32
#define SUP_MAX_REPOS 32
#define SUP_LATENCY_BUCKETS 12       /* upper bounds 0.1 s, 0.25 s, ... (x2.5), then +Inf */
#define SUP_LATENCY_FIRST 0.1
#define SUP_LATENCY_FACTOR 2.5

struct sup_slot {
        struct slot_server srv;
        struct slot_seen seen;
        time_t handed;                 /* its JIT configuration handed over, 0: not since it was last seen online */
        long long handed_runner;       /* the runner id that JIT configuration made */
        bool refused;                  /* its install was refused: the operator trusts it again */
        char refusal[200];
        long long job_id, run_id;      /* the job its runner runs, 0: none seen */
        char job[128];
        void *conn_source;             /* the event loop's, for the connection being served */
        void *listen_source;
};

struct sup_ss;

struct sup_pool {
        struct pool_desired p;
        struct sup_ss *ss;             /* mode scale-set: the set, its session and poll (sup-scaleset.h), else NULL */
        char scope[200];               /* repos/OWNER/REPO or orgs/ORG */
        size_t n_repos;                /* whose queued jobs count */
        char repos[SUP_MAX_REPOS][200];
        long long group_id;            /* the runner group's id, 0 until read */
        uid_t uid;
        bool draining;
        bool known;                    /* the last pass read GitHub and systemd */
        char problem[700];
        unsigned n_slots;              /* slots read: max, or more while slots above a lowered max live */
        struct pool_decision last;
        time_t decided;
        struct sup_slot slots[POOL_MAX_SLOTS];
};

struct sup_counters {
        unsigned long long passes, jit_issued, jit_failed, never_online, refused, actions_failed;
        unsigned long long started, stopped, stop_skipped_busy;
        unsigned long long forgotten;      /* registrations of slots whose unit was down, removed */
        unsigned long long jit_lost;       /* JIT configurations made but not delivered: registration removed */
        /* seconds from a job queued to a pool runner claiming it */
        unsigned long long claim_buckets[SUP_LATENCY_BUCKETS + 1];
        double claim_sum;
        unsigned long long claim_count;
        unsigned long long webhook[4];     /* requests by enum webhook_result */
        bool webhook_on;
};

/* The helper's part of a pass, in a child process: the helper's restart
 * waits for the slot's start, whose ExecStartPre= asks this process,
 * which must stay free to answer. */
struct sup_child_item {
        size_t pool;
        struct pool_action a;
        int r;
        int changed;                   /* install: the unit file written anew (1), as it was (0), unknown (-1) */
        char detail[600];
};

struct pool_sup {
        struct exec_real *real;        /* GitHub, the helper, the bus */
        struct audit_store *store;
        int store_fd;
        const char *host;
        const char *register_dir;
        unsigned never_online_s;
        size_t n_pools;
        struct sup_pool *pools;        /* the caller's */
        struct sup_counters c;
        long long seen_claims[256];    /* job ids whose claim was counted (a ring) */
        size_t n_seen_claims;
        pid_t child;                   /* the helper's part of the last pass, 0: none running */
        int child_fd;                  /* its results, -1: none */
        size_t n_items, n_done;
        struct sup_child_item items[SUP_MAX_POOLS * 8];
};

/* The child's results read from child_fd (readable, or at its end): each
 * action recorded; 1 at its end, 0 while it runs. */
int sup_child_read(struct pool_sup *s);
/* At its end: what it did not report recorded as failed, child_fd closed
 * (the caller removed it from its event loop first: an epoll
 * registration must not outlive its source), the child reaped. */
void sup_child_finish(struct pool_sup *s);

/* Every slot's socket opened (its user's uid resolved): 0, or -errno with
 * ERR (what was opened stays open; sup_close closes it). */
int sup_open(struct pool_sup *s, char *err, size_t errlen);
void sup_close(struct pool_sup *s);

/* One pass over every pool at NOW: GitHub's part of the actions here, the
 * helper's in a child (s->child, s->child_fd). No pass acts while a child
 * runs. */
void sup_pass(struct pool_sup *s, time_t now);

/* The hooks a slot's socket serves with (data: the struct pool_sup). */
extern const struct slot_hooks sup_hooks_template;
struct slot_hooks sup_hooks(struct pool_sup *s);

/* Read SP (its slots from GitHub and systemd, its queue) and decide at
 * NOW into sp->last, acting on nothing: 0, or -errno with sp->problem. */
int sup_observe(struct pool_sup *s, struct sup_pool *sp, time_t now);

/* The pool files read again (POOLS[0..N-1], valid ones): a pool's min,
 * max, spare, labels and group taken; what a running supervisor cannot
 * take (a new pool, another scope, user or root) said on LOG. The number
 * of pools whose min, max or spare changed. Slots a raised max adds are
 * opened by sup_open. */
int sup_reload(struct pool_sup *s, const struct pool_desired *pools, size_t n, FILE *log);

/* The supervisor's metrics (Prometheus text format, version 0.0.4) into
 * F: per pool, slots by state, the target and its reasons; counters, the
 * queue-to-claim histogram, GitHub's rate limit and token refreshes. */
void sup_metrics(const struct pool_sup *s, FILE *f);

/* Audit record of the supervisor: STATUS of ACTION on SLOT (NULL: the pool). */
void sup_record(struct pool_sup *s, const struct sup_pool *sp, const char *slot, const char *action,
                const char *status, const char *detail);

/* Slot N of SP when NAME is one of its slots' ("POOL-N"), else 0. */
unsigned sup_slot_number(const struct sup_pool *sp, const char *name);

/* A job (JOB_ID) a pool runner took SECS after it was queued: counted once. */
void sup_note_claim(struct pool_sup *s, long long job_id, double secs);

/* The pool and slot named SLOT, or NULL. */
struct sup_slot *sup_find(struct pool_sup *s, const char *slot, struct sup_pool **ret_pool);

/* SP for P: its scope, and the repositories whose queue counts (its own,
 * or the policy HP's of its organisation). */
void sup_pool_init(struct sup_pool *sp, const struct pool_desired *p, const struct helper_policy *hp);

/* Whether SP is offline for the routing guard: it wants runners (its
 * target above 0, not drained) and none of its slots' runners is online,
 * as its last pass saw: 1 (*RECOVERY: that pass started or recycled a
 * slot, or one is starting or failed: a recovery attempt), 0 online or
 * not wanted, -1 not known (the pass could not read it). */
int sup_pool_offline(const struct sup_pool *sp, bool *recovery);

/* A pool's drain: a file in the store (STORE/pool-POOL.drain), so that
 * it outlives the supervisor. */
bool sup_pool_draining(int store_fd, const char *pool);
int sup_pool_set_draining(int store_fd, const char *pool, bool on);
