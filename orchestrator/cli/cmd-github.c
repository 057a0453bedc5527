/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl github runners | jobs | rate-limit: read-only views of GitHub
 * through the client, for operators and for the tests against the double. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gh-client.h"
#include "gh-wire.h"
#include "cli.h"
#include "macro.h"
#include "proto-time.h"
#include "settings.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

#define JOBS_LIMIT_DEFAULT 20
#define JOBS_LIMIT_MAX 100

struct opts {
        const char *repo, *org, *name, *status;
        unsigned limit;      /* jobs: runs read per status, newest first */
        bool json, debug, stats;
};

static void usage(void) {
        fprintf(stderr, "usage: lanectl github runners (--repo OWNER/NAME | --org ORG) [--name NAME]\n"
                        "       lanectl github jobs --repo OWNER/NAME [--status queued|in_progress|...] [--limit N]\n"
                        "         (default: the queued and in-progress runs; at most N runs of each, newest first,\n"
                        "          N 1 to 100, default 20)\n"
                        "       lanectl github rate-limit\n"
                        "  options: [--output text|json] [--debug] [--stats]\n");
}

static void print_json(struct json_object *o) {
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int scope_of(const struct opts *o, char *buf, size_t size) {
        const char *reason;

        if (!!o->repo == !!o->org) {
                fprintf(stderr, "lanectl github: give one of --repo OWNER/NAME or --org ORG\n");
                return -EINVAL;
        }
        if (o->repo && proto_validate_repository(o->repo, &reason) < 0) {
                fprintf(stderr, "lanectl github: --repo %s\n", reason);
                return -EINVAL;
        }
        if (o->org && proto_validate_organisation(o->org, &reason) < 0) {
                fprintf(stderr, "lanectl github: --org %s\n", reason);
                return -EINVAL;
        }
        snprintf(buf, size, "%s/%s", o->repo ? "repos" : "orgs", o->repo ?: o->org);
        return 0;
}

static int runners(struct gh_client *c, const struct opts *o) {
        struct inventory inv;
        char scope[256], err[512];
        int r;

        if (scope_of(o, scope, sizeof scope) < 0)
                return EXIT_USAGE;
        r = gh_list_runners(c, scope, o->name, &inv, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "lanectl github runners: %s\n", err);
                return r == -EINVAL && o->name && !strstr(err, "JSON") ? EXIT_USAGE :
                       r == -ENOENT || r == -EACCES ? EXIT_FAILED : EXIT_UNAVAILABLE;
        }
        if (o->json) {
                struct json_object *out = json_object_new_object(), *list = json_object_new_array();

                json_object_object_add(out, "schema", json_object_new_string("lanekeeper.github-runners/1"));
                json_object_object_add(out, "scope", json_object_new_string(scope));
                for (size_t i = 0; i < inv.n; i++) {
                        const struct inventory_runner *ir = &inv.runners[i];
                        struct json_object *j, *labels = json_object_new_array();

                        if (o->name && strcasecmp(ir->name, o->name) != 0)
                                continue;
                        j = json_object_new_object();
                        json_object_object_add(j, "id", json_object_new_int64(ir->id));
                        json_object_object_add(j, "name", json_object_new_string(ir->name));
                        json_object_object_add(j, "status", json_object_new_string(ir->online ? "online" : "offline"));
                        json_object_object_add(j, "busy", json_object_new_boolean(ir->busy));
                        for (unsigned k = 0; k < ir->n_labels; k++)
                                json_object_array_add(labels, json_object_new_string(inventory_label(&inv, ir, k)));
                        json_object_object_add(j, "labels", labels);
                        json_object_array_add(list, j);
                }
                json_object_object_add(out, "runners", list);
                print_json(out);
                json_object_put(out);
        } else {
                printf("%-10s %-32s %-8s %-5s %s\n", "ID", "NAME", "STATUS", "BUSY", "LABELS");
                for (size_t i = 0; i < inv.n; i++) {
                        const struct inventory_runner *ir = &inv.runners[i];

                        if (o->name && strcasecmp(ir->name, o->name) != 0)
                                continue;
                        printf("%-10lld %-32s %-8s %-5s ", ir->id, ir->name, ir->online ? "online" : "offline",
                               ir->busy ? "yes" : "no");
                        for (unsigned k = 0; k < ir->n_labels; k++)
                                printf("%s%s", k ? "," : "", inventory_label(&inv, ir, k));
                        printf("\n");
                }
        }
        inventory_free(&inv);
        return EXIT_OK;
}

