/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The routing guard (route.h): the field's "guarded rollback", computed.
 * It reads the variable and the runs, evaluates the rollback triggers over
 * the runs made since routing was turned on, and sets the variable to
 * false when one holds: planned record, the PATCH, completed or failed
 * record. It never sets it to true: only an operator does
 * (lanectl route enable). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "gh-api.h"
#include "gh-client.h"
#include "route.h"

void route_thresholds(const struct route_settings *rs, struct slo_thresholds *t) {
        slo_thresholds_default(t);
        t->lifecycle_pct = (double) rs->lifecycle_pct;
        t->queue_wait_s = (double) rs->queue_wait_s;
        t->setup_s = (double) rs->setup_s;
        t->offline_s = (unsigned) rs->offline_s;
}

int route_read_variable(struct gh_client *c, const char *repo, const char *name, bool *ret, char *err, size_t errlen) {
        char value[256];
        int r = gh_variable_get(c, repo, name, value, sizeof value, err, errlen);

        if (r == -ENOENT) {
                *ret = false;           /* not set: the workflow's routing reads it as off */
                return 0;
        }
        if (r < 0)
                return r;
        *ret = strcasecmp(value, "true") == 0;
        return 0;
}

int route_record(struct audit_store *audit, const char *status, const char *host, const char *command,
                 const char *repo, const char *variable, const char *from, const char *to, const char *reason,
                 struct json_object *extra, uint64_t *ret_seq) {
        struct json_object *rec = json_object_new_object();

        json_object_object_add(rec, "repository", json_object_new_string(repo));
        json_object_object_add(rec, "variable", json_object_new_string(variable));
        if (from)
                json_object_object_add(rec, "from", json_object_new_string(from));
        json_object_object_add(rec, "to", json_object_new_string(to));
        json_object_object_add(rec, "reason", json_object_new_string(reason));
        if (extra)
                json_object_object_add(rec, "evidence", json_object_get(extra));
        return audit_append_command(audit, status, host, command, rec, ret_seq);
}

static struct json_object *evidence(const struct route_verdict *v) {
        struct json_object *o = json_object_new_object();

        for (int t = 0; t < _RT_MAX; t++)
                if (v->held[t])
                        json_object_object_add(o, route_trigger_to_string(t), json_object_new_string(v->evidence[t]));
        return o;
}

/* Routing off: planned record, PATCH, completed (or failed) record. */
static int turn_off(struct gh_client *c, struct audit_store *audit, struct route_state *st, const char *host,
                    const char *command, time_t now, struct route_guard_result *res) {
        struct json_object *ev = evidence(&res->verdict);
        char reason[SLO_TEXT_MAX + 64], err[512] = "";
        int first = 0, r;

        while (!res->verdict.held[first])
                first++;
        snprintf(reason, sizeof reason, "rollback trigger %s: %s", route_trigger_to_string(first),
                 res->verdict.evidence[first]);
        r = route_record(audit, "planned", host, command, st->repo, st->variable, "true", "false", reason, ev, NULL);
        if (r < 0) {
                json_object_put(ev);
                return snprintf(res->problem, sizeof res->problem, "the audit record could not be written: %s",
                                strerror(-r)), r;
        }
        r = gh_variable_set(c, st->repo, st->variable, "false", false, err, sizeof err);
        if (r == -ENOENT)      /* deleted meanwhile: make it, false */
                r = gh_variable_set(c, st->repo, st->variable, "false", true, err, sizeof err);
        (void) route_record(audit, r < 0 ? "failed" : "completed", host, command, st->repo, st->variable, "true",
                            "false", r < 0 ? err : reason, ev, NULL);
        json_object_put(ev);
        if (r < 0)
                return snprintf(res->problem, sizeof res->problem, "routing could not be turned off: %s", err), r;
        route_state_observe(st, false, now, "route guard", reason);
        for (int t = 0; t < _RT_MAX; t++)
                st->trips[t] += res->verdict.held[t];
        st->last_trip = now;
        snprintf(st->last_trip_trigger, sizeof st->last_trip_trigger, "%s", route_trigger_to_string(first));
        snprintf(st->last_trip_evidence, sizeof st->last_trip_evidence, "%s", res->verdict.evidence[first]);
        res->turned_off = true;
        return 0;
}

/* The figures and the verdict over IN for the record ST. */
int route_assess(const struct settings *s, const struct route_state *st, const struct slo_input *in,
                 struct route_guard_result *res) {
        struct slo_thresholds th;
        time_t since = route_state_enabled_since(st);

        route_thresholds(&s->route, &th);
        res->report.views = calloc(in->n_runs ? in->n_runs : 1, sizeof *res->report.views);
        if (!res->report.views)
                return -ENOMEM;
        slo_compute(in, SLO_LAST_DEFAULT, &th, &res->report);
        res->have_report = true;
        res->was_on = st->have_value && st->value;
        if (res->was_on)
                route_evaluate(in, since, st->offline, st->n_offline, &th, &res->verdict);
        res->stage = st->stage;
        res->stage_count = route_stage_count(in, st->stage_started > since ? st->stage_started : since);
        res->next_stage_ok = res->was_on && st->stage < ROUTE_STAGE_MAX &&
                             res->stage_count >= route_stage_size(st->stage) && res->verdict.n_held == 0;
        return 0;
}

void route_guard_result_free(struct route_guard_result *res) {
        free(res->report.views);
        res->report.views = NULL;
}

int route_guard(struct gh_client *c, int store_fd, struct audit_store *audit, const struct settings *s,
                const char *repo, const char *host, const char *command, time_t now, struct route_guard_result *res) {
        struct route_state st;
        struct slo_input in = {};
        char err[512] = "";
        long long offset;
        bool value;
        int r;

        *res = (struct route_guard_result) {};
        r = route_state_load(store_fd, repo, s->route.variable, &st);
        if (r < 0 && r != -ENOENT && r != -EBADMSG)
                return snprintf(res->problem, sizeof res->problem, "the routing record cannot be read: %s",
                                strerror(-r)), r;
        r = route_read_variable(c, repo, s->route.variable, &value, err, sizeof err);
        if (r >= 0 && gh_clock_offset(c, &offset))
                now += (time_t) offset;         /* GitHub's clock: its runs' times are on it */
        if (r >= 0) {
                route_state_observe(&st, value, now, "observed", "read by the guard");
                r = route_gather(c, repo, SLO_LAST_DEFAULT, &s->route, now, &in, err, sizeof err);
        }
        if (r < 0) {
                snprintf(res->problem, sizeof res->problem, "%s", err);
                snprintf(st.last_guard_result, sizeof st.last_guard_result, "could not decide: %s", err);
        } else {
                route_state_apply(&st, &in);
                r = route_assess(s, &st, &in, res);
                if (r >= 0 && res->was_on && res->verdict.n_held > 0)
                        r = turn_off(c, audit, &st, host, command, now, res);
                snprintf(st.last_guard_result, sizeof st.last_guard_result, "%s",
                         r < 0 ? res->problem : res->turned_off ? "routing turned off" :
                         res->was_on ? "no trigger holds" : "routing is off");
        }
        st.last_guard = now;
        route_input_free(&in);
        if (route_state_save(store_fd, &st) < 0 && r >= 0)
                return snprintf(res->problem, sizeof res->problem, "the routing record could not be written"), -EIO;
        return r;
}
