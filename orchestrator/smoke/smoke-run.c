/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One smoke against GitHub (smoke.h): dispatch, the run found, its job
 * followed, its log read, the verdict. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gh-api.h"
#include "gh-client.h"
#include "gh-json.h"
#include "macro.h"
#include "smoke.h"

#define FOLLOW_EVERY_S 2
#define FIND_RUN_S 60          /* a 204 dispatch: how long its run is looked for */

/* GET PATH as JSON (a new reference), or NULL with ERR. */
static struct json_object *get_json(struct gh_client *c, const char *path, char *err, size_t errlen) {
        struct gh_response resp;
        struct json_object *o = NULL;

        if (gh_request(c, "GET", path, NULL, &resp, err, errlen) < 0)
                return NULL;
        if (resp.status != 200)
                gh_describe_error(&resp, err, errlen);
        else if (!(o = json_tokener_parse(resp.body ?: "")))
                snprintf(err, errlen, "GET %s: the answer does not parse", path);
        gh_response_free(&resp);
        return o;
}

static int default_branch(struct gh_client *c, const char *repo, char *buf, size_t size, char *err, size_t errlen) {
        char path[256];
        struct json_object *o;
        const char *b;

        snprintf(path, sizeof path, "/repos/%s", repo);
        if (!(o = get_json(c, path, err, errlen)))
                return -EIO;
        b = gh_json_str(o, "default_branch");
        if (b)
                snprintf(buf, size, "%s", b);
        else
                snprintf(err, errlen, "GET %s: no default_branch", path);
        json_object_put(o);
        return b ? 0 : -EPROTO;
}

/* The dispatch's JSON body: E's labels (or D's), its nonce, D's sleep and timeout. */
static char *dispatch_body(const struct smoke_expect *e, const struct smoke_inputs *d, const char *ref) {
        struct json_object *in = json_object_new_object(), *l = json_object_new_array();
        char num[16];

        for (size_t i = 0; i < e->n_labels; i++)
                json_object_array_add(l, json_object_new_string(e->labels[i]));
        if (d && d->extra_label)
                json_object_array_add(l, json_object_new_string(d->extra_label));
        json_object_object_add(in, "labels", json_object_new_string(json_object_to_json_string_ext(l, JSON_C_TO_STRING_PLAIN)));
        json_object_put(l);
        json_object_object_add(in, "nonce", json_object_new_string(e->nonce));
        if (d && d->sleep_s) {
                snprintf(num, sizeof num, "%u", d->sleep_s);
                json_object_object_add(in, "sleep", json_object_new_string(num));
        }
        if (d && d->timeout_min) {
                snprintf(num, sizeof num, "%u", d->timeout_min);
                json_object_object_add(in, "timeout", json_object_new_string(num));
        }
        return gh_dispatch_body(ref, in);
}

/* A 204 dispatch (a GitHub without return_run_details): the newest
 * workflow_dispatch run whose title carries the nonce. */
static int find_run(struct gh_client *c, const char *repo, const char *nonce, long long *ret, char *err, size_t errlen) {
        char path[256];

        snprintf(path, sizeof path, "/repos/%s/actions/runs?event=workflow_dispatch&per_page=30", repo);
        for (int t = 0; t < FIND_RUN_S / FOLLOW_EVERY_S; t++) {
                struct json_object *o = get_json(c, path, err, errlen), *runs = gh_json_member(o, "workflow_runs");

                for (size_t i = 0; runs && i < json_object_array_length(runs) && !*ret; i++) {
                        struct json_object *r = json_object_array_get_idx(runs, i);

                        if (strstr(gh_json_str(r, "display_title") ?: "", nonce))
                                *ret = gh_json_int(r, "id");
                }
                json_object_put(o);
                if (*ret)
                        return 0;
                if (!o)
                        return -EIO;
                sleep(FOLLOW_EVERY_S);
        }
        return snprintf(err, errlen, "the dispatched run was not found in %d s (its run-name carries no nonce?)",
                        FIND_RUN_S), -ENOENT;
}

static int dispatch(struct gh_client *c, const char *repo, const char *workflow, const struct smoke_expect *e,
                    const struct smoke_inputs *d, struct smoke_result *r, char *err, size_t errlen) {
        _cleanup_(freep) char *body = dispatch_body(e, d, r->ref);
        struct gh_response resp;
        char path[512], desc[400];
        struct json_object *o;
        int k;

        if (!body)
                return -ENOMEM;
        snprintf(path, sizeof path, "/repos/%s/actions/workflows/%s/dispatches", repo, workflow);
        if ((k = gh_request(c, "POST", path, body, &resp, err, errlen)) < 0)
                return k;
        if (resp.status == 200 && (o = json_tokener_parse(resp.body ?: ""))) {
                r->run_id = gh_json_int(o, "workflow_run_id");
                json_object_put(o);
        }
        gh_describe_error(&resp, desc, sizeof desc);
        k = resp.status;
        gh_response_free(&resp);
        if (k == 404)
                return snprintf(r->reason, sizeof r->reason, "no workflow %s in %s (commit lanectl smoke "
                                "--print-workflow as .github/workflows/%s)", workflow, repo, SMOKE_WORKFLOW_DEFAULT), 1;
        if (k == 422)
                return snprintf(r->reason, sizeof r->reason, "GitHub refused the dispatch of %s: %s", workflow, desc), 1;
        if (k != 200 && k != 204)
                return snprintf(err, errlen, "POST %s: %s", path, desc), -EIO;
        return r->run_id ? 0 : find_run(c, repo, e->nonce, &r->run_id, err, errlen);
}

