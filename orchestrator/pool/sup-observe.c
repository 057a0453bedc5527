/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The supervisor's reading of a pool (supervisor.h): its slots as GitHub
 * and systemd have them, the queued jobs its labels satisfy, the job each
 * busy slot runs, and the decision on them; its pool file read again. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gh-client.h"
#include "health-gather.h"
#include "health.h"
#include "inventory.h"
#include "macro.h"
#include "observe.h"
#include "store-file.h"
#include "sup-scaleset.h"
#include "supervisor.h"

void sup_pool_init(struct sup_pool *sp, const struct pool_desired *p, const struct helper_policy *hp) {
        const struct lane_desired *l = &p->lane;
        size_t ol = strlen(l->organisation);

        memset(sp, 0, sizeof *sp);
        sp->p = *p;
        sp->n_slots = p->max;
        for (unsigned n = 0; n < POOL_MAX_SLOTS; n++) {
                sp->slots[n].srv.fd = sp->slots[n].srv.conn = -EBADF;
                (void) !snprintf(sp->slots[n].srv.slot, sizeof sp->slots[n].srv.slot, "%.60s-%u", l->name, n + 1);
        }
        if (l->repository[0]) {
                snprintf(sp->scope, sizeof sp->scope, "repos/%s", l->repository);
                snprintf(sp->repos[sp->n_repos++], sizeof sp->repos[0], "%s", l->repository);
                sp->group_id = 1;   /* a repository's runners are in the default group */
                return;
        }
        snprintf(sp->scope, sizeof sp->scope, "orgs/%s", l->organisation);
        /* an organisation's queue: the policy's repositories of it */
        for (size_t i = 0; i < hp->n_repositories && sp->n_repos < SUP_MAX_REPOS; i++)
                if (strncasecmp(hp->repositories[i], l->organisation, ol) == 0 && hp->repositories[i][ol] == '/')
                        snprintf(sp->repos[sp->n_repos++], sizeof sp->repos[0], "%s", hp->repositories[i]);
}

static void drain_name(const char *pool, char *buf, size_t size) {
        snprintf(buf, size, "pool-%s.drain", pool);
}

