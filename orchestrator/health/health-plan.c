/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The health planner: pure. Each check reads the snapshot and adds actions
 * or findings; one rule guards every cancel: a run is cancelled only when
 * each of its active jobs is this host's (queued for labels a lane here
 * serves, or running on a lane's runner), so that nothing of another host,
 * a hosted runner or an unmanaged runner is touched. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "health.h"
#include "macro.h"

static const char *const check_names[_HC_MAX] = { "stale", "superseded", "pr-priority", "cache", "offline", "clock" };
static const char *const verb_names[_HV_MAX] = { "cancel-run", "rerun-failed-jobs", "clear-cache", "restart",
                                                 "re-register", "finish-drain" };
static const char *const result_names[_HR_MAX] = { "planned", "completed", "failed", "skipped", "capped" };

const char *health_check_to_string(enum health_check c) {
        return c >= 0 && c < _HC_MAX ? check_names[c] : NULL;
}

enum health_check health_check_from_string(const char *s) {
        for (int i = 0; i < _HC_MAX; i++)
                if (strcmp(s, check_names[i]) == 0)
                        return (enum health_check) i;
        return _HC_INVALID;
}

const char *health_verb_to_string(enum health_verb v) {
        return v >= 0 && v < _HV_MAX ? verb_names[v] : NULL;
}

const char *health_result_to_string(enum health_result r) {
        return r >= 0 && r < _HR_MAX ? result_names[r] : NULL;
}

bool health_labels_match(const struct hlabels *want, const struct hlabels *have) {
        if (want->n == 0 || want->truncated)
                return false;   /* a job asking for more than we kept is never assumed ours */
        for (size_t i = 0; i < want->n; i++) {
                bool found = false;

                for (size_t k = 0; k < have->n && !found; k++)
                        found = strcasecmp(want->v[i], have->v[k]) == 0;
                if (!found)
                        return false;
        }
        return true;
}

/* A lane's labels: what its file wants and what GitHub lists for it. */
static void lane_labels(const struct hlane *l, struct hlabels *ret) {
        *ret = (struct hlabels) {};
        for (size_t i = 0; i < l->d->n_labels && ret->n < HEALTH_MAX_LABELS; i++)
                snprintf(ret->v[ret->n++], sizeof ret->v[0], "%s", l->d->labels[i]);
        for (size_t r = 0; r < l->o.n_runners && r < 1; r++)
                for (size_t i = 0; i < l->o.runners[r].n_labels; i++) {
                        bool dup = false;

                        for (size_t k = 0; k < ret->n && !dup; k++)
                                dup = strcasecmp(ret->v[k], l->o.runners[r].labels[i]) == 0;
                        if (!dup && ret->n < HEALTH_MAX_LABELS)
                                snprintf(ret->v[ret->n++], sizeof ret->v[0], "%s", l->o.runners[r].labels[i]);
                }
}

int health_job_lane(const struct health_snapshot *s, const struct hjob *j) {
        for (size_t i = 0; i < s->n_lanes; i++) {
                struct hlabels have;

                lane_labels(&s->lanes[i], &have);
                if (health_labels_match(&j->labels, &have))
                        return (int) i;
        }
        return -1;
}

int health_runner_lane(const struct health_snapshot *s, const struct hjob *j) {
        if (!j->runner_id && !j->runner_name[0])
                return -1;
        for (size_t i = 0; i < s->n_lanes; i++) {
                const struct observation *o = &s->lanes[i].o;

                for (size_t r = 0; r < o->n_runners; r++)
                        if (j->runner_id && o->runners[r].id == j->runner_id)
                                return (int) i;
                if (!j->runner_id && strcasecmp(j->runner_name, s->lanes[i].d->name) == 0)
                        return (int) i;
        }
        return -1;
}

bool health_job_active(const struct hjob *j) {
        return strcmp(j->status, "completed") != 0;
}

