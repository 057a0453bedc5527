/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GitHub's workflow run, job and pull request objects (per its OpenAPI
 * description) into slo.h's structs: pure, tested on fixed text. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gh-json.h"
#include "route.h"

static void copy(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src ?: "");
}

/* A user object's login names a bot: type "Bot", or NAME[bot]. */
static bool user_bot(struct json_object *u) {
        const char *type = gh_json_str(u, "type"), *login = gh_json_str(u, "login");

        return (type && strcmp(type, "Bot") == 0) || (login && slo_login_is_bot(login));
}

int route_parse_run(struct json_object *o, struct slo_run *ret) {
        struct json_object *prs = gh_json_member(o, "pull_requests"), *head = gh_json_member(o, "head_repository"),
                           *repo = gh_json_member(o, "repository");
        const char *hn = gh_json_str(head, "full_name"), *rn = gh_json_str(repo, "full_name");

        *ret = (struct slo_run) { .id = gh_json_int(o, "id"), .attempt = (unsigned) gh_json_int(o, "run_attempt"),
                                  .created = gh_json_time(o, "created_at"), .expect_self_hosted = -1 };
        if (!ret->id || !gh_json_str(o, "status") || !gh_json_str(o, "event"))
                return -EPROTO;
        copy(ret->event, sizeof ret->event, gh_json_str(o, "event"));
        copy(ret->status, sizeof ret->status, gh_json_str(o, "status"));
        copy(ret->conclusion, sizeof ret->conclusion, gh_json_str(o, "conclusion"));
        copy(ret->url, sizeof ret->url, gh_json_str(o, "html_url"));
        /* the same repository: GitHub names the pull request only then
         * (a fork's run has pull_requests []), and its head is the repository */
        ret->same_repo = hn && rn && strcasecmp(hn, rn) == 0;
        if (prs && json_object_is_type(prs, json_type_array) && json_object_array_length(prs) > 0)
                ret->pr = gh_json_int(json_object_array_get_idx(prs, 0), "number");
        ret->actor_bot = user_bot(gh_json_member(o, "triggering_actor")) || user_bot(gh_json_member(o, "actor"));
        return 0;
}

int route_parse_pull(struct json_object *o, struct slo_run *r) {
        struct json_object *user = gh_json_member(o, "user");
        const char *assoc = gh_json_str(o, "author_association"), *login = gh_json_str(user, "login");

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
                const char *name = gh_json_str(s, "name"), *status = gh_json_str(s, "status"), *concl = gh_json_str(s, "conclusion");

                if (gh_json_int(s, "number") == 1 && name && strcmp(name, "Set up job") == 0)
                        continue;
                if (!status || strcmp(status, "queued") == 0 || strcmp(status, "pending") == 0 ||
                    (concl && strcmp(concl, "skipped") == 0) || !gh_json_time(s, "started_at"))
                        continue;
                j->step_begun = true;
                j->first_step = gh_json_time(s, "started_at");
                return;
        }
}

int route_parse_job(struct json_object *o, const char (*labels)[PROTO_LABEL_MAX + 1], size_t n_labels,
                    struct slo_job *ret) {
        *ret = (struct slo_job) { .id = gh_json_int(o, "id"), .runner_id = gh_json_int(o, "runner_id"),
                                  .created = gh_json_time(o, "created_at"), .started = gh_json_time(o, "started_at"),
                                  .completed = gh_json_time(o, "completed_at") };
        if (!ret->id || !gh_json_str(o, "status"))
                return -EPROTO;
        copy(ret->name, sizeof ret->name, gh_json_str(o, "name"));
        copy(ret->status, sizeof ret->status, gh_json_str(o, "status"));
        copy(ret->conclusion, sizeof ret->conclusion, gh_json_str(o, "conclusion"));
        copy(ret->runner_name, sizeof ret->runner_name, gh_json_str(o, "runner_name"));
        ret->self_hosted = self_hosted(gh_json_member(o, "labels"), labels, n_labels);
        if (!ret->runner_id)
                ret->started = 0;     /* a queued job's started_at is its creation, not a runner's start */
        first_step(gh_json_member(o, "steps"), ret);
        return 0;
}
