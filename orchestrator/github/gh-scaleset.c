/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Actions service's scale set calls (gh-scaleset.h); the parsers of
 * its answers are in gh-scaleset-parse.c. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh-api.h"
#include "gh-auth.h"
#include "gh-exchange.h"
#include "gh-scaleset.h"

#define ADMIN_SPARE_S 60          /* an admin token is made again this long before it expires */

void gh_ss_init(struct gh_ss *ss, const char *scope, const char *set_name) {
        *ss = (struct gh_ss) {};
        snprintf(ss->scope, sizeof ss->scope, "%s", scope);
        snprintf(ss->set_name, sizeof ss->set_name, "%s", set_name);
}

static void drop_queue_token(struct gh_ss *ss) {
        secret_free(ss->queue_token, ss->queue_token_len + 1);
        ss->queue_token = NULL;
        ss->queue_token_len = 0;
}

void gh_ss_free(struct gh_ss *ss) {
        secret_free(ss->admin, ss->admin_len + 1);
        ss->admin = NULL;
        ss->admin_len = 0;
        ss->admin_expires = 0;
        drop_queue_token(ss);
}

/* A string member of O copied (malloc'd), or NULL. */
static char *dup_member(struct json_object *o, const char *key, size_t *ret_len) {
        struct json_object *v;
        char *s;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) == 0)
                return NULL;
        *ret_len = (size_t) json_object_get_string_len(v);
        s = malloc(*ret_len + 1);
        if (s)
                memcpy(s, json_object_get_string(v), *ret_len + 1);
        return s;
}

/* "401 VssUnauthorizedException: ..." from a service answer, redacted. */
static void describe(const struct gh_response *r, char *buf, size_t size) {
        struct json_object *o = r->body ? json_tokener_parse(r->body) : NULL, *t = NULL, *m = NULL;
        char raw[600];

        (void) json_object_object_get_ex(o, "typeName", &t);
        (void) json_object_object_get_ex(o, "message", &m);
        if (o && (t || m))
                snprintf(raw, sizeof raw, "%ld %s%s%s", r->status, t ? json_object_get_string(t) : "", t && m ? ": " : "",
                         m ? json_object_get_string(m) : "");
        else
                snprintf(raw, sizeof raw, "%ld %.200s", r->status, r->body && r->len < 200 ? r->body : "");
        gh_redact_into(raw, buf, size);
        json_object_put(o);
}

static int status_errno(const struct gh_response *r) {
        if (r->status == 401 || r->status == 403)
                return -EACCES;
        if (r->status == 404)
                return -ENOENT;
        if (r->status == 409)
                return r->body && strstr(r->body, "SessionConflict") ? -EBUSY : -EEXIST;
        if (r->status == 400 && r->body && strstr(r->body, "JobStillRunning"))
                return -EBUSY;
        if (r->status == 400 && r->body && strstr(r->body, "Exists"))
                return -EEXIST;
        return r->status >= 500 ? -EAGAIN : -EINVAL;
}

/* Where a registration is made: the scope's page on GitHub (API URL
 * https://api.github.com -> https://github.com, GHES .../api/v3 -> ...). */
static void config_url(const struct gh_client *c, const char *scope, char *buf, size_t size) {
        const char *api = gh_client_api(c), *path = strchr(scope, '/') + 1;
        size_t n = strlen(api);

        if (strcmp(api, "https://api.github.com") == 0)
                snprintf(buf, size, "https://github.com/%s", path);
        else if (n > 7 && strcmp(api + n - 7, "/api/v3") == 0)
                snprintf(buf, size, "%.*s/%s", (int) (n - 7), api, path);
        else
                snprintf(buf, size, "%s/%s", api, path);
}

