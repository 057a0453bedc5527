/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl route status|enable|disable|advance --repo OWNER/REPO, and
 * lanectl route guard [--repo OWNER/REPO...]: the repository variable that
 * routes trusted pull requests to self-hosted labels, its canary stage,
 * and the guard that turns it off when a rollback trigger holds
 * (lanectl(1)). Every change is audited with its reason. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-route.h"
#include "gh-api.h"
#include "gh-client.h"
#include "proto-time.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

struct route_opts {
        const char *verb, *reason;
        size_t n_repos;
        char repos[SETTINGS_MAX_REPOS][ROUTE_REPO_MAX];
        bool json;
};

static void usage(void) {
        fprintf(stderr, "usage: lanectl route status|enable|disable|advance --repo OWNER/REPO [--reason TEXT] "
                        "[--output json]\n"
                        "       lanectl route guard [--repo OWNER/REPO...] [--output json]\n");
}

static int parse(int argc, char **argv, struct route_opts *o) {
        static const struct option opts[] = {
                { "repo", required_argument, NULL, 'r' },
                { "reason", required_argument, NULL, 'w' },
                { "output", required_argument, NULL, 'o' },
                {},
        };
        int opt;

        optind = 0;     /* 0: getopt starts afresh (lanectl.c scanned with "+") */
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                if (opt == 'r' && o->n_repos < SETTINGS_MAX_REPOS)
                        snprintf(o->repos[o->n_repos++], sizeof o->repos[0], "%s", optarg);
                else if (opt == 'w')
                        o->reason = optarg;
                else if (opt == 'o' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "text") == 0))
                        o->json = strcmp(optarg, "json") == 0;
                else
                        return -EINVAL;
        if (optind + 1 != argc)
                return -EINVAL;
        o->verb = argv[optind];
        if (strcmp(o->verb, "guard") != 0 && o->n_repos != 1)
                return -EINVAL;
        if ((strcmp(o->verb, "enable") == 0 || strcmp(o->verb, "disable") == 0 || strcmp(o->verb, "advance") == 0) &&
            (!o->reason || !o->reason[0]))
                return fprintf(stderr, "lanectl route %s: --reason TEXT is required (it goes in the audit record)\n",
                               o->verb), -EINVAL;
        return 0;
}

static void stamp(time_t t, char *buf, size_t size) {
        if (t)
                proto_utc_iso(t, buf, size);
        else
                snprintf(buf, size, "never");
}

static void print_status(const struct route_ctx *rc, const struct route_guard_result *g) {
        const struct route_state *st = &rc->st;
        char a[32], b[32];

        printf("%s of %s: %s\n", st->variable, rc->repo, rc->value ? "true (trusted PRs go to self-hosted labels)" :
                                                                     "false (trusted PRs go to hosted labels)");
        stamp(route_state_enabled_since(st), a, sizeof a);
        printf("on since: %s\n", rc->value ? a : "-");
        stamp(st->stage_started, b, sizeof b);
        if (st->stage < ROUTE_STAGE_MAX)
                printf("canary stage %u (begun %s): %zu of %u trusted runs counted; the next stage %s\n", st->stage, b,
                       g->stage_count, route_stage_size(st->stage),
                       g->next_stage_ok ? "may begin (lanectl route advance)" : "may not begin yet");
        else
                printf("canary stage 3 (all trusted PRs; begun %s): %zu trusted runs since\n", b, g->stage_count);
        for (int t = 0; t < _RT_MAX; t++)
                if (g->verdict.held[t])
                        printf("trigger %s holds: %s\n", route_trigger_to_string(t), g->verdict.evidence[t]);
        if (rc->value && g->verdict.n_held == 0)
                printf("no rollback trigger holds\n");
        for (size_t i = 0; i < st->n_offline; i++) {
                stamp(st->offline[i].since, a, sizeof a);
                stamp(st->offline[i].recovery, b, sizeof b);
                printf("offline: %s since %s, recovery attempted %s\n", st->offline[i].name, a, b);
        }
        printf("guard trips: boot-failure %lu, queue-wait %lu, offline %lu, mismatch %lu\n", st->trips[RT_BOOT_FAILURE],
               st->trips[RT_QUEUE_WAIT], st->trips[RT_OFFLINE], st->trips[RT_MISMATCH]);
        if (st->last_trip) {
                stamp(st->last_trip, a, sizeof a);
                printf("last trip: %s %s: %s\n", a, st->last_trip_trigger, st->last_trip_evidence);
        }
        for (size_t i = st->n_history > 5 ? st->n_history - 5 : 0; i < st->n_history; i++) {
                stamp(st->history[i].at, a, sizeof a);
                printf("history: %s %s by %s%s%s\n", a, st->history[i].value ? "true" : "false", st->history[i].by,
                       st->history[i].reason[0] ? ": " : "", st->history[i].reason);
        }
}

