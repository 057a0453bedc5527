/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The supervisor's side of a scale-set pool (mode = scale-set,
 * lanekeeper-pool(5)): the set found or made, its message session held
 * (a conflict left by a killed predecessor waited out), the long poll in
 * a child process (the event loop never waits on it), each message
 * handled once: available jobs acquired, the slots whose runners started
 * or finished a job noted, the service's statistics taken as the pool's
 * demand (assigned jobs), the message's id kept in the store before the
 * message is deleted, so that one read again after a restart is deleted
 * without being handled twice. STORE/pool-NAME.scaleset holds that id
 * and what lanectl pool status shows (the set, the session, the
 * statistics). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "gh-scaleset.h"

struct pool_sup;
struct sup_pool;

#define SUP_SS_POLL_MS 60000           /* one long poll's limit: the service answers within 50 s */
#define SUP_SS_CONFLICT_RETRY_S 15     /* a session held elsewhere: asked again this often */
#define SUP_SS_BACKOFF_MAX_S 10        /* a failing poll: the next one at most this much later */

struct sup_ss {
        struct gh_ss conn;
        bool observer;                 /* lanectl pool status's: the supervisor's record, no session of its own */
        bool rebuilt;                  /* the slots' runners were read from GitHub since the start */
        time_t retry_at;               /* no session: not asked again before */
        char problem[400];
        long long last_id;             /* the last message handled (kept in the store) */
        bool stats_known;
        struct gh_ss_stats stats;      /* the latest the service told */
        time_t stats_at;
        pid_t poll_pid;                /* the long poll running, 0: none */
        time_t poll_after;             /* a failed poll: the next not before */
        unsigned backoff_s;
        int poll_fd;
        char *buf;                     /* its answer so far: "STATUS\n" then the body */
        size_t len, cap;
        unsigned long messages, duplicates, acquired, sessions, conflicts, polls, poll_errors, refreshes;
};

/* SP's scale-set state made (SP->ss) when its mode asks for one, with
 * the last message handled from the store's record; an OBSERVER's with
 * all the record holds (the set, session and statistics as the
 * supervisor last wrote them), and it never opens a session. */
int sup_ss_new(struct pool_sup *s, struct sup_pool *sp, bool observer);
/* The session closed (the next supervisor need not wait it out), the
 * poll stopped, secrets wiped. */
void sup_ss_close(struct pool_sup *s, struct sup_pool *sp);

/* Before a pass reads SP: the set and a session, if it has none (at most
 * every SUP_SS_CONFLICT_RETRY_S while refused). -errno with sp->problem. */
int sup_ss_ensure(struct pool_sup *s, struct sup_pool *sp, time_t now);
/* Whether this pass must read the slots' runners from GitHub: at the
 * start, or while a slot's unit runs a runner not yet seen online. */
bool sup_ss_need_runners(const struct sup_pool *sp);
/* The jobs assigned to the set that no slot of it runs yet. */
unsigned sup_ss_queued(const struct sup_pool *sp);

/* The long poll of SP started when it has a session and none runs: its
 * fd to watch (readable until its end), or -1. */
int sup_ss_poll_start(struct pool_sup *s, struct sup_pool *sp);
/* Read what is readable: 1 when the poll ended, 0 while it runs. */
int sup_ss_poll_read(struct pool_sup *s, struct sup_pool *sp);
/* The ended poll reaped, its fd closed (the caller removed it from its
 * event loop first: a registration must not outlive the source) and its
 * answer handled; a pass is then due. */
void sup_ss_poll_finish(struct pool_sup *s, struct sup_pool *sp);

/* A JIT runner of the set for SLOT (a registration of its name left by
 * an earlier run removed first). */
int sup_ss_jit(struct pool_sup *s, struct sup_pool *sp, const char *slot, long long *ret_id, char **ret, char *err,
               size_t errlen);
/* Runner ID of the set removed: -EBUSY while it runs a job. */
int sup_ss_runner_delete(struct pool_sup *s, struct sup_pool *sp, long long id, char *err, size_t errlen);

/* The store's record of pool POOL (malloc'd "key=value" lines), or NULL. */
char *sup_ss_status_read(int store_fd, const char *pool);
