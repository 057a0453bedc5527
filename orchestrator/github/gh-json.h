/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Members of GitHub's JSON objects, typed: a string or NULL, an integer or
 * 0, a timestamp or 0. What the parsers of runs, jobs and pull requests
 * share. */
#pragma once

#include <json-c/json.h>
#include <time.h>

#include "gh-wire.h"

static inline struct json_object *gh_json_member(struct json_object *o, const char *key) {
        struct json_object *m;

        return o && json_object_object_get_ex(o, key, &m) ? m : NULL;
}

static inline const char *gh_json_str(struct json_object *o, const char *key) {
        struct json_object *m = gh_json_member(o, key);

        return m && json_object_is_type(m, json_type_string) ? json_object_get_string(m) : NULL;
}

static inline long long gh_json_int(struct json_object *o, const char *key) {
        struct json_object *m = gh_json_member(o, key);

        return m && json_object_is_type(m, json_type_int) ? (long long) json_object_get_int64(m) : 0;
}

static inline time_t gh_json_time(struct json_object *o, const char *key) {
        const char *s = gh_json_str(o, key);
        time_t t = 0;

        return s && gh_parse_timestamp(s, &t) == 0 ? t : 0;
}
