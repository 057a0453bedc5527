/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl cleanup-stale [--older-than DURATION] [--apply] [--output json]:
 * list every runner of the scopes this host manages (the policy's
 * repositories and organisations, and its lanes' scopes), note when each
 * was first seen offline (STORE/runner-sightings), and delete, with
 * --apply, those pool/stale.h calls stale. A dry run by default. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gh-client.h"
#include "inventory.h"
#include "macro.h"
#include "proto-time.h"
#include "settings.h"
#include "sightings.h"
#include "stale.h"

#define SCHEMA "lanekeeper.cleanup-stale/1"
#define DEFAULT_OLDER_THAN_S (24 * 3600)
#define MAX_SCOPES (2 * POLICY_MAX_ITEMS + 64)

struct cleanup {
        struct cli_exec x;
        const char *policy, *lanes_dir;
        unsigned older_than_s;
        bool apply, json, complete;
        size_t n_scopes;
        char scopes[MAX_SCOPES][CLI_SCOPE_MAX];
        size_t n, cap;
        struct stale_runner *v;
        char problem[512];
};

static void add_scope(struct cleanup *c, const char *kind, const char *name) {
        cli_add_scope(c->scopes, &c->n_scopes, MAX_SCOPES, kind, name);
}

static void lane_scopes(struct cleanup *c) {
        for (size_t i = 0; i < c->x.n_files; i++) {
                struct lane_entry e = {};
                FILE *devnull = fopen("/dev/null", "we");

                snprintf(e.path, sizeof e.path, "%s", c->x.files[i].path);
                if (devnull && lane_entry_load(&e, devnull))
                        add_scope(c, e.lane.repository[0] ? "repos" : "orgs",
                                  e.lane.repository[0] ? e.lane.repository : e.lane.organisation);
                if (devnull)
                        fclose(devnull);
        }
}

static struct stale_runner *grow(struct cleanup *c) {
        if (c->n == c->cap) {
                size_t cap = c->cap ? 2 * c->cap : 32;
                struct stale_runner *v = realloc(c->v, cap * sizeof *v);

                if (!v)
                        return NULL;
                c->v = v;
                c->cap = cap;
        }
        c->v[c->n] = (struct stale_runner) {};
        return &c->v[c->n++];
}

/* One scope's runners into C, each noted in S: 0 or -errno (problem said). */
static int list_scope(struct cleanup *c, const char *scope, struct sightings *s, time_t now) {
        struct inventory inv = {};
        char err[512];
        int r = gh_list_runners(c->x.real.gh, scope, NULL, &inv, err, sizeof err);

        if (r < 0)
                return snprintf(c->problem, sizeof c->problem, "listing the runners of %.150s: %.300s", scope, err), r;
        for (size_t i = 0; i < inv.n && r == 0; i++) {
                const struct inventory_runner *ir = &inv.runners[i];
                struct stale_runner *w = grow(c);

                if (!w) {
                        r = -ENOMEM;
                        break;
                }
                snprintf(w->scope, sizeof w->scope, "%s", scope);
                w->r = (struct gh_runner) { .id = ir->id, .online = ir->online, .busy = ir->busy };
                snprintf(w->r.name, sizeof w->r.name, "%s", ir->name);
                for (unsigned k = 0; k < ir->n_labels && k < GH_MAX_LABELS; k++)
                        snprintf(w->r.labels[w->r.n_labels++], sizeof w->r.labels[0], "%s", inventory_label(&inv, ir, k));
                w->offline_since = sightings_note(s, scope, ir->id, ir->online, now);
                if (w->offline_since == (time_t) -1)
                        r = -ENOMEM;
        }
        if (r == 0)
                sightings_forget_unseen(s, scope);
        inventory_free(&inv);
        return r;
}

/* Every scope listed and classified; the sightings saved. 0 or -errno. */
static int survey(struct cleanup *c, struct stale_rules *rules) {
        struct sightings s;
        _cleanup_(closep) int dirfd = open(c->x.s->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (dirfd < 0)
                return snprintf(c->problem, sizeof c->problem, "cannot open the store %.400s: %m", c->x.s->store_dir), -errno;
        r = sightings_load(dirfd, &s);
        if (r == -EBADMSG)
                fprintf(stderr, "lanectl cleanup-stale: %s/%s is damaged: counting offline time afresh from now\n",
                        c->x.s->store_dir, SIGHTINGS_FILE);
        else if (r < 0)
                return snprintf(c->problem, sizeof c->problem, "cannot read %s: %s", SIGHTINGS_FILE, strerror(-r)), r;
        c->complete = true;
        for (size_t i = 0; i < c->n_scopes; i++)
                if (list_scope(c, c->scopes[i], &s, rules->now) < 0)
                        c->complete = false;
        r = sightings_save(dirfd, &s);
        sightings_free(&s);
        if (r < 0)
                fprintf(stderr, "lanectl cleanup-stale: cannot save %s: %s\n", SIGHTINGS_FILE, strerror(-r));
        for (size_t i = 0; i < c->n; i++)
                stale_classify(&c->v[i], rules);
        return 0;
}

static struct json_object *runner_json(const struct stale_runner *w, time_t now) {
        struct json_object *o = json_object_new_object(), *labels = json_object_new_array();
        char t[32];

        json_object_object_add(o, "scope", json_object_new_string(w->scope));
        json_object_object_add(o, "id", json_object_new_int64(w->r.id));
        json_object_object_add(o, "name", json_object_new_string(w->r.name));
        for (size_t k = 0; k < w->r.n_labels; k++)
                json_object_array_add(labels, json_object_new_string(w->r.labels[k]));
        json_object_object_add(o, "labels", labels);
        json_object_object_add(o, "status", json_object_new_string(w->r.online ? "online" : "offline"));
        json_object_object_add(o, "busy", json_object_new_boolean(w->r.busy));
        proto_utc_iso(w->offline_since, t, sizeof t);
        json_object_object_add(o, "offline_since", w->offline_since ? json_object_new_string(t) : NULL);
        json_object_object_add(o, "offline_s", w->offline_since ? json_object_new_int64((int64_t) (now - w->offline_since))
                                                                : NULL);
        json_object_object_add(o, "verdict", json_object_new_string(stale_verdict_to_string(w->verdict)));
        json_object_object_add(o, "reason", json_object_new_string(w->why));
        json_object_object_add(o, "result", json_object_new_string(stale_result_to_string(w->result)));
        json_object_object_add(o, "detail", w->detail[0] ? json_object_new_string(w->detail) : NULL);
        json_object_object_add(o, "record", w->seq ? json_object_new_int64((int64_t) w->seq) : NULL);
        return o;
}

static void print_json(const struct cleanup *c, const struct stale_rules *rules) {
        struct json_object *doc = json_object_new_object(), *a = json_object_new_array(), *sc = json_object_new_array();
        char t[32];

        proto_utc_iso(rules->now, t, sizeof t);
        json_object_object_add(doc, "schema", json_object_new_string(SCHEMA));
        json_object_object_add(doc, "generated_at", json_object_new_string(t));
        json_object_object_add(doc, "managed_label", json_object_new_string(rules->managed_label));
        json_object_object_add(doc, "host_label", json_object_new_string(rules->host_label));
        json_object_object_add(doc, "older_than_s", json_object_new_int64(rules->older_than_s));
        json_object_object_add(doc, "apply", json_object_new_boolean(c->apply));
        json_object_object_add(doc, "complete", json_object_new_boolean(c->complete));
        json_object_object_add(doc, "problem", c->problem[0] ? json_object_new_string(c->problem) : NULL);
        for (size_t i = 0; i < c->n_scopes; i++)
                json_object_array_add(sc, json_object_new_string(c->scopes[i]));
        json_object_object_add(doc, "scopes", sc);
        for (size_t i = 0; i < c->n; i++)
                json_object_array_add(a, runner_json(&c->v[i], rules->now));
        json_object_object_add(doc, "runners", a);
        printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
}

static void print_text(const struct cleanup *c) {
        size_t n_delete = 0;

        printf("%-24s %-20s %10s %-8s %-11s %s\n", "SCOPE", "RUNNER", "ID", "STATUS", "VERDICT", "REASON");
        for (size_t i = 0; i < c->n; i++) {
                const struct stale_runner *w = &c->v[i];

                n_delete += w->verdict == STALE_DELETE;
                printf("%-24.24s %-20.20s %10lld %-8s %-11s %s\n", w->scope, w->r.name, w->r.id,
                       w->r.online ? "online" : "offline", stale_verdict_to_string(w->verdict), w->why);
                if (w->result != STALE_NONE)
                        printf("%-24s -> %s: %s\n", "", stale_result_to_string(w->result), w->detail);
        }
        if (!c->apply)
                printf("%zu stale registration%s to delete (a dry run; --apply deletes)\n", n_delete, n_delete == 1 ? "" : "s");
        if (!c->complete)
                printf("(not every scope could be read: %s)\n", c->problem);
}

static int parse_args(struct cleanup *c, int argc, char **argv) {
        static const struct option options[] = {
                { "older-than", required_argument, NULL, 't' }, { "apply", no_argument, NULL, 'a' },
                { "output", required_argument, NULL, 'o' },     { "policy", required_argument, NULL, 'p' },
                { "lanes-dir", required_argument, NULL, 'd' },  {}
        };
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if (opt == 't') {
                        if (cli_parse_duration(optarg, 365 * 86400, &c->older_than_s) < 0)
                                return fprintf(stderr, "lanectl cleanup-stale: --older-than is a duration of at most "
                                                       "365 days: 90s, 15m, 6h, 2d\n"), -EINVAL;
                } else if (opt == 'a')
                        c->apply = true;
                else if (cli_common_option(opt, optarg, &c->json, &c->policy, &c->lanes_dir) <= 0)
                        goto usage;
        if (optind == argc)
                return 0;
usage:
        fprintf(stderr, "usage: lanectl cleanup-stale [--older-than DURATION] [--apply] [--output text|json] "
                        "[--policy FILE] [--lanes-dir DIR]\n");
        return -EINVAL;
}

static int run(struct cli *cli, struct cleanup *c) {
        const char *lanes[4096];
        struct stale_rules rules = { .older_than_s = c->older_than_s, .lanes = lanes, .now = time(NULL) };
        char run_id[40];
        size_t failed = 0;

        if (cli_exec_open(cli, &c->x, c->policy, c->lanes_dir, "cleanup-stale") < 0)
                return 2;
        if (!c->x.real.gh)
                return fprintf(stderr, "lanectl cleanup-stale: GitHub cannot be asked: %s\n", c->x.real.gh_problem), 2;
        if (!c->x.hp.host[0])
                return fprintf(stderr, "lanectl cleanup-stale: the policy names no host ([helper] host =): without "
                                       "this host's label no runner can be known as this host's\n"), 2;
        rules.managed_label = policy_managed_label(&c->x.hp);
        rules.host_label = c->x.hp.host;
        for (size_t i = 0; i < c->x.n_files && i < ELEMENTSOF(lanes); i++)
                lanes[rules.n_lanes++] = c->x.files[i].stem;
        for (size_t i = 0; i < c->x.hp.n_repositories; i++)
                add_scope(c, "repos", c->x.hp.repositories[i]);
        for (size_t i = 0; i < c->x.hp.n_organisations; i++)
                add_scope(c, "orgs", c->x.hp.organisations[i]);
        lane_scopes(c);
        if (survey(c, &rules) < 0)
                return fprintf(stderr, "lanectl cleanup-stale: %s\n", c->problem), 2;
        snprintf(run_id, sizeof run_id, "cleanup-%lld-%d", (long long) rules.now, (int) getpid());
        for (size_t i = 0; c->apply && i < c->n; i++)
                if (c->v[i].verdict == STALE_DELETE) {
                        struct stale_env env = { .gh = c->x.real.gh, .store = &c->x.store, .host = c->x.host,
                                                 .run = run_id, .gone_wait_ms = 30000 };

                        stale_delete(&env, &rules, &c->v[i]);
                        failed += c->v[i].result == STALE_FAILED;
                }
        c->json ? print_json(c, &rules) : print_text(c);
        return !c->complete ? 2 : failed ? 1 : 0;
}

int cmd_cleanup_stale(struct cli *cli, int argc, char **argv) {
        _cleanup_(freep) struct cleanup *c = calloc(1, sizeof *c);
        int ret;

        if (!c)
                return 2;
        c->older_than_s = DEFAULT_OLDER_THAN_S;
        cli_exec_init(&c->x);
        if (parse_args(c, argc, argv) < 0)
                return 2;
        ret = run(cli, c);
        cli_exec_close(&c->x);
        free(c->v);
        return ret;
}
