/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The health snapshot from GitHub and this host: per repository its
 * default branch, its queued and in-progress runs and their jobs; per lane
 * scope its runners (one listing each); per lane its observation. Every
 * listing is a conditional request (gh_request's ETag cache): a cycle in
 * which nothing changed spends no rate limit. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gh-client.h"
#include "exec-real.h"
#include "health-gather.h"
#include "macro.h"
#include "observe.h"

/* The items under KEY of every page of PATH (a new reference), or NULL with ERR. */
static struct json_object *list(struct gh_client *c, const char *path, const char *key, char *err, size_t errlen) {
        struct json_object *items = NULL;

        return gh_get_items(c, path, key, &items, err, errlen) < 0 ? NULL : items;
}

static int run_jobs(struct gh_client *c, struct health_snapshot *s, struct hrun *run, char *err, size_t errlen) {
        struct json_object *jobs;
        char path[512];

        snprintf(path, sizeof path, "/repos/%s/actions/runs/%lld/jobs", s->repos[run->repo].name, run->id);
        jobs = list(c, path, "jobs", err, errlen);
        if (!jobs)
                return -EIO;
        run->job0 = s->n_jobs;
        for (size_t i = 0; i < json_object_array_length(jobs); i++) {
                struct hjob j;

                if (health_parse_job(json_object_array_get_idx(jobs, i), &j) == 0 && health_add_job(s, &j) < 0) {
                        json_object_put(jobs);
                        return snprintf(err, errlen, "out of memory"), -ENOMEM;
                }
        }
        run->n_jobs = s->n_jobs - run->job0;
        run->jobs_known = true;
        json_object_put(jobs);
        return 0;
}

int health_gather_run(struct gh_client *c, struct health_snapshot *s, size_t repo, long long run_id, char *err,
                      size_t errlen) {
        struct gh_response resp;
        struct json_object *o;
        struct hrun run;
        char path[512];
        int r;

        snprintf(path, sizeof path, "/repos/%s/actions/runs/%lld", s->repos[repo].name, run_id);
        r = gh_request(c, "GET", path, NULL, &resp, err, errlen);
        if (r < 0)
                return r;
        o = resp.status == 200 ? json_tokener_parse(resp.body ?: "") : NULL;
        r = o && health_parse_run(o, repo, &run) == 0 ? 0 : -EIO;
        if (r < 0)
                gh_describe_error(&resp, err, errlen);
        json_object_put(o);
        gh_response_free(&resp);
        if (r < 0)
                return r;
        r = run_jobs(c, s, &run, err, errlen);
        return r < 0 ? r : health_add_run(s, &run);
}

static void copy(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src ?: "");
}

static void default_branch(struct gh_client *c, struct hrepo *repo) {
        struct gh_response resp;
        struct json_object *o, *b;
        char path[256], err[256];

        snprintf(path, sizeof path, "/repos/%s", repo->name);
        if (gh_request(c, "GET", path, NULL, &resp, err, sizeof err) < 0)
                return;
        if (resp.status == 200 && (o = json_tokener_parse(resp.body ?: ""))) {
                if (json_object_object_get_ex(o, "default_branch", &b) && json_object_is_type(b, json_type_string))
                        copy(repo->default_branch, sizeof repo->default_branch, json_object_get_string(b));
                json_object_put(o);
        }
        gh_response_free(&resp);
}

int health_gather_repo(struct gh_client *c, struct health_snapshot *s, const char *name) {
        static const char *const statuses[] = { "queued", "in_progress" };
        struct hrepo *repo;
        size_t g = s->n_repos;

        if (g == HEALTH_MAX_REPOS)
                return -E2BIG;
        repo = &s->repos[s->n_repos++];
        *repo = (struct hrepo) {};
        copy(repo->name, sizeof repo->name, name);
        default_branch(c, repo);
        for (size_t k = 0; k < ELEMENTSOF(statuses); k++) {
                struct json_object *runs;
                char path[256];

                snprintf(path, sizeof path, "/repos/%s/actions/runs?status=%s", name, statuses[k]);
                runs = list(c, path, "workflow_runs", repo->problem, sizeof repo->problem);
                if (!runs)
                        return -EIO;
                for (size_t i = 0; i < json_object_array_length(runs); i++) {
                        struct hrun run;
                        bool dup = false;

                        if (health_parse_run(json_object_array_get_idx(runs, i), g, &run) < 0)
                                continue;
                        for (size_t r = 0; r < s->n_runs && !dup; r++)   /* moved between the two listings */
                                dup = s->runs[r].id == run.id;
                        if (dup)
                                continue;
                        (void) run_jobs(c, s, &run, repo->problem, sizeof repo->problem);
                        if (health_add_run(s, &run) < 0) {
                                json_object_put(runs);
                                return -ENOMEM;
                        }
                }
                json_object_put(runs);
        }
        repo->known = true;
        return 0;
}