bool health_run_active(const struct hrun *r) {
        return strcmp(r->status, "completed") != 0;
}

void health_plan_finding(struct health_plan *p, enum health_check c, int lane, bool degraded, const char *fmt, ...) {
        struct health_finding *f;
        va_list ap;

        if (p->n_findings == HEALTH_MAX_FINDINGS) {
                p->findings_dropped++;
                return;
        }
        f = &p->findings[p->n_findings++];
        *f = (struct health_finding) { .check = c, .lane = lane, .degraded = degraded };
        va_start(ap, fmt);
        vsnprintf(f->text, sizeof f->text, fmt, ap);
        va_end(ap);
}

static bool planned_run(const struct health_plan *p, long long run_id) {
        for (size_t i = 0; i < p->n_actions; i++)
                if (p->actions[i].verb == HV_CANCEL_RUN && p->actions[i].run_id == run_id)
                        return true;
        return false;
}

struct health_action *health_plan_action(struct health_plan *p, enum health_check c, enum health_verb v, int repo,
                                         long long run_id, int lane, const char *fmt, ...) {
        struct health_action *a;
        va_list ap;

        if (p->n_actions == HEALTH_MAX_ACTIONS) {
                health_plan_finding(p, c, lane, true, "more than %d actions in one cycle: the rest waits for the next",
                                    HEALTH_MAX_ACTIONS);
                return NULL;
        }
        a = &p->actions[p->n_actions++];
        *a = (struct health_action) { .check = c, .verb = v, .repo = repo, .run_id = run_id, .lane = lane, .after = -1 };
        va_start(ap, fmt);
        vsnprintf(a->reason, sizeof a->reason, fmt, ap);
        va_end(ap);
        return a;
}


static void labels_text(const struct hlabels *l, char *buf, size_t size) {
        buf[0] = '\0';
        for (size_t i = 0; i < l->n; i++)
                snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? "," : "", l->v[i]);
}

/* Whether every active job of R is this host's; if not, BUF says whose. */
bool health_run_all_ours(const struct health_snapshot *s, const struct hrun *r, char *buf, size_t size) {
        char labels[160];

        if (!r->jobs_known)
                return snprintf(buf, size, "its jobs could not be read"), false;
        for (size_t k = r->job0; k < r->job0 + r->n_jobs; k++) {
                const struct hjob *j = &s->jobs[k];

                if (!health_job_active(j))
                        continue;
                if (strcmp(j->status, "queued") == 0 && !j->runner_id) {
                        if (health_job_lane(s, j) < 0) {
                                labels_text(&j->labels, labels, sizeof labels);
                                snprintf(buf, size, "job %lld (%s) is queued for %s, not this host's", j->id, j->name,
                                         labels);
                                return false;
                        }
                } else if (health_runner_lane(s, j) < 0) {
                        snprintf(buf, size, "job %lld (%s) is %s%s%s, not this host's", j->id, j->name, j->status,
                                 j->runner_name[0] ? " on " : "", j->runner_name);
                        return false;
                }
        }
        return true;
}

static void check_stale(const struct health_snapshot *s, const struct health_settings *hs, struct health_plan *p) {
        long long limit = (long long) hs->stale_job_hours * 3600;

        for (size_t i = 0; i < s->n_runs; i++) {
                const struct hrun *r = &s->runs[i];
                char why[HEALTH_TEXT_MAX], labels[200];

                for (size_t k = r->job0; r->jobs_known && k < r->job0 + r->n_jobs; k++) {
                        const struct hjob *j = &s->jobs[k];
                        long long waited = (long long) (s->now - j->created);

                        if (strcmp(j->status, "queued") || waited <= limit || health_job_lane(s, j) < 0 ||
                            planned_run(p, r->id))
                                continue;
                        labels_text(&j->labels, labels, sizeof labels);
                        if (!health_run_all_ours(s, r, why, sizeof why))
                                health_plan_finding(p, HC_STALE, -1, false, "%s run %lld: job %lld queued %lld h for %s, left alone: "
                                        "%s", s->repos[r->repo].name, r->id, j->id, waited / 3600, labels, why);
                        else
                        {
                                (void) health_plan_action(p, HC_STALE, HV_CANCEL_RUN, (int) r->repo, r->id, -1,
                                       "job %lld (%s) queued %lld h %lld min for %s (more than %lu h)", j->id, j->name,
                                       waited / 3600, waited % 3600 / 60, labels, hs->stale_job_hours);
                                p->actions[p->n_actions - 1].job_id = j->id;
                        }
                        break;
                }
        }
}

