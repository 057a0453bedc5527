/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl smoke LANE|--pool POOL [--repo OWNER/REPO]... [--workflow FILE]
 * [--ref REF] [--deadline DURATION] [--output json]; lanectl smoke
 * --print-workflow. A lane proved by a real job (smoke.h): each
 * repository's smoke audited (planned, then completed or failed with the
 * run, commit, job, runner and timings). Exit 0 every smoke passed, 1 one
 * did not, 2 usage, 3 GitHub or the store could not be reached. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "cli.h"
#include "gh-client.h"
#include "inventory.h"
#include "pool-file.h"
#include "cli-smoke.h"

static void usage(void) {
        fputs("usage: lanectl smoke LANE|--pool POOL [--repo OWNER/REPO]... [--workflow FILE] [--ref REF]\n"
              "                     [--deadline DURATION] [--output text|json]\n"
              "       lanectl smoke LANE --negative [--repo OWNER/REPO]... [--workflow FILE] [--ref REF]\n"
              "       lanectl smoke --print-workflow\n", stderr);
}

static int parse(struct smoke_cmd *c, int argc, char **argv) {
        static const struct option opts[] = {
                { "pool", required_argument, NULL, 'P' }, { "repo", required_argument, NULL, 'r' },
                { "workflow", required_argument, NULL, 'w' }, { "ref", required_argument, NULL, 'f' },
                { "deadline", required_argument, NULL, 't' }, { "output", required_argument, NULL, 'o' },
                { "print-workflow", no_argument, NULL, 'W' }, { "policy", required_argument, NULL, 'p' },
                { "lanes-dir", required_argument, NULL, 'd' }, { "pools-dir", required_argument, NULL, 'D' },
                { "negative", no_argument, NULL, 'N' }, {},
        };
        const char *why;
        int opt, k;

        optind = 0;     /* 0: getopt starts afresh (lanectl.c scanned with "+") */
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if ((k = cli_common_option(opt, optarg, &c->json, &c->policy, &c->lanes_dir)) != 0) {
                        if (k < 0)
                                return -EINVAL;
                } else if (opt == 'P')
                        c->pool = optarg;
                else if (opt == 'r') {
                        if (proto_validate_repository(optarg, &why) < 0)
                                return fprintf(stderr, "lanectl smoke: '%s' is not a repository (OWNER/NAME): %s\n", optarg,
                                               why), -EINVAL;
                        if (c->n_repos == SMOKE_REPOS_MAX)
                                return fprintf(stderr, "lanectl smoke: at most %d repositories\n", SMOKE_REPOS_MAX), -EINVAL;
                        snprintf(c->repos[c->n_repos++], REPO_BUF, "%s", optarg);
                } else if (opt == 'w')
                        c->workflow = optarg;
                else if (opt == 'f')
                        c->ref = optarg;
                else if (opt == 't') {
                        if (cli_parse_duration(optarg, 6 * 3600, &c->deadline_s) < 0 || c->deadline_s < 10)
                                return fprintf(stderr, "lanectl smoke: --deadline must be from 10s to 6h\n"), -EINVAL;
                } else if (opt == 'W')
                        c->print = true;
                else if (opt == 'D')
                        c->pools_dir = optarg;
                else if (opt == 'N')
                        c->negative = true;
                else
                        return -EINVAL;
        }
        if (optind < argc)
                c->name = argv[optind++];
        if (c->print)
                return optind == argc && !c->name && !c->pool ? 0 : -EINVAL;
        if (optind != argc || !c->name == !c->pool || (c->negative && (c->pool || c->json)))
                return -EINVAL;
        if (c->workflow && (!c->workflow[0] || strpbrk(c->workflow, "/?#% ")))
                return fprintf(stderr, "lanectl smoke: --workflow is a file name in .github/workflows or an id\n"), -EINVAL;
        return 0;
}