int gh_ss_connect(struct gh_client *c, struct gh_ss *ss, char *err, size_t errlen) {
        static const struct gh_send remote = { .scheme = "RemoteAuth" };
        char url[GH_SS_URL_MAX + 64], cfg[600], *reg = NULL, *svc = NULL, *admin = NULL, body[800];
        struct gh_response r = {};
        struct json_object *o = NULL;
        size_t reg_len = 0, svc_len = 0, admin_len = 0;
        time_t exp;
        int rc;

        rc = gh_registration_token(c, ss->scope, &reg, &reg_len, &exp, err, errlen);
        if (rc < 0)
                return rc;
        config_url(c, ss->scope, cfg, sizeof cfg);
        snprintf(body, sizeof body, "{\"url\":\"%s\",\"runner_event\":\"register\"}", cfg);
        snprintf(url, sizeof url, "%s/actions/runner-registration", gh_client_api(c));
        rc = gh_request_raw(c, "POST", url, reg, &remote, body, &r, err, errlen);
        secret_free(reg, reg_len + 1);
        if (rc < 0)
                return rc;
        if (r.status != 200 && r.status != 201) {
                describe(&r, err, errlen);
                rc = status_errno(&r);
        } else if (!(o = json_tokener_parse(r.body ?: "")) || !(svc = dup_member(o, "url", &svc_len)) ||
                   !(admin = dup_member(o, "token", &admin_len)) || svc_len + 2 >= sizeof ss->service)
                rc = (snprintf(err, errlen, "the registration exchange's answer has no service URL and token"), -EPROTO);
        else if ((rc = gh_check_url(svc, err, errlen)) == 0) {
                secret_free(ss->admin, ss->admin_len + 1);   /* the session's queue token stays */
                snprintf(ss->service, sizeof ss->service, "%s%s", svc, svc[svc_len - 1] == '/' ? "" : "/");
                ss->admin = admin, ss->admin_len = admin_len, admin = NULL;
                exp = gh_ss_jwt_expiry(ss->admin);
                ss->admin_expires = exp ? exp : time(NULL) + 600;
                ss->exchanges++;
        }
        if (admin)
                secret_free(admin, admin_len + 1);
        free(svc);
        json_object_put(o);
        if (r.body)
                explicit_bzero(r.body, r.len);
        gh_response_free(&r);
        return rc;
}

/* METHOD PATH (under the service's _apis/, with its query or none) with
 * the admin token, made again when near its end or refused once. */
static int call(struct gh_client *c, struct gh_ss *ss, const char *method, const char *path, const char *body,
                struct gh_response *r, char *err, size_t errlen) {
        static const struct gh_send service = { .scheme = "Bearer" };
        char url[GH_SS_URL_MAX + 600];
        int rc;

        for (int attempt = 0; attempt < 2; attempt++) {
                if (!ss->admin || ss->admin_expires - time(NULL) < ADMIN_SPARE_S || attempt > 0) {
                        rc = gh_ss_connect(c, ss, err, errlen);
                        if (rc < 0)
                                return rc;
                }
                snprintf(url, sizeof url, "%s_apis/%s%sapi-version=" GH_SS_API_VERSION, ss->service, path,
                         strchr(path, '?') ? "&" : "?");
                rc = gh_request_raw(c, method, url, ss->admin, &service, body, r, err, errlen);
                if (rc < 0 || r->status != 401)
                        break;
                gh_response_free(r);   /* refused: the admin token expired early */
        }
        if (rc == 0 && r->status >= 300) {
                describe(r, err, errlen);
                rc = status_errno(r);
                gh_response_free(r);
        }
        return rc;
}

/* call() for an answer that must be a JSON object: *ret (a new reference). */
static int call_json(struct gh_client *c, struct gh_ss *ss, const char *method, const char *path, const char *body,
                     struct json_object **ret, char *err, size_t errlen) {
        struct gh_response r = {};
        int rc = call(c, ss, method, path, body, &r, err, errlen);

        if (rc < 0)
                return rc;
        *ret = r.body ? json_tokener_parse(r.body) : NULL;
        gh_response_free(&r);
        if (!*ret || !json_object_is_type(*ret, json_type_object)) {
                json_object_put(*ret);
                *ret = NULL;
                return snprintf(err, errlen, "%s %s: the service's answer is not an object", method, path), -EPROTO;
        }
        return 0;
}

/* call() for an answer without a body worth reading (a delete). */
static int call_only(struct gh_client *c, struct gh_ss *ss, const char *method, const char *path, char *err,
                     size_t errlen) {
        struct gh_response r = {};
        int rc = call(c, ss, method, path, NULL, &r, err, errlen);

        gh_response_free(&r);
        return rc;
}

