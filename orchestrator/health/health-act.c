/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Acting on a health plan: each action writes a planned record, re-checks
 * what it relies on against GitHub, acts, verifies, and writes completed
 * or failed (or skipped, when the re-check found the reason gone). One
 * action failing does not stop the others. Lanes are acted on only
 * through exec_lane(), with its lock, plan, gates and record. */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec.h"
#include "gh-api.h"
#include "gh-client.h"
#include "health-act.h"
#include "health-gather.h"
#include "macro.h"
#include "proto-register.h"
#include "proto-time.h"

#define CANCEL_WAIT_MS 30000

static void add_str(struct json_object *o, const char *key, const char *v) {
        json_object_object_add(o, key, json_object_new_string(v));
}

static void record(const struct health_act_env *env, const struct health_snapshot *s, struct health_action *a) {
        struct json_object *rec = json_object_new_object();
        char now[32];

        proto_utc_iso(env->ops->wall_time(env->ops->data), now, sizeof now);
        add_str(rec, "status", health_result_to_string(a->result));
        if (a->lane >= 0)
                add_str(rec, "lane", s->lanes[a->lane].d->name);
        add_str(rec, "time", now);
        add_str(rec, "host", env->host);
        add_str(rec, "command", "health");
        add_str(rec, "cycle", env->cycle);
        add_str(rec, "check", health_check_to_string(a->check));
        add_str(rec, "action", health_verb_to_string(a->verb));
        if (a->repo >= 0)
                add_str(rec, "repository", s->repos[a->repo].name);
        if (a->run_id)
                json_object_object_add(rec, "run_id", json_object_new_int64(a->run_id));
        if (a->job_id)
                json_object_object_add(rec, "job_id", json_object_new_int64(a->job_id));
        add_str(rec, "reason", a->reason);
        if (a->detail[0])
                add_str(rec, "detail", a->detail);
        if (env->ops->append_record(env->ops->data, rec, &a->seq) < 0) {
                a->seq = 0;
                /* the action's result stands; the record's loss is said */
                snprintf(a->detail + strlen(a->detail), sizeof a->detail - strlen(a->detail),
                         "%s(the audit record could not be written)", a->detail[0] ? " " : "");
        }
        json_object_put(rec);
}