/* The lane (or pool) named: its labels, scope and repository into C. */
static int target(struct smoke_cmd *c) {
        const struct lane_desired *d = NULL;
        _cleanup_(freep) struct pool_desired *pools = NULL;
        _cleanup_(freep) struct lane_entry *e = calloc(1, sizeof *e);
        size_t n = 0;

        if (!e)
                return -ENOMEM;
        if (c->pool) {
                const char *dir = c->pools_dir ?: getenv("LANEKEEPER_POOLS_DIR") ?: c->x.s->pools_dir;

                if (cli_load_pools(dir, &c->x.hp, stderr, &pools, &n) < 0)
                        return -EINVAL;
                for (size_t i = 0; i < n && !d; i++)
                        if (strcasecmp(pools[i].lane.name, c->pool) == 0)
                                d = &pools[i].lane, c->e.pool_max = pools[i].max;
        } else
                for (size_t i = 0; i < c->x.n_files && !d; i++) {
                        snprintf(e->path, sizeof e->path, "%s", c->x.files[i].path);
                        if (lane_entry_load(e, stderr) && strcasecmp(e->lane.name, c->name) == 0)
                                d = &e->lane;
                }
        if (!d)
                return fprintf(stderr, "lanectl smoke: no valid %s file names %s '%s'\n", c->pool ? "pool" : "lane",
                               c->pool ? "pool" : "lane", c->pool ?: c->name), -ENOENT;
        snprintf(c->e.name, sizeof c->e.name, "%s", d->name);
        c->e.pool = c->pool != NULL;
        memcpy(c->e.labels, d->labels, sizeof c->e.labels);
        c->e.n_labels = d->n_labels;
        snprintf(c->repository, sizeof c->repository, "%s", d->repository);
        snprintf(c->scope, sizeof c->scope, "%s/%s", d->repository[0] ? "repos" : "orgs",
                 d->repository[0] ? d->repository : d->organisation);
        if (c->n_repos == 0 && !d->repository[0])
                return fprintf(stderr, "lanectl smoke: %s serves the organisation %s: name the repositories (--repo)\n",
                               d->name, d->organisation), -EINVAL;
        if (c->n_repos == 0)
                snprintf(c->repos[c->n_repos++], REPO_BUF, "%s", d->repository);
        for (size_t i = 0; i < c->n_repos; i++)
                if (!lane_serves_repository(d, c->repos[i]))
                        return fprintf(stderr, "lanectl smoke: %s does not serve %s\n", d->name, c->repos[i]), -EINVAL;
        return 0;
}

/* The lane's runner on GitHub (its id); a pool's slots are judged by name. */
static int runner_of(struct smoke_cmd *c) {
        struct inventory inv = {};
        char err[512] = "";
        int r;

        if (c->e.pool)
                return 0;
        r = gh_list_runners(c->x.real.gh, c->scope, c->e.name, &inv, err, sizeof err);
        for (size_t i = 0; r == 0 && i < inv.n; i++)
                if (strcasecmp(inv.runners[i].name, c->e.name) == 0)
                        c->e.runner_id = inv.runners[i].id;
        inventory_free(&inv);
        if (r < 0)
                return fprintf(stderr, "lanectl smoke: the runners of %s cannot be read: %s\n", c->scope, err), -EIO;
        if (!c->e.runner_id)
                return fprintf(stderr, "lanectl smoke: lane %s has no runner on GitHub (apply it first)\n", c->e.name),
                       -ENOENT;
        return 0;
}

static int record(struct smoke_cmd *c, const char *status, const char *repo, struct json_object *body) {
        struct json_object *rec = body ?: json_object_new_object();
        int r;

        json_object_object_add(rec, c->e.pool ? "pool" : "lane", json_object_new_string(c->e.name));
        if (!body)
                json_object_object_add(rec, "repository", json_object_new_string(repo));
        r = audit_append_command(&c->x.store, status, c->x.host, "smoke", rec, NULL);
        if (r < 0)
                fprintf(stderr, "lanectl smoke: the audit record could not be written: %s\n", strerror(-r));
        return r;
}

