/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gh-api.h"
#include "gh-auth.h"
#include "gh-wire.h"
#include "macro.h"

static void json_object_putp(struct json_object **o) {
        json_object_put(*o);
}

/* Send, and turn anything but WANT into an errno with GitHub's words. The
 * answer's body (it may hold a token) into *ret_text, to secret_free(). */
static int call(struct gh_client *c, const char *method, const char *path, struct json_object *body, long want,
                char **ret_text, size_t *ret_len, char *err, size_t errlen) {
        struct gh_response r;
        int rc;

        rc = gh_request(c, method, path, body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL, &r,
                        err, errlen);
        if (rc < 0)
                return rc;
        if (r.status != want) {
                gh_describe_error(&r, err, errlen);
                rc = r.status == 401 ? -EACCES : r.status == 403 ? -EPERM : r.status == 404 ? -ENOENT :
                     r.status == 409 ? -EEXIST :
                     r.status == 422 ? (r.body && strstr(r.body, "still running a job") ? -EBUSY : -EINVAL) : -EPROTO;
                gh_response_free(&r);
                return rc;
        }
        if (ret_text) {
                *ret_text = r.body ? r.body : strdup("");
                *ret_len = r.body ? r.len : 0;
                r.body = NULL;
        } else if (r.body)
                explicit_bzero(r.body, r.len);
        gh_response_free(&r);
        return ret_text && !*ret_text ? -ENOMEM : 0;
}

static struct json_object *parse_object(const char *text) {
        struct json_object *o = text ? json_tokener_parse(text) : NULL;

        if (o && !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                o = NULL;
        }
        return o;
}

static struct json_object *member(struct json_object *o, const char *key, enum json_type t) {
        struct json_object *m;

        return o && json_object_object_get_ex(o, key, &m) && json_object_is_type(m, t) ? m : NULL;
}

static int parse_labels(struct json_object *arr, struct gh_runner *ret) {
        ret->n_labels = 0;
        for (size_t i = 0; arr && i < json_object_array_length(arr) && i < GH_MAX_LABELS; i++) {
                struct json_object *n = member(json_object_array_get_idx(arr, i), "name", json_type_string);

                if (!n || (size_t) json_object_get_string_len(n) > PROTO_LABEL_MAX)
                        return -EPROTO;
                snprintf(ret->labels[ret->n_labels++], sizeof ret->labels[0], "%s", json_object_get_string(n));
        }
        return arr ? 0 : -EPROTO;
}

static int parse_runner(struct json_object *o, struct gh_runner *ret) {
        struct json_object *id = member(o, "id", json_type_int), *name = member(o, "name", json_type_string),
                           *status = member(o, "status", json_type_string), *busy = member(o, "busy", json_type_boolean),
                           *eph = member(o, "ephemeral", json_type_boolean), *group = member(o, "runner_group_id", json_type_int);

        *ret = (struct gh_runner) {};
        if (!id || !name || !status || !busy)
                return -EPROTO;
        ret->id = json_object_get_int64(id);
        (void) proto_keep_foreign_name(json_object_get_string(name), (size_t) json_object_get_string_len(name), ret->name,
                                       sizeof ret->name);
        ret->online = strcmp(json_object_get_string(status), "online") == 0;
        ret->busy = json_object_get_boolean(busy);
        ret->ephemeral = eph && json_object_get_boolean(eph);
        ret->group_id = group ? json_object_get_int64(group) : 0;
        return parse_labels(member(o, "labels", json_type_array), ret);
}

int gh_parse_runner(const char *text, struct gh_runner *ret) {
        _cleanup_(json_object_putp) struct json_object *o = parse_object(text);

        return o ? parse_runner(o, ret) : -EPROTO;
}

int gh_parse_labels(const char *text, struct gh_runner *ret) {
        _cleanup_(json_object_putp) struct json_object *o = parse_object(text);

        ret->n_labels = 0;
        return o ? parse_labels(member(o, "labels", json_type_array), ret) : -EPROTO;
}

/* A string member, copied and wiped in the parsed tree. */
static int take_secret(struct json_object *o, const char *key, char **ret, size_t *ret_len) {
        struct json_object *t = member(o, key, json_type_string);

        if (!t || json_object_get_string_len(t) == 0)
                return -EPROTO;
        *ret_len = (size_t) json_object_get_string_len(t);
        *ret = strndup(json_object_get_string(t), *ret_len);
        explicit_bzero((char *) json_object_get_string(t), *ret_len);
        return *ret ? 0 : -ENOMEM;
}

int gh_parse_token(const char *text, char **ret, size_t *ret_len, time_t *ret_expires) {
        _cleanup_(json_object_putp) struct json_object *o = parse_object(text);
        struct json_object *e = member(o, "expires_at", json_type_string);

        if (!o || !e || gh_parse_timestamp(json_object_get_string(e), ret_expires) < 0)
                return -EPROTO;
        return take_secret(o, "token", ret, ret_len);
}

