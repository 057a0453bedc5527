/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl slo --repo OWNER/REPO [--last N] [--output json]: the field's
 * four success criteria over the latest N trusted pull-request runs, each
 * beside its threshold, with the runs behind it (lanectl(1)). Reads only:
 * GitHub, and the routing record for what routing was when each run was
 * made. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-route.h"
#include "gh-client.h"
#include "proto-time.h"
#include "route.h"

enum { EXIT_PASS = 0, EXIT_NOT_PASSED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

static void usage(void) {
        fprintf(stderr, "usage: lanectl slo --repo OWNER/REPO [--last N] [--output json]\n");
}

static const struct {
        const char *key, *title, *unit, *cmp;
        size_t offset;
} criteria[] = {
        { "lifecycle", "runner lifecycle success", "%", ">=", offsetof(struct slo_report, lifecycle) },
        { "routing", "routing correctness", "%", ">=", offsetof(struct slo_report, routing) },
        { "queue_wait_p95", "p95 queue wait", "s", "<=", offsetof(struct slo_report, queue_wait) },
        { "setup_p95", "p95 setup latency", "s", "<=", offsetof(struct slo_report, setup) },
};

static const struct slo_figure *figure(const struct slo_report *rep, size_t k) {
        return (const struct slo_figure *) ((const char *) rep + criteria[k].offset);
}

/* Whether run I counts toward criterion K. */
static bool behind(const struct slo_run_view *v, size_t k) {
        return k == 0 ? v->counted_life : k == 1 ? v->routing_ok >= 0 : k == 2 ? v->counted_wait : v->counted_setup;
}

static void print_text(const char *repo, const struct slo_input *in, const struct slo_report *rep, bool assumed) {
        printf("SLO of %s: the latest %u trusted pull-request runs (%zu found), %zu untrusted beside them\n", repo,
               rep->last, rep->n_trusted, rep->n_untrusted);
        if (assumed)
                printf("routing: no history in the store; the variable's value now is taken for every run\n");
        printf("%-26s %10s %12s  %-8s %5s %5s\n", "CRITERION", "VALUE", "THRESHOLD", "VERDICT", "RUNS", "JOBS");
        for (size_t k = 0; k < sizeof criteria / sizeof criteria[0]; k++) {
                const struct slo_figure *f = figure(rep, k);
                char value[32], threshold[32];

                if (f->verdict == SLO_NO_DATA)
                        snprintf(value, sizeof value, "-");
                else
                        snprintf(value, sizeof value, "%.1f %s", f->value, criteria[k].unit);
                snprintf(threshold, sizeof threshold, "%s %.0f %s", criteria[k].cmp, f->threshold, criteria[k].unit);
                printf("%-26s %10s %12s  %-8s %5zu %5zu\n", criteria[k].title, value, threshold,
                       slo_verdict_to_string(f->verdict), f->n_runs, f->n_jobs);
        }
        if (rep->n_pending)
                printf("%zu self-hosted jobs not begun or ended yet are not counted in the lifecycle figure\n",
                       rep->n_pending);
        for (size_t i = 0; i < in->n_runs; i++)
                if (rep->views[i].in_window && rep->views[i].routing_ok == 0)
                        printf("routing mismatch: run %lld (%s, %s) went to %s labels: %s\n", in->runs[i].id,
                               slo_trust_to_string(rep->views[i].trust), in->runs[i].author,
                               slo_route_to_string(rep->views[i].route), in->runs[i].url);
        printf("verdict: %s\n", slo_verdict_to_string(rep->verdict));
}

static struct json_object *run_json(const struct slo_run *r, const struct slo_run_view *v) {
        struct json_object *o = json_object_new_object();
        char when[32];

