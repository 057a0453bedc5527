/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GitHub's workflow run and job objects (per its OpenAPI description) into
 * the snapshot's plain structs: pure, tested on fixed text. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gh-wire.h"
#include "health-gather.h"

static const char *str(struct json_object *o, const char *key) {
        struct json_object *m;

        return json_object_object_get_ex(o, key, &m) && json_object_is_type(m, json_type_string) ?
                       json_object_get_string(m) : NULL;
}

static long long num(struct json_object *o, const char *key) {
        struct json_object *m;

        return json_object_object_get_ex(o, key, &m) && json_object_is_type(m, json_type_int) ?
                       (long long) json_object_get_int64(m) : 0;
}

static time_t when(struct json_object *o, const char *key) {
        const char *s = str(o, key);
        time_t t = 0;

        return s && gh_parse_timestamp(s, &t) == 0 ? t : 0;
}

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

        *ret = (struct hjob) { .id = num(o, "id"), .run_id = num(o, "run_id"), .runner_id = num(o, "runner_id"),
                               .created = when(o, "created_at"), .started = when(o, "started_at") };
        if (!ret->id || !ret->run_id || !str(o, "status"))
                return -EPROTO;
        copy(ret->name, sizeof ret->name, str(o, "name"));
        copy(ret->status, sizeof ret->status, str(o, "status"));
        copy(ret->conclusion, sizeof ret->conclusion, str(o, "conclusion"));
        copy(ret->runner_name, sizeof ret->runner_name, str(o, "runner_name"));
        (void) json_object_object_get_ex(o, "labels", &labels);
        parse_labels(labels, &ret->labels);
        return 0;
}

int health_parse_run(struct json_object *o, size_t repo, struct hrun *ret) {
        *ret = (struct hrun) { .id = num(o, "id"), .workflow_id = num(o, "workflow_id"),
                               .attempt = (unsigned) num(o, "run_attempt"), .repo = repo,
                               .created = when(o, "created_at") };
        if (!ret->id || !str(o, "status"))
                return -EPROTO;
        copy(ret->name, sizeof ret->name, str(o, "name"));
        copy(ret->branch, sizeof ret->branch, str(o, "head_branch"));
        copy(ret->event, sizeof ret->event, str(o, "event"));
        copy(ret->status, sizeof ret->status, str(o, "status"));
        copy(ret->conclusion, sizeof ret->conclusion, str(o, "conclusion"));
        copy(ret->url, sizeof ret->url, str(o, "html_url"));
        return 0;
}