static long long member_int(struct json_object *o, const char *key) {
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
}

/* The first item of a {count, value: [...]} list, or NULL. */
static struct json_object *first_item(struct json_object *o) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, "value", &v) || !json_object_is_type(v, json_type_array) ||
            json_object_array_length(v) == 0)
                return NULL;
        return json_object_array_get_idx(v, 0);
}

static void escape_query(const char *s, char *buf, size_t size) {
        CURL *h = curl_easy_init();
        char *e = h ? curl_easy_escape(h, s, 0) : NULL;

        snprintf(buf, size, "%s", e ? e : "");
        curl_free(e);
        if (h)
                curl_easy_cleanup(h);
}

static int group_id(struct gh_client *c, struct gh_ss *ss, const char *group, char *err, size_t errlen) {
        struct json_object *o = NULL, *g;
        char q[200], path[300];
        int rc;

        escape_query(group, q, sizeof q);
        snprintf(path, sizeof path, "runtime/runnergroups/?groupName=%s", q);
        rc = call_json(c, ss, "GET", path, NULL, &o, err, errlen);
        if (rc == 0 && !(g = first_item(o)))
                rc = (snprintf(err, errlen, "no runner group %s", group), -ENOENT);
        else if (rc == 0)
                ss->group_id = member_int(g, "id");
        json_object_put(o);
        return rc;
}

int gh_ss_set_ensure(struct gh_client *c, struct gh_ss *ss, const char *group, bool *ret_created, char *err,
                     size_t errlen) {
        struct json_object *o = NULL, *set, *body;
        char q[200], path[400];
        int rc;

        *ret_created = false;
        rc = group_id(c, ss, group, err, errlen);
        if (rc < 0)
                return rc;
        escape_query(ss->set_name, q, sizeof q);
        snprintf(path, sizeof path, "runtime/runnerscalesets?runnerGroupId=%lld&name=%s", ss->group_id, q);
        rc = call_json(c, ss, "GET", path, NULL, &o, err, errlen);
        if (rc == 0 && (set = first_item(o))) {
                ss->set_id = member_int(set, "id");
                json_object_put(o);
                return ss->set_id ? 0 : (snprintf(err, errlen, "the scale set %s has no id", ss->set_name), -EPROTO);
        }
        json_object_put(o);
        if (rc < 0)
                return rc;
        body = json_object_new_object();
        json_object_object_add(body, "name", json_object_new_string(ss->set_name));
        json_object_object_add(body, "runnerGroupId", json_object_new_int64(ss->group_id));
        {
                struct json_object *labels = json_object_new_array(), *l = json_object_new_object(),
                                   *setting = json_object_new_object();

                json_object_object_add(l, "name", json_object_new_string(ss->set_name));
                json_object_object_add(l, "type", json_object_new_string("System"));
                json_object_array_add(labels, l);
                json_object_object_add(body, "labels", labels);
                json_object_object_add(setting, "disableUpdate", json_object_new_boolean(1));
                json_object_object_add(body, "RunnerSetting", setting);
        }
        rc = call_json(c, ss, "POST", "runtime/runnerscalesets", json_object_to_json_string(body), &o, err, errlen);
        json_object_put(body);
        if (rc == 0 && !(ss->set_id = member_int(o, "id")))
                rc = (snprintf(err, errlen, "the new scale set %s has no id", ss->set_name), -EPROTO);
        json_object_put(o);
        *ret_created = rc == 0;
        return rc;
}

int gh_ss_set_delete(struct gh_client *c, struct gh_ss *ss, char *err, size_t errlen) {
        char path[64];

        snprintf(path, sizeof path, "runtime/runnerscalesets/%lld", ss->set_id);
        return call_only(c, ss, "DELETE", path, err, errlen);
}