/* The newest active run of R's workflow, branch and event (R itself if it is). */
static const struct hrun *newest_of(const struct health_snapshot *s, const struct hrun *r) {
        const struct hrun *best = r;

        for (size_t i = 0; i < s->n_runs; i++) {
                const struct hrun *o = &s->runs[i];

                if (o->repo != r->repo || o->workflow_id != r->workflow_id || strcmp(o->branch, r->branch) ||
                    strcmp(o->event, r->event) || !health_run_active(o))
                        continue;
                if (o->created > best->created || (o->created == best->created && o->id > best->id))
                        best = o;
        }
        return best;
}

static void check_superseded(const struct health_snapshot *s, const struct health_settings *hs,
                             struct health_plan *p) {
        for (size_t i = 0; i < s->n_runs; i++) {
                const struct hrun *r = &s->runs[i], *n = newest_of(s, r);
                const struct hrepo *repo = &s->repos[r->repo];
                char why[HEALTH_TEXT_MAX];

                if (n == r || !health_run_active(r) || planned_run(p, r->id))
                        continue;
                if (!repo->default_branch[0] || (strcmp(r->branch, repo->default_branch) == 0 &&
                                                 !hs->cancel_default_branch)) {
                        health_plan_finding(p, HC_SUPERSEDED, -1, false, "%s run %lld (%s on %s) is superseded by run %lld, left "
                                "alone: %s", repo->name, r->id, r->event, r->branch, n->id,
                                repo->default_branch[0] ? "it is on the default branch (cancel_default_branch = no)"
                                                        : "the default branch could not be read");
                        continue;
                }
                if (!health_run_all_ours(s, r, why, sizeof why))
                        health_plan_finding(p, HC_SUPERSEDED, -1, false, "%s run %lld (%s on %s) is superseded by run %lld, left "
                                "alone: %s", repo->name, r->id, r->event, r->branch, n->id, why);
                else
                        (void) health_plan_action(p, HC_SUPERSEDED, HV_CANCEL_RUN, (int) r->repo, r->id, -1,
                               "superseded by run %lld of the same workflow, branch %s and event %s", n->id, r->branch,
                               r->event);
        }
}

static bool is_pr(const struct hrun *r) {
        return strcmp(r->event, "pull_request") == 0 || strcmp(r->event, "pull_request_target") == 0;
}

/* Whether R has a queued job for labels this host serves. */
static bool run_waits_here(const struct health_snapshot *s, const struct hrun *r) {
        for (size_t k = r->job0; r->jobs_known && k < r->job0 + r->n_jobs; k++)
                if (strcmp(s->jobs[k].status, "queued") == 0 && health_job_lane(s, &s->jobs[k]) >= 0)
                        return true;
        return false;
}