int smoke_job_state(struct gh_client *c, const char *repo, struct smoke_result *r, struct smoke_job *j, char *err,
                     size_t errlen) {
        char path[256];
        struct json_object *o, *jobs;
        int k = 0;

        snprintf(path, sizeof path, "/repos/%s/actions/runs/%lld", repo, r->run_id);
        if (!r->sha[0] && (o = get_json(c, path, err, errlen))) {
                snprintf(r->sha, sizeof r->sha, "%s", gh_json_str(o, "head_sha") ?: "");
                snprintf(r->html_url, sizeof r->html_url, "%s", gh_json_str(o, "html_url") ?: "");
                snprintf(r->run_url, sizeof r->run_url, "%s", gh_json_str(o, "url") ?: "");
                json_object_put(o);
        }
        snprintf(path, sizeof path, "/repos/%s/actions/runs/%lld/jobs?per_page=100", repo, r->run_id);
        if (!(o = get_json(c, path, err, errlen)))
                return -EIO;
        jobs = gh_json_member(o, "jobs");
        if (jobs && json_object_array_length(jobs) > 0 && smoke_parse_job(json_object_array_get_idx(jobs, 0), j) == 0) {
                r->have_job = true;
                k = strcmp(j->status, "completed") == 0;
        }
        json_object_put(o);
        return k;
}

/* Follow the job until it ends or the deadline: 1 ended, 0 the deadline
 * passed (the run cancelled, R's reason said), -errno. */
static int follow(struct gh_client *c, const char *repo, const struct smoke_expect *e, unsigned deadline_s,
                  struct smoke_result *r, struct smoke_job *j, char *err, size_t errlen) {
        time_t until = time(NULL) + (time_t) deadline_s;
        char cerr[300];
        int k;

        for (;;) {
                k = smoke_job_state(c, repo, r, j, err, errlen);
                if (k != 0)
                        return k;
                if (time(NULL) >= until)
                        break;
                sleep(FOLLOW_EVERY_S);
        }
        (void) gh_run_cancel(c, repo, r->run_id, false, cerr, sizeof cerr);
        if (!j->runner_name[0])
                snprintf(r->reason, sizeof r->reason, "no runner claimed the job within %u s (labels %s%s): the run "
                         "was cancelled", deadline_s, e->labels[0], e->n_labels > 1 ? ", ..." : "");
        else
                snprintf(r->reason, sizeof r->reason, "the job on runner %s did not end within %u s: the run was "
                         "cancelled", j->runner_name, deadline_s);
        return 0;
}

int smoke_start(struct gh_client *c, const char *repo, const char *workflow, const char *ref,
                const struct smoke_expect *e, const struct smoke_inputs *d, struct smoke_result *r, char *err,
                size_t errlen) {
        int k;

        *r = (struct smoke_result) { .queue_wait_s = -1, .setup_s = -1, .duration_s = -1 };
        snprintf(r->repo, sizeof r->repo, "%s", repo);
        if (ref)
                snprintf(r->ref, sizeof r->ref, "%s", ref);
        else if ((k = default_branch(c, repo, r->ref, sizeof r->ref, err, errlen)) < 0)
                return k;
        return dispatch(c, repo, workflow, e, d, r, err, errlen);
}

void smoke_end(struct gh_client *c, const char *repo, const struct smoke_expect *e, const struct smoke_job *j,
               struct smoke_result *r) {
        char *log = NULL, err[300];
        size_t len;

        if (j->runner_id || j->runner_name[0])
                (void) gh_job_log(c, repo, j->id, &log, &len, err, sizeof err);
        smoke_judge(e, j, log, r);
        free(log);
}

int smoke_run(struct gh_client *c, const char *repo, const char *workflow, const char *ref,
              const struct smoke_expect *e, unsigned deadline_s, struct smoke_result *r, char *err, size_t errlen) {
        struct smoke_job j = {};
        int k;

        k = smoke_start(c, repo, workflow, ref, e, NULL, r, err, errlen);
        if (k != 0)
                return k < 0 ? k : 0;   /* refused: R's reason */
        k = follow(c, repo, e, deadline_s, r, &j, err, errlen);
        if (k <= 0) {
                if (k == 0 && r->have_job)
                        r->job = j;
                return k;
        }
        err[0] = '\0';
        smoke_end(c, repo, e, &j, r);
        return 0;
}