static void result(struct health_action *a, enum health_result r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void result(struct health_action *a, enum health_result r, const char *fmt, ...) {
        va_list ap;

        a->result = r;
        va_start(ap, fmt);
        vsnprintf(a->detail, sizeof a->detail, fmt, ap);
        va_end(ap);
}

/* The run as GitHub has it now, with its jobs, in a snapshot of one run
 * that shares the lanes of S: 0, or -errno with ERR. */
static int reread(const struct health_act_env *env, const struct health_snapshot *s, const struct health_action *a,
                  struct health_snapshot *one, char *err, size_t errlen) {
        *one = (struct health_snapshot) { .now = s->now, .n_repos = 1, .lanes = s->lanes, .n_lanes = s->n_lanes };
        one->repos[0] = s->repos[a->repo];
        return health_gather_run(env->gh, one, 0, a->run_id, err, errlen);
}

/* Whether the reason for A still holds in ONE (else why not, into BUF). */
static bool still_holds(const struct health_snapshot *one, const struct health_action *a, char *buf, size_t size) {
        const struct hrun *r = &one->runs[0];

        if (!health_run_active(r))
                return snprintf(buf, size, "the run is already %s", r->conclusion[0] ? r->conclusion : r->status), false;
        if (a->check == HC_PR_PRIORITY && strcmp(r->status, "queued"))
                return snprintf(buf, size, "the run is %s now, no longer queued", r->status), false;
        for (size_t k = 0; a->job_id && k < one->n_jobs; k++)
                if (one->jobs[k].id == a->job_id && (strcmp(one->jobs[k].status, "queued") || one->jobs[k].runner_id))
                        return snprintf(buf, size, "job %lld is %s now, no longer queued", a->job_id,
                                        one->jobs[k].status), false;
        return health_run_all_ours(one, r, buf, size);
}

/* Cancel, then wait until GitHub says the run completed. */
static void cancel_run(const struct health_act_env *env, const struct health_snapshot *s, struct health_action *a) {
        struct health_snapshot one = {};
        char err[512], why[HEALTH_TEXT_MAX];
        long long deadline;
        int r;

        r = reread(env, s, a, &one, err, sizeof err);
        if (r < 0) {
                health_snapshot_free(&one);
                return result(a, HR_FAILED, "re-reading the run before cancelling it: %s", err);
        }
        if (!still_holds(&one, a, why, sizeof why)) {
                health_snapshot_free(&one);
                return result(a, HR_SKIPPED, "nothing done: %s", why);
        }
        health_snapshot_free(&one);
        r = gh_run_cancel(env->gh, s->repos[a->repo].name, a->run_id, false, err, sizeof err);
        if (r < 0)
                return result(a, HR_FAILED, "cancelling run %lld: %s", a->run_id, err);
        deadline = env->ops->now_ms(env->ops->data) + CANCEL_WAIT_MS;
        for (;;) {
                r = reread(env, s, a, &one, err, sizeof err);
                if (r == 0 && !health_run_active(&one.runs[0])) {
                        result(a, HR_COMPLETED, "run %lld %s", a->run_id, one.runs[0].conclusion);
                        break;
                }
                health_snapshot_free(&one);
                if (env->ops->now_ms(env->ops->data) >= deadline) {
                        result(a, HR_FAILED, "GitHub accepted the cancel, but run %lld has not completed within %d s%s%s",
                               a->run_id, CANCEL_WAIT_MS / 1000, r < 0 ? ": " : "", r < 0 ? err : "");
                        break;
                }
                env->ops->sleep_ms(env->ops->data, 500);
        }
        health_snapshot_free(&one);
}

/* Restart or re-register the lane through the executor. */
static void lane_action(const struct health_act_env *env, const struct health_snapshot *s, struct health_action *a) {
        const struct hlane *ln = &s->lanes[a->lane];
        _cleanup_(freep) struct exec_result *res = calloc(1, sizeof *res);
        char key[IDEMPOTENCY_KEY_MAX + 1], web[PROTO_REGISTER_URL_MAX + 1];
        struct exec_request req;

        if (!res)
                return result(a, HR_FAILED, "out of memory");
        snprintf(key, sizeof key, "health-%s-%s%s", env->cycle, ln->d->name, a->verb == HV_CLEAR_CACHE ? "-cache" : "");
        exec_web_url(env->api_url, ln->d, web, sizeof web);
        req = (struct exec_request) {
                .cmd = a->verb == HV_REREGISTER ? EXEC_APPLY : a->verb == HV_FINISH_DRAIN ? EXEC_DRAIN : EXEC_RESTART,
                .lane = ln->d, .pol = env->pol, .key = key,
                /* finish-drain: the operator's reason kept; no wait: a job that slipped in leaves it draining */
                .reason = a->verb == HV_FINISH_DRAIN ? ln->o.hold_reason : NULL, .idle_wait_s = 0,
                .host = env->host, .web_url = web, .timeout_s = EXEC_DEFAULT_TIMEOUT_S,
                .clear_actions = a->verb == HV_CLEAR_CACHE, .cache_max_age_days = a->max_age_days,
                .plan = { .this_host = env->host, .same_name_lanes = 1, .confirmed = true, .idempotency_key = key },
        };
        switch (exec_lane(env->ops, &req, res)) {
        case EXEC_COMPLETED:
                if (res->left_draining)
                        return result(a, HR_SKIPPED, "a job slipped in as it stopped; the lane is still draining "
                                      "(record #%llu)", (unsigned long long) res->seq);
                return result(a, HR_COMPLETED, "%s %s completed (record #%llu)", exec_cmd_to_string(req.cmd),
                              plan_action_to_string(res->p.action), (unsigned long long) res->seq);
        case EXEC_BLOCKED:
                return result(a, HR_FAILED, "%s refused by the plan (record #%llu): %.200s", exec_cmd_to_string(req.cmd),
                              (unsigned long long) res->seq,
                              res->p.n_blockers ? res->p.blockers[0].detail : "blocked");
        case EXEC_FAILED:
                return result(a, HR_FAILED, "%s failed at %s (record #%llu)", exec_cmd_to_string(req.cmd),
                              res->failed ?: "?", (unsigned long long) res->seq);
        case EXEC_BUSY:
                return result(a, HR_SKIPPED, "another lanectl command holds the lane; nothing done");
        case EXEC_REPEATED:   /* keys are this cycle's own: cannot happen twice */
        case EXEC_ERROR:
        case _EXEC_OUTCOME_MAX:
        case _EXEC_OUTCOME_INVALID:
                break;
        }
        result(a, HR_FAILED, "%s: %.250s", exec_cmd_to_string(req.cmd), res->error);
}

/* Rerun the failed jobs of a run the damaged cache broke: only if its
 * latest attempt is still the one that failed, and completed. */
static void rerun_failed(const struct health_act_env *env, const struct health_snapshot *s, struct health_action *a) {
        struct health_snapshot one = {};
        char err[512];
        int r = reread(env, s, a, &one, err, sizeof err);

        if (r < 0) {
                health_snapshot_free(&one);
                return result(a, HR_FAILED, "re-reading the run before rerunning it: %s", err);
        }
        if (one.runs[0].attempt != a->attempt || health_run_active(&one.runs[0])) {
                result(a, HR_SKIPPED, "nothing done: the run is at attempt %u (%s) now", one.runs[0].attempt,
                       one.runs[0].status);
                health_snapshot_free(&one);
                return;
        }
        health_snapshot_free(&one);
        r = gh_run_rerun_failed(env->gh, s->repos[a->repo].name, a->run_id, err, sizeof err);
        if (r < 0)
                return result(a, HR_FAILED, "rerunning the failed jobs of run %lld: %s", a->run_id, err);
        result(a, HR_COMPLETED, "the failed jobs of run %lld are queued again (attempt %u)", a->run_id, a->attempt + 1);
}

void health_act(const struct health_act_env *env, const struct health_snapshot *s, struct health_plan *p,
                struct health_counts *ret) {
        *ret = (struct health_counts) {};
        for (size_t i = 0; i < p->n_actions; i++) {
                struct health_action *a = &p->actions[i];

                if (a->result == HR_CAPPED) {
                        ret->n[HR_CAPPED]++;
                        continue;
                }
                record(env, s, a);   /* planned */
                if (a->after >= 0 && p->actions[a->after].result != HR_COMPLETED)
                        result(a, HR_SKIPPED, "nothing done: the %s it waits for is %s",
                               health_verb_to_string(p->actions[a->after].verb),
                               health_result_to_string(p->actions[a->after].result));
                else if ((a->verb == HV_CANCEL_RUN || a->verb == HV_RERUN_FAILED) && !env->gh)
                        result(a, HR_FAILED, "no GitHub client: %s", env->github_problem);
                else if (a->verb == HV_CANCEL_RUN)
                        cancel_run(env, s, a);
                else if (a->verb == HV_RERUN_FAILED)
                        rerun_failed(env, s, a);
                else
                        lane_action(env, s, a);
                record(env, s, a);
                ret->n[a->result]++;
        }
}
