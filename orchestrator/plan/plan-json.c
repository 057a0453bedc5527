/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-c/json.h>

#include "plan-json.h"

#define ADD(o, k, v) json_object_object_add((o), (k), (v))
#define STR(s) json_object_new_string(s)

struct json_object *desired_to_json(const struct lane_desired *d) {
        struct json_object *o = json_object_new_object(), *labels = json_object_new_array();
        char version[48];

        ADD(o, "name", STR(d->name));
        if (d->repository[0])
                ADD(o, "repository", STR(d->repository));
        else
                ADD(o, "organisation", STR(d->organisation));
        ADD(o, "host", STR(d->host));
        ADD(o, "root", STR(d->root));
        ADD(o, "user", STR(d->user));
        if (d->group[0])
                ADD(o, "runner_group", STR(d->group));
        for (size_t i = 0; i < d->n_labels; i++)
                json_object_array_add(labels, STR(d->labels[i]));
        ADD(o, "labels", labels);
        ADD(o, "version", STR(version_policy_format(&d->version, version, sizeof version)));
        ADD(o, "managed", json_object_new_boolean(d->managed));
        ADD(o, "dedicated", json_object_new_boolean(d->dedicated));
        return o;
}

static struct json_object *source(bool known, const char *detail) {
        struct json_object *o = json_object_new_object();

        ADD(o, "known", json_object_new_boolean(known));
        if (!known && detail[0])
                ADD(o, "problem", STR(detail));
        return o;
}

struct json_object *observation_to_json(const struct observation *ob) {
        struct json_object *o = json_object_new_object(), *gh, *runners, *local, *unit, *base, *checks;

        gh = source(ob->github_known, ob->github_detail);
        runners = json_object_new_array();
        for (size_t i = 0; ob->github_known && i < ob->n_runners; i++) {
                struct json_object *r = json_object_new_object(), *labels = json_object_new_array();

                ADD(r, "id", json_object_new_int64(ob->runners[i].id));
                ADD(r, "name", STR(ob->runners[i].name));
                ADD(r, "status", STR(ob->runners[i].online ? "online" : "offline"));
                ADD(r, "busy", json_object_new_boolean(ob->runners[i].busy));
                for (size_t k = 0; k < ob->runners[i].n_labels; k++)
                        json_object_array_add(labels, STR(ob->runners[i].labels[k]));
                ADD(r, "labels", labels);
                json_object_array_add(runners, r);
        }
        ADD(gh, "runners", runners);
        ADD(o, "github", gh);

        local = source(ob->local_known, ob->local_detail);
        if (ob->local_known) {
                ADD(local, "exists", json_object_new_boolean(ob->local_exists));
                ADD(local, "configured", json_object_new_boolean(ob->local_configured));
                ADD(local, "credentials_present", json_object_new_boolean(ob->local_credentials));
                if (ob->local_configured) {
                        ADD(local, "agent_id", json_object_new_int64(ob->local_agent_id));
                        ADD(local, "agent_name", STR(ob->local_agent_name));
                }
                ADD(local, "runner_version", ob->runner_version[0] ? STR(ob->runner_version) : NULL);
        }
        ADD(o, "local", local);

        unit = source(ob->unit_known, ob->unit_known ? "" : ob->unit_detail);
        if (ob->unit_known) {
                ADD(unit, "exists", json_object_new_boolean(ob->unit_exists));
                if (ob->unit_exists) {
                        ADD(unit, "name", STR(ob->unit_name));
                        ADD(unit, "load_state", STR(ob->unit_load));
                        ADD(unit, "active_state", STR(ob->unit_active));
                        ADD(unit, "sub_state", STR(ob->unit_sub));
                        ADD(unit, "unit_file_state", STR(ob->unit_file_state));
                        ADD(unit, "main_pid", ob->main_pid ? json_object_new_int64(ob->main_pid) : NULL);
                        ADD(unit, "main_uid", ob->main_uid >= 0 ? json_object_new_int64(ob->main_uid) : NULL);
                        ADD(unit, "user", ob->unit_user[0] ? STR(ob->unit_user) : NULL);
                        ADD(unit, "managed", json_object_new_boolean(ob->unit_managed));
                        if (ob->unit_detail[0])
                                ADD(unit, "note", STR(ob->unit_detail));
                }
        }
        ADD(o, "unit", unit);
        if (ob->hold[0]) {
                struct json_object *h = json_object_new_object();

                ADD(h, "state", STR(ob->hold));
                ADD(h, "since", STR(ob->hold_since));
                ADD(h, "reason", STR(ob->hold_reason));
                ADD(o, "hold", h);
        } else
                ADD(o, "hold", NULL);

        base = json_object_new_object();
        ADD(base, "state", STR(baseline_state_to_string(ob->baseline)));
        checks = json_object_new_array();
        for (size_t i = 0; i < ob->n_checks; i++) {
                struct json_object *c = json_object_new_object();

                ADD(c, "name", STR(ob->checks[i].name));
                ADD(c, "state", STR(baseline_state_to_string(ob->checks[i].state)));
                ADD(c, "detail", STR(ob->checks[i].detail));
                json_object_array_add(checks, c);
        }
        ADD(base, "checks", checks);
        ADD(o, "baseline", base);
        return o;
}

struct json_object *plan_to_json(const struct plan *p) {
        struct json_object *o = json_object_new_object(), *blockers = json_object_new_array(), *steps = json_object_new_array();

        ADD(o, "status", STR(plan_status_to_string(p->status)));
        ADD(o, "action", STR(plan_action_to_string(p->action)));
        ADD(o, "shape", STR(plan_shape_to_string(p->shape)));
        for (size_t i = 0; i < p->n_blockers; i++) {
                struct json_object *b = json_object_new_object();

                ADD(b, "id", STR(blocker_to_string(p->blockers[i].id)));
                ADD(b, "detail", STR(p->blockers[i].detail));
                json_object_array_add(blockers, b);
        }
        ADD(o, "blockers", blockers);
        for (size_t i = 0; i < p->n_steps; i++)
                json_object_array_add(steps, STR(p->steps[i]));
        ADD(o, "next_steps", steps);
        return o;
}

struct json_object *lane_plan_to_json(const struct lane_desired *d, const struct observation *ob, const struct plan *p) {
        struct json_object *o = plan_to_json(p), *lane = json_object_new_object();

        /* lane first, then the plan's members, then what it rests on */
        ADD(lane, "lane", STR(d->name));
        json_object_object_foreach(o, k, v) ADD(lane, k, json_object_get(v));
        json_object_put(o);
        ADD(lane, "desired", desired_to_json(d));
        ADD(lane, "observed", observation_to_json(ob));
        return lane;
}