static void print_text(const struct smoke_cmd *c, const struct smoke_result *r) {
        printf("%s %s: %s: %s", c->e.pool ? "pool" : "lane", c->e.name, r->repo, r->passed ? "PASS" : "FAIL");
        if (r->run_id)
                printf("  run %lld (%s)", r->run_id, r->html_url[0] ? r->html_url : r->run_url);
        if (r->sha[0])
                printf(", commit %.12s", r->sha);
        if (r->have_job && r->job.runner_name[0])
                printf(", job %lld on runner %s (id %lld)", r->job.id, r->job.runner_name, r->job.runner_id);
        if (r->queue_wait_s >= 0)
                printf(": queue wait %lld s, setup %lld s, duration %lld s", r->queue_wait_s, r->setup_s, r->duration_s);
        printf("\n");
        if (!r->passed)
                printf("  %s\n", r->reason);
}

/* Every repository's smoke: 0 all passed, 1 one did not, 3 GitHub. */
static int run_all(struct smoke_cmd *c) {
        char err[600];
        int ret = 0;

        for (size_t i = 0; i < c->n_repos; i++) {
                struct smoke_result *r = &c->res[i];
                int k;

                if (smoke_nonce(&c->e) < 0 || record(c, "planned", c->repos[i], NULL) < 0)
                        return 3;
                err[0] = '\0';
                k = smoke_run(c->x.real.gh, c->repos[i], c->workflow ?: SMOKE_WORKFLOW_DEFAULT, c->ref, &c->e,
                              c->deadline_s, r, err, sizeof err);
                if (k < 0 && !r->reason[0])
                        snprintf(r->reason, sizeof r->reason, "GitHub: %s", err);
                if (record(c, r->passed ? "completed" : "failed", NULL, cli_smoke_json(c->workflow, r)) < 0)
                        return 3;
                if (!c->json)
                        print_text(c, r);
                ret = k < 0 ? 3 : ret ? ret : !r->passed;
        }
        return ret;
}

static void print_json(struct smoke_cmd *c) {
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        bool all = true;

        for (size_t i = 0; i < c->n_repos; i++) {
                json_object_array_add(a, cli_smoke_json(c->workflow, &c->res[i]));
                all = all && c->res[i].passed;
        }
        json_object_object_add(o, c->e.pool ? "pool" : "lane", json_object_new_string(c->e.name));
        json_object_object_add(o, "passed", json_object_new_boolean(all));
        json_object_object_add(o, "smokes", a);
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

int cmd_smoke(struct cli *cli, int argc, char **argv) {
        _cleanup_(freep) struct smoke_cmd *c = calloc(1, sizeof *c);
        int ret = 3;

        if (!c)
                return 3;
        c->deadline_s = SMOKE_DEADLINE_DEFAULT_S;
        c->cli = cli;
        cli_exec_init(&c->x);
        if (parse(c, argc, argv) < 0)
                return usage(), 2;
        c->workflow = c->workflow ?: SMOKE_WORKFLOW_DEFAULT;
        if (c->print)
                return fputs(smoke_workflow(), stdout) == EOF ? 3 : 0;
        if (cli_exec_open(cli, &c->x, c->policy, c->lanes_dir, "smoke") < 0)
                goto out;
        if (target(c) < 0) {
                ret = 2;
                goto out;
        }
        if (!c->x.real.gh) {
                fprintf(stderr, "lanectl smoke: GitHub: %s\n", c->x.real.gh_problem);
                goto out;
        }
        if ((ret = runner_of(c)) < 0) {
                ret = ret == -ENOENT ? 1 : 3;
                goto out;
        }
        ret = c->negative ? smoke_negative(c) : run_all(c);
        if (c->json && ret != 3)
                print_json(c);
out:
        cli_exec_close(&c->x);
        return ret;
}