static void check_pr_priority(const struct health_snapshot *s, const struct health_settings *hs,
                              struct health_plan *p) {
        for (size_t g = 0; g < s->n_repos; g++) {
                const struct hrepo *repo = &s->repos[g];
                size_t prs = 0;
                char why[HEALTH_TEXT_MAX];

                for (size_t i = 0; i < s->n_runs; i++)
                        prs += s->runs[i].repo == g && is_pr(&s->runs[i]) && run_waits_here(s, &s->runs[i]);
                if (prs <= hs->pr_priority_threshold)
                        continue;
                for (size_t i = 0; i < s->n_runs; i++) {
                        const struct hrun *r = &s->runs[i];

                        if (r->repo != g || strcmp(r->event, "push") || strcmp(r->status, "queued") ||
                            !run_waits_here(s, r) || planned_run(p, r->id))
                                continue;
                        if (!repo->default_branch[0] || strcmp(r->branch, repo->default_branch) == 0)
                                continue;   /* the default branch's pushes are never cancelled for PRs */
                        if (!health_run_all_ours(s, r, why, sizeof why))
                                health_plan_finding(p, HC_PR_PRIORITY, -1, false, "%s push run %lld left alone: %s", repo->name,
                                        r->id, why);
                        else
                                (void) health_plan_action(p, HC_PR_PRIORITY, HV_CANCEL_RUN, (int) g, r->id, -1,
                                       "%zu pull-request runs wait (more than %lu): queued push run on %s yields",
                                       prs, hs->pr_priority_threshold, r->branch);
                }
        }
}

/* Whether a queued job waits for labels lane L serves. */
static bool jobs_wait_for(const struct health_snapshot *s, size_t l) {
        for (size_t k = 0; k < s->n_jobs; k++)
                if (strcmp(s->jobs[k].status, "queued") == 0 && !s->jobs[k].runner_id &&
                    health_job_lane(s, &s->jobs[k]) == (int) l)
                        return true;
        return false;
}

static bool clock_drifts(const struct health_snapshot *s, const struct health_settings *hs) {
        return s->have_offset && llabs(s->clock_offset_s) > (long long) hs->max_clock_offset_s;
}

static void check_offline_lane(const struct health_snapshot *s, const struct health_settings *hs, size_t l,
                               struct health_plan *p) {
        const struct hlane *ln = &s->lanes[l];
        const struct observation *o = &ln->o;
        const char *name = ln->d->name;

        if (strcmp(o->hold, "draining") == 0 && o->unit_known && o->github_known && o->unit_exists && o->unit_managed &&
            strcmp(o->unit_active, "inactive") && strcmp(o->unit_active, "failed") && o->n_runners == 1 &&
            !o->runners[0].busy) {
                /* a drain left draining under a job (its --wait ran out): the job ended, the drain ends too */
                (void) health_plan_action(p, HC_OFFLINE, HV_FINISH_DRAIN, -1, 0, (int) l, "%s is draining since %s "
                                          "(%s) and its runner is idle now: stop it", name, o->hold_since, o->hold_reason);
                return;
        }
        if (o->hold[0]) {
                /* an operator's drain or revoke: left alone, said; one that cannot be read is a problem */
                if (strcmp(o->hold, "unknown") == 0)
                        health_plan_finding(p, HC_OFFLINE, (int) l, true, "%s: whether it is held cannot be read (%s); "
                                            "left alone", name, o->hold_reason);
                else
                        health_plan_finding(p, HC_OFFLINE, (int) l, false, "%s: %s since %s (%s); left alone until "
                                            "lanectl %s %s", name, o->hold, o->hold_since, o->hold_reason,
                                            strcmp(o->hold, "revoked") == 0 ? "unrevoke" : "undrain", name);
                return;
        }
        if (!o->unit_known || !o->github_known) {
                health_plan_finding(p, HC_OFFLINE, (int) l, true, "%s: cannot tell (%s)", name,
                        !o->unit_known ? o->unit_detail : o->github_detail);
                return;
        }
        if (!o->unit_exists || !o->unit_managed) {
                health_plan_finding(p, HC_OFFLINE, (int) l, true, "%s: no lanekeeper unit: run lanectl apply %s", name, name);
                return;
        }
        if (o->n_runners == 0 && o->local_configured) {
                if (clock_drifts(s, hs))
                        health_plan_finding(p, HC_OFFLINE, (int) l, true, "%s: its registration is gone from GitHub; not "
                                "re-registered while the clock is %lld s off (tokens would fail)", name,
                                s->clock_offset_s);
                else
                        (void) health_plan_action(p, HC_OFFLINE, HV_REREGISTER, -1, 0, (int) l, "the runner %s is configured here but "
                               "GitHub no longer lists it (registration deleted)", name);
                return;
        }
        if (o->n_runners == 0) {
                health_plan_finding(p, HC_OFFLINE, (int) l, true, "%s: not registered: run lanectl apply %s", name, name);
                return;
        }
        if (strcmp(o->unit_active, "active") && strcmp(o->unit_active, "activating") &&
            strcmp(o->unit_active, "reloading")) {
                (void) health_plan_action(p, HC_OFFLINE, HV_RESTART, -1, 0, (int) l, "the unit %s is %s (%s)", o->unit_name,
                       o->unit_active, o->unit_sub);
                return;
        }
        if (!o->runners[0].online && jobs_wait_for(s, l))
                (void) health_plan_action(p, HC_OFFLINE, HV_RESTART, -1, 0, (int) l, "offline on GitHub while jobs wait for its labels "
                       "(the unit is %s)", o->unit_active);
        else if (!o->runners[0].online)
                health_plan_finding(p, HC_OFFLINE, (int) l, true, "%s: offline on GitHub (the unit is %s/%s); no job waits for "
                        "its labels, so it is left to restart itself", name, o->unit_active, o->unit_sub);
}