int gh_parse_jit(const char *text, long long *ret_id, char **ret_config, size_t *ret_len) {
        _cleanup_(json_object_putp) struct json_object *o = parse_object(text);
        struct json_object *id = member(member(o, "runner", json_type_object), "id", json_type_int);

        if (!o || !id)
                return -EPROTO;
        *ret_id = json_object_get_int64(id);
        return take_secret(o, "encoded_jit_config", ret_config, ret_len);
}

int gh_parse_variable(const char *text, char *buf, size_t size) {
        _cleanup_(json_object_putp) struct json_object *o = parse_object(text);
        struct json_object *v = member(o, "value", json_type_string);

        if (!v)
                return -EPROTO;
        if ((size_t) json_object_get_string_len(v) >= size)
                return -ENOBUFS;
        snprintf(buf, size, "%s", json_object_get_string(v));
        return 0;
}

int gh_parse_runner_group(const char *text, size_t len, const char *name, long long *ret) {
        _cleanup_(json_object_putp) struct json_object *groups = gh_pages_items(text, len, "runner_groups");

        if (!groups)
                return -EPROTO;
        for (size_t i = 0; i < json_object_array_length(groups); i++) {
                struct json_object *g = json_object_array_get_idx(groups, i), *n = member(g, "name", json_type_string),
                                   *id = member(g, "id", json_type_int);

                if (n && id && strcasecmp(json_object_get_string(n), name) == 0) {
                        *ret = json_object_get_int64(id);
                        return 0;
                }
        }
        return -ENOENT;
}

int gh_runner_get(struct gh_client *c, const char *scope, long long id, struct gh_runner *ret, char *err, size_t errlen) {
        char path[512], *text;
        size_t len;
        int r;

        snprintf(path, sizeof path, "/%s/actions/runners/%lld", scope, id);
        r = call(c, "GET", path, NULL, 200, &text, &len, err, errlen);
        if (r < 0)
                return r;
        r = gh_parse_runner(text, ret);
        free(text);
        if (r < 0)
                snprintf(err, errlen, "GET %s: not a runner", path);
        return r;
}

int gh_runner_delete(struct gh_client *c, const char *scope, long long id, char *err, size_t errlen) {
        char path[512];

        snprintf(path, sizeof path, "/%s/actions/runners/%lld", scope, id);
        return call(c, "DELETE", path, NULL, 204, NULL, NULL, err, errlen);
}

static const char *field(struct json_object *o, const char *key) {
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                                  : NULL;
}

int gh_runner_job(struct gh_client *c, const char *repo, long long id, char *buf, size_t size, char *err, size_t errlen) {
        _cleanup_(json_object_putp) struct json_object *runs = NULL;
        char path[512], *text;
        size_t len;
        int r;

        snprintf(path, sizeof path, "/repos/%s/actions/runs?status=in_progress", repo);
        r = gh_get_items(c, path, "workflow_runs", &runs, err, errlen);
        if (r < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(runs); i++) {
                struct json_object *run = json_object_array_get_idx(runs, i), *v;
                _cleanup_(json_object_putp) struct json_object *jobs = NULL;
                long long run_id;

                if (!json_object_object_get_ex(run, "id", &v))
                        continue;
                run_id = json_object_get_int64(v);
                snprintf(path, sizeof path, "/repos/%s/actions/runs/%lld/jobs", repo, run_id);
                r = gh_get_pages(c, path, &text, &len, err, errlen);
                if (r < 0)
                        return r;
                jobs = gh_pages_items(text, len, "jobs");
                free(text);
                for (size_t k = 0; jobs && k < json_object_array_length(jobs); k++) {
                        struct json_object *j = json_object_array_get_idx(jobs, k), *rid, *jid;

                        if (!json_object_object_get_ex(j, "runner_id", &rid) || json_object_get_int64(rid) != id ||
                            strcmp(field(j, "status") ?: "", "in_progress") != 0)
                                continue;
                        json_object_object_get_ex(j, "id", &jid);
                        snprintf(buf, size, "job \"%s\" (id %lld) of run %lld, %s", field(j, "name") ?: "?",
                                 jid ? (long long) json_object_get_int64(jid) : 0LL, run_id,
                                 field(run, "name") ?: field(j, "workflow_name") ?: "workflow");
                        return 0;
                }
        }
        return -ENOENT;
}

