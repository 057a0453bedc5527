/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The runs the SLO report and the guard read (route.h): a repository's
 * pull-request runs page by page (newest first) until enough trusted ones
 * are in, each run's pull request (its author and association: the run
 * does not carry them), and the jobs of the runs kept. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh-client.h"
#include "gh-wire.h"
#include "route.h"

#define PAGES_MAX 10           /* 1,000 runs: where GitHub's filtered listings stop */
#define JOBS_PER_RUN_MAX 256   /* a matrix's limit */

void route_input_free(struct slo_input *in) {
        free(in->runs);
        free(in->jobs);
        in->runs = NULL, in->jobs = NULL;
        in->n_runs = in->n_jobs = 0;
}

static int grow(void **p, size_t n, size_t *cap, size_t size) {
        void *q;

        if (n < *cap)
                return 0;
        q = realloc(*p, (*cap ? *cap * 2 : 64) * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = *cap ? *cap * 2 : 64;
        return 0;
}

/* GET PATH as JSON (a new reference) or NULL with ERR; *RET_LINK its Link. */
static struct json_object *get(struct gh_client *c, const char *path, char *link, size_t link_size, long *ret_status,
                               char *err, size_t errlen) {
        struct gh_response resp;
        struct json_object *o = NULL;

        if (gh_request(c, "GET", path, NULL, &resp, err, errlen) < 0)
                return NULL;
        *ret_status = resp.status;
        if (resp.status == 200 && !(o = json_tokener_parse(resp.body ?: "")))
                snprintf(err, errlen, "GET %s: the answer does not parse", path);
        else if (resp.status != 200)
                gh_describe_error(&resp, err, errlen);
        if (link)
                snprintf(link, link_size, "%s", resp.link);
        gh_response_free(&resp);
        return o;
}

/* The pull request of R: from an earlier run of the same one, or GitHub. */
static int pull(struct gh_client *c, const char *repo, struct slo_input *in, struct slo_run *r, char *err,
                size_t errlen) {
        struct json_object *o;
        char path[512];
        long status = 0;

        for (size_t i = 0; i + 1 < in->n_runs; i++)
                if (in->runs[i].pr == r->pr && in->runs[i].pr_known) {
                        snprintf(r->author, sizeof r->author, "%s", in->runs[i].author);
                        snprintf(r->association, sizeof r->association, "%s", in->runs[i].association);
                        r->author_bot = in->runs[i].author_bot;
                        r->pr_known = true;
                        return 0;
                }
        snprintf(path, sizeof path, "/repos/%s/pulls/%lld", repo, r->pr);
        o = get(c, path, NULL, 0, &status, err, errlen);
        if (!o)
                return status == 404 ? 0 : -EIO;     /* gone from view: its trust stays unknown */
        if (route_parse_pull(o, r) < 0)
                snprintf(err, errlen, "GET %s: no author or association in the answer", path);
        json_object_put(o);
        return r->pr_known ? 0 : -EPROTO;
}

static int page(struct gh_client *c, const char *repo, struct json_object *o, struct slo_input *in, size_t *cap,
                size_t *trusted, char *err, size_t errlen) {
        struct json_object *runs;
        int r;

        if (!json_object_object_get_ex(o, "workflow_runs", &runs) || !json_object_is_type(runs, json_type_array))
                return snprintf(err, errlen, "GitHub's run listing has no workflow_runs"), -EPROTO;
        for (size_t i = 0; i < json_object_array_length(runs); i++) {
                struct slo_run *run;

                if (grow((void **) &in->runs, in->n_runs, cap, sizeof *in->runs) < 0)
                        return snprintf(err, errlen, "out of memory"), -ENOMEM;
                run = &in->runs[in->n_runs];
                if (route_parse_run(json_object_array_get_idx(runs, i), run) < 0)
                        continue;
                in->n_runs++;
                if (run->same_repo && run->pr && !run->actor_bot && (r = pull(c, repo, in, run, err, errlen)) < 0)
                        return r;
                *trusted += slo_classify(run) == SLO_TRUSTED;
        }
        return 0;
}

/* Keep the latest LAST trusted runs and the untrusted ones made since the
 * oldest of them; drop the rest (their jobs are not read). */
static void keep_window(struct slo_input *in, unsigned last) {
        size_t trusted = 0, kept = 0, n = 0;
        time_t oldest = 0;

        for (size_t i = 0; i < in->n_runs && trusted < last; i++)
                if (slo_classify(&in->runs[i]) == SLO_TRUSTED)
                        trusted++, oldest = in->runs[i].created;
        for (size_t i = 0; i < in->n_runs; i++) {
                enum slo_trust t = slo_classify(&in->runs[i]);
                bool keep = t == SLO_TRUSTED ? kept++ < last : trusted < last || in->runs[i].created >= oldest;

                if (keep && t != SLO_NOT_PULL_REQUEST)
                        in->runs[n++] = in->runs[i];
        }
        in->n_runs = n;
}

static int jobs(struct gh_client *c, const char *repo, const struct route_settings *rs, struct slo_input *in,
                size_t *cap, struct slo_run *run, char *err, size_t errlen) {
        struct json_object *items;
        char path[512];
        int r;

        snprintf(path, sizeof path, "/repos/%s/actions/runs/%lld/jobs", repo, run->id);
        r = gh_get_items(c, path, "jobs", &items, err, errlen);
        if (r < 0)
                return r;
        run->job0 = in->n_jobs;
        for (size_t i = 0; i < json_object_array_length(items) && i < JOBS_PER_RUN_MAX; i++) {
                if (grow((void **) &in->jobs, in->n_jobs, cap, sizeof *in->jobs) < 0) {
                        json_object_put(items);
                        return snprintf(err, errlen, "out of memory"), -ENOMEM;
                }
                if (route_parse_job(json_object_array_get_idx(items, i), rs->labels, rs->n_labels, &in->jobs[in->n_jobs]) ==
                    0)
                        in->n_jobs++;
        }
        run->n_jobs = in->n_jobs - run->job0;
        run->jobs_known = true;
        json_object_put(items);
        return 0;
}

int route_gather(struct gh_client *c, const char *repo, unsigned last, const struct route_settings *rs, time_t now,
                 struct slo_input *ret, char *err, size_t errlen) {
        struct slo_input in = { .now = now };
        size_t cap_runs = 0, cap_jobs = 0, trusted = 0;
        char next[2048];
        int r = 0;

        snprintf(next, sizeof next, "/repos/%s/actions/runs?event=pull_request&per_page=100", repo);
        for (int p = 0; p < PAGES_MAX && trusted < last; p++) {
                struct json_object *o;
                long status = 0;
                char link[2048];

                o = get(c, next, link, sizeof link, &status, err, errlen);
                if (!o) {
                        r = status == 404 ? -ENOENT : -EIO;
                        break;
                }
                r = page(c, repo, o, &in, &cap_runs, &trusted, err, errlen);
                json_object_put(o);
                if (r < 0)
                        break;
                r = gh_link_next(link, next, sizeof next);
                if (r < 0)
                        snprintf(err, errlen, "GitHub's Link header does not parse");
                if (r <= 0)
                        break;
                r = 0;
        }
        if (r >= 0) {
                keep_window(&in, last);
                for (size_t i = 0; i < in.n_runs && r >= 0; i++)
                        r = jobs(c, repo, rs, &in, &cap_jobs, &in.runs[i], err, errlen);
        }
        if (r < 0) {
                route_input_free(&in);
                return r;
        }
        *ret = in;
        return 0;
}
