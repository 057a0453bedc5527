/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "macro.h"
#include "proto-redact.h"
#include "proto-redact-json.h"

#define REDACT_MAX_DEPTH 64

static int redact_value(struct json_object **slot, int depth);

static int redact_string(struct json_object **slot) {
        _cleanup_(freep) char *out = NULL;
        unsigned count = 0;
        int r;

        r = proto_redact(json_object_get_string(*slot), &out, &count);
        if (r < 0)
                return r;
        if (count == 0)
                return 0;
        if (json_object_set_string(*slot, out) == 0)
                return -ENOMEM;
        return (int) count;
}

static int redact_object(struct json_object *obj, int depth) {
        int total = 0;

        json_object_object_foreach(obj, key, val) {
                enum json_type t = json_object_get_type(val);
                int r;

                if (proto_key_is_sensitive(key, strlen(key)) && t != json_type_null && t != json_type_boolean) {
                        if (t == json_type_string && strcmp(json_object_get_string(val), PROTO_REDACTED) == 0)
                                continue;
                        struct json_object *rep = json_object_new_string(PROTO_REDACTED);
                        if (!rep || json_object_object_add(obj, key, rep) < 0) {
                                json_object_put(rep);
                                return -ENOMEM;
                        }
                        total++;
                        continue;
                }
                r = redact_value(&val, depth + 1);
                if (r < 0)
                        return r;
                total += r;
        }
        return total;
}

static int redact_value(struct json_object **slot, int depth) {
        int total = 0;

        if (depth > REDACT_MAX_DEPTH)
                return -ELOOP;
        switch (json_object_get_type(*slot)) {
        case json_type_string:
                return redact_string(slot);
        case json_type_object:
                return redact_object(*slot, depth);
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(*slot); i++) {
                        struct json_object *el = json_object_array_get_idx(*slot, i);
                        int r = redact_value(&el, depth + 1);
                        if (r < 0)
                                return r;
                        total += r;
                }
                return total;
        case json_type_null:
        case json_type_boolean:
        case json_type_double:
        case json_type_int:
                break;
        }
        return 0;
}

int proto_redact_json(struct json_object *obj) {
        if (!obj)
                return 0;
        return redact_value(&obj, 0);
}