/* Caps: actions past max_cancels, max_reruns or max_restarts wait. */
static void apply_caps(const struct health_settings *hs, struct health_plan *p) {
        unsigned long cancels = 0, reruns = 0, restarts = 0;

        for (size_t i = 0; i < p->n_actions; i++) {
                struct health_action *a = &p->actions[i];
                unsigned long *n = a->verb == HV_CANCEL_RUN                                       ? &cancels
                                   : a->verb == HV_RERUN_FAILED                                   ? &reruns
                                   : a->verb == HV_RESTART || a->verb == HV_REREGISTER || a->verb == HV_CLEAR_CACHE ||
                                                     a->verb == HV_FINISH_DRAIN ? &restarts
                                                                                       : NULL;
                unsigned long max = a->verb == HV_CANCEL_RUN     ? hs->max_cancels
                                    : a->verb == HV_RERUN_FAILED ? hs->max_reruns
                                                                 : hs->max_restarts;

                if (n && ++*n > max) {
                        a->result = HR_CAPPED;
                        snprintf(a->detail, sizeof a->detail, "over this cycle's cap (%lu): left for the next cycle",
                                 max);
                }
        }
}

void health_plan(const struct health_snapshot *s, const struct health_settings *hs, const bool *only,
                 struct health_plan *ret) {
        *ret = (struct health_plan) {};
        if (!only || only[HC_STALE])
                check_stale(s, hs, ret);
        if ((!only || only[HC_SUPERSEDED]) && hs->superseded)
                check_superseded(s, hs, ret);
        if ((!only || only[HC_PR_PRIORITY]) && hs->pr_priority)
                check_pr_priority(s, hs, ret);
        for (size_t l = 0; (!only || only[HC_OFFLINE]) && l < s->n_lanes; l++)
                if (s->lanes[l].enabled)
                        check_offline_lane(s, hs, l, ret);
        if (!only || only[HC_CACHE])
                health_check_cache(s, hs, ret);
        if ((!only || only[HC_CLOCK]) && clock_drifts(s, hs))
                health_plan_finding(ret, HC_CLOCK, -1, true, "this host's clock is %lld s off GitHub's (more than %lu s): "
                        "registration is refused while it lasts; as root: timedatectl set-ntp true", s->clock_offset_s,
                        hs->max_clock_offset_s);
        apply_caps(hs, ret);
}