static int token(struct gh_client *c, const char *scope, const char *kind, char **ret, size_t *ret_len, time_t *ret_exp,
                 char *err, size_t errlen) {
        char path[512], *text;
        size_t len;
        int r;

        snprintf(path, sizeof path, "/%s/actions/runners/%s", scope, kind);
        r = call(c, "POST", path, NULL, 201, &text, &len, err, errlen);
        if (r < 0)
                return r;
        r = gh_parse_token(text, ret, ret_len, ret_exp);
        secret_free(text, len);
        if (r < 0)
                snprintf(err, errlen, "POST %s: no token in the answer", path);
        return r;
}

int gh_registration_token(struct gh_client *c, const char *scope, char **ret, size_t *ret_len, time_t *ret_expires,
                          char *err, size_t errlen) {
        return token(c, scope, "registration-token", ret, ret_len, ret_expires, err, errlen);
}

int gh_remove_token(struct gh_client *c, const char *scope, char **ret, size_t *ret_len, time_t *ret_expires, char *err,
                    size_t errlen) {
        return token(c, scope, "remove-token", ret, ret_len, ret_expires, err, errlen);
}

static struct json_object *label_array(const char *const *labels, size_t n) {
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_string(labels[i]));
        return a;
}

static int check_labels(const char *const *labels, size_t n, char *err, size_t errlen) {
        const char *reason;

        if (n > GH_MAX_LABELS)
                return snprintf(err, errlen, "more than 100 labels"), -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (proto_validate_label(labels[i], &reason) < 0)
                        return snprintf(err, errlen, "label %zu %s", i + 1, reason), -EINVAL;
        return 0;
}

int gh_jit_config(struct gh_client *c, const char *scope, const char *name, long long group_id,
                  const char *const *labels, size_t n_labels, long long *ret_id, char **ret_config, size_t *ret_len,
                  char *err, size_t errlen) {
        _cleanup_(json_object_putp) struct json_object *body = NULL;
        const char *reason;
        char path[512], *text;
        size_t len;
        int r;

        if (proto_validate_runner_name(name, &reason) < 0)
                return snprintf(err, errlen, "runner name %s", reason), -EINVAL;
        if (n_labels == 0)
                return snprintf(err, errlen, "a JIT runner needs at least one label"), -EINVAL;
        r = check_labels(labels, n_labels, err, errlen);
        if (r < 0)
                return r;
        body = json_object_new_object();
        json_object_object_add(body, "name", json_object_new_string(name));
        json_object_object_add(body, "runner_group_id", json_object_new_int64(group_id));
        json_object_object_add(body, "labels", label_array(labels, n_labels));
        snprintf(path, sizeof path, "/%s/actions/runners/generate-jitconfig", scope);
        r = call(c, "POST", path, body, 201, &text, &len, err, errlen);
        if (r < 0)
                return r;
        r = gh_parse_jit(text, ret_id, ret_config, ret_len);
        secret_free(text, len);
        if (r < 0)
                snprintf(err, errlen, "POST %s: no configuration in the answer", path);
        return r;
}

int gh_runner_labels(struct gh_client *c, const char *scope, long long id, enum gh_label_op op,
                     const char *const *labels, size_t n_labels, struct gh_runner *ret, char *err, size_t errlen) {
        _cleanup_(json_object_putp) struct json_object *body = NULL;
        static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "DELETE" };
        char path[640], *text;
        size_t len;
        int r;

        if ((unsigned) op > GH_LABELS_REMOVE)
                return -EINVAL;
        r = check_labels(labels, n_labels, err, errlen);
        if (r < 0)
                return r;
        if (op == GH_LABELS_REMOVE && n_labels != 1)
                return snprintf(err, errlen, "remove takes one label"), -EINVAL;
        snprintf(path, sizeof path, "/%s/actions/runners/%lld/labels%s%s", scope, id, op == GH_LABELS_REMOVE ? "/" : "",
                 op == GH_LABELS_REMOVE ? labels[0] : "");   /* labels are [A-Za-z0-9._-]: no escaping */
        if (op == GH_LABELS_ADD || op == GH_LABELS_SET) {
                body = json_object_new_object();
                json_object_object_add(body, "labels", label_array(labels, n_labels));
        }
        r = call(c, methods[op], path, body, 200, &text, &len, err, errlen);
        if (r < 0)
                return r;
        *ret = (struct gh_runner) { .id = id };
        r = gh_parse_labels(text, ret);
        free(text);
        if (r < 0)
                snprintf(err, errlen, "%s %s: no labels in the answer", methods[op], path);
        return r;
}

int gh_runner_group_id(struct gh_client *c, const char *org, const char *name, long long *ret, char *err, size_t errlen) {
        char path[256], *text = NULL;
        size_t len;
        int r;

        snprintf(path, sizeof path, "/orgs/%s/actions/runner-groups", org);
        r = gh_get_pages(c, path, &text, &len, err, errlen);
        if (r < 0)
                return r;
        r = gh_parse_runner_group(text, len, name, ret);
        free(text);
        if (r == -ENOENT)
                snprintf(err, errlen, "organisation %s has no runner group '%s'", org, name);
        else if (r < 0)
                snprintf(err, errlen, "GET %s: the answer does not parse", path);
        return r;
}