/* A session's answer into SS. */
static int take_session(struct gh_ss *ss, struct json_object *o, char *err, size_t errlen) {
        struct json_object *v;
        char *id, *url;
        size_t id_len = 0, url_len = 0, tok_len = 0;
        char *tok = dup_member(o, "messageQueueAccessToken", &tok_len);
        int rc = 0;

        id = dup_member(o, "sessionId", &id_len);
        url = dup_member(o, "messageQueueUrl", &url_len);
        if (!id || !url || !tok || id_len >= sizeof ss->session || url_len >= sizeof ss->queue_url)
                rc = (snprintf(err, errlen, "the session answer has no id, queue or queue token"), -EPROTO);
        else if ((rc = gh_check_url(url, err, errlen)) == 0) {
                drop_queue_token(ss);
                snprintf(ss->session, sizeof ss->session, "%s", id);
                snprintf(ss->queue_url, sizeof ss->queue_url, "%s", url);
                ss->queue_token = tok, ss->queue_token_len = tok_len, tok = NULL;
                if (json_object_object_get_ex(o, "statistics", &v))
                        (void) gh_ss_parse_stats(v, &ss->stats);
        }
        if (tok)
                secret_free(tok, tok_len + 1);
        free(id);
        free(url);
        return rc;
}

int gh_ss_session_open(struct gh_client *c, struct gh_ss *ss, const char *owner, char *err, size_t errlen) {
        struct json_object *o = NULL, *body = json_object_new_object();
        char path[64];
        int rc;

        snprintf(ss->owner, sizeof ss->owner, "%s", owner);
        json_object_object_add(body, "ownerName", json_object_new_string(owner));
        snprintf(path, sizeof path, "runtime/runnerscalesets/%lld/sessions", ss->set_id);
        rc = call_json(c, ss, "POST", path, json_object_to_json_string(body), &o, err, errlen);
        json_object_put(body);
        if (rc == 0)
                rc = take_session(ss, o, err, errlen);
        json_object_put(o);
        return rc;
}

int gh_ss_session_refresh(struct gh_client *c, struct gh_ss *ss, char *err, size_t errlen) {
        struct json_object *o = NULL;
        char path[160];
        int rc;

        snprintf(path, sizeof path, "runtime/runnerscalesets/%lld/sessions/%s", ss->set_id, ss->session);
        rc = call_json(c, ss, "PATCH", path, NULL, &o, err, errlen);
        if (rc == 0)
                rc = take_session(ss, o, err, errlen);
        json_object_put(o);
        return rc;
}

int gh_ss_session_close(struct gh_client *c, struct gh_ss *ss, char *err, size_t errlen) {
        char path[160];
        int rc;

        if (!ss->session[0])
                return 0;
        snprintf(path, sizeof path, "runtime/runnerscalesets/%lld/sessions/%s", ss->set_id, ss->session);
        rc = call_only(c, ss, "DELETE", path, err, errlen);
        ss->session[0] = '\0';
        drop_queue_token(ss);
        return rc == -ENOENT ? 0 : rc;
}

int gh_ss_poll(struct gh_client *c, const struct gh_ss *ss, long long last, unsigned capacity, long poll_ms,
               struct gh_response *ret, char *err, size_t errlen) {
        char url[GH_SS_URL_MAX + 64], cap[64];
        struct gh_send q = { .scheme = "Bearer", .extra = cap, .timeout_ms = poll_ms };

        if (!ss->queue_token)
                return snprintf(err, errlen, "no message session"), -ENOTCONN;
        snprintf(cap, sizeof cap, "X-ScaleSetMaxCapacity: %u", capacity);
        snprintf(url, sizeof url, "%s%slastMessageId=%lld", ss->queue_url, strchr(ss->queue_url, '?') ? "&" : "?", last);
        return gh_request_raw(c, "GET", url, ss->queue_token, &q, NULL, ret, err, errlen);
}

int gh_ss_message_delete(struct gh_client *c, struct gh_ss *ss, long long id, char *err, size_t errlen) {
        static const struct gh_send q = { .scheme = "Bearer" };
        char url[GH_SS_URL_MAX + 64];
        struct gh_response r = {};
        int rc = 0;

        for (int attempt = 0; attempt < 2 && rc == 0; attempt++) {
                if (attempt > 0)
                        rc = gh_ss_session_refresh(c, ss, err, errlen);
                if (rc == 0 && !ss->queue_token)
                        rc = (snprintf(err, errlen, "no message session"), -ENOTCONN);
                snprintf(url, sizeof url, "%s/%lld", ss->queue_url, id);
                if (rc == 0)
                        rc = gh_request_raw(c, "DELETE", url, ss->queue_token, &q, NULL, &r, err, errlen);
                if (rc == 0 && r.status != 401)
                        break;
                gh_response_free(&r);
        }
        if (rc == 0 && r.status >= 300 && r.status != 404) {
                describe(&r, err, errlen);
                rc = status_errno(&r);
        }
        gh_response_free(&r);
        return rc;
}

