/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A workflow run made for an observed window: workflow_dispatch with
 * return_run_details (GitHub answers the run's id), then the run's job
 * once GitHub lists it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gh-api.h"
#include "gh-client.h"
#include "gh-json.h"
#include "kobs-observe.h"
#include "macro.h"

#define JOB_LIST_TRIES 100      /* every 100 ms: 10 s for GitHub to list the run's job */

static char *dispatch_body(const char *ref, const char *const *inputs, size_t n_inputs) {
        struct json_object *in = json_object_new_object();

        for (size_t i = 0; i < n_inputs; i++) {
                const char *eq = strchr(inputs[i], '=');
                char key[128];

                snprintf(key, sizeof key, "%.*s", (int) (eq - inputs[i]), inputs[i]);
                json_object_object_add(in, key, json_object_new_string(eq + 1));
        }
        return gh_dispatch_body(ref, in);
}

int kobs_dispatch(struct gh_client *gh, const struct kobs_dispatch *d, long long *ret_run, long long *ret_job,
                  char *err, size_t errlen) {
        _cleanup_(freep) char *body = dispatch_body(d->ref, d->inputs, d->n_inputs);
        struct gh_response resp = {};
        struct json_object *o;
        char path[512], desc[400];
        long status;
        int r;

        *ret_run = *ret_job = 0;
        if (!body)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        snprintf(path, sizeof path, "/repos/%s/actions/workflows/%s/dispatches", d->repo, d->workflow);
        r = gh_request(gh, "POST", path, body, &resp, err, errlen);
        if (r < 0)
                return r;
        if (resp.status == 200 && (o = json_tokener_parse(resp.body ?: ""))) {
                *ret_run = gh_json_int(o, "workflow_run_id");
                json_object_put(o);
        }
        gh_describe_error(&resp, desc, sizeof desc);
        status = resp.status;
        gh_response_free(&resp);
        if (status != 200 && status != 204)
                return snprintf(err, errlen, "GitHub refused to dispatch %s on %s: %s", d->workflow, d->ref, desc),
                       status == 404 || status == 422 ? -EINVAL : -EIO;
        if (!*ret_run)
                return snprintf(err, errlen, "GitHub dispatched %s but named no run (return_run_details)",
                                d->workflow), -EPROTO;
        snprintf(path, sizeof path, "/repos/%s/actions/runs/%lld/jobs?per_page=100", d->repo, *ret_run);
        for (int i = 0; i < JOB_LIST_TRIES && !*ret_job; i++) {
                struct json_object *jobs;

                if (i)
                        usleep(100 * 1000);
                if (gh_request(gh, "GET", path, NULL, &resp, err, errlen) < 0)
                        continue;
                o = resp.status == 200 ? json_tokener_parse(resp.body ?: "") : NULL;
                jobs = o ? gh_json_member(o, "jobs") : NULL;
                if (jobs && json_object_array_length(jobs) > 0)
                        *ret_job = gh_json_int(json_object_array_get_idx(jobs, 0), "id");
                json_object_put(o);
                gh_response_free(&resp);
        }
        return *ret_job ? 0 : (snprintf(err, errlen, "run %lld has no job after %d s", *ret_run,
                                        JOB_LIST_TRIES / 10), -ETIME);
}
