/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executor's audit record: the one place it is rendered (pure). */
#include <json-c/json.h>

#include "exec.h"
#include "plan-json.h"

static void add_str(struct json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, json_object_new_string(value));
}

static struct json_object *steps_json(const struct exec_result *res) {
        struct json_object *steps = json_object_new_array();

        for (size_t i = 0; i < res->n_steps; i++) {
                struct json_object *s = json_object_new_object();

                add_str(s, "step", res->steps[i].name);
                json_object_object_add(s, "ok", json_object_new_boolean(res->steps[i].ok));
                json_object_object_add(s, "ms", json_object_new_int64(res->steps[i].ms));
                add_str(s, "detail", res->steps[i].detail);
                json_object_array_add(steps, s);
        }
        return steps;
}

/* The gates, when the last step was the gates. */
static struct json_object *gates_json(const struct exec_result *res) {
        struct json_object *gates = json_object_new_array();

        for (size_t i = 0; res->gates_checked && i < res->n_gates; i++) {
                struct json_object *o = json_object_new_object();

                add_str(o, "gate", gate_id_to_string(res->gates[i].id));
                json_object_object_add(o, "passed", json_object_new_boolean(res->gates[i].verdict == VERDICT_PASS));
                add_str(o, "detail", res->gates[i].detail);
                json_object_array_add(gates, o);
        }
        return gates;
}

struct json_object *exec_record(const struct exec_request *req, const struct exec_result *res, const char *status,
                                const char *when) {
        struct json_object *rec = json_object_new_object();

        if (!rec)
                return NULL;
        add_str(rec, "status", status);
        add_str(rec, "lane", req->lane->name);
        add_str(rec, "time", when);
        add_str(rec, "host", req->host);
        add_str(rec, "command", exec_cmd_to_string(req->cmd));
        if (req->purge)
                json_object_object_add(rec, "purge", json_object_new_boolean(true));
        add_str(rec, "action", plan_action_to_string(res->p.action));
        if (req->key && !req->dry_run)
                add_str(rec, "idempotency_key", req->key);
        if (res->failed)
                add_str(rec, "failed", res->failed);
        json_object_object_add(rec, "duration_ms", json_object_new_int64(res->duration_ms));
        json_object_object_add(rec, "steps", steps_json(res));
        json_object_object_add(rec, "gates", gates_json(res));
        if (res->busy_job[0])
                add_str(rec, "busy_job", res->busy_job);
        if (req->reason)
                add_str(rec, "reason", req->reason);
        if (res->routed_by[0])
                add_str(rec, "still_routed_by", res->routed_by);
        if (res->killed_job[0])
                add_str(rec, "killed_job", res->killed_job);
        if (res->old_runner_id)
                json_object_object_add(rec, "old_runner_id", json_object_new_int64(res->old_runner_id));
        if (res->legacy_unit[0]) {
                struct json_object *l = json_object_new_object();

                add_str(l, "unit", res->legacy_unit);
                json_object_object_add(l, "enabled", json_object_new_boolean(res->legacy_enabled));
                json_object_object_add(rec, "legacy_unit", l);
        }
        json_object_object_add(rec, "plan", lane_plan_to_json(req->lane, &res->o, &res->p));
        return rec;
}