static const char *str(struct json_object *o, const char *key) {
        struct json_object *m;

        return json_object_object_get_ex(o, key, &m) && json_object_is_type(m, json_type_string) ?
                       json_object_get_string(m) : NULL;
}

/* The newest runs of STATUS (at most o->limit): one page, one request. */
static int runs_page(struct gh_client *c, const struct opts *o, const char *status, struct json_object **ret) {
        struct gh_response resp;
        char path[512], err[512];
        int r;

        snprintf(path, sizeof path, "/repos/%s/actions/runs?per_page=%u&status=%s", o->repo, o->limit, status);
        r = gh_request(c, "GET", path, NULL, &resp, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "lanectl github jobs: %s\n", err);
                return EXIT_UNAVAILABLE;
        }
        if (resp.status != 200) {
                gh_describe_error(&resp, err, sizeof err);
                fprintf(stderr, "lanectl github jobs: GET %s: %s\n", path, err);
                gh_response_free(&resp);
                return EXIT_FAILED;
        }
        *ret = gh_pages_items(resp.body, resp.len, "workflow_runs");
        gh_response_free(&resp);
        if (!*ret) {
                fprintf(stderr, "lanectl github jobs: GitHub's run list does not parse\n");
                return EXIT_FAILED;
        }
        return EXIT_OK;
}

/* The jobs of RUNS into OUT: one (paged) request per run. */
static int run_jobs(struct gh_client *c, const struct opts *o, struct json_object *runs, struct json_object *out) {
        char path[512], err[512], *text = NULL;
        size_t len;

        for (size_t i = 0; i < json_object_array_length(runs) && i < o->limit; i++) {
                struct json_object *run = json_object_array_get_idx(runs, i), *id, *jl;

                if (!json_object_object_get_ex(run, "id", &id))
                        continue;
                snprintf(path, sizeof path, "/repos/%s/actions/runs/%lld/jobs", o->repo, (long long) json_object_get_int64(id));
                if (gh_get_pages(c, path, &text, &len, err, sizeof err) < 0) {
                        fprintf(stderr, "lanectl github jobs: %s\n", err);
                        return EXIT_UNAVAILABLE;
                }
                jl = gh_pages_items(text, len, "jobs");
                free(text);
                for (size_t k = 0; jl && k < json_object_array_length(jl); k++)
                        json_object_array_add(out, json_object_get(json_object_array_get_idx(jl, k)));
                json_object_put(jl);
        }
        return EXIT_OK;
}

/* The jobs of the newest runs of --status, or of the queued and the
 * in-progress runs: bounded, never the whole run history. */
static int fetch_jobs(struct gh_client *c, const struct opts *o, struct json_object *out) {
        const char *statuses[] = { o->status ?: "queued", o->status ? NULL : "in_progress" };
        int r = EXIT_OK;

        for (size_t i = 0; i < ELEMENTSOF(statuses) && statuses[i] && r == EXIT_OK; i++) {
                struct json_object *runs = NULL;

                r = runs_page(c, o, statuses[i], &runs);
                if (r == EXIT_OK)
                        r = run_jobs(c, o, runs, out);
                json_object_put(runs);
        }
        return r;
}

