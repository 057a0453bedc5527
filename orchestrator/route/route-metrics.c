/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The routing guard's Prometheus text (route.h): the four success
 * criteria per repository (ratios 0..1 and seconds, and whether each
 * passes; a criterion without data has no sample), the routing state and
 * canary stage, and the guard's trips by trigger. Pure rendering. */
#include <stddef.h>
#include <stdio.h>

#include "proto-prom.h"
#include "route.h"

static void sample(FILE *f, const char *name, const char *repo, const char *k, const char *v, double x) {
        fprintf(f, "%s{repository=\"", name);
        proto_prom_value(f, repo);
        if (k) {
                fprintf(f, "\",%s=\"", k);
                proto_prom_value(f, v);
        }
        fputc('"', f);
        if (x == (double) (long long) x)
                fprintf(f, "} %lld\n", (long long) x);
        else
                fprintf(f, "} %.6g\n", x);
}

static const struct {
        const char *name, *help, *criterion;
        size_t offset;
        double scale;
} figures[] = {
        { "lanekeeper_slo_lifecycle_success_ratio",
          "Self-hosted jobs of the latest trusted pull-request runs whose steps began, of those that began or failed "
          "before any step for runner reasons", "lifecycle", offsetof(struct slo_report, lifecycle), 0.01 },
        { "lanekeeper_slo_routing_correct_ratio",
          "Pull-request runs sent where routing said (trusted: self-hosted while routing was on; untrusted: hosted)",
          "routing", offsetof(struct slo_report, routing), 0.01 },
        { "lanekeeper_slo_queue_wait_p95_seconds",
          "p95 (nearest rank) of started_at - created_at of the trusted runs' self-hosted jobs", "queue_wait",
          offsetof(struct slo_report, queue_wait), 1 },
        { "lanekeeper_slo_setup_p95_seconds",
          "p95 (nearest rank) of the first step's start after Set up job minus the job's start", "setup",
          offsetof(struct slo_report, setup), 1 },
};

static void criteria(FILE *f, const struct route_metrics *m, size_t n) {
        for (size_t k = 0; k < sizeof figures / sizeof figures[0]; k++) {
                proto_prom_family(f, figures[k].name, "gauge", figures[k].help);
                for (size_t i = 0; i < n; i++) {
                        const struct slo_figure *fig;

                        if (!m[i].res || !m[i].res->have_report)
                                continue;
                        fig = (const struct slo_figure *) ((const char *) &m[i].res->report + figures[k].offset);
                        if (fig->verdict != SLO_NO_DATA)
                                sample(f, figures[k].name, m[i].st->repo, NULL, NULL, fig->value * figures[k].scale);
                }
        }
        proto_prom_family(f, "lanekeeper_slo_pass", "gauge", "Whether a success criterion holds (1) or not (0), per the field's "
                                                  "threshold; no sample without data");
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; m[i].res && m[i].res->have_report && k < sizeof figures / sizeof figures[0]; k++) {
                        const struct slo_figure *fig =
                                (const struct slo_figure *) ((const char *) &m[i].res->report + figures[k].offset);

                        if (fig->verdict != SLO_NO_DATA)
                                sample(f, "lanekeeper_slo_pass", m[i].st->repo, "criterion", figures[k].criterion,
                                       fig->verdict == SLO_PASS);
                }
}

void route_metrics_write(FILE *f, const struct route_metrics *m, size_t n) {
        criteria(f, m, n);
        proto_prom_family(f, "lanekeeper_route_enabled", "gauge", "The routing variable as last read: 1 true, 0 false or not set");
        for (size_t i = 0; i < n; i++)
                if (m[i].st->have_value)
                        sample(f, "lanekeeper_route_enabled", m[i].st->repo, NULL, NULL, m[i].st->value);
        proto_prom_family(f, "lanekeeper_route_stage", "gauge", "The canary stage (0: 1 trusted PR, 1: 10, 2: 25, 3: all)");
        for (size_t i = 0; i < n; i++)
                sample(f, "lanekeeper_route_stage", m[i].st->repo, NULL, NULL, m[i].st->stage);
        proto_prom_family(f, "lanekeeper_route_guard_trips_total", "counter",
               "Times the guard turned routing off with this rollback trigger holding");
        for (size_t i = 0; i < n; i++)
                for (int t = 0; t < _RT_MAX; t++)
                        sample(f, "lanekeeper_route_guard_trips_total", m[i].st->repo, "trigger",
                               route_trigger_to_string(t), (double) m[i].st->trips[t]);
        proto_prom_family(f, "lanekeeper_route_guard_last_run_timestamp_seconds", "gauge", "When the guard last ran");
        for (size_t i = 0; i < n; i++)
                if (m[i].st->last_guard)
                        sample(f, "lanekeeper_route_guard_last_run_timestamp_seconds", m[i].st->repo, NULL, NULL,
                               (double) m[i].st->last_guard);
}
