/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scale set service's messages and statistics (gh-scaleset.h), pure:
 * a message is {messageId, messageType, statistics, body}, its body a
 * JSON array, as a string, of job messages (JobAvailable, JobAssigned,
 * JobStarted, JobCompleted), as actions/scaleset's types.go has them. */
#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh-scaleset.h"
#include "gh-wire.h"
#include "macro.h"

#define MAX_JOBS 10000

static const char *const kinds[] = {
        [GH_SS_AVAILABLE] = "JobAvailable",
        [GH_SS_ASSIGNED] = "JobAssigned",
        [GH_SS_STARTED] = "JobStarted",
        [GH_SS_COMPLETED] = "JobCompleted",
        [GH_SS_OTHER] = "other",
};

const char *gh_ss_job_kind_to_string(enum gh_ss_job_kind k) {
        return (size_t) k < ELEMENTSOF(kinds) ? kinds[k] : "other";
}

static bool get_int(struct json_object *o, const char *key, long long *ret) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_int64(v);
        return true;
}

static void get_str(struct json_object *o, const char *key, char *buf, size_t size) {
        struct json_object *v;

        buf[0] = '\0';
        if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                snprintf(buf, size, "%s", json_object_get_string(v));
}

int gh_ss_parse_stats(struct json_object *o, struct gh_ss_stats *ret) {
        struct gh_ss_stats s = {};
        bool ok = json_object_is_type(o, json_type_object);

        ok = ok && get_int(o, "totalAvailableJobs", &s.available) && get_int(o, "totalAcquiredJobs", &s.acquired) &&
             get_int(o, "totalAssignedJobs", &s.assigned) && get_int(o, "totalRunningJobs", &s.running) &&
             get_int(o, "totalRegisteredRunners", &s.registered) && get_int(o, "totalBusyRunners", &s.busy) &&
             get_int(o, "totalIdleRunners", &s.idle);
        if (!ok || s.available < 0 || s.acquired < 0 || s.assigned < 0 || s.running < 0 || s.registered < 0 ||
            s.busy < 0 || s.idle < 0)
                return -EPROTO;
        *ret = s;
        return 0;
}

static int parse_job(struct json_object *o, struct gh_ss_job *j) {
        char kind[32], owner[100], repo[100], queued[40];

        *j = (struct gh_ss_job) { .kind = GH_SS_OTHER };
        if (!json_object_is_type(o, json_type_object))
                return -EPROTO;
        get_str(o, "messageType", kind, sizeof kind);
        for (size_t k = 0; k < GH_SS_OTHER; k++)
                if (strcmp(kind, kinds[k]) == 0)
                        j->kind = (enum gh_ss_job_kind) k;
        if (j->kind == GH_SS_OTHER)
                return 0;   /* a kind this version does not know: skipped, as the listener does */
        if (!get_int(o, "runnerRequestId", &j->request_id) || j->request_id <= 0)
                return -EPROTO;
        (void) get_int(o, "runnerId", &j->runner_id);
        (void) get_int(o, "workflowRunId", &j->run_id);
        get_str(o, "runnerName", j->runner_name, sizeof j->runner_name);
        get_str(o, "result", j->result, sizeof j->result);
        get_str(o, "jobDisplayName", j->name, sizeof j->name);
        get_str(o, "ownerName", owner, sizeof owner);
        get_str(o, "repositoryName", repo, sizeof repo);
        if (owner[0] && repo[0])
                snprintf(j->repo, sizeof j->repo, "%s/%s", owner, repo);
        get_str(o, "queueTime", queued, sizeof queued);
        if (gh_parse_timestamp(queued, &j->queued) < 0 || j->queued < 86400)   /* 0001-01-01: not given */
                j->queued = 0;
        if (j->kind == GH_SS_STARTED && !j->runner_name[0] && !j->runner_id)
                return -EPROTO;   /* a started job names its runner */
        return 0;
}

static int parse_body(const char *text, struct gh_ss_message *m) {
        struct json_object *a = json_tokener_parse(text);
        size_t n;
        int r = 0;

        if (!a || !json_object_is_type(a, json_type_array)) {
                json_object_put(a);
                return -EPROTO;
        }
        n = json_object_array_length(a);
        if (n > MAX_JOBS || !(m->jobs = calloc(n ? n : 1, sizeof *m->jobs))) {
                json_object_put(a);
                return n > MAX_JOBS ? -E2BIG : -ENOMEM;
        }
        for (size_t i = 0; i < n && r == 0; i++)
                r = parse_job(json_object_array_get_idx(a, i), &m->jobs[m->n_jobs++]);
        json_object_put(a);
        return r;
}

int gh_ss_parse_message(const char *text, struct gh_ss_message *ret) {
        struct json_object *o = text ? json_tokener_parse(text) : NULL, *v;
        int r = -EPROTO;

        *ret = (struct gh_ss_message) {};
        if (!o || !json_object_is_type(o, json_type_object) || !get_int(o, "messageId", &ret->id) || ret->id <= 0)
                goto out;
        get_str(o, "messageType", ret->type, sizeof ret->type);
        if (!json_object_object_get_ex(o, "statistics", &v) || gh_ss_parse_stats(v, &ret->stats) < 0)
                goto out;
        r = 0;
        if (strcmp(ret->type, "RunnerScaleSetJobMessages") == 0 && json_object_object_get_ex(o, "body", &v) &&
            json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
                r = parse_body(json_object_get_string(v), ret);
out:
        json_object_put(o);
        if (r < 0)
                gh_ss_message_free(ret);
        return r;
}

void gh_ss_message_free(struct gh_ss_message *m) {
        free(m->jobs);
        m->jobs = NULL;
        m->n_jobs = 0;
}

time_t gh_ss_jwt_expiry(const char *jwt) {
        const char *a = strchr(jwt, '.'), *b = a ? strchr(a + 1, '.') : NULL;
        unsigned char out[1536];
        char in[2048];
        struct json_object *o, *e;
        size_t n;
        int len;
        time_t t = 0;

        if (!b || (size_t) (b - a - 1) + 4 >= sizeof in || (size_t) (b - a - 1) * 3 / 4 + 4 >= sizeof out)
                return 0;
        for (n = 0; a + 1 + n < b; n++)
                in[n] = a[1 + n] == '-' ? '+' : a[1 + n] == '_' ? '/' : a[1 + n];
        while (n % 4)
                in[n++] = '=';
        in[n] = '\0';
        len = EVP_DecodeBlock(out, (unsigned char *) in, (int) n);
        if (len <= 0)
                return 0;
        out[len] = '\0';
        o = json_tokener_parse((char *) out);
        if (o && json_object_object_get_ex(o, "exp", &e) && json_object_is_type(e, json_type_int))
                t = (time_t) json_object_get_int64(e);
        json_object_put(o);
        explicit_bzero(out, sizeof out);
        return t;
}
