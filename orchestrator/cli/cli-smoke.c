/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What lanectl smoke and lanectl apply --smoke share: a smoke's result as
 * JSON (the audit record's body, --output json), and the executor's proof
 * hook (exec_prove) that runs one smoke on a lane just applied. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-smoke.h"
#include "macro.h"

static void add_str(struct json_object *o, const char *k, const char *v) {
        json_object_object_add(o, k, v && v[0] ? json_object_new_string(v) : NULL);
}

static void add_secs(struct json_object *o, const char *k, long long v) {
        json_object_object_add(o, k, v >= 0 ? json_object_new_int64(v) : NULL);
}

struct json_object *cli_smoke_json(const char *workflow, const struct smoke_result *r) {
        struct json_object *o = json_object_new_object();

        add_str(o, "repository", r->repo);
        add_str(o, "workflow", workflow);
        add_str(o, "ref", r->ref);
        json_object_object_add(o, "run_id", r->run_id ? json_object_new_int64(r->run_id) : NULL);
        add_str(o, "run_url", r->run_url);
        add_str(o, "html_url", r->html_url);
        add_str(o, "commit", r->sha);
        json_object_object_add(o, "job_id", r->have_job ? json_object_new_int64(r->job.id) : NULL);
        add_str(o, "job_url", r->have_job ? r->job.html_url : NULL);
        json_object_object_add(o, "runner_id", r->job.runner_id ? json_object_new_int64(r->job.runner_id) : NULL);
        add_str(o, "runner", r->job.runner_name);
        add_str(o, "conclusion", r->job.conclusion);
        add_secs(o, "queue_wait_s", r->queue_wait_s);
        add_secs(o, "setup_s", r->setup_s);
        add_secs(o, "duration_s", r->duration_s);
        json_object_object_add(o, "marker", json_object_new_boolean(r->marker));
        json_object_object_add(o, "passed", json_object_new_boolean(r->passed));
        add_str(o, "reason", r->reason);
        return o;
}

bool cli_smoke_prove(void *data, const struct lane_desired *d, long long runner_id, struct json_object **ret_evidence,
                     char *detail, size_t size) {
        const struct cli_smoke_proof *p = data;
        _cleanup_(freep) struct smoke_result *r = calloc(1, sizeof *r);
        struct smoke_expect e = { .runner_id = runner_id };
        const char *repo = p->repo ?: d->repository;
        char err[600] = "";
        int k;

        *ret_evidence = NULL;
        if (!r)
                return snprintf(detail, size, "out of memory"), false;
        snprintf(e.name, sizeof e.name, "%s", d->name);
        memcpy(e.labels, d->labels, sizeof e.labels);
        e.n_labels = d->n_labels;
        if (!repo[0])
                snprintf(r->reason, sizeof r->reason, "lane %s serves the organisation %s: name a repository (--smoke-repo)",
                         d->name, d->organisation);
        else if (!runner_id)
                snprintf(r->reason, sizeof r->reason, "lane %s has no runner on GitHub", d->name);
        else if (smoke_nonce(&e) < 0)
                snprintf(r->reason, sizeof r->reason, "no random nonce: %s", strerror(errno));
        else {
                k = smoke_run(p->gh, repo, p->workflow ?: SMOKE_WORKFLOW_DEFAULT, NULL, &e, p->deadline_s, r, err,
                              sizeof err);
                if (k < 0 && !r->reason[0])
                        snprintf(r->reason, sizeof r->reason, "GitHub: %s", err);
        }
        if (!r->repo[0])
                snprintf(r->repo, sizeof r->repo, "%s", repo);
        *ret_evidence = cli_smoke_json(p->workflow ?: SMOKE_WORKFLOW_DEFAULT, r);
        if (r->passed)
                snprintf(detail, size, "run %lld in %s: job %lld on runner %s (id %lld), queue wait %lld s, setup %lld s, "
                         "duration %lld s", r->run_id, r->repo, r->job.id, r->job.runner_name, r->job.runner_id,
                         r->queue_wait_s, r->setup_s, r->duration_s);
        else
                snprintf(detail, size, "%s%s%.0lld", r->reason, r->run_id ? "; run " : "", r->run_id);
        return r->passed;
}