int gh_ss_acquire(struct gh_client *c, struct gh_ss *ss, const long long *ids, size_t n, size_t *ret_got, char *err,
                  size_t errlen) {
        struct json_object *body = json_object_new_array(), *o = NULL, *v;
        char path[96];
        int rc;

        *ret_got = 0;
        for (size_t i = 0; i < n; i++)
                json_object_array_add(body, json_object_new_int64(ids[i]));
        snprintf(path, sizeof path, "runtime/runnerscalesets/%lld/acquirejobs", ss->set_id);
        rc = call_json(c, ss, "POST", path, json_object_to_json_string(body), &o, err, errlen);
        json_object_put(body);
        if (rc == 0 && json_object_object_get_ex(o, "value", &v) && json_object_is_type(v, json_type_array))
                *ret_got = json_object_array_length(v);
        json_object_put(o);
        return rc;
}

int gh_ss_jit(struct gh_client *c, struct gh_ss *ss, const char *name, const char *work_folder, long long *ret_id,
              char **ret_config, size_t *ret_len, char *err, size_t errlen) {
        struct json_object *body = json_object_new_object(), *o = NULL, *runner;
        struct gh_response r = {};
        char path[96];
        int rc;

        json_object_object_add(body, "name", json_object_new_string(name));
        json_object_object_add(body, "workFolder", json_object_new_string(work_folder));
        snprintf(path, sizeof path, "runtime/runnerscalesets/%lld/generatejitconfig", ss->set_id);
        rc = call(c, ss, "POST", path, json_object_to_json_string(body), &r, err, errlen);
        json_object_put(body);
        if (rc < 0)
                return rc;
        o = r.body ? json_tokener_parse(r.body) : NULL;
        if (r.body)
                explicit_bzero(r.body, r.len);
        gh_response_free(&r);
        *ret_config = o ? dup_member(o, "encodedJITConfig", ret_len) : NULL;
        *ret_id = o && json_object_object_get_ex(o, "runner", &runner) ? member_int(runner, "id") : 0;
        if (!*ret_config || !*ret_id) {
                if (*ret_config)
                        secret_free(*ret_config, *ret_len + 1);
                *ret_config = NULL;
                rc = (snprintf(err, errlen, "the JIT configuration answer has no runner id and configuration"), -EPROTO);
        }
        if (o) {
                struct json_object *e;

                if (json_object_object_get_ex(o, "encodedJITConfig", &e))   /* json-c's copy wiped too */
                        explicit_bzero((char *) json_object_get_string(e), (size_t) json_object_get_string_len(e));
                json_object_put(o);
        }
        return rc;
}

int gh_ss_runner_find(struct gh_client *c, struct gh_ss *ss, const char *name, long long *ret_id, char *err,
                      size_t errlen) {
        struct json_object *o = NULL, *item;
        char q[200], path[300];
        int rc;

        escape_query(name, q, sizeof q);
        snprintf(path, sizeof path, "distributedtask/pools/0/agents?agentName=%s", q);
        rc = call_json(c, ss, "GET", path, NULL, &o, err, errlen);
        *ret_id = rc == 0 && (item = first_item(o)) ? member_int(item, "id") : 0;
        json_object_put(o);
        return rc < 0 ? rc : *ret_id ? 0 : -ENOENT;
}

int gh_ss_runner_delete(struct gh_client *c, struct gh_ss *ss, long long id, char *err, size_t errlen) {
        char path[96];

        snprintf(path, sizeof path, "distributedtask/pools/0/agents/%lld", id);
        return call_only(c, ss, "DELETE", path, err, errlen);
}
