/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Filling a health snapshot: GitHub through the client, the lanes through
 * observation (health-gather.c). */
#pragma once

#include "health.h"

struct json_object;
struct gh_client;
struct baseline_config;
typedef struct sd_bus sd_bus;

struct health_observe_env {
        sd_bus *bus;                          /* NULL: systemd is not read */
        const char *bus_problem;
        const struct baseline_config *baseline;
        const char *github_problem;           /* why there is no client, when NULL */
        const char *store_dir;                /* the lanes' holds (drain, revoke); NULL: not read */
};

/* GitHub's job and run objects (per its OpenAPI description): 0, or
 * -EPROTO without an id or status. */
int health_parse_job(struct json_object *o, struct hjob *ret);
int health_parse_run(struct json_object *o, size_t repo, struct hrun *ret);

/* Add repository NAME: its default branch, its queued and in-progress runs
 * and their jobs. On failure the repository is kept, known = false, with
 * its problem. */
int health_gather_repo(struct gh_client *c, struct health_snapshot *s, const char *name);

/* Add run RUN_ID of repository REPO (an index in s->repos) with all its
 * jobs, as GitHub has them now: 0, or -errno with ERR. */
int health_gather_run(struct gh_client *c, struct health_snapshot *s, size_t repo, long long run_id, char *err,
                      size_t errlen);

/* List each lane scope's runners once (into s->runners) and observe each
 * lane of s->lanes (d set by the caller). C may be NULL. */
void health_observe_lanes(struct gh_client *c, const struct health_observe_env *env, struct health_snapshot *s);

/* s->now from GitHub's clock (the offset its Date shows), and the core
 * rate limit left (GET /rate_limit, which costs none). */
void health_clock(struct gh_client *c, struct health_snapshot *s);

/* What the cache check has looked at already, kept between cycles
 * (STORE/health-cache.state): per failed run attempt, clean, damaged (the
 * job, the lane and the entry its log named) or reran. A log is read once
 * per attempt; a run is rerun once. */
#define HEALTH_CACHE_STATE_MAX 512
struct health_cache_seen {
        long long run_id, job_id;
        unsigned attempt;
        char verdict[8];                      /* "clean", "damaged", "reran" */
        char lane[PROTO_LANE_NAME_MAX + 1];
        char path[200];
};
struct health_cache_state {
        size_t n;
        struct health_cache_seen e[HEALTH_CACHE_STATE_MAX];
};

/* Load (a missing file is an empty state) and save (atomically). */
int health_cache_state_load(const char *path, struct health_cache_state *ret);
int health_cache_state_save(const char *path, const struct health_cache_state *st);
/* Mark RUN_ID's ATTEMPT reran. */
void health_cache_reran(struct health_cache_state *st, long long run_id, unsigned attempt);

/* The cache check's evidence: each lane's measurement of its actions
 * cache; per known repository its recent failed runs (one conditional
 * listing), the failed jobs of this host's lanes in those not looked at
 * yet, and their logs (at most a few per cycle; the rest next cycle).
 * ST NULL: the measurements only. */
void health_gather_cache(struct gh_client *c, struct health_snapshot *s, struct health_cache_state *st);