bool sup_pool_draining(int store_fd, const char *pool) {
        char name[PROTO_LANE_NAME_MAX + 16];

        drain_name(pool, name, sizeof name);
        return faccessat(store_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int sup_pool_set_draining(int store_fd, const char *pool, bool on) {
        char name[PROTO_LANE_NAME_MAX + 16];

        drain_name(pool, name, sizeof name);
        if (on)
                return store_write_atomic(store_fd, name, "draining\n", 9, true);
        return unlinkat(store_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}

struct sup_slot *sup_find(struct pool_sup *s, const char *slot, struct sup_pool **ret_pool) {
        for (size_t i = 0; i < s->n_pools; i++)
                for (unsigned n = 0; n < s->pools[i].n_slots; n++)
                        if (strcmp(s->pools[i].slots[n].srv.slot, slot) == 0) {
                                if (ret_pool)
                                        *ret_pool = &s->pools[i];
                                return &s->pools[i].slots[n];
                        }
        return NULL;
}

void sup_note_claim(struct pool_sup *s, long long job_id, double secs) {
        size_t b = 0;

        for (size_t i = 0; i < s->n_seen_claims && i < ELEMENTSOF(s->seen_claims); i++)
                if (s->seen_claims[i] == job_id)
                        return;
        s->seen_claims[s->n_seen_claims++ % ELEMENTSOF(s->seen_claims)] = job_id;
        secs = secs < 0 ? 0 : secs;
        for (double le = SUP_LATENCY_FIRST; b < SUP_LATENCY_BUCKETS && secs > le; le *= SUP_LATENCY_FACTOR)
                b++;
        s->c.claim_buckets[b]++;
        s->c.claim_sum += secs;
        s->c.claim_count++;
}

unsigned sup_slot_number(const struct sup_pool *sp, const char *name) {
        size_t pl = strlen(sp->p.lane.name);
        char *end;
        unsigned long n;

        if (strncasecmp(name, sp->p.lane.name, pl) != 0 || name[pl] != '-' || name[pl + 1] < '1' || name[pl + 1] > '9')
                return 0;
        n = strtoul(name + pl + 1, &end, 10);
        return *end || n > POOL_MAX_SLOTS ? 0 : (unsigned) n;
}

/* The job a busy slot runs, and the claim latency of every job a slot took. */
static void note_job(struct pool_sup *s, struct sup_pool *sp, const struct hjob *job) {
        unsigned n = sup_slot_number(sp, job->runner_name);
        struct sup_slot *ss = n ? &sp->slots[n - 1] : NULL;

        if (!ss || !job->started || !job->created)
                return;
        sup_note_claim(s, job->id, (double) (job->started - job->created));
        if (strcmp(job->status, "in_progress") == 0) {
                ss->job_id = job->id;
                ss->run_id = job->run_id;
                snprintf(ss->job, sizeof ss->job, "%s", job->name);
        }
}

/* The queued jobs of SP's repositories its labels satisfy; the jobs its
 * slots run noted. -errno with the problem said. */
static int queued_jobs(struct pool_sup *s, struct sup_pool *sp, unsigned *ret) {
        struct health_snapshot snap = {};
        struct hlabels have = {};
        int r = 0;

        *ret = 0;
        for (size_t i = 0; i < sp->p.lane.n_labels && i < HEALTH_MAX_LABELS; i++)
                snprintf(have.v[have.n++], sizeof have.v[0], "%s", sp->p.lane.labels[i]);
        for (size_t i = 0; i < sp->n_repos && r == 0; i++)
                if (health_gather_repo(s->real->gh, &snap, sp->repos[i]) < 0) {
                        snprintf(sp->problem, sizeof sp->problem, "the queue of %s: %s", sp->repos[i],
                                 snap.n_repos ? snap.repos[snap.n_repos - 1].problem : "too many repositories");
                        r = -EIO;
                }
        for (size_t j = 0; j < snap.n_jobs; j++) {
                const struct hjob *job = &snap.jobs[j];

                if (strcmp(job->status, "queued") == 0 && health_labels_match(&job->labels, &have))
                        (*ret)++;
                else
                        note_job(s, sp, job);
        }
        health_snapshot_free(&snap);
        return r;
}

/* Slot SS's runner from INV into its seen state (its unit's kept). */
static void seen_runner(struct sup_slot *ss, const struct inventory *inv, int store_fd) {
        struct slot_seen *seen = &ss->seen, unit = *seen;

        if (ss->refused) {   /* the operator removed the kept install: trusted again */
                char keep[PROTO_SLOT_KEEP_BUF], fp[PROTO_SHA256_HEX_SIZE];

                if (slot_install_load(store_fd, ss->srv.slot, keep, fp) == 0 && !keep[0])
                        ss->refused = false;
        }
        if (!inv) {   /* not read this pass: what the messages said stands */
                seen->refused = ss->refused;
                seen->handed = ss->handed;
                return;
        }
        *seen = (struct slot_seen) { .refused = ss->refused, .handed = ss->handed, .installed = unit.installed };
        memcpy(seen->active, unit.active, sizeof seen->active);
        ss->job_id = ss->run_id = 0;
        ss->job[0] = '\0';
        for (size_t i = 0; i < inv->n; i++)
                if (strcasecmp(inv->runners[i].name, ss->srv.slot) == 0) {
                        seen->runner_id = inv->runners[i].id;
                        seen->online = inv->runners[i].online;
                        seen->busy = inv->runners[i].busy;
                }
        if (seen->online)
                ss->handed = 0;   /* it came online: no deadline */
        else if (!seen->runner_id && !pool_unit_up(seen->active))
                ss->handed = 0;   /* down, nothing registered left: nothing to wait for */
        else if (seen->runner_id && !ss->handed)
                ss->handed = time(NULL);   /* registered, offline, handed before a restart: from now */
        seen->handed = ss->handed;
}

/* Slot N's unit into its seen state: -EIO with the problem when systemd
 * could not be read. */
static int read_unit(struct pool_sup *s, struct sup_pool *sp, unsigned n, struct observation *o, struct lane_desired *d) {
        struct observe_env env = { .bus = s->real->bus, .bus_problem = "no bus" };
        struct sup_slot *ss = &sp->slots[n - 1];

        pool_slot_lane(&sp->p, n, d);
        memset(o, 0, sizeof *o);
        observe_unit(&env, d, o);
        if (!o->unit_known)
                return snprintf(sp->problem, sizeof sp->problem, "systemd: %s", o->unit_detail), -EIO;
        ss->seen.installed = o->unit_exists && o->unit_managed;
        snprintf(ss->seen.active, sizeof ss->seen.active, "%.23s", o->unit_exists ? o->unit_active : "");
        if (!o->unit_exists || strcmp(o->unit_active, "inactive") == 0 || strcmp(o->unit_active, "failed") == 0)
                ss->seen.online = ss->seen.busy = false;   /* no unit, no runner */
        return 0;
}

/* Each slot's unit and runner into its seen state; slots above max that
 * GitHub still lists are read too. A scale-set pool reads the runners
 * only when its messages cannot tell (sup_ss_need_runners()): an idle
 * one costs no REST request. */
static int observe_slots(struct pool_sup *s, struct sup_pool *sp) {
        _cleanup_(freep) struct observation *o = malloc(sizeof *o);
        _cleanup_(freep) struct lane_desired *d = malloc(sizeof *d);
        struct inventory inv = {};
        unsigned read = 0;
        bool rest;
        int r = 0;

        if (!o || !d)
                return snprintf(sp->problem, sizeof sp->problem, "out of memory"), -ENOMEM;
        sp->n_slots = sp->n_slots > sp->p.max ? sp->n_slots : sp->p.max;
        for (; r == 0 && read < sp->n_slots; read++)
                r = read_unit(s, sp, read + 1, o, d);
        rest = r == 0 && (!sp->ss || sup_ss_need_runners(sp));
        if (rest)
                r = gh_list_runners(s->real->gh, sp->scope, NULL, &inv, sp->problem, sizeof sp->problem);
        for (size_t i = 0; rest && r == 0 && i < inv.n; i++) {
                unsigned n = sup_slot_number(sp, inv.runners[i].name);

                sp->n_slots = n > sp->n_slots ? n : sp->n_slots;
        }
        for (; r == 0 && read < sp->n_slots; read++)   /* slots above max GitHub still lists */
                r = read_unit(s, sp, read + 1, o, d);
        for (unsigned n = 1; r == 0 && n <= sp->n_slots; n++)
                seen_runner(&sp->slots[n - 1], rest ? &inv : NULL, s->store_fd);
        if (r == 0 && rest && sp->ss)
                sp->ss->rebuilt = true;
        inventory_free(&inv);
        return r;
}

int sup_observe(struct pool_sup *s, struct sup_pool *sp, time_t now) {
        struct slot_seen seen[POOL_MAX_SLOTS];
        unsigned queued = 0;

        sp->problem[0] = '\0';
        sp->known = false;
        if (!s->real->gh)
                return snprintf(sp->problem, sizeof sp->problem, "GitHub: %s", s->real->gh_problem), -ENOTCONN;
        if (sp->ss && sup_ss_ensure(s, sp, now) < 0)
                return -EIO;   /* a scale-set pool's demand is the service's: not known without a session */
        if (observe_slots(s, sp) < 0 || (!sp->ss && queued_jobs(s, sp, &queued) < 0))
                return -EIO;   /* nothing is decided on what could not be read */
        if (sp->ss)
                queued = sup_ss_queued(sp);
        sp->known = true;
        for (unsigned n = 0; n < sp->n_slots; n++)
                seen[n] = sp->slots[n].seen;
        pool_decide(&sp->p, seen, sp->n_slots, queued, sp->draining, now, s->never_online_s, &sp->last);
        sp->decided = now;
        return 0;
}

/* What of NEW a running supervisor takes: everything but the pool's
 * scope, user and root (its slots' sockets and units are made for
 * those), its mode and its scale set (a session is held for it). */
static bool same_slots(const struct pool_desired *a, const struct pool_desired *b) {
        return a->mode == b->mode && strcmp(a->scale_set, b->scale_set) == 0 &&
               strcasecmp(a->lane.repository, b->lane.repository) == 0 &&
               strcasecmp(a->lane.organisation, b->lane.organisation) == 0 && strcmp(a->lane.user, b->lane.user) == 0 &&
               strcmp(a->lane.root, b->lane.root) == 0;
}

int sup_reload(struct pool_sup *s, const struct pool_desired *pools, size_t n, FILE *log) {
        int changed = 0;

        for (size_t k = 0; k < n; k++) {
                struct sup_pool *sp = NULL;

                for (size_t i = 0; i < s->n_pools; i++)
                        if (strcasecmp(s->pools[i].p.lane.name, pools[k].lane.name) == 0)
                                sp = &s->pools[i];
                if (!sp)
                        fprintf(log, "pool %s is new: restart the supervisor to serve it\n", pools[k].lane.name);
                else if (!same_slots(&sp->p, &pools[k]))
                        fprintf(log, "pool %s: its scope, user, root, mode or scale set changed: restart the supervisor\n",
                                pools[k].lane.name);
                else {
                        const struct pool_desired *o = &sp->p;

                        changed += o->min != pools[k].min || o->max != pools[k].max || o->spare != pools[k].spare;
                        sp->p = pools[k];
                }
        }
        for (size_t i = 0; i < s->n_pools; i++) {
                bool found = false;

                for (size_t k = 0; k < n; k++)
                        found = found || strcasecmp(s->pools[i].p.lane.name, pools[k].lane.name) == 0;
                if (!found)
                        fprintf(log, "pool %s has no valid file any more: it is served as it was until a restart\n",
                                s->pools[i].p.lane.name);
        }
        return changed;
}
