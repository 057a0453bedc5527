/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cache check, pure: a lane's actions cache is damaged when a failed
 * job of its runner says so in its log ("Can't find 'action.yml' ...
 * under '<the lane's _work/_actions/...>'"), or when the unit's own
 * measurement counts damaged entries; it is stale when its oldest entry is
 * older than cache_max_age_days. A damaged cache is cleared (every entry)
 * and the failed jobs it broke are rerun once, after the clear completed;
 * a stale one loses its old entries. Never while the lane runs a job. */
#include <stdio.h>
#include <string.h>

#include "health.h"

#define NOT_FOUND "Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '"

bool health_log_cache_damage(const char *log, size_t len, const char *lane_dir, char *path, size_t size) {
        char want[PROTO_PATH_MAX + PROTO_LANE_NAME_MAX + 32];
        size_t nl = strlen(NOT_FOUND), wl;
        const char *p = log, *end = log + len;

        wl = (size_t) snprintf(want, sizeof want, "%s/_work/_actions/", lane_dir);
        while (p < end) {
                const char *m = memmem(p, (size_t) (end - p), NOT_FOUND, nl), *q, *close;

                if (!m)
                        return false;
                q = m + nl;
                close = memchr(q, '\'', (size_t) (end - q));
                p = q;
                if (!close || (size_t) (close - q) <= wl || memcmp(q, want, wl) != 0 || memchr(q, '\n', (size_t) (close - q)))
                        continue;
                snprintf(path, size, "%.*s", (int) (close - q), q);
                return true;
        }
        return false;
}

static bool rerun_planned(const struct health_plan *p, long long run_id) {
        for (size_t i = 0; i < p->n_actions; i++)
                if (p->actions[i].verb == HV_RERUN_FAILED && p->actions[i].run_id == run_id)
                        return true;
        return false;
}

/* Why lane L's cache needs clearing, into BUF; 0 when it does not. The
 * age to clear at (0: every entry) into *AGE. */
static bool needs_clear(const struct health_snapshot *s, const struct health_settings *hs, size_t l, unsigned *age,
                        char *buf, size_t size) {
        const struct hlane *ln = &s->lanes[l];
        long long limit = (long long) hs->cache_max_age_days * 86400;

        for (size_t i = 0; i < s->n_cache_hits; i++)
                if (s->cache_hits[i].lane == (int) l) {
                        *age = 0;
                        return snprintf(buf, size, "job %lld of %s run %lld failed: no action.yml in the cached %.150s",
                                        s->cache_hits[i].job_id, s->repos[s->cache_hits[i].repo].name,
                                        s->cache_hits[i].run_id, s->cache_hits[i].path), true;
                }
        if (ln->have_cache && ln->cache.damaged) {
                *age = 0;
                return snprintf(buf, size, "%llu damaged entries in its actions cache (a marker without its action)",
                                ln->cache.damaged), true;
        }
        if (ln->have_cache && ln->cache.oldest && hs->cache_max_age_days && s->now - ln->cache.oldest > limit) {
                *age = (unsigned) hs->cache_max_age_days;
                return snprintf(buf, size, "its actions cache holds entries older than %lu days (the oldest %lld days)",
                                hs->cache_max_age_days, (long long) (s->now - ln->cache.oldest) / 86400), true;
        }
        return false;
}

static void plan_reruns(const struct health_snapshot *s, size_t l, size_t clear, struct health_plan *p) {
        for (size_t i = 0; i < s->n_cache_hits; i++) {
                const struct hcache_hit *h = &s->cache_hits[i];
                struct health_action *a;

                if (h->lane != (int) l || rerun_planned(p, h->run_id))
                        continue;
                if (h->reran_before) {
                        health_plan_finding(p, HC_CACHE, (int) l, false, "%s run %lld: health reran it once already; "
                                            "attempt %u is not rerun again", s->repos[h->repo].name, h->run_id,
                                            h->attempt);
                        continue;
                }
                if (!h->rerun_ok) {
                        health_plan_finding(p, HC_CACHE, (int) l, false, "%s run %lld: attempt %u is no longer its "
                                            "latest, or not completed; not rerun", s->repos[h->repo].name, h->run_id,
                                            h->attempt);
                        continue;
                }
                a = health_plan_action(p, HC_CACHE, HV_RERUN_FAILED, (int) h->repo, h->run_id, (int) l,
                                       "attempt %u failed on lane %s's damaged actions cache; its failed jobs are "
                                       "rerun once, after the cache is cleared", h->attempt, s->lanes[l].d->name);
                if (a) {
                        a->after = (int) clear;
                        a->attempt = h->attempt;
                        a->job_id = h->job_id;
                }
        }
}

void health_check_cache(const struct health_snapshot *s, const struct health_settings *hs, struct health_plan *p) {
        if (!s->cache_examined && s->cache_problem[0])
                health_plan_finding(p, HC_CACHE, -1, true, "recent failures could not be looked at: %s",
                                    s->cache_problem);
        for (size_t l = 0; l < s->n_lanes; l++) {
                const struct observation *o = &s->lanes[l].o;
                const char *name = s->lanes[l].d->name;
                struct health_action *a;
                char why[HEALTH_TEXT_MAX];
                unsigned age = 0;

                if (!s->lanes[l].enabled || o->hold[0] || !needs_clear(s, hs, l, &age, why, sizeof why))
                        continue;   /* a drained or revoked lane is not restarted to clear its cache */
                if (!o->unit_known || !o->unit_exists || !o->unit_managed) {
                        health_plan_finding(p, HC_CACHE, (int) l, true, "%s: %s; no lanekeeper unit to clear it "
                                            "through", name, why);
                        continue;
                }
                if (o->n_runners == 1 && o->runners[0].busy) {
                        health_plan_finding(p, HC_CACHE, (int) l, age == 0, "%s: %s; it runs a job now, so the cache "
                                            "is cleared in a later cycle", name, why);
                        continue;
                }
                a = health_plan_action(p, HC_CACHE, HV_CLEAR_CACHE, -1, 0, (int) l, "%s", why);
                if (!a)
                        return;
                a->max_age_days = age;
                if (age == 0)
                        plan_reruns(s, l, (size_t) (a - p->actions), p);
        }
}
