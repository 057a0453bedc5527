/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pool supervisor's metrics in the Prometheus text exposition format
 * (version 0.0.4): per pool its slots by state and its target with the
 * reasons behind it (label pool: a pool name, which lane-name validation
 * keeps to letters, digits, '.', '_' and '-'); the process's counters
 * (reset by a restart, as Prometheus counters may be); the queue-to-claim
 * latency of jobs the pools' runners took, from GitHub's created_at and
 * started_at; GitHub's rate limit as last answered, and installation
 * tokens made. */
#include <stddef.h>
#include <stdio.h>

#include "gh-client.h"
#include "macro.h"
#include "sup-scaleset.h"
#include "supervisor.h"
#include "webhook.h"

static void family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void slots_by_state(const struct pool_sup *s, FILE *f) {
        family(f, "lanekeeper_pool_slots", "gauge", "Slots of the pool by state, as the last pass read them.");
        for (size_t i = 0; i < s->n_pools; i++) {
                const struct sup_pool *sp = &s->pools[i];
                unsigned by[_SLOT_STATE_MAX] = {};

                for (unsigned n = 0; n < sp->n_slots && sp->known; n++)
                        by[pool_slot_state(&sp->slots[n].seen)]++;
                for (int st = 0; st < _SLOT_STATE_MAX; st++)
                        fprintf(f, "lanekeeper_pool_slots{pool=\"%s\",state=\"%s\"} %u\n", sp->p.lane.name,
                                slot_state_to_string(st), by[st]);
        }
}

/* The per-pool gauges: K-th family's value for SP. */
static const struct {
        const char *name, *help;
} pool_families[] = {
        { "lanekeeper_pool_target", "Slots the pool should have live: busy + queued + spare, within min and max." },
        { "lanekeeper_pool_queued_jobs", "Queued jobs of the pool's repositories whose labels the pool satisfies." },
        { "lanekeeper_pool_busy_slots", "Slots whose runner runs a job (a reason of the target)." },
        { "lanekeeper_pool_spare", "Idle runners the pool keeps warm (a reason of the target)." },
        { "lanekeeper_pool_min", "The pool's min." },
        { "lanekeeper_pool_max", "The pool's max." },
        { "lanekeeper_pool_target_clamped", "Whether min, max or a drain set the target rather than demand." },
        { "lanekeeper_pool_draining", "Whether the pool is draining (nothing started, busy slots finish)." },
        { "lanekeeper_pool_slots_above_max", "Slots above a lowered max still up, stopped once idle." },
        { "lanekeeper_pool_read_ok", "Whether the last pass read GitHub and systemd for the pool (no decision otherwise)." },
        { "lanekeeper_pool_last_pass_timestamp_seconds", "When the pool was last read and decided." },
};

static long long pool_value(size_t k, const struct sup_pool *sp) {
        const struct pool_decision *d = &sp->last;

        switch (k) {
        case 0: return d->target;
        case 1: return d->queued;
        case 2: return d->busy;
        case 3: return sp->p.spare;
        case 4: return sp->p.min;
        case 5: return sp->p.max;
        case 6: return d->clamp != NULL;
        case 7: return sp->draining;
        case 8: return d->beyond;
        case 9: return sp->known;
        default: return (long long) sp->decided;
        }
}

static const struct {
        const char *name, *help;
        size_t offset;
} counters[] = {
        { "lanekeeper_pool_passes_total", "Passes of the supervisor.", offsetof(struct sup_counters, passes) },
        { "lanekeeper_pool_jit_configs_issued_total", "JIT configurations handed to slots.",
          offsetof(struct sup_counters, jit_issued) },
        { "lanekeeper_pool_jit_config_failures_total", "JIT configurations a slot asked for and did not get.",
          offsetof(struct sup_counters, jit_failed) },
        { "lanekeeper_pool_runners_never_online_total", "Runners that did not come online in time: deleted, slot restarted.",
          offsetof(struct sup_counters, never_online) },
        { "lanekeeper_pool_installs_refused_total", "Slot starts refused because the runner install changed.",
          offsetof(struct sup_counters, refused) },
        { "lanekeeper_pool_slots_started_total", "Slots installed, started, reset or recycled.",
          offsetof(struct sup_counters, started) },
        { "lanekeeper_pool_slots_stopped_total", "Slots stopped by scale-down, drain or refusal.",
          offsetof(struct sup_counters, stopped) },
        { "lanekeeper_pool_scale_down_skipped_busy_total", "Scale-downs skipped: the runner took a job (GitHub's 422).",
          offsetof(struct sup_counters, stop_skipped_busy) },
        { "lanekeeper_pool_actions_failed_total", "Scale actions that failed (audited with the reason).",
          offsetof(struct sup_counters, actions_failed) },
        { "lanekeeper_pool_registrations_forgotten_total",
          "Registrations left by slots whose unit was down (JIT configurations never used): deleted.",
          offsetof(struct sup_counters, forgotten) },
        { "lanekeeper_pool_jit_configs_lost_total",
          "JIT configurations made but not delivered (the slot's unit went away): their registration deleted.",
          offsetof(struct sup_counters, jit_lost) },
};

