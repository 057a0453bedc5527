/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The success criteria and the routing guard's triggers (slo.h): pure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slo-internal.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

void slo_thresholds_default(struct slo_thresholds *t) {
        *t = (struct slo_thresholds) {
                .lifecycle_pct = 98, .routing_pct = 100, .queue_wait_s = 120, .setup_s = 180,
                .guard_window = 10, .consecutive = 2, .offline_s = 600,
        };
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

double slo_percentile(double *v, size_t n, double p) {
        size_t rank;

        qsort(v, n, sizeof *v, cmp_double);
        rank = (size_t) ceil(p / 100.0 * (double) n - 1e-9);
        if (rank < 1)
                rank = 1;
        if (rank > n)
                rank = n;
        return v[rank - 1];
}

bool slo_login_is_bot(const char *login) {
        size_t n = strlen(login);

        return n > 5 && strcmp(login + n - 5, "[bot]") == 0;
}

enum slo_trust slo_classify(const struct slo_run *r) {
        static const char *const trusted[] = { "OWNER", "MEMBER", "COLLABORATOR" };

        if (strcmp(r->event, "pull_request") != 0)
                return SLO_NOT_PULL_REQUEST;
        if (!r->same_repo)
                return SLO_FORK;
        if (r->actor_bot || (r->pr_known && r->author_bot))
                return SLO_BOT;
        if (!r->pr_known)
                return SLO_TRUST_UNKNOWN;
        for (size_t i = 0; i < ELEMENTSOF(trusted); i++)
                if (strcmp(r->association, trusted[i]) == 0)
                        return SLO_TRUSTED;
        return SLO_ASSOCIATION;
}

enum slo_route slo_run_route(const struct slo_input *in, const struct slo_run *r) {
        if (!r->jobs_known || r->n_jobs == 0)
                return SLO_ROUTE_NONE;
        for (size_t i = r->job0; i < r->job0 + r->n_jobs; i++)
                if (in->jobs[i].self_hosted)
                        return SLO_ROUTE_SELF_HOSTED;
        return SLO_ROUTE_HOSTED;
}

enum slo_life slo_job_life(const struct slo_job *j) {
        if (j->step_begun || strcmp(j->conclusion, "success") == 0)
                return SLO_LIFE_STARTED;
        if (strcmp(j->status, "completed") != 0 || strcmp(j->conclusion, "skipped") == 0)
                return SLO_LIFE_PENDING;        /* still to come, or skipped by its condition: no runner asked */
        return j->runner_id ? SLO_LIFE_RUNNER_LOST : SLO_LIFE_NEVER_CLAIMED;
}

enum slo_life slo_run_life(const struct slo_input *in, const struct slo_run *r) {
        enum slo_life worst = SLO_LIFE_PENDING;
        bool started = false, pending = false;

        for (size_t i = r->job0; r->jobs_known && i < r->job0 + r->n_jobs; i++) {
                enum slo_life l;

                if (!in->jobs[i].self_hosted)
                        continue;
                l = slo_job_life(&in->jobs[i]);
                if (l == SLO_LIFE_NEVER_CLAIMED || l == SLO_LIFE_RUNNER_LOST)
                        return l;
                started |= l == SLO_LIFE_STARTED;
                pending |= l == SLO_LIFE_PENDING;
        }
        return pending || !started ? worst : SLO_LIFE_STARTED;
}

/* A trusted run goes where routing said when it was made; an untrusted one
 * to hosted labels. 1, 0, or -1 when it cannot be judged. */
int slo_routing_ok(const struct slo_run *r, enum slo_trust t, enum slo_route route) {
        if (route == SLO_ROUTE_NONE)
                return -1;
        if (t == SLO_TRUSTED)
                return r->expect_self_hosted < 0 ? -1 : (route == SLO_ROUTE_SELF_HOSTED) == (r->expect_self_hosted > 0);
        if (t == SLO_FORK || t == SLO_BOT || t == SLO_ASSOCIATION)
                return route == SLO_ROUTE_HOSTED;
        return -1;
}

/* How long J waited for a runner: until one took it; while it waits, so
 * far (a lower bound: a stuck queue shows); if it ended unclaimed, until
 * then. -1: not known. */
double slo_job_wait(const struct slo_job *j, time_t now) {
        if (!j->created)
                return -1;
        if (j->runner_id && j->started)
                return j->started >= j->created ? (double) (j->started - j->created) : 0;
        if (strcmp(j->status, "completed") != 0)
                return now >= j->created ? (double) (now - j->created) : 0;
        if (strcmp(j->conclusion, "skipped") != 0 && j->completed)
                return j->completed >= j->created ? (double) (j->completed - j->created) : 0;
        return -1;
}

static double job_setup(const struct slo_job *j) {
        if (!j->runner_id || !j->started || !j->step_begun || !j->first_step)
                return -1;
        return j->first_step >= j->started ? (double) (j->first_step - j->started) : 0;
}

static void verdict_min(struct slo_figure *f, double ok, double total, double threshold) {
        f->threshold = threshold;
        if (total <= 0) {
                f->verdict = SLO_NO_DATA;
                return;
        }
        f->value = 100.0 * ok / total;
        f->verdict = f->value + 1e-9 >= threshold ? SLO_PASS : SLO_FAIL;
}

static void verdict_p95(struct slo_figure *f, double *v, size_t n, double threshold) {
        f->threshold = threshold;
        if (n == 0) {
                f->verdict = SLO_NO_DATA;
                return;
        }
        f->value = slo_percentile(v, n, 95);
        f->verdict = f->value <= threshold ? SLO_PASS : SLO_FAIL;
}

/* Which runs are in the window: the latest LAST trusted, and the
 * untrusted pull-request runs made since the oldest of them. */
static void window(const struct slo_input *in, unsigned last, struct slo_report *rep) {
        time_t oldest = 0;
        size_t trusted = 0;

        for (size_t i = 0; i < in->n_runs && trusted < last; i++)
                if (rep->views[i].trust == SLO_TRUSTED) {
                        rep->views[i].in_window = true;
                        oldest = in->runs[i].created;
                        trusted++;
                }
        rep->n_trusted = trusted;
        for (size_t i = 0; i < in->n_runs; i++) {
                enum slo_trust t = rep->views[i].trust;

                if (t == SLO_TRUSTED || t == SLO_NOT_PULL_REQUEST)
                        continue;
                if (trusted < last || in->runs[i].created >= oldest) {
                        rep->views[i].in_window = true;
                        rep->n_untrusted++;
                }
        }
}

struct tally {
        double life_ok, life_total, route_ok, route_total;
        double *waits, *setups;
        size_t n_waits, n_setups;
        size_t runs_life, runs_route, runs_wait, runs_setup;
};

static void tally_run(const struct slo_input *in, size_t i, struct slo_report *rep, struct tally *t) {
        const struct slo_run *r = &in->runs[i];
        struct slo_run_view *v = &rep->views[i];

        v->routing_ok = slo_routing_ok(r, v->trust, v->route);
        if (v->routing_ok >= 0) {
                t->route_total++;
                t->route_ok += v->routing_ok;
                t->runs_route++;
        }
        if (v->trust != SLO_TRUSTED)
                return;
        for (size_t k = r->job0; r->jobs_known && k < r->job0 + r->n_jobs; k++) {
                const struct slo_job *j = &in->jobs[k];
                enum slo_life l = slo_job_life(j);
                double w = slo_job_wait(j, in->now), s = job_setup(j);

                if (!j->self_hosted)
                        continue;
                if (l == SLO_LIFE_PENDING)
                        rep->n_pending++;
                else {
                        t->life_total++;
                        t->life_ok += l == SLO_LIFE_STARTED;
                        v->counted_life = true;
                }
                if (w >= 0) {
                        t->waits[t->n_waits++] = w;
                        v->counted_wait = true;
                }
                if (s >= 0) {
                        t->setups[t->n_setups++] = s;
                        v->counted_setup = true;
                }
        }
        t->runs_life += v->counted_life;
        t->runs_wait += v->counted_wait;
        t->runs_setup += v->counted_setup;
}

void slo_compute(const struct slo_input *in, unsigned last, const struct slo_thresholds *th, struct slo_report *rep) {
        struct slo_run_view *views = rep->views;
        struct tally t = {};
        size_t nj = in->n_jobs ? in->n_jobs : 1;

        memset(views, 0, in->n_runs * sizeof *views);
        *rep = (struct slo_report) { .last = last, .views = views };
        for (size_t i = 0; i < in->n_runs; i++) {
                views[i].trust = slo_classify(&in->runs[i]);
                views[i].route = slo_run_route(in, &in->runs[i]);
                views[i].life = slo_run_life(in, &in->runs[i]);
                views[i].routing_ok = -1;
        }
        window(in, last, rep);
        t.waits = calloc(nj, sizeof(double));
        t.setups = calloc(nj, sizeof(double));
        for (size_t i = 0; t.waits && t.setups && i < in->n_runs; i++)
                if (views[i].in_window)
                        tally_run(in, i, rep, &t);
        verdict_min(&rep->lifecycle, t.life_ok, t.life_total, th->lifecycle_pct);
        rep->lifecycle.n_runs = t.runs_life, rep->lifecycle.n_jobs = (size_t) t.life_total;
        verdict_min(&rep->routing, t.route_ok, t.route_total, th->routing_pct);
        rep->routing.n_runs = t.runs_route;
        verdict_p95(&rep->queue_wait, t.waits, t.n_waits, th->queue_wait_s);
        rep->queue_wait.n_runs = t.runs_wait, rep->queue_wait.n_jobs = t.n_waits;
        verdict_p95(&rep->setup, t.setups, t.n_setups, th->setup_s);
        rep->setup.n_runs = t.runs_setup, rep->setup.n_jobs = t.n_setups;
        free(t.waits);
        free(t.setups);
        rep->verdict = SLO_PASS;
        for (const struct slo_figure *f = &rep->lifecycle; f <= &rep->setup; f++)
                if (f->verdict == SLO_FAIL)
                        rep->verdict = SLO_FAIL;
                else if (f->verdict == SLO_NO_DATA && rep->verdict == SLO_PASS)
                        rep->verdict = SLO_NO_DATA;
}
