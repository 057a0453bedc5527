/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prometheus metrics of a health snapshot, in the text exposition format
 * (version 0.0.4): conventional names, units in names, every family with
 * HELP and TYPE, label values escaped. Pure: rendering only; the textfile
 * is written by the caller, atomically. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "health-metrics.h"
#include "proto-prom.h"

static void lane_sample(FILE *f, const char *name, const char *lane, long long v) {
        fprintf(f, "%s{lane=\"", name);
        proto_prom_value(f, lane);
        fprintf(f, "\"} %lld\n", v);
}

/* The per-lane families, one sample per lane (label lane); the cache ones
 * only for lanes whose unit has measured their actions cache. */
static const struct {
        const char *name, *help;
} lane_families[] = {
        { "lanekeeper_lane_up", "Whether the lane's unit is active (1) or not (0)." },
        { "lanekeeper_lane_online", "Whether GitHub lists the lane's runner online." },
        { "lanekeeper_lane_busy", "Whether GitHub lists the lane's runner busy with a job." },
        { "lanekeeper_lane_labels_drift", "Whether GitHub's labels for the runner differ from the lane file's." },
        { "lanekeeper_actions_cache_bytes", "Bytes in the lane's actions cache (_work/_actions)." },
        { "lanekeeper_actions_cache_entries", "Actions in the lane's cache." },
        { "lanekeeper_actions_cache_damaged_entries", "Cache entries the runner would use although broken." },
        { "lanekeeper_actions_cache_oldest_timestamp_seconds", "When the oldest cached action was downloaded." },
};

/* Family K's value for lane L; false: no sample. */
static bool lane_value(size_t k, const struct hlane *l, long long *v) {
        const struct proto_cache_stats *c = &l->cache;
        bool one = l->o.n_runners == 1;

        switch (k) {
        case 0: *v = strcmp(l->o.unit_active, "active") == 0; return true;
        case 1: *v = one && l->o.runners[0].online; return true;
        case 2: *v = one && l->o.runners[0].busy; return true;
        case 3: *v = health_lane_labels_drift(l); return true;
        case 4: *v = (long long) c->bytes; break;
        case 5: *v = (long long) c->entries; break;
        case 6: *v = (long long) c->damaged; break;
        default: *v = c->oldest; break;
        }
        return l->have_cache;
}

static void lanes(FILE *f, const struct health_snapshot *s) {
        for (size_t k = 0; k < sizeof lane_families / sizeof lane_families[0]; k++) {
                proto_prom_family(f, lane_families[k].name, "gauge", lane_families[k].help);
                for (size_t i = 0; i < s->n_lanes; i++) {
                        long long v;

                        if (lane_value(k, &s->lanes[i], &v))
                                lane_sample(f, lane_families[k].name, s->lanes[i].d->name, v);
                }
        }
}

static void set_labels(FILE *f, const struct health_labelset *ls) {
        fputs("{labels=\"", f);
        for (size_t i = 0; i < ls->labels.n; i++) {
                if (i)
                        fputc(',', f);
                proto_prom_value(f, ls->labels.v[i]);
        }
        fprintf(f, "\",served_here=\"%s\"}", ls->served ? "true" : "false");
}

