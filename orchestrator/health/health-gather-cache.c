/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cache check's evidence (health-cache.c plans on it): the lanes'
 * own measurements of their actions caches, and the logs of recent failed
 * jobs of this host's runners, each read once (the state file says which
 * were read and what they said). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "exec-real.h"
#include "gh-api.h"
#include "gh-client.h"
#include "health-gather.h"
#include "macro.h"

#define MAX_LOGS_PER_CYCLE 8
#define FAILED_RUNS_PAGE 20

int health_cache_state_load(const char *path, struct health_cache_state *ret) {
        char line[PROTO_LANE_NAME_MAX + 400];
        FILE *f = fopen(path, "re");

        ret->n = 0;
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (fgets(line, sizeof line, f) && ret->n < HEALTH_CACHE_STATE_MAX) {
                struct health_cache_seen *e = &ret->e[ret->n];
                int off = 0;

                line[strcspn(line, "\n")] = '\0';
                *e = (struct health_cache_seen) {};
                if (sscanf(line, "%lld %u %7s %lld %64s %n", &e->run_id, &e->attempt, e->verdict, &e->job_id, e->lane,
                           &off) != 5 || !off)
                        continue;   /* a damaged line is forgotten: at worst a log is read again */
                snprintf(e->path, sizeof e->path, "%s", line + off);
                ret->n++;
        }
        fclose(f);
        return 0;
}

int health_cache_state_save(const char *path, const struct health_cache_state *st) {
        char tmp[PROTO_PATH_MAX + 64];
        FILE *f;
        int fd;

        snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int) getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd < 0 || !(f = fdopen(fd, "w"))) {
                if (fd >= 0)
                        close(fd);
                return -errno;
        }
        for (size_t i = 0; i < st->n; i++)
                fprintf(f, "%lld %u %s %lld %s %s\n", st->e[i].run_id, st->e[i].attempt, st->e[i].verdict,
                        st->e[i].job_id, st->e[i].lane[0] ? st->e[i].lane : "-",
                        st->e[i].path[0] ? st->e[i].path : "-");
        if (fflush(f) != 0 || fsync(fileno(f)) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
                int e = errno;

                (void) unlink(tmp);
                return -e;
        }
        return 0;
}

static struct health_cache_seen *lookup(struct health_cache_state *st, long long run_id, unsigned attempt) {
        for (size_t i = 0; i < st->n; i++)
                if (st->e[i].run_id == run_id && (attempt == 0 || st->e[i].attempt == attempt))
                        return &st->e[i];
        return NULL;
}

static bool reran_before(const struct health_cache_state *st, long long run_id) {
        for (size_t i = 0; i < st->n; i++)
                if (st->e[i].run_id == run_id && strcmp(st->e[i].verdict, "reran") == 0)
                        return true;
        return false;
}

/* A new entry (the oldest dropped when full). */
static struct health_cache_seen *remember(struct health_cache_state *st, long long run_id, unsigned attempt,
                                          const char *verdict) {
        struct health_cache_seen *e;

        if (st->n == HEALTH_CACHE_STATE_MAX)
                memmove(&st->e[0], &st->e[1], --st->n * sizeof st->e[0]);
        e = &st->e[st->n++];
        *e = (struct health_cache_seen) { .run_id = run_id, .attempt = attempt };
        snprintf(e->verdict, sizeof e->verdict, "%s", verdict);
        return e;
}

void health_cache_reran(struct health_cache_state *st, long long run_id, unsigned attempt) {
        struct health_cache_seen *e = lookup(st, run_id, attempt);

        if (!e)
                e = remember(st, run_id, attempt, "reran");
        snprintf(e->verdict, sizeof e->verdict, "reran");
}

static void add_hit(struct health_snapshot *s, const struct hrun *run, const struct health_cache_seen *e,
                    bool before) {
        struct hcache_hit *h;
        int lane = -1;

        for (size_t l = 0; l < s->n_lanes; l++)
                if (strcasecmp(s->lanes[l].d->name, e->lane) == 0)
                        lane = (int) l;
        if (lane < 0 || s->n_cache_hits == HEALTH_MAX_CACHE_HITS)
                return;
        h = &s->cache_hits[s->n_cache_hits++];
        *h = (struct hcache_hit) { .repo = run->repo, .run_id = run->id, .job_id = e->job_id, .attempt = run->attempt,
                                   .lane = lane, .reran_before = before,
                                   .rerun_ok = strcmp(run->status, "completed") == 0 &&
                                               strcmp(run->conclusion, "failure") == 0 };
        snprintf(h->path, sizeof h->path, "%s", e->path);
}

/* The failed jobs of RUN on this host's lanes, their logs read: the
 * verdict remembered, or -errno (nothing remembered: read next cycle). */
