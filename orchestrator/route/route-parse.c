/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GitHub's workflow run, job and pull request objects (per its OpenAPI
 * description) into slo.h's structs: pure, tested on fixed text. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gh-wire.h"
#include "route.h"

static struct json_object *member(struct json_object *o, const char *key) {
        struct json_object *m;

        return o && json_object_object_get_ex(o, key, &m) ? m : NULL;
}

static const char *str(struct json_object *o, const char *key) {
        struct json_object *m = member(o, key);

        return m && json_object_is_type(m, json_type_string) ? json_object_get_string(m) : NULL;
}

static long long num(struct json_object *o, const char *key) {
        struct json_object *m = member(o, key);

        return m && json_object_is_type(m, json_type_int) ? (long long) json_object_get_int64(m) : 0;
}

static time_t when(struct json_object *o, const char *key) {
        const char *s = str(o, key);
        time_t t = 0;

        return s && gh_parse_timestamp(s, &t) == 0 ? t : 0;
}

static void copy(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src ?: "");
}

/* A user object's login names a bot: type "Bot", or NAME[bot]. */
static bool user_bot(struct json_object *u) {
        const char *type = str(u, "type"), *login = str(u, "login");

        return (type && strcmp(type, "Bot") == 0) || (login && slo_login_is_bot(login));
}

int route_parse_run(struct json_object *o, struct slo_run *ret) {
        struct json_object *prs = member(o, "pull_requests"), *head = member(o, "head_repository"),
                           *repo = member(o, "repository");
        const char *hn = str(head, "full_name"), *rn = str(repo, "full_name");

        *ret = (struct slo_run) { .id = num(o, "id"), .attempt = (unsigned) num(o, "run_attempt"),
                                  .created = when(o, "created_at"), .expect_self_hosted = -1 };
        if (!ret->id || !str(o, "status") || !str(o, "event"))
                return -EPROTO;
        copy(ret->event, sizeof ret->event, str(o, "event"));
        copy(ret->status, sizeof ret->status, str(o, "status"));
        copy(ret->conclusion, sizeof ret->conclusion, str(o, "conclusion"));
        copy(ret->url, sizeof ret->url, str(o, "html_url"));
        /* the same repository: GitHub names the pull request only then
         * (a fork's run has pull_requests []), and its head is the repository */
        ret->same_repo = hn && rn && strcasecmp(hn, rn) == 0;
        if (prs && json_object_is_type(prs, json_type_array) && json_object_array_length(prs) > 0)
                ret->pr = num(json_object_array_get_idx(prs, 0), "number");
        ret->actor_bot = user_bot(member(o, "triggering_actor")) || user_bot(member(o, "actor"));
        return 0;
}

int route_parse_pull(struct json_object *o, struct slo_run *r) {
        struct json_object *user = member(o, "user");
        const char *assoc = str(o, "author_association"), *login = str(user, "login");

        if (!assoc || !login)
                return -EPROTO;
        copy(r->association, sizeof r->association, assoc);
        copy(r->author, sizeof r->author, login);
        r->author_bot = user_bot(user);
        r->pr_known = true;
        return 0;
}

static bool self_hosted(struct json_object *labels, const char (*sh)[PROTO_LABEL_MAX + 1], size_t n_sh) {
        for (size_t i = 0; labels && json_object_is_type(labels, json_type_array) && i < json_object_array_length(labels);
             i++) {
                struct json_object *l = json_object_array_get_idx(labels, i);
                const char *v = json_object_is_type(l, json_type_string) ? json_object_get_string(l) : NULL;

                for (size_t k = 0; v && k < n_sh; k++)
                        if (strcasecmp(v, sh[k]) == 0)
                                return true;
        }
        return false;
}

/* The first step after GitHub's own "Set up job" that began: started,
 * not skipped (GitHub stamps a skipped step's times too). */
static void first_step(struct json_object *steps, struct slo_job *j) {
        for (size_t i = 0; steps && json_object_is_type(steps, json_type_array) && i < json_object_array_length(steps);
             i++) {
                struct json_object *s = json_object_array_get_idx(steps, i);
                const char *name = str(s, "name"), *status = str(s, "status"), *concl = str(s, "conclusion");

                if (num(s, "number") == 1 && name && strcmp(name, "Set up job") == 0)
                        continue;
                if (!status || strcmp(status, "queued") == 0 || strcmp(status, "pending") == 0 ||
                    (concl && strcmp(concl, "skipped") == 0) || !when(s, "started_at"))
                        continue;
                j->step_begun = true;
                j->first_step = when(s, "started_at");
                return;
        }
}

int route_parse_job(struct json_object *o, const char (*labels)[PROTO_LABEL_MAX + 1], size_t n_labels,
                    struct slo_job *ret) {
        *ret = (struct slo_job) { .id = num(o, "id"), .runner_id = num(o, "runner_id"), .created = when(o, "created_at"),
                                  .started = when(o, "started_at"), .completed = when(o, "completed_at") };
        if (!ret->id || !str(o, "status"))
                return -EPROTO;
        copy(ret->name, sizeof ret->name, str(o, "name"));
        copy(ret->status, sizeof ret->status, str(o, "status"));
        copy(ret->conclusion, sizeof ret->conclusion, str(o, "conclusion"));
        copy(ret->runner_name, sizeof ret->runner_name, str(o, "runner_name"));
        ret->self_hosted = self_hosted(member(o, "labels"), labels, n_labels);
        if (!ret->runner_id)
                ret->started = 0;     /* a queued job's started_at is its creation, not a runner's start */
        first_step(member(o, "steps"), ret);
        return 0;
}
