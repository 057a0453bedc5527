/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A health cycle as JSON: the snapshot's summary, the queue per label set,
 * every action with its result and record, every finding. */
#include <json-c/json.h>
#include <stdio.h>

#include "cli-health.h"

static void add_str(struct json_object *o, const char *key, const char *v) {
        json_object_object_add(o, key, json_object_new_string(v));
}

static struct json_object *labels_json(const struct hlabels *l) {
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < l->n; i++)
                json_object_array_add(a, json_object_new_string(l->v[i]));
        return a;
}

static struct json_object *queue_json(const struct health_cmd *hc) {
        struct health_labelset sets[64];
        size_t n = health_queue(&hc->snap, &hc->x.s->health, sets, 64);
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_new_object();

                json_object_object_add(o, "labels", labels_json(&sets[i].labels));
                json_object_object_add(o, "queued", json_object_new_int64((long long) sets[i].queued));
                json_object_object_add(o, "stale", json_object_new_int64((long long) sets[i].stale));
                json_object_object_add(o, "oldest_wait_s",
                                       json_object_new_int64(hc->snap.now > sets[i].oldest ?
                                                                     (long long) (hc->snap.now - sets[i].oldest) : 0));
                json_object_object_add(o, "online_runners", json_object_new_int64((long long) sets[i].online_runners));
                json_object_object_add(o, "busy_runners", json_object_new_int64((long long) sets[i].busy_runners));
                json_object_object_add(o, "served_here", json_object_new_boolean(sets[i].served));
                add_str(o, "repositories", sets[i].repos);
                json_object_array_add(a, o);
        }
        return a;
}

static struct json_object *action_json(const struct health_snapshot *s, const struct health_action *a, bool heal) {
        struct json_object *o = json_object_new_object();

        add_str(o, "check", health_check_to_string(a->check));
        add_str(o, "action", health_verb_to_string(a->verb));
        if (a->repo >= 0)
                add_str(o, "repository", s->repos[a->repo].name);
        if (a->run_id)
                json_object_object_add(o, "run_id", json_object_new_int64(a->run_id));
        if (a->job_id)
                json_object_object_add(o, "job_id", json_object_new_int64(a->job_id));
        if (a->lane >= 0)
                add_str(o, "lane", s->lanes[a->lane].d->name);
        add_str(o, "reason", a->reason);
        add_str(o, "result", a->result == HR_PLANNED && !heal ? "would" : health_result_to_string(a->result));
        if (a->detail[0])
                add_str(o, "detail", a->detail);
        if (a->seq)
                json_object_object_add(o, "record", json_object_new_int64((long long) a->seq));
        return o;
}

static struct json_object *repos_json(const struct health_snapshot *s) {
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < s->n_repos; i++) {
                struct json_object *o = json_object_new_object();

                add_str(o, "name", s->repos[i].name);
                add_str(o, "default_branch", s->repos[i].default_branch);
                json_object_object_add(o, "read", json_object_new_boolean(s->repos[i].known));
                if (!s->repos[i].known)
                        add_str(o, "problem", s->repos[i].problem);
                json_object_array_add(a, o);
        }
        return a;
}

void cli_health_print_json(const struct health_cmd *hc, const struct health_counts *counts) {
        const struct health_snapshot *s = &hc->snap;
        struct json_object *doc = json_object_new_object(), *a = json_object_new_array(), *f = json_object_new_array();
        struct json_object *c = json_object_new_object();

        add_str(doc, "schema", "lanekeeper.health/1");
        add_str(doc, "cycle", hc->cycle);
        json_object_object_add(doc, "heal", json_object_new_boolean(hc->heal));
        if (s->have_offset)
                json_object_object_add(doc, "clock_offset_s", json_object_new_int64(s->clock_offset_s));
        if (s->have_rate)
                json_object_object_add(doc, "rate_limit_remaining", json_object_new_int64(s->rate_remaining));
        json_object_object_add(doc, "repositories", repos_json(s));
        json_object_object_add(doc, "active_runs", json_object_new_int64((long long) s->n_runs));
        json_object_object_add(doc, "queue", queue_json(hc));
        for (size_t i = 0; i < hc->plan.n_actions; i++)
                json_object_array_add(a, action_json(s, &hc->plan.actions[i], hc->heal));
        json_object_object_add(doc, "actions", a);
        for (size_t i = 0; i < hc->plan.n_findings; i++) {
                struct json_object *o = json_object_new_object();
                const struct health_finding *hf = &hc->plan.findings[i];

                add_str(o, "check", health_check_to_string(hf->check));
                if (hf->lane >= 0)
                        add_str(o, "lane", s->lanes[hf->lane].d->name);
                json_object_object_add(o, "degraded", json_object_new_boolean(hf->degraded));
                add_str(o, "text", hf->text);
                json_object_array_add(f, o);
        }
        json_object_object_add(doc, "findings", f);
        for (int r = HR_COMPLETED; r < _HR_MAX; r++)
                json_object_object_add(c, health_result_to_string((enum health_result) r),
                                       json_object_new_int64(counts->n[r]));
        json_object_object_add(doc, "counts", c);
        printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
}