        proto_utc_iso(r->created, when, sizeof when);
        json_object_object_add(o, "id", json_object_new_int64(r->id));
        json_object_object_add(o, "url", json_object_new_string(r->url));
        json_object_object_add(o, "created_at", json_object_new_string(when));
        json_object_object_add(o, "status", json_object_new_string(r->status));
        json_object_object_add(o, "pull_request", r->pr ? json_object_new_int64(r->pr) : NULL);
        json_object_object_add(o, "author", json_object_new_string(r->author));
        json_object_object_add(o, "author_association", json_object_new_string(r->association));
        json_object_object_add(o, "same_repository", json_object_new_boolean(r->same_repo));
        json_object_object_add(o, "trust", json_object_new_string(slo_trust_to_string(v->trust)));
        json_object_object_add(o, "route", json_object_new_string(slo_route_to_string(v->route)));
        json_object_object_add(o, "routing_expected", json_object_new_string(
                                       v->trust != SLO_TRUSTED ? "hosted" : r->expect_self_hosted < 0 ? "unknown" :
                                       r->expect_self_hosted ? "self-hosted" : "hosted"));
        json_object_object_add(o, "routing_ok", v->routing_ok < 0 ? NULL : json_object_new_boolean(v->routing_ok));
        json_object_object_add(o, "lifecycle", json_object_new_string(slo_life_to_string(v->life)));
        json_object_object_add(o, "in_window", json_object_new_boolean(v->in_window));
        return o;
}

static void print_json(const char *repo, const struct slo_input *in, const struct slo_report *rep, bool assumed) {
        struct json_object *o = json_object_new_object(), *crit = json_object_new_object(), *runs = json_object_new_array();

        json_object_object_add(o, "repository", json_object_new_string(repo));
        json_object_object_add(o, "last", json_object_new_int((int) rep->last));
        json_object_object_add(o, "trusted_runs", json_object_new_int64((int64_t) rep->n_trusted));
        json_object_object_add(o, "untrusted_runs", json_object_new_int64((int64_t) rep->n_untrusted));
        json_object_object_add(o, "pending_jobs", json_object_new_int64((int64_t) rep->n_pending));
        json_object_object_add(o, "percentile_method", json_object_new_string("nearest-rank"));
        json_object_object_add(o, "routing_assumed", json_object_new_boolean(assumed));
        for (size_t k = 0; k < sizeof criteria / sizeof criteria[0]; k++) {
                const struct slo_figure *f = figure(rep, k);
                struct json_object *c = json_object_new_object(), *ids = json_object_new_array();

                json_object_object_add(c, "value", f->verdict == SLO_NO_DATA ? NULL : json_object_new_double(f->value));
                json_object_object_add(c, "unit", json_object_new_string(criteria[k].unit));
                json_object_object_add(c, "threshold", json_object_new_double(f->threshold));
                json_object_object_add(c, "comparison", json_object_new_string(criteria[k].cmp));
                json_object_object_add(c, "verdict", json_object_new_string(slo_verdict_to_string(f->verdict)));
                json_object_object_add(c, "jobs", json_object_new_int64((int64_t) f->n_jobs));
                for (size_t i = 0; i < in->n_runs; i++)
                        if (rep->views[i].in_window && behind(&rep->views[i], k))
                                json_object_array_add(ids, json_object_new_int64(in->runs[i].id));
                json_object_object_add(c, "runs", ids);
                json_object_object_add(crit, criteria[k].key, c);
        }
        json_object_object_add(o, "criteria", crit);
        json_object_object_add(o, "verdict", json_object_new_string(slo_verdict_to_string(rep->verdict)));
        for (size_t i = 0; i < in->n_runs; i++)
                json_object_array_add(runs, run_json(&in->runs[i], &rep->views[i]));
        json_object_object_add(o, "runs", runs);
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

int cmd_slo(struct cli *cli, int argc, char **argv) {
        static const struct option opts[] = {
                { "repo", required_argument, NULL, 'r' },
                { "last", required_argument, NULL, 'n' },
                { "output", required_argument, NULL, 'o' },
                {},
        };
        struct route_ctx rc = {};
        struct slo_report rep = {};
        struct slo_thresholds th;
        const char *repo = NULL;
        unsigned long last = SLO_LAST_DEFAULT;
        bool json = false, assumed;
        char *end;
        int opt, r;

        optind = 0;     /* 0: getopt starts afresh (lanectl.c scanned with "+") */
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                if (opt == 'r')
                        repo = optarg;
                else if (opt == 'n' && (last = strtoul(optarg, &end, 10), *end || !last || last > SLO_LAST_MAX))
                        return fprintf(stderr, "lanectl slo: --last must be from 1 to %d\n", SLO_LAST_MAX), EXIT_USAGE;
                else if (opt == 'o' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "text") == 0))
                        json = strcmp(optarg, "json") == 0;
                else if (opt != 'n')
                        return usage(), EXIT_USAGE;
        if (!repo || optind != argc)
                return usage(), EXIT_USAGE;
        r = cli_route_open(cli, &rc, repo, "slo", false);
        if (r < 0) {
                cli_route_close(&rc);
                return r == -EINVAL ? EXIT_USAGE : EXIT_UNAVAILABLE;
        }
        assumed = !rc.had_history && rc.st.n_history == 1;
        if (assumed)
                rc.st.history[0].at = 0;                /* the value now, for every run */
        r = cli_route_gather(&rc, (unsigned) last, "slo");
        if (r >= 0) {
                route_thresholds(&rc.s->route, &th);
                rep.views = calloc(rc.in.n_runs ? rc.in.n_runs : 1, sizeof *rep.views);
                if (!rep.views)
                        r = -ENOMEM;
        }
        if (r >= 0) {
                slo_compute(&rc.in, (unsigned) last, &th, &rep);
                (json ? print_json : print_text)(rc.repo, &rc.in, &rep, assumed);
        }
        free(rep.views);
        cli_route_close(&rc);
        return r < 0 ? EXIT_UNAVAILABLE : rep.verdict == SLO_PASS ? EXIT_PASS : EXIT_NOT_PASSED;
}