static void claim_histogram(const struct sup_counters *c, FILE *f) {
        unsigned long long cum = 0;
        double le = SUP_LATENCY_FIRST;

        family(f, "lanekeeper_pool_claim_latency_seconds", "histogram",
               "Seconds from a job queued to a pool runner claiming it (GitHub's created_at to started_at).");
        for (size_t b = 0; b < SUP_LATENCY_BUCKETS; b++, le *= SUP_LATENCY_FACTOR) {
                cum += c->claim_buckets[b];
                fprintf(f, "lanekeeper_pool_claim_latency_seconds_bucket{le=\"%g\"} %llu\n", le, cum);
        }
        cum += c->claim_buckets[SUP_LATENCY_BUCKETS];
        fprintf(f, "lanekeeper_pool_claim_latency_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
        fprintf(f, "lanekeeper_pool_claim_latency_seconds_sum %g\n", c->claim_sum);
        fprintf(f, "lanekeeper_pool_claim_latency_seconds_count %llu\n", c->claim_count);
}

static void github(const struct pool_sup *s, FILE *f) {
        struct gh_stats st = {};

        if (!s->real || !s->real->gh)
                return;
        gh_stats(s->real->gh, &st);
        family(f, "lanekeeper_github_requests_total", "counter", "Requests the supervisor sent to GitHub.");
        fprintf(f, "lanekeeper_github_requests_total %lu\n", st.requests);
        family(f, "lanekeeper_github_not_modified_total", "counter", "Conditional requests GitHub answered 304 (no rate limit spent).");
        fprintf(f, "lanekeeper_github_not_modified_total %lu\n", st.not_modified);
        family(f, "lanekeeper_github_rate_limit_units_total", "counter",
               "REST requests that spent a rate-limit unit (a 304 or the Actions service's spend none).");
        fprintf(f, "lanekeeper_github_rate_limit_units_total %lld\n", st.units);
        family(f, "lanekeeper_github_service_requests_total", "counter",
               "Answers of the Actions service (scale sets; the long poll runs in a child and is counted apart).");
        fprintf(f, "lanekeeper_github_service_requests_total %lu\n", st.service);
        family(f, "lanekeeper_github_token_refreshes_total", "counter", "GitHub App installation tokens made.");
        fprintf(f, "lanekeeper_github_token_refreshes_total %lu\n", st.tokens);
        if (!st.have_rate)
                return;
        family(f, "lanekeeper_github_rate_limit_remaining", "gauge", "Requests left in GitHub's rate-limit window, as last answered.");
        fprintf(f, "lanekeeper_github_rate_limit_remaining %lld\n", st.remaining);
        family(f, "lanekeeper_github_rate_limit_limit", "gauge", "GitHub's rate limit per window, as last answered.");
        fprintf(f, "lanekeeper_github_rate_limit_limit %lld\n", st.limit);
        family(f, "lanekeeper_github_rate_limit_reset_timestamp_seconds", "gauge", "When GitHub's rate-limit window resets.");
        fprintf(f, "lanekeeper_github_rate_limit_reset_timestamp_seconds %lld\n", st.reset);
}

/* Scale-set pools: the service's messages and sessions, and its statistics. */
static const struct {
        const char *name, *type, *help;
        size_t offset;
} ss_families[] = {
        { "lanekeeper_pool_scaleset_messages_total", "counter", "Messages of the set's queue handled.",
          offsetof(struct sup_ss, messages) },
        { "lanekeeper_pool_scaleset_duplicate_messages_total", "counter",
          "Messages read again after a restart, handled before: deleted only.", offsetof(struct sup_ss, duplicates) },
        { "lanekeeper_pool_scaleset_acquired_jobs_total", "counter", "Available jobs the pool acquired.",
          offsetof(struct sup_ss, acquired) },
        { "lanekeeper_pool_scaleset_sessions_total", "counter", "Message sessions opened.", offsetof(struct sup_ss, sessions) },
        { "lanekeeper_pool_scaleset_session_conflicts_total", "counter",
          "Session opens refused: held elsewhere (a killed predecessor's, until it times out).",
          offsetof(struct sup_ss, conflicts) },
        { "lanekeeper_pool_scaleset_polls_total", "counter", "Long polls of the message queue.", offsetof(struct sup_ss, polls) },
        { "lanekeeper_pool_scaleset_poll_errors_total", "counter", "Long polls without an answer, or with an error.",
          offsetof(struct sup_ss, poll_errors) },
        { "lanekeeper_pool_scaleset_session_refreshes_total", "counter", "Queue tokens made anew (the poll said 401).",
          offsetof(struct sup_ss, refreshes) },
};

static void scale_sets(const struct pool_sup *s, FILE *f) {
        static const char *const stats[] = { "available", "acquired", "assigned", "running", "registered", "busy", "idle" };

        for (size_t k = 0; k < ELEMENTSOF(ss_families); k++) {
                family(f, ss_families[k].name, ss_families[k].type, ss_families[k].help);
                for (size_t i = 0; i < s->n_pools; i++)
                        if (s->pools[i].ss)
                                fprintf(f, "%s{pool=\"%s\"} %lu\n", ss_families[k].name, s->pools[i].p.lane.name,
                                        *(const unsigned long *) ((const char *) s->pools[i].ss + ss_families[k].offset));
        }
        family(f, "lanekeeper_pool_scaleset_session_open", "gauge", "Whether the pool holds its set's message session.");
        for (size_t i = 0; i < s->n_pools; i++)
                if (s->pools[i].ss)
                        fprintf(f, "lanekeeper_pool_scaleset_session_open{pool=\"%s\"} %d\n", s->pools[i].p.lane.name,
                                s->pools[i].ss->conn.session[0] != '\0');
        family(f, "lanekeeper_pool_scaleset_statistics", "gauge",
               "The service's statistics of the set as last told (jobs: available, acquired, assigned, running; "
               "runners: registered, busy, idle).");
        for (size_t i = 0; i < s->n_pools; i++) {
                const struct sup_ss *x = s->pools[i].ss;
                const struct gh_ss_stats t = x ? x->stats : (struct gh_ss_stats) {};
                const long long v[] = { t.available, t.acquired, t.assigned, t.running, t.registered, t.busy, t.idle };

                for (size_t k = 0; x && x->stats_known && k < ELEMENTSOF(stats); k++)
                        fprintf(f, "lanekeeper_pool_scaleset_statistics{pool=\"%s\",kind=\"%s\"} %lld\n",
                                s->pools[i].p.lane.name, stats[k], v[k]);
        }
}

void sup_metrics(const struct pool_sup *s, FILE *f) {
        slots_by_state(s, f);
        for (size_t k = 0; k < ELEMENTSOF(pool_families); k++) {
                family(f, pool_families[k].name, "gauge", pool_families[k].help);
                for (size_t i = 0; i < s->n_pools; i++)
                        fprintf(f, "%s{pool=\"%s\"} %lld\n", pool_families[k].name, s->pools[i].p.lane.name,
                                pool_value(k, &s->pools[i]));
        }
        for (size_t k = 0; k < ELEMENTSOF(counters); k++) {
                family(f, counters[k].name, "counter", counters[k].help);
                fprintf(f, "%s %llu\n", counters[k].name,
                        *(const unsigned long long *) ((const char *) &s->c + counters[k].offset));
        }
        claim_histogram(&s->c, f);
        if (s->c.webhook_on) {
                family(f, "lanekeeper_pool_webhook_requests_total", "counter",
                       "Webhook requests by result: accepted (a verified workflow_job: an early pass), ignored, "
                       "bad_signature, rejected.");
                for (int r = 0; r < _WEBHOOK_RESULT_MAX; r++)
                        fprintf(f, "lanekeeper_pool_webhook_requests_total{result=\"%s\"} %llu\n",
                                webhook_result_to_string(r), s->c.webhook[r]);
        }
        for (size_t i = 0; i < s->n_pools; i++)
                if (s->pools[i].ss) {
                        scale_sets(s, f);
                        break;
                }
        github(s, f);
}