/* The runners of SCOPE into the snapshot, each tied to the lane of its name. */
static void add_runners(struct health_snapshot *s, const struct inventory *inv) {
        for (size_t i = 0; i < inv->n; i++) {
                const struct inventory_runner *ir = &inv->runners[i];
                struct hrunner r = { .id = ir->id, .online = ir->online, .busy = ir->busy, .lane = -1 };

                copy(r.name, sizeof r.name, ir->name);
                for (unsigned k = 0; k < ir->n_labels; k++) {
                        if (r.labels.n == HEALTH_MAX_LABELS) {
                                r.labels.truncated = true;
                                break;
                        }
                        copy(r.labels.v[r.labels.n++], sizeof r.labels.v[0], inventory_label(inv, ir, k));
                }
                for (size_t l = 0; l < s->n_lanes; l++)
                        if (strcasecmp(s->lanes[l].d->name, ir->name) == 0)
                                r.lane = (int) l;
                (void) health_add_runner(s, &r);
        }
}

/* Each lane scope's runners, listed once however many lanes share it;
 * each lane observed against its scope's listing. */
void health_observe_lanes(struct gh_client *c, const struct health_observe_env *env, struct health_snapshot *s) {
        struct inventory *inv = calloc(s->n_lanes ?: 1, sizeof *inv);
        int *first = calloc(s->n_lanes ?: 1, sizeof *first);   /* the lane whose listing serves lane l */
        bool *ok = calloc(s->n_lanes ?: 1, sizeof *ok);
        char scope[160], other[160], err[512];

        s->runners_known = inv && first && ok;
        for (size_t l = 0; s->runners_known && l < s->n_lanes; l++) {
                struct observe_env oe = { .bus = env->bus, .bus_problem = env->bus_problem, .baseline = env->baseline };
                size_t f = l;

                lane_scope(s->lanes[l].d, scope, sizeof scope);
                for (size_t k = 0; k < l && f == l; k++) {
                        lane_scope(s->lanes[k].d, other, sizeof other);
                        if (strcasecmp(scope, other) == 0)
                                f = (size_t) first[k];
                }
                first[l] = (int) f;
                if (f == l) {
                        ok[l] = c && gh_list_runners(c, scope, NULL, &inv[l], err, sizeof err) == 0;
                        if (!ok[l]) {
                                s->runners_known = false;
                                snprintf(s->runners_problem, sizeof s->runners_problem, "%.60s: %.200s", scope,
                                         c ? err : env->github_problem);
                        } else
                                add_runners(s, &inv[l]);
                }
                oe.inventory = ok[f] ? &inv[f] : NULL;
                oe.inventory_problem = ok[f] ? NULL : s->runners_problem;
                observe_lane(&observe_real, &oe, s->lanes[l].d, &s->lanes[l].o);
                if (env->store_dir)
                        exec_observe_hold(env->store_dir, s->lanes[l].d->name, &s->lanes[l].o);
        }
        if (!inv || !first || !ok)
                snprintf(s->runners_problem, sizeof s->runners_problem, "out of memory");
        for (size_t l = 0; inv && l < s->n_lanes; l++)
                inventory_free(&inv[l]);
        free(inv);
        free(first);
        free(ok);
        for (size_t r = 0; r < s->n_runners; r++)   /* names may have matched lanes listed later */
                for (size_t l = 0; l < s->n_lanes; l++)
                        if (strcasecmp(s->lanes[l].d->name, s->runners[r].name) == 0)
                                s->runners[r].lane = (int) l;
}

void health_clock(struct gh_client *c, struct health_snapshot *s) {
        struct gh_response resp;
        struct json_object *o, *res, *core, *v = NULL;
        char err[256];

        s->now = time(NULL);
        if (c && gh_clock_offset(c, &s->clock_offset_s)) {
                s->have_offset = true;
                s->now += s->clock_offset_s;
        }
        /* GET /rate_limit costs nothing against the limit it reports */
        if (!c || gh_request(c, "GET", "/rate_limit", NULL, &resp, err, sizeof err) < 0)
                return;
        if (resp.status == 200 && (o = json_tokener_parse(resp.body ?: ""))) {
                if (json_object_object_get_ex(o, "resources", &res) && json_object_object_get_ex(res, "core", &core)) {
                        s->have_rate = json_object_object_get_ex(core, "remaining", &v);
                        s->rate_remaining = json_object_get_int64(v);
                        if (json_object_object_get_ex(core, "limit", &v))
                                s->rate_limit = json_object_get_int64(v);
                }
                json_object_put(o);
        }
        gh_response_free(&resp);
}