/* One job as a row: how long it waited (or has been waiting) for a runner. */
static void print_job(struct json_object *j, time_t now) {
        struct json_object *v, *labels;
        const char *created = str(j, "created_at"), *started = str(j, "started_at");
        time_t tc = 0, ts = 0;
        char waited[24] = "-";

        if (created && gh_parse_timestamp(created, &tc) == 0) {
                if (started && gh_parse_timestamp(started, &ts) == 0 && strcmp(str(j, "status") ?: "", "queued"))
                        snprintf(waited, sizeof waited, "%llds", (long long) (ts - tc));
                else   /* GitHub's clock and ours agree to the second at best: never below 0 */
                        snprintf(waited, sizeof waited, "%llds+", (long long) (now > tc ? now - tc : 0));
        }
        printf("%-12lld ", json_object_object_get_ex(j, "id", &v) ? (long long) json_object_get_int64(v) : 0);
        printf("%-12lld ", json_object_object_get_ex(j, "run_id", &v) ? (long long) json_object_get_int64(v) : 0);
        printf("%-12s %-24s %-8s ", str(j, "status") ?: "-", str(j, "runner_name") ?: "-", waited);
        if (json_object_object_get_ex(j, "labels", &labels) && json_object_is_type(labels, json_type_array))
                for (size_t l = 0; l < json_object_array_length(labels); l++)
                        printf("%s%s", l ? "," : "", json_object_get_string(json_object_array_get_idx(labels, l)));
        printf("\n");
}

static void json_object_putp(struct json_object **o) {
        json_object_put(*o);
}

static int jobs(struct gh_client *c, const struct opts *o) {
        static const char *const statuses[] = { "queued", "in_progress", "completed", "waiting", "requested", "pending",
                                                "action_required", "cancelled", "failure", "neutral", "skipped",
                                                "stale", "success", "timed_out" };
        _cleanup_(json_object_putp) struct json_object *out = NULL;
        char path[512];
        bool known = !o->status;
        time_t now = time(NULL);
        long long offset;
        int r;

        if (!o->repo || o->org) {
                fprintf(stderr, "lanectl github jobs: give --repo OWNER/NAME\n");
                return EXIT_USAGE;
        }
        for (size_t i = 0; o->status && i < ELEMENTSOF(statuses); i++)
                known |= strcmp(o->status, statuses[i]) == 0;
        if (!known || scope_of(o, path, sizeof path) < 0) {
                if (!known)
                        fprintf(stderr, "lanectl github jobs: --status %s is not a workflow run status\n", o->status);
                return EXIT_USAGE;
        }
        out = json_object_new_array();
        r = fetch_jobs(c, o, out);
        if (r != EXIT_OK)
                return r;
        if (gh_clock_offset(c, &offset))
                now += offset;
        if (o->json) {
                struct json_object *doc = json_object_new_object();

                json_object_object_add(doc, "schema", json_object_new_string("lanekeeper.github-jobs/1"));
                json_object_object_add(doc, "repository", json_object_new_string(o->repo));
                json_object_object_add(doc, "jobs", json_object_get(out));
                print_json(doc);
                json_object_put(doc);
                return EXIT_OK;
        }
        printf("%-12s %-12s %-12s %-24s %-8s %s\n", "JOB", "RUN", "STATUS", "RUNNER", "WAITED", "LABELS");
        for (size_t k = 0; k < json_object_array_length(out); k++)
                print_job(json_object_array_get_idx(out, k), now);
        return EXIT_OK;
}

static int rate_limit(struct gh_client *c, const struct opts *o) {
        struct gh_response r;
        struct json_object *doc, *res;
        char err[512];

        if (gh_request(c, "GET", "/rate_limit", NULL, &r, err, sizeof err) < 0) {
                fprintf(stderr, "lanectl github rate-limit: %s\n", err);
                return EXIT_UNAVAILABLE;
        }
        if (r.status != 200 || !(doc = json_tokener_parse(r.body ?: "")) ||
            !json_object_object_get_ex(doc, "resources", &res)) {
                gh_describe_error(&r, err, sizeof err);
                fprintf(stderr, "lanectl github rate-limit: %s\n", err);
                gh_response_free(&r);
                return EXIT_FAILED;
        }
        gh_response_free(&r);
        if (o->json) {
                struct json_object *out = json_object_new_object();

                json_object_object_add(out, "schema", json_object_new_string("lanekeeper.github-rate-limit/1"));
                json_object_object_add(out, "resources", json_object_get(res));
                print_json(out);
                json_object_put(out);
        } else {
                printf("%-28s %8s %10s %8s %s\n", "RESOURCE", "LIMIT", "REMAINING", "USED", "RESET");
                json_object_object_foreach(res, name, v) {
                        struct json_object *f;
                        long long lim = 0, rem = 0, used = 0, reset = 0;
                        char when[32] = "-";

                        if (json_object_object_get_ex(v, "limit", &f))
                                lim = json_object_get_int64(f);
                        if (json_object_object_get_ex(v, "remaining", &f))
                                rem = json_object_get_int64(f);
                        if (json_object_object_get_ex(v, "used", &f))
                                used = json_object_get_int64(f);
                        if (json_object_object_get_ex(v, "reset", &f))
                                reset = json_object_get_int64(f);
                        if (reset)
                                proto_utc_iso((time_t) reset, when, sizeof when);
                        printf("%-28s %8lld %10lld %8lld %s\n", name, lim, rem, used, when);
                }
        }
        json_object_put(doc);
        return EXIT_OK;
}

