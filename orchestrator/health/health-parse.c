/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GitHub's workflow run and job objects (per its OpenAPI description) into
 * the snapshot's plain structs: pure, tested on fixed text. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gh-json.h"
#include "health-gather.h"

static void copy(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src ?: "");
}

static void parse_labels(struct json_object *arr, struct hlabels *ret) {
        *ret = (struct hlabels) {};
        for (size_t i = 0; arr && json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++) {
                struct json_object *l = json_object_array_get_idx(arr, i), *name;
                const char *v = json_object_is_type(l, json_type_string)                             ? json_object_get_string(l)
                                : json_object_object_get_ex(l, "name", &name) ? json_object_get_string(name)
                                                                              : NULL;

                if (!v || strlen(v) > PROTO_LABEL_MAX || ret->n == HEALTH_MAX_LABELS) {
                        ret->truncated = true;
                        continue;
                }
                snprintf(ret->v[ret->n++], sizeof ret->v[0], "%s", v);
        }
}

int health_parse_job(struct json_object *o, struct hjob *ret) {
        struct json_object *labels = NULL;

        *ret = (struct hjob) { .id = gh_json_int(o, "id"), .run_id = gh_json_int(o, "run_id"), .runner_id = gh_json_int(o, "runner_id"),
                               .created = gh_json_time(o, "created_at"), .started = gh_json_time(o, "started_at") };
        if (!ret->id || !ret->run_id || !gh_json_str(o, "status"))
                return -EPROTO;
        copy(ret->name, sizeof ret->name, gh_json_str(o, "name"));
        copy(ret->status, sizeof ret->status, gh_json_str(o, "status"));
        copy(ret->conclusion, sizeof ret->conclusion, gh_json_str(o, "conclusion"));
        copy(ret->runner_name, sizeof ret->runner_name, gh_json_str(o, "runner_name"));
        (void) json_object_object_get_ex(o, "labels", &labels);
        parse_labels(labels, &ret->labels);
        return 0;
}

int health_parse_run(struct json_object *o, size_t repo, struct hrun *ret) {
        *ret = (struct hrun) { .id = gh_json_int(o, "id"), .workflow_id = gh_json_int(o, "workflow_id"),
                               .attempt = (unsigned) gh_json_int(o, "run_attempt"), .repo = repo,
                               .created = gh_json_time(o, "created_at") };
        if (!ret->id || !gh_json_str(o, "status"))
                return -EPROTO;
        copy(ret->name, sizeof ret->name, gh_json_str(o, "name"));
        copy(ret->branch, sizeof ret->branch, gh_json_str(o, "head_branch"));
        copy(ret->event, sizeof ret->event, gh_json_str(o, "event"));
        copy(ret->status, sizeof ret->status, gh_json_str(o, "status"));
        copy(ret->conclusion, sizeof ret->conclusion, gh_json_str(o, "conclusion"));
        copy(ret->url, sizeof ret->url, gh_json_str(o, "html_url"));
        return 0;
}