static struct json_object *status_json(const struct route_ctx *rc, const struct route_guard_result *g) {
        struct json_object *o = json_object_new_object(), *trig = json_object_new_object(),
                           *trips = json_object_new_object();
        const struct route_state *st = &rc->st;
        char a[32];

        json_object_object_add(o, "repository", json_object_new_string(rc->repo));
        json_object_object_add(o, "variable", json_object_new_string(st->variable));
        json_object_object_add(o, "enabled", json_object_new_boolean(rc->value));
        stamp(route_state_enabled_since(st), a, sizeof a);
        json_object_object_add(o, "enabled_since", rc->value ? json_object_new_string(a) : NULL);
        json_object_object_add(o, "stage", json_object_new_int((int) st->stage));
        json_object_object_add(o, "stage_size", json_object_new_int((int) route_stage_size(st->stage)));
        json_object_object_add(o, "stage_runs", json_object_new_int64((int64_t) g->stage_count));
        json_object_object_add(o, "next_stage_ok", json_object_new_boolean(g->next_stage_ok));
        for (int t = 0; t < _RT_MAX; t++)
                json_object_object_add(trig, route_trigger_to_string(t),
                                       g->verdict.held[t] ? json_object_new_string(g->verdict.evidence[t]) : NULL);
        json_object_object_add(o, "triggers", trig);
        for (int t = 0; t < _RT_MAX; t++)
                json_object_object_add(trips, route_trigger_to_string(t), json_object_new_int64((int64_t) st->trips[t]));
        json_object_object_add(o, "trips", trips);
        json_object_object_add(o, "turned_off", json_object_new_boolean(g->turned_off));
        if (g->problem[0])
                json_object_object_add(o, "problem", json_object_new_string(g->problem));
        return o;
}

/* Set the variable to VALUE: planned record, PATCH (or POST when it is
 * not set), completed or failed record, the record's history. */
static int change(struct route_ctx *rc, bool value, const char *reason, const char *command) {
        const char *to = value ? "true" : "false", *from = rc->value ? "true" : "false";
        char err[512] = "";
        int r;

        r = route_record(&rc->audit, "planned", rc->host, command, rc->repo, rc->st.variable, from, to, reason, NULL,
                         NULL);
        if (r < 0)
                return fprintf(stderr, "lanectl %s: the audit record could not be written: %s\n", command, strerror(-r)),
                       r;
        r = gh_variable_set(rc->c, rc->repo, rc->st.variable, to, false, err, sizeof err);
        if (r == -ENOENT)
                r = gh_variable_set(rc->c, rc->repo, rc->st.variable, to, true, err, sizeof err);
        (void) route_record(&rc->audit, r < 0 ? "failed" : "completed", rc->host, command, rc->repo, rc->st.variable,
                            from, to, r < 0 ? err : reason, NULL, NULL);
        if (r < 0)
                return fprintf(stderr, "lanectl %s: %s of %s could not be set: %s\n", command, rc->st.variable, rc->repo,
                               err), r;
        route_state_observe(&rc->st, value, rc->now, command, reason);
        rc->value = value;
        return 0;
}

static int verb_set(struct route_ctx *rc, const struct route_opts *o) {
        bool on = strcmp(o->verb, "enable") == 0;
        char command[32];
        int r;

        snprintf(command, sizeof command, "route %s", o->verb);
        if (rc->value == on) {
                printf("%s of %s is %s already: nothing changed\n", rc->st.variable, rc->repo, on ? "true" : "false");
                return EXIT_OK;
        }
        r = change(rc, on, o->reason, command);
        if (r < 0)
                return EXIT_UNAVAILABLE;
        if (on)
                rc->st.stage_started = rc->now;         /* the stage's count begins again */
        printf("%s of %s set to %s (audited: %s)\n", rc->st.variable, rc->repo, on ? "true" : "false", o->reason);
        return EXIT_OK;
}