static void queue(FILE *f, const struct health_snapshot *s, const struct health_settings *hs) {
        struct health_labelset *sets = calloc(HEALTH_METRICS_MAX_SETS, sizeof *sets);
        size_t n = sets ? health_queue(s, hs, sets, HEALTH_METRICS_MAX_SETS) : 0;

        proto_prom_family(f, "lanekeeper_queue_jobs", "gauge", "Queued jobs per exact label set.");
        for (size_t i = 0; i < n; i++)
                fputs("lanekeeper_queue_jobs", f), set_labels(f, &sets[i]), fprintf(f, " %zu\n", sets[i].queued);
        proto_prom_family(f, "lanekeeper_queue_stale_jobs", "gauge", "Queued jobs per label set older than stale_job_hours.");
        for (size_t i = 0; i < n; i++)
                fputs("lanekeeper_queue_stale_jobs", f), set_labels(f, &sets[i]), fprintf(f, " %zu\n", sets[i].stale);
        proto_prom_family(f, "lanekeeper_queue_oldest_wait_seconds", "gauge", "How long the oldest queued job of the set has waited.");
        for (size_t i = 0; i < n; i++)
                fputs("lanekeeper_queue_oldest_wait_seconds", f), set_labels(f, &sets[i]),
                        fprintf(f, " %lld\n", s->now > sets[i].oldest ? (long long) (s->now - sets[i].oldest) : 0);
        proto_prom_family(f, "lanekeeper_queue_matching_runners", "gauge", "Online runners whose labels match the set.");
        for (size_t i = 0; i < n; i++)
                fputs("lanekeeper_queue_matching_runners", f), set_labels(f, &sets[i]),
                        fprintf(f, " %zu\n", sets[i].online_runners);
        free(sets);
}

/* The samples of FAMILY in TEXT (a textfile written before), as they were. */
static void carried(FILE *f, const char *text, const char *family) {
        size_t n = strlen(family);

        for (const char *p = text; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);

                if (len > n && strncmp(p, family, n) == 0 && (p[n] == '{' || p[n] == ' '))
                        fprintf(f, "%.*s\n", (int) len, p);
                p = nl ? nl + 1 : NULL;
        }
}

static void actions(FILE *f, const struct health_plan *p, const char *carry) {
        proto_prom_family(f, "lanekeeper_health_actions", "gauge", "Actions of the last health cycle by check, action and result.");
        if (!p) {
                carried(f, carry, "lanekeeper_health_actions");
                proto_prom_family(f, "lanekeeper_health_degraded_findings", "gauge", "Degraded findings of the last health cycle.");
                carried(f, carry, "lanekeeper_health_degraded_findings");
                return;
        }
        for (int c = 0; p && c < _HC_MAX; c++)
                for (int v = 0; v < _HV_MAX; v++)
                        for (int r = 0; r < _HR_MAX; r++) {
                                unsigned n = 0;

                                for (size_t i = 0; i < p->n_actions; i++)
                                        n += p->actions[i].check == (enum health_check) c &&
                                             p->actions[i].verb == (enum health_verb) v &&
                                             p->actions[i].result == (enum health_result) r;
                                if (n)
                                        fprintf(f, "lanekeeper_health_actions{check=\"%s\",action=\"%s\",result=\"%s\"} %u\n",
                                                health_check_to_string(c), health_verb_to_string(v),
                                                health_result_to_string(r), n);
                        }
        proto_prom_family(f, "lanekeeper_health_degraded_findings", "gauge", "Degraded findings of the last health cycle.");
        {
                unsigned n = 0;

                for (size_t i = 0; p && i < p->n_findings; i++)
                        n += p->findings[i].degraded;
                fprintf(f, "lanekeeper_health_degraded_findings %u\n", n);
        }
}

static bool runner_has(const struct hrunner *r, const char *label) {
        for (size_t k = 0; label && k < r->labels.n; k++)
                if (strcasecmp(r->labels.v[k], label) == 0)
                        return true;
        return false;
}

/* Holds (drain, revoke), registrations cleanup-stale would consider, and
 * the claim latency of the jobs this host's lanes took. */
