/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The routing guard's rollback triggers, the canary stages, and the
 * names of slo.h's enums: pure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slo-internal.h"

static void held(struct route_verdict *v, enum route_trigger t, const char *fmt, ...) {
        va_list ap;

        if (v->held[t])
                return;
        v->held[t] = true;
        v->n_held++;
        va_start(ap, fmt);
        vsnprintf(v->evidence[t], sizeof v->evidence[t], fmt, ap);
        va_end(ap);
}

static void boot_failures(const struct slo_input *in, time_t since, const struct slo_thresholds *th,
                          struct route_verdict *v) {
        unsigned streak = 0;
        long long first = 0;

        for (size_t i = in->n_runs; i-- > 0;) {      /* oldest first */
                const struct slo_run *r = &in->runs[i];
                enum slo_life l;

                if (r->created < since || slo_classify(r) != SLO_TRUSTED ||
                    slo_run_route(in, r) != SLO_ROUTE_SELF_HOSTED)
                        continue;
                l = slo_run_life(in, r);
                if (l == SLO_LIFE_PENDING)
                        continue;
                if (l == SLO_LIFE_STARTED) {
                        streak = 0;
                        continue;
                }
                if (streak++ == 0)
                        first = r->id;
                if (streak >= th->consecutive)
                        held(v, RT_BOOT_FAILURE, "trusted runs %lld to %lld: %u in a row failed before any step "
                             "(no runner took their jobs, or it was lost)", first, r->id, streak);
        }
}

static void queue_wait(const struct slo_input *in, time_t since, const struct slo_thresholds *th,
                       struct route_verdict *v) {
        double *w = calloc(in->n_jobs ? in->n_jobs : 1, sizeof(double));
        size_t n = 0, runs = 0;

        v->queue_p95 = -1;
        for (size_t i = 0; w && i < in->n_runs && runs < th->guard_window; i++) {
                const struct slo_run *r = &in->runs[i];

                if (r->created < since || slo_classify(r) != SLO_TRUSTED ||
                    slo_run_route(in, r) != SLO_ROUTE_SELF_HOSTED)
                        continue;
                runs++;
                for (size_t k = r->job0; k < r->job0 + r->n_jobs; k++)
                        if (in->jobs[k].self_hosted && slo_job_wait(&in->jobs[k], in->now) >= 0)
                                w[n++] = slo_job_wait(&in->jobs[k], in->now);
        }
        v->queue_runs = runs;
        if (n > 0)
                v->queue_p95 = slo_percentile(w, n, 95);
        free(w);
        if (n > 0 && v->queue_p95 > th->queue_wait_s)
                held(v, RT_QUEUE_WAIT, "p95 queue wait %.0f s over %.0f s across the latest %zu trusted runs",
                     v->queue_p95, th->queue_wait_s, runs);
}

void route_evaluate(const struct slo_input *in, time_t since, const struct route_offline *off, size_t n_off,
                    const struct slo_thresholds *th, struct route_verdict *v) {
        *v = (struct route_verdict) { .queue_p95 = -1 };
        boot_failures(in, since, th, v);
        queue_wait(in, since, th, v);
        for (size_t i = 0; i < n_off; i++)
                if (off[i].recovery && in->now - off[i].recovery > (time_t) th->offline_s)
                        held(v, RT_OFFLINE, "%s offline %lld s after a recovery attempt (offline for %lld s)",
                             off[i].name, (long long) (in->now - off[i].recovery),
                             (long long) (in->now - off[i].since));
        for (size_t i = in->n_runs; i-- > 0;) {
                const struct slo_run *r = &in->runs[i];
                enum slo_trust t = slo_classify(r);
                enum slo_route route = slo_run_route(in, r);

                if (r->created >= since && slo_routing_ok(r, t, route) == 0)
                        held(v, RT_MISMATCH, "%s run %lld (%s) went to %s labels", t == SLO_TRUSTED ? "trusted" : "untrusted",
                             r->id, slo_trust_to_string(t), slo_route_to_string(route));
        }
}

unsigned route_stage_size(unsigned stage) {
        static const unsigned size[ROUTE_STAGE_MAX + 1] = { 1, 10, 25, 0 };

        return stage <= ROUTE_STAGE_MAX ? size[stage] : 0;
}

size_t route_stage_count(const struct slo_input *in, time_t since) {
        size_t n = 0;

        for (size_t i = 0; i < in->n_runs; i++)
                n += in->runs[i].created >= since && strcmp(in->runs[i].status, "completed") == 0 &&
                     slo_classify(&in->runs[i]) == SLO_TRUSTED &&
                     slo_run_route(in, &in->runs[i]) == SLO_ROUTE_SELF_HOSTED;
        return n;
}

static const char *const trust_names[_SLO_TRUST_MAX] = {
        [SLO_TRUSTED] = "trusted", [SLO_NOT_PULL_REQUEST] = "not-pull-request", [SLO_FORK] = "fork",
        [SLO_BOT] = "bot", [SLO_ASSOCIATION] = "association", [SLO_TRUST_UNKNOWN] = "unknown",
};
static const char *const route_names[_SLO_ROUTE_MAX] = {
        [SLO_ROUTE_NONE] = "none", [SLO_ROUTE_SELF_HOSTED] = "self-hosted", [SLO_ROUTE_HOSTED] = "hosted",
};
static const char *const life_names[_SLO_LIFE_MAX] = {
        [SLO_LIFE_PENDING] = "pending", [SLO_LIFE_STARTED] = "started", [SLO_LIFE_NEVER_CLAIMED] = "never-claimed",
        [SLO_LIFE_RUNNER_LOST] = "runner-lost",
};
static const char *const verdict_names[_SLO_VERDICT_MAX] = {
        [SLO_PASS] = "pass", [SLO_FAIL] = "fail", [SLO_NO_DATA] = "no-data",
};
static const char *const trigger_names[_RT_MAX] = {
        [RT_BOOT_FAILURE] = "boot-failure", [RT_QUEUE_WAIT] = "queue-wait", [RT_OFFLINE] = "offline",
        [RT_MISMATCH] = "mismatch",
};

const char *slo_trust_to_string(enum slo_trust t) {
        return t >= 0 && t < _SLO_TRUST_MAX ? trust_names[t] : NULL;
}

const char *slo_route_to_string(enum slo_route r) {
        return r >= 0 && r < _SLO_ROUTE_MAX ? route_names[r] : NULL;
}

const char *slo_life_to_string(enum slo_life l) {
        return l >= 0 && l < _SLO_LIFE_MAX ? life_names[l] : NULL;
}

const char *slo_verdict_to_string(enum slo_verdict v) {
        return v >= 0 && v < _SLO_VERDICT_MAX ? verdict_names[v] : NULL;
}

const char *route_trigger_to_string(enum route_trigger t) {
        return t >= 0 && t < _RT_MAX ? trigger_names[t] : NULL;
}

enum route_trigger route_trigger_from_string(const char *s) {
        for (int t = 0; s && t < _RT_MAX; t++)
                if (strcmp(s, trigger_names[t]) == 0)
                        return t;
        return _RT_INVALID;
}

const char *route_verdict_first(const struct route_verdict *v) {
        for (int t = 0; t < _RT_MAX; t++)
                if (v->held[t])
                        return v->evidence[t];
        return "";
}