static int verb_status(struct route_ctx *rc, const struct route_opts *o, bool advance) {
        struct route_guard_result g = {};
        int r = cli_route_gather(rc, SLO_LAST_DEFAULT, advance ? "route advance" : "route status"), ret = EXIT_OK;

        if (r >= 0)
                r = route_assess(rc->s, &rc->st, &rc->in, &g);
        if (r < 0) {
                route_guard_result_free(&g);
                return EXIT_UNAVAILABLE;
        }
        if (advance && !g.next_stage_ok) {
                fprintf(stderr, "lanectl route advance: stage %u may not end yet: %s\n", rc->st.stage,
                        !rc->value ? "routing is off" : rc->st.stage >= ROUTE_STAGE_MAX ? "it is the last stage" :
                        g.verdict.n_held ? "a rollback trigger holds" : "too few trusted runs counted");
                ret = EXIT_REFUSED;
        } else if (advance) {
                char reason[512];

                snprintf(reason, sizeof reason, "stage %u to %u after %zu trusted runs: %s", rc->st.stage,
                         rc->st.stage + 1, g.stage_count, o->reason);
                r = route_record(&rc->audit, "completed", rc->host, "route advance", rc->repo, rc->st.variable, "true",
                                 "true", reason, NULL, NULL);
                if (r < 0)
                        ret = EXIT_UNAVAILABLE;
                else {
                        rc->st.stage++;
                        rc->st.stage_started = rc->now;
                        g.stage_count = 0, g.next_stage_ok = false;
                }
        }
        if (o->json) {
                struct json_object *j = status_json(rc, &g);

                printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(j);
        } else
                print_status(rc, &g);
        route_guard_result_free(&g);
        return ret;
}

static int verb_guard(struct cli *cli, struct route_opts *o) {
        const struct settings *s;
        struct route_guard_result *res;
        struct gh_client *c = NULL;
        char cache[PROTO_PATH_MAX + 32], err[512] = "", host[256] = "";
        int r, ret = EXIT_OK;

        if (cli_settings(cli, &s) < 0)
                return EXIT_USAGE;
        if (o->n_repos == 0)
                for (size_t i = 0; i < s->route.n_repositories; i++)
                        snprintf(o->repos[o->n_repos++], sizeof o->repos[0], "%s", s->route.repositories[i]);
        if (o->n_repos == 0)
                return fprintf(stderr, "lanectl route guard: no repository: --repo, or [route] repositories\n"), EXIT_USAGE;
        if ((r = cli_become_store_owner(s->store_dir)) < 0)
                return fprintf(stderr, "lanectl route guard: cannot become the store's owner: %s\n", strerror(-r)),
                       EXIT_UNAVAILABLE;
        snprintf(cache, sizeof cache, "%s/github-cache", s->store_dir);
        if (gh_client_new(s, cache, &c, err, sizeof err) < 0)
                return fprintf(stderr, "lanectl route guard: %s\n", err), EXIT_UNAVAILABLE;
        (void) gethostname(host, sizeof host - 1);
        res = calloc(o->n_repos, sizeof *res);
        r = res ? route_guard_repos(c, s, o->repos, o->n_repos, host, "route guard", time(NULL), res) : -ENOMEM;
        for (size_t i = 0; res && i < o->n_repos; i++) {
                if (res[i].problem[0])
                        fprintf(stderr, "lanectl route guard: %s: %s\n", o->repos[i], res[i].problem);
                else if (res[i].turned_off)
                        printf("%s: routing turned off (audited)\n", o->repos[i]);
                else
                        printf("%s: %s\n", o->repos[i], res[i].was_on ? "no rollback trigger holds" : "routing is off");
                for (int t = 0; t < _RT_MAX; t++)
                        if (res[i].verdict.held[t])
                                printf("%s: trigger %s: %s\n", o->repos[i], route_trigger_to_string(t),
                                       res[i].verdict.evidence[t]);
                route_guard_result_free(&res[i]);
        }
        free(res);
        gh_client_free(c);
        if (r < 0)
                ret = EXIT_UNAVAILABLE;
        else if (r > 0)
                ret = EXIT_REFUSED;
        return ret;
}

int cmd_route(struct cli *cli, int argc, char **argv) {
        struct route_opts o = {};
        struct route_ctx rc;
        bool write;
        int r, ret;

        if (parse(argc, argv, &o) < 0)
                return usage(), EXIT_USAGE;
        if (strcmp(o.verb, "guard") == 0)
                return verb_guard(cli, &o);
        if (strcmp(o.verb, "status") && strcmp(o.verb, "enable") && strcmp(o.verb, "disable") &&
            strcmp(o.verb, "advance"))
                return usage(), EXIT_USAGE;
        write = true;       /* status too: what it read goes into the record's history */
        r = cli_route_open(cli, &rc, o.repos[0], "route", write);
        if (r < 0) {
                cli_route_close(&rc);
                return r == -EINVAL ? EXIT_USAGE : EXIT_UNAVAILABLE;
        }
        if (strcmp(o.verb, "status") == 0 || strcmp(o.verb, "advance") == 0)
                ret = verb_status(&rc, &o, strcmp(o.verb, "advance") == 0);
        else
                ret = verb_set(&rc, &o);
        if (route_state_save(rc.store_fd, &rc.st) < 0) {
                fprintf(stderr, "lanectl route: the routing record of %s could not be written\n", rc.repo);
                ret = ret == EXIT_OK ? EXIT_UNAVAILABLE : ret;
        }
        cli_route_close(&rc);
        return ret;
}