static void pool(FILE *f, const struct health_metrics_in *in) {
        static const char *const states[] = { "draining", "drained", "revoked" };
        /* 0.1 s, x2.5, 12 buckets (field document 002's histogram) */
        double bounds[12], b = 0.1;
        unsigned long long counts[12] = {}, n = 0, stale = 0;
        const struct health_snapshot *s = in->snap;
        double sum = 0;

        proto_prom_family(f, "lanekeeper_lanes_held", "gauge", "Lanes held by an operator, by state (lanectl drain, revoke).");
        for (size_t k = 0; k < 3; k++) {
                size_t c = 0;

                for (size_t i = 0; i < s->n_lanes; i++)
                        c += strcmp(s->lanes[i].o.hold, states[k]) == 0;
                fprintf(f, "lanekeeper_lanes_held{state=\"%s\"} %zu\n", states[k], c);
        }
        proto_prom_family(f, "lanekeeper_lane_hold", "gauge", "1 for the hold a lane is under (state draining, drained, revoked).");
        for (size_t i = 0; i < s->n_lanes; i++)
                if (s->lanes[i].o.hold[0]) {
                        fputs("lanekeeper_lane_hold{lane=\"", f);
                        proto_prom_value(f, s->lanes[i].d->name);
                        fprintf(f, "\",state=\"%s\"} 1\n", s->lanes[i].o.hold);
                }
        for (size_t i = 0; i < s->n_runners; i++)
                stale += s->runners[i].lane < 0 && !s->runners[i].online && in->host_label &&
                         runner_has(&s->runners[i], in->managed_label) && runner_has(&s->runners[i], in->host_label);
        proto_prom_family(f, "lanekeeper_stale_registrations", "gauge", "Offline runners with the managed label and this host's "
               "label but no lane here (lanectl cleanup-stale's candidates, of any age).");
        fprintf(f, "lanekeeper_stale_registrations %llu\n", stale);
        for (size_t k = 0; k < 12; k++, b *= 2.5)
                bounds[k] = b;
        for (size_t j = 0; j < s->n_jobs; j++) {
                const struct hjob *job = &s->jobs[j];
                double wait;

                if (!job->started || !job->created || job->started < job->created || health_runner_lane(s, job) < 0)
                        continue;
                wait = (double) (job->started - job->created);
                sum += wait;
                n++;
                for (size_t k = 0; k < 12; k++)
                        counts[k] += wait <= bounds[k];
        }
        proto_prom_family(f, "lanekeeper_job_claim_latency_seconds", "histogram", "From a job's creation to its start on a lane "
               "of this host (GitHub's jobs API), over the jobs of the runs the cycle read.");
        for (size_t k = 0; k < 12; k++)
                fprintf(f, "lanekeeper_job_claim_latency_seconds_bucket{le=\"%g\"} %llu\n", bounds[k], counts[k]);
        fprintf(f, "lanekeeper_job_claim_latency_seconds_bucket{le=\"+Inf\"} %llu\n", n);
        fprintf(f, "lanekeeper_job_claim_latency_seconds_sum %g\n", sum);
        fprintf(f, "lanekeeper_job_claim_latency_seconds_count %llu\n", n);
}

int health_metrics_render(const struct health_metrics_in *in, char **ret, size_t *ret_len) {
        const struct health_snapshot *s = in->snap;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        lanes(f, s);
        queue(f, s, in->settings);
        actions(f, in->plan, in->carry);
        pool(f, in);
        if (s->have_offset) {
                proto_prom_family(f, "lanekeeper_clock_offset_seconds", "gauge", "GitHub's clock minus this host's.");
                fprintf(f, "lanekeeper_clock_offset_seconds %lld\n", s->clock_offset_s);
        }
        if (s->have_rate) {
                proto_prom_family(f, "lanekeeper_github_rate_limit_remaining", "gauge", "GitHub's core rate limit left.");
                fprintf(f, "lanekeeper_github_rate_limit_remaining %lld\n", s->rate_remaining);
        }
        proto_prom_family(f, "lanekeeper_audit_records", "gauge", "Records in the audit store.");
        fprintf(f, "lanekeeper_audit_records %llu\n", (unsigned long long) in->audit_records);
        proto_prom_family(f, "lanekeeper_audit_chain_intact", "gauge", "Whether the audit chain verifies (1) or not (0).");
        fprintf(f, "lanekeeper_audit_chain_intact %d\n", in->audit_intact ? 1 : 0);
        proto_prom_family(f, "lanekeeper_health_last_success_timestamp_seconds", "gauge",
               "When a health cycle last read everything it needed (Unix time).");
        fprintf(f, "lanekeeper_health_last_success_timestamp_seconds %lld\n", in->last_success);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}
