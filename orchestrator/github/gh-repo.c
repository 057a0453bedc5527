/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A repository's Actions switch and its active runs (gh-api.h): what the
 * emergency controls read and change. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh-api.h"
#include "gh-client.h"
#include "gh-json.h"

int gh_actions_perms_parse(const char *text, struct gh_actions_perms *ret) {
        struct json_object *o = json_tokener_parse(text ?: ""), *en = gh_json_member(o, "enabled");
        struct json_object *sha = gh_json_member(o, "sha_pinning_required");
        int r = -EBADMSG;

        *ret = (struct gh_actions_perms) {};
        if (en && json_object_is_type(en, json_type_boolean)) {
                ret->enabled = json_object_get_boolean(en);
                snprintf(ret->allowed, sizeof ret->allowed, "%s", gh_json_str(o, "allowed_actions") ?: "");
                ret->have_sha = sha && json_object_is_type(sha, json_type_boolean);
                ret->sha_pinning = ret->have_sha && json_object_get_boolean(sha);
                r = 0;
        }
        json_object_put(o);
        return r;
}

int gh_actions_perms_get(struct gh_client *c, const char *repo, struct gh_actions_perms *ret, char *err, size_t errlen) {
        struct gh_response resp;
        char path[256];
        int r;

        snprintf(path, sizeof path, "/repos/%s/actions/permissions", repo);
        if ((r = gh_request(c, "GET", path, NULL, &resp, err, errlen)) < 0)
                return r;
        if (resp.status != 200)
                gh_describe_error(&resp, err, errlen), r = resp.status == 404 ? -ENOENT : -EIO;
        else if ((r = gh_actions_perms_parse(resp.body, ret)) < 0)
                snprintf(err, errlen, "GET %s: no 'enabled' in the answer", path);
        gh_response_free(&resp);
        return r;
}

int gh_actions_perms_set(struct gh_client *c, const char *repo, const struct gh_actions_perms *p, char *err,
                         size_t errlen) {
        struct json_object *b = json_object_new_object();
        struct gh_response resp;
        char path[256];
        int r;

        json_object_object_add(b, "enabled", json_object_new_boolean(p->enabled));
        if (p->enabled && p->allowed[0])
                json_object_object_add(b, "allowed_actions", json_object_new_string(p->allowed));
        if (p->have_sha)
                json_object_object_add(b, "sha_pinning_required", json_object_new_boolean(p->sha_pinning));
        snprintf(path, sizeof path, "/repos/%s/actions/permissions", repo);
        r = gh_request(c, "PUT", path, json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN), &resp, err, errlen);
        json_object_put(b);
        if (r < 0)
                return r;
        if (resp.status != 204 && resp.status != 200)
                gh_describe_error(&resp, err, errlen), r = -EIO;
        gh_response_free(&resp);
        return r;
}

int gh_active_runs(struct gh_client *c, const char *repo, long long **ret, size_t *ret_n, char *err, size_t errlen) {
        static const char *const statuses[] = { "queued", "in_progress", "waiting", "requested", "pending" };
        long long *ids = NULL;
        size_t n = 0;
        int r = 0;

        for (size_t s = 0; r == 0 && s < sizeof statuses / sizeof statuses[0]; s++) {
                struct json_object *runs = NULL;
                char path[256];

                snprintf(path, sizeof path, "/repos/%s/actions/runs?status=%s", repo, statuses[s]);
                r = gh_get_items(c, path, "workflow_runs", &runs, err, errlen);
                for (size_t i = 0; r == 0 && i < json_object_array_length(runs); i++) {
                        long long id = gh_json_int(json_object_array_get_idx(runs, i), "id");
                        long long *q;
                        bool seen = false;

                        for (size_t k = 0; k < n; k++)
                                seen = seen || ids[k] == id;
                        if (!id || seen)
                                continue;
                        if (!(q = realloc(ids, (n + 1) * sizeof *ids))) {
                                r = -ENOMEM;
                                break;
                        }
                        ids = q;
                        ids[n++] = id;
                }
                json_object_put(runs);
        }
        if (r < 0)
                return free(ids), r;
        *ret = ids;
        *ret_n = n;
        return 0;
}