int gh_run_cancel(struct gh_client *c, const char *repo, long long run_id, bool force, char *err, size_t errlen) {
        char path[512];

        snprintf(path, sizeof path, "/repos/%s/actions/runs/%lld/%s", repo, run_id, force ? "force-cancel" : "cancel");
        return call(c, "POST", path, NULL, 202, NULL, NULL, err, errlen);
}

int gh_run_rerun_failed(struct gh_client *c, const char *repo, long long run_id, char *err, size_t errlen) {
        char path[512];

        snprintf(path, sizeof path, "/repos/%s/actions/runs/%lld/rerun-failed-jobs", repo, run_id);
        return call(c, "POST", path, NULL, 201, NULL, NULL, err, errlen);
}

int gh_job_log(struct gh_client *c, const char *repo, long long job_id, char **ret, size_t *ret_len, char *err,
               size_t errlen) {
        struct gh_response resp, log;
        char path[512], desc[300];
        int r;

        *ret = NULL;
        snprintf(path, sizeof path, "/repos/%s/actions/jobs/%lld/logs", repo, job_id);
        r = gh_request(c, "GET", path, NULL, &resp, err, errlen);
        if (r < 0)
                return r;
        if (resp.status != 302 || !resp.location[0]) {
                gh_describe_error(&resp, desc, sizeof desc);
                snprintf(err, errlen, "GET %s: %s", path, resp.status == 302 ? "a redirect without Location" : desc);
                r = resp.status == 404 || resp.status == 410 ? -ENOENT : -EIO;
                gh_response_free(&resp);
                return r;
        }
        r = gh_fetch_signed(c, resp.location, &log, err, errlen);
        gh_response_free(&resp);
        if (r < 0)
                return r;
        if (log.status != 200) {
                snprintf(err, errlen, "the log of job %lld: HTTP %ld at its signed URL", job_id, log.status);
                gh_response_free(&log);
                return -EIO;
        }
        *ret = log.body ? log.body : strdup("");
        *ret_len = log.body ? log.len : 0;
        return *ret ? 0 : -ENOMEM;
}

static int check_variable_name(const char *name, char *err, size_t errlen) {
        size_t n = strlen(name);

        if (n == 0 || n > 100 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != n ||
            (name[0] >= '0' && name[0] <= '9') || strncasecmp(name, "GITHUB_", 7) == 0)
                return snprintf(err, errlen, "variable names are letters, digits and '_', not starting with a digit "
                                             "or GITHUB_"), -EINVAL;
        return 0;
}

int gh_variable_get(struct gh_client *c, const char *repo, const char *name, char *buf, size_t size, char *err,
                    size_t errlen) {
        char path[512], *text;
        size_t len;
        int r = check_variable_name(name, err, errlen);

        if (r < 0)
                return r;
        snprintf(path, sizeof path, "/repos/%s/actions/variables/%s", repo, name);
        r = call(c, "GET", path, NULL, 200, &text, &len, err, errlen);
        if (r < 0)
                return r;
        r = gh_parse_variable(text, buf, size);
        free(text);
        if (r < 0)
                snprintf(err, errlen, "GET %s: %s", path, r == -ENOBUFS ? "the value is too long" : "no value");
        return r;
}

int gh_variable_set(struct gh_client *c, const char *repo, const char *name, const char *value, bool create,
                    char *err, size_t errlen) {
        _cleanup_(json_object_putp) struct json_object *body = json_object_new_object();
        char path[512];
        int r = check_variable_name(name, err, errlen);

        if (r < 0)
                return r;
        json_object_object_add(body, "value", json_object_new_string(value));
        if (create) {
                json_object_object_add(body, "name", json_object_new_string(name));
                snprintf(path, sizeof path, "/repos/%s/actions/variables", repo);
                return call(c, "POST", path, body, 201, NULL, NULL, err, errlen);
        }
        snprintf(path, sizeof path, "/repos/%s/actions/variables/%s", repo, name);
        return call(c, "PATCH", path, body, 204, NULL, NULL, err, errlen);
}

char *gh_dispatch_body(const char *ref, struct json_object *inputs) {
        struct json_object *b = json_object_new_object();
        char *text;

        json_object_object_add(b, "ref", json_object_new_string(ref));
        json_object_object_add(b, "inputs", inputs);
        json_object_object_add(b, "return_run_details", json_object_new_boolean(true));
        text = strdup(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
        json_object_put(b);
        return text;
}