static int examine(struct gh_client *c, struct health_snapshot *s, const struct hrun *run,
                   struct health_cache_state *st, unsigned *logs) {
        struct json_object *jobs;
        struct gh_response resp;
        char path[512], err[512];
        int r = 0, verdict = 0;   /* 1: damaged */
        struct health_cache_seen found = {};

        snprintf(path, sizeof path, "/repos/%s/actions/runs/%lld/jobs?filter=latest&per_page=100",
                 s->repos[run->repo].name, run->id);
        if (gh_request(c, "GET", path, NULL, &resp, err, sizeof err) < 0 || resp.status != 200) {
                snprintf(s->cache_problem, sizeof s->cache_problem, "%.250s", err);
                gh_response_free(&resp);
                return -EIO;
        }
        jobs = gh_pages_items(resp.body ?: "", resp.len, "jobs");
        gh_response_free(&resp);
        for (size_t i = 0; jobs && i < json_object_array_length(jobs) && !verdict && r == 0; i++) {
                char *log = NULL, dir[PROTO_PATH_MAX + PROTO_LANE_NAME_MAX + 2];
                size_t len = 0;
                struct hjob j;
                int lane;

                if (health_parse_job(json_object_array_get_idx(jobs, i), &j) < 0 || strcmp(j.conclusion, "failure") ||
                    (lane = health_runner_lane(s, &j)) < 0)
                        continue;
                if (++*logs > MAX_LOGS_PER_CYCLE)
                        r = -EAGAIN;
                else if ((r = gh_job_log(c, s->repos[run->repo].name, j.id, &log, &len, err, sizeof err)) < 0)
                        snprintf(s->cache_problem, sizeof s->cache_problem, "%.250s", err);
                snprintf(dir, sizeof dir, "%s/%s", s->lanes[lane].d->root, s->lanes[lane].d->name);
                if (r == 0 && health_log_cache_damage(log, len, dir, found.path, sizeof found.path)) {
                        verdict = 1;
                        found.job_id = j.id;
                        snprintf(found.lane, sizeof found.lane, "%s", s->lanes[lane].d->name);
                }
                free(log);
        }
        json_object_put(jobs);
        if (r < 0 && !verdict)
                return r;
        if (verdict) {
                struct health_cache_seen *e = remember(st, run->id, run->attempt, "damaged");

                e->job_id = found.job_id;
                snprintf(e->lane, sizeof e->lane, "%s", found.lane);
                snprintf(e->path, sizeof e->path, "%s", found.path);
                add_hit(s, run, e, reran_before(st, run->id));
        } else
                (void) remember(st, run->id, run->attempt, "clean");
        return 0;
}

static void failed_runs(struct gh_client *c, struct health_snapshot *s, size_t g, struct health_cache_state *st,
                        unsigned *logs) {
        struct json_object *runs;
        struct gh_response resp;
        char path[512], err[512];

        snprintf(path, sizeof path, "/repos/%s/actions/runs?status=failure&per_page=%d", s->repos[g].name,
                 FAILED_RUNS_PAGE);
        if (gh_request(c, "GET", path, NULL, &resp, err, sizeof err) < 0 || resp.status != 200) {
                snprintf(s->cache_problem, sizeof s->cache_problem, "%.250s", resp.status ? path : err);
                s->cache_examined = false;
                gh_response_free(&resp);
                return;
        }
        runs = gh_pages_items(resp.body ?: "", resp.len, "workflow_runs");
        gh_response_free(&resp);
        for (size_t i = 0; runs && i < json_object_array_length(runs); i++) {
                struct health_cache_seen *e;
                struct hrun run;

                if (health_parse_run(json_object_array_get_idx(runs, i), g, &run) < 0 ||
                    s->now - run.created > HEALTH_CACHE_WINDOW_S)
                        continue;
                e = lookup(st, run.id, run.attempt);
                if (e && strcmp(e->verdict, "damaged") == 0)
                        add_hit(s, &run, e, reran_before(st, run.id));
                else if (!e && examine(c, s, &run, st, logs) < 0)
                        s->cache_examined = false;
        }
        json_object_put(runs);
}

void health_gather_cache(struct gh_client *c, struct health_snapshot *s, struct health_cache_state *st) {
        unsigned logs = 0;

        for (size_t l = 0; l < s->n_lanes; l++)
                s->lanes[l].have_cache = exec_real_cache_stats(NULL, s->lanes[l].d, &s->lanes[l].cache) == 0;
        s->cache_examined = c != NULL;
        if (!c || !st) {
                if (!st)   /* the measurements only (lanectl status): nothing is missing */
                        s->cache_examined = true;
                else
                        snprintf(s->cache_problem, sizeof s->cache_problem, "no GitHub client");
                return;
        }
        for (size_t g = 0; g < s->n_repos; g++)
                if (s->repos[g].known)
                        failed_runs(c, s, g, st, &logs);
        if (logs > MAX_LOGS_PER_CYCLE)
                snprintf(s->cache_problem, sizeof s->cache_problem, "more than %d failed jobs to read: the rest in "
                         "the next cycle", MAX_LOGS_PER_CYCLE);
}