static int parse_opts(int argc, char **argv, struct opts *o) {
        static const struct option options[] = {
                { "repo", required_argument, NULL, 'r' },
                { "org", required_argument, NULL, 'g' },
                { "name", required_argument, NULL, 'n' },
                { "status", required_argument, NULL, 's' },
                { "output", required_argument, NULL, 'o' },
                { "debug", no_argument, NULL, 'd' },
                { "stats", no_argument, NULL, 'S' },
                { "limit", required_argument, NULL, 'l' },
                {}
        };
        char *end;
        int ch;

        optind = 0;
        while ((ch = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (ch) {
                case 'r':
                        o->repo = optarg;
                        break;
                case 'g':
                        o->org = optarg;
                        break;
                case 'n':
                        o->name = optarg;
                        break;
                case 's':
                        o->status = optarg;
                        break;
                case 'o':
                        if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
                                fprintf(stderr, "lanectl github: --output is text or json\n");
                                return -EINVAL;
                        }
                        o->json = strcmp(optarg, "json") == 0;
                        break;
                case 'd':
                        o->debug = true;
                        break;
                case 'S':
                        o->stats = true;
                        break;
                case 'l':
                        errno = 0;
                        o->limit = (unsigned) strtoul(optarg, &end, 10);
                        if (errno || *end || o->limit < 1 || o->limit > JOBS_LIMIT_MAX) {
                                fprintf(stderr, "lanectl github: --limit is 1 to %d runs\n", JOBS_LIMIT_MAX);
                                return -EINVAL;
                        }
                        break;
                default:
                        usage();
                        return -EINVAL;
                }
        return 0;
}

int cmd_github(struct cli *cli, int argc, char **argv) {
        struct opts o = { .limit = JOBS_LIMIT_DEFAULT };
        const struct settings *s;
        struct gh_client *c = NULL;
        char cache[PROTO_PATH_MAX + 32], err[512];
        const char *verb;
        int ret;

        if (parse_opts(argc, argv, &o) < 0)
                return EXIT_USAGE;
        if (optind + 1 != argc) {
                usage();
                return EXIT_USAGE;
        }
        verb = argv[optind];
        if (strcmp(verb, "runners") && strcmp(verb, "jobs") && strcmp(verb, "rate-limit")) {
                usage();
                return EXIT_USAGE;
        }
        if (cli_settings(cli, &s) < 0)
                return EXIT_USAGE;
        (void) mkdir(s->store_dir, 0750);
        snprintf(cache, sizeof cache, "%s/github-cache", s->store_dir);
        if (gh_client_new(s, cache, &c, err, sizeof err) < 0) {
                fprintf(stderr, "lanectl github: %s\n", err);
                return EXIT_UNAVAILABLE;
        }
        gh_client_set_debug(c, o.debug);
        if (strcmp(verb, "runners") == 0)
                ret = runners(c, &o);
        else if (strcmp(verb, "jobs") == 0)
                ret = jobs(c, &o);
        else
                ret = rate_limit(c, &o);
        if (o.stats) {
                struct gh_stats st;

                gh_stats(c, &st);
                fprintf(stderr, "github: %lu requests, %lu not modified, %lu retries, %lld rate-limit units, "
                                "%lu installation tokens\n", st.requests, st.not_modified, st.retries, st.units, st.tokens);
        }
        gh_client_free(c);
        return ret;
}
