/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The snapshot's arrays, and the queue per label set (pure): jobs are
 * counted by the exact set of labels they ask for, never per repository,
 * with the online runners that could take them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "health.h"

static int grow(void **arr, size_t *cap, size_t n, size_t size) {
        void *p;
        size_t c;

        if (n < *cap)
                return 0;
        c = *cap ? *cap * 2 : 64;
        p = reallocarray(*arr, c, size);
        if (!p)
                return -ENOMEM;
        *arr = p;
        *cap = c;
        return 0;
}

int health_add_run(struct health_snapshot *s, const struct hrun *r) {
        if (grow((void **) &s->runs, &s->cap_runs, s->n_runs, sizeof *r) < 0)
                return -ENOMEM;
        s->runs[s->n_runs++] = *r;
        return 0;
}

int health_add_job(struct health_snapshot *s, const struct hjob *j) {
        if (grow((void **) &s->jobs, &s->cap_jobs, s->n_jobs, sizeof *j) < 0)
                return -ENOMEM;
        s->jobs[s->n_jobs++] = *j;
        return 0;
}

int health_add_runner(struct health_snapshot *s, const struct hrunner *r) {
        if (grow((void **) &s->runners, &s->cap_runners, s->n_runners, sizeof *r) < 0)
                return -ENOMEM;
        s->runners[s->n_runners++] = *r;
        return 0;
}

void health_snapshot_free(struct health_snapshot *s) {
        free(s->runs);
        free(s->jobs);
        free(s->runners);
        s->runs = NULL;
        s->jobs = NULL;
        s->runners = NULL;
        s->n_runs = s->n_jobs = s->n_runners = s->cap_runs = s->cap_jobs = s->cap_runners = 0;
}

static int label_cmp(const void *a, const void *b) {
        return strcasecmp(a, b);
}

/* The same set, without regard to case or order. */
static bool same_set(const struct hlabels *a, const struct hlabels *b) {
        if (a->n != b->n || a->truncated != b->truncated)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (strcasecmp(a->v[i], b->v[i]))
                        return false;
        return true;
}

static void add_repo(struct health_labelset *ls, const char *repo) {
        size_t n = strlen(repo);

        for (const char *p = ls->repos; (p = strstr(p, repo)); p += n)
                if ((p == ls->repos || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
                        return;
        if (strlen(ls->repos) + n + 2 < sizeof ls->repos)
                snprintf(ls->repos + strlen(ls->repos), sizeof ls->repos - strlen(ls->repos), "%s%s",
                         ls->repos[0] ? "," : "", repo);
}

static void count_runners(const struct health_snapshot *s, struct health_labelset *ls) {
        for (size_t r = 0; r < s->n_runners; r++)
                if (s->runners[r].online && health_labels_match(&ls->labels, &s->runners[r].labels)) {
                        ls->online_runners++;
                        ls->busy_runners += s->runners[r].busy;
                }
}

size_t health_queue(const struct health_snapshot *s, const struct health_settings *hs, struct health_labelset *ret,
                    size_t max) {
        long long limit = (long long) hs->stale_job_hours * 3600;
        size_t n = 0;

        for (size_t k = 0; k < s->n_jobs; k++) {
                const struct hjob *j = &s->jobs[k];
                struct hlabels key = j->labels;
                size_t i;

                if (strcmp(j->status, "queued") || j->runner_id)
                        continue;
                qsort(key.v, key.n, sizeof key.v[0], label_cmp);
                for (i = 0; i < n && !same_set(&ret[i].labels, &key); i++)
                        ;
                if (i == n) {
                        if (n == max)
                                continue;
                        ret[n++] = (struct health_labelset) { .labels = key, .oldest = j->created,
                                                              .served = health_job_lane(s, j) >= 0 };
                        count_runners(s, &ret[i]);
                }
                ret[i].queued++;
                ret[i].stale += (long long) (s->now - j->created) > limit;
                if (j->created < ret[i].oldest)
                        ret[i].oldest = j->created;
                for (size_t r = 0; r < s->n_runs; r++)
                        if (s->runs[r].id == j->run_id) {
                                add_repo(&ret[i], s->repos[s->runs[r].repo].name);
                                break;
                        }
        }
        return n;
}

/* Whether GitHub's labels for the lane differ from its file's. */
bool health_lane_labels_drift(const struct hlane *l) {
        const struct obs_runner *r = &l->o.runners[0];

        if (l->o.n_runners != 1 || r->n_labels != l->d->n_labels)
                return l->o.n_runners == 1;
        for (size_t i = 0; i < l->d->n_labels; i++) {
                bool found = false;

                for (size_t k = 0; k < r->n_labels && !found; k++)
                        found = strcasecmp(l->d->labels[i], r->labels[k]) == 0;
                if (!found)
                        return true;
        }
        return false;
}
