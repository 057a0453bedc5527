/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl health [--heal] [--only CHECK...]: one health cycle over this
 * host's lanes and the repositories they serve. A dry run by default: it
 * says what it would do; --heal does it, each action recorded. The work is
 * health/'s; this file asks and tells. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli-health.h"
#include "cli-route.h"
#include "health-act.h"
#include "health-gather.h"
#include "macro.h"
#include "proto-time.h"

enum { EXIT_HEALTHY = 0, EXIT_DEGRADED = 1, EXIT_ERROR = 2 };

static void usage(void) {
        fprintf(stderr, "usage: lanectl health [--heal] [--only CHECK[,CHECK...]] [--output text|json]\n"
                        "                      [--policy FILE] [--lanes-dir DIR]\n"
                        "  checks: stale, superseded, pr-priority, cache, offline, clock\n");
}

static int parse_only(const char *arg, bool only[_HC_MAX]) {
        char buf[256], *save = NULL;

        snprintf(buf, sizeof buf, "%s", arg);
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                enum health_check c = health_check_from_string(t);

                if (c < 0)
                        return fprintf(stderr, "lanectl health: --only: unknown check (one of stale, superseded, "
                                       "pr-priority, cache, offline, clock)\n"), -EINVAL;
                only[c] = true;
        }
        return 0;
}

static int parse_args(struct health_cmd *hc, int argc, char **argv) {
        static const struct option options[] = {
                { "heal", no_argument, NULL, 'H' },
                { "only", required_argument, NULL, 'O' },
                { "output", required_argument, NULL, 'o' },
                { "policy", required_argument, NULL, 'p' },
                { "lanes-dir", required_argument, NULL, 'd' },
                {}
        };
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case 'H':
                        hc->heal = true;
                        break;
                case 'O':
                        if (parse_only(optarg, hc->only) < 0)
                                return -EINVAL;
                        hc->have_only = true;
                        break;
                default:
                        if (cli_health_option(hc, opt, optarg, "health") <= 0)
                                return usage(), -EINVAL;
                }
        if (optind != argc)
                return usage(), -EINVAL;
        return 0;
}

static void print_action(const struct health_snapshot *s, const struct health_action *a, bool heal) {
        char what[160];

        if (a->lane >= 0)
                snprintf(what, sizeof what, "lane %s", s->lanes[a->lane].d->name);
        else
                snprintf(what, sizeof what, "%s run %lld", s->repos[a->repo].name, a->run_id);
        printf("%-11s %-17s %-9s %s\n", health_check_to_string(a->check), health_verb_to_string(a->verb),
               a->result == HR_PLANNED && !heal ? "would" : health_result_to_string(a->result), what);
        printf("%-11s %s\n", "", a->reason);
        if (a->detail[0])
                printf("%-11s -> %s%s\n", "", a->detail, a->seq ? "" : "");
}

static void print_text(const struct health_cmd *hc, const struct health_counts *counts) {
        const struct health_snapshot *s = &hc->snap;
        const struct health_plan *p = &hc->plan;

        printf("health cycle %s: %zu repositories, %zu lanes, %zu active runs, %zu jobs", hc->cycle, s->n_repos,
               s->n_lanes, s->n_runs, s->n_jobs);
        if (s->have_offset)
                printf("; clock %+lld s", s->clock_offset_s);
        if (s->have_rate)
                printf("; rate limit %lld/%lld", s->rate_remaining, s->rate_limit);
        printf("\n");
        for (size_t i = 0; i < s->n_repos; i++)
                if (!s->repos[i].known)
                        printf("%-11s %s: cannot read: %s\n", "error", s->repos[i].name, s->repos[i].problem);
        for (size_t i = 0; i < p->n_actions; i++)
                print_action(s, &p->actions[i], hc->heal);
        for (size_t i = 0; i < p->n_findings; i++)
                printf("%-11s %s %s\n", health_check_to_string(p->findings[i].check),
                       p->findings[i].degraded ? "DEGRADED" : "left alone:", p->findings[i].text);
        if (!hc->heal)
                printf("summary: %zu actions would be taken (a dry run: --heal acts)\n", p->n_actions);
        else
                printf("summary: %u completed, %u failed, %u skipped, %u capped\n", counts->n[HR_COMPLETED],
                       counts->n[HR_FAILED], counts->n[HR_SKIPPED], counts->n[HR_CAPPED]);
}

/* This host's lanes: every valid lane file naming this host. */
static int load_lanes(struct health_cmd *hc) {
        hc->entries = calloc(hc->x.n_files ?: 1, sizeof *hc->entries);
        hc->lanes = calloc(hc->x.n_files ?: 1, sizeof *hc->lanes);
        if (!hc->entries || !hc->lanes)
                return -ENOMEM;
        for (size_t i = 0; i < hc->x.n_files; i++) {
                struct lane_entry *e = &hc->entries[i];

                snprintf(e->path, sizeof e->path, "%s", hc->x.files[i].path);
                if (!lane_entry_load(e, stderr))
                        return -EINVAL;
                if (strcasecmp(e->lane.host, hc->x.host) != 0)
                        continue;
                hc->lanes[hc->snap.n_lanes++] = (struct hlane) { .d = &e->lane, .enabled = true };
        }
        hc->snap.lanes = hc->lanes;
        return 0;
}

/* The cache check's evidence, and what it has read before. */
static void cache_evidence(struct health_cmd *hc) {
        char path[PROTO_PATH_MAX + 32];

        snprintf(path, sizeof path, "%s/health-cache.state", hc->x.s->store_dir);
        if (health_cache_state_load(path, &hc->cache) < 0)
                fprintf(stderr, "lanectl health: cannot read %s (failed jobs' logs are read again): %m\n", path);
        health_gather_cache(hc->x.real.gh, &hc->snap, &hc->cache);
}

/* What the cache check learnt, kept for the next cycle: the logs read, the
 * runs rerun (never twice). */
static void cache_remember(struct health_cmd *hc) {
        char path[PROTO_PATH_MAX + 32];
        int r;

        if (hc->have_only && !hc->only[HC_CACHE])
                return;
        for (size_t i = 0; i < hc->plan.n_actions; i++)
                if (hc->plan.actions[i].verb == HV_RERUN_FAILED && hc->plan.actions[i].result == HR_COMPLETED)
                        health_cache_reran(&hc->cache, hc->plan.actions[i].run_id, hc->plan.actions[i].attempt);
        snprintf(path, sizeof path, "%s/health-cache.state", hc->x.s->store_dir);
        r = health_cache_state_save(path, &hc->cache);
        if (r < 0)
                fprintf(stderr, "lanectl health: cannot write %s: %s\n", path, strerror(-r));
}

/* The repositories the lanes serve and [health] repositories=, once each. */
static void gather(struct health_cmd *hc) {
        const struct health_settings *h = &hc->x.s->health;
        struct health_observe_env env = { .bus = hc->x.bus, .bus_problem = "cannot connect to the system bus",
                                          .baseline = &hc->x.bc, .github_problem = hc->x.real.gh_problem,
                                          .store_dir = hc->x.s->store_dir };
        const char *names[HEALTH_MAX_REPOS];
        size_t n = 0;

        for (size_t i = 0; i < hc->snap.n_lanes + h->n_repositories && n < HEALTH_MAX_REPOS; i++) {
                const char *r = i < hc->snap.n_lanes ? hc->snap.lanes[i].d->repository
                                                     : h->repositories[i - hc->snap.n_lanes];
                bool dup = !r[0];

                for (size_t k = 0; k < n && !dup; k++)
                        dup = strcasecmp(names[k], r) == 0;
                if (!dup)
                        names[n++] = r;
        }
        for (size_t i = 0; i < n; i++)
                if (!hc->x.real.gh) {
                        struct hrepo *repo = &hc->snap.repos[hc->snap.n_repos++];

                        *repo = (struct hrepo) {};
                        snprintf(repo->name, sizeof repo->name, "%s", names[i]);
                        snprintf(repo->problem, sizeof repo->problem, "%.250s", hc->x.real.gh_problem);
                } else
                        (void) health_gather_repo(hc->x.real.gh, &hc->snap, names[i]);
        health_observe_lanes(hc->x.real.gh, &env, &hc->snap);
        health_clock(hc->x.real.gh, &hc->snap);
        if (hc->status)   /* read-only: the lanes' measurements, no log */
                health_gather_cache(NULL, &hc->snap, NULL);
        else if (!hc->have_only || hc->only[HC_CACHE])
                cache_evidence(hc);
}

/* Two cycles never overlap: the second says so and does nothing. */
static int cycle_lock(struct health_cmd *hc) {
        char path[PROTO_PATH_MAX + 32];

        snprintf(path, sizeof path, "%s/health.lock", hc->x.s->store_dir);
        hc->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (hc->lock_fd < 0)
                return fprintf(stderr, "lanectl health: cannot open %s: %m\n", path), -errno;
        if (flock(hc->lock_fd, LOCK_EX | LOCK_NB) < 0)
                return fprintf(stderr, "lanectl health: another health cycle is running (it holds %s); nothing done\n",
                               path), -EBUSY;
        return 0;
}

/* The journal's copy of a healing cycle, with the catalog's MESSAGE_IDs
 * (units/lanekeeper.catalog): one message per action, per degraded finding,
 * and the cycle's summary. */
#define MID_CYCLE "MESSAGE_ID=e6e63e47cf4e4bb6b41c1896092d42ca"
#define MID_COMPLETED "MESSAGE_ID=2a27a08b8b864c63bd511db6a7808038"
#define MID_FAILED "MESSAGE_ID=7e1379dd7e8a4a7f867fc6ed6ae30003"
#define MID_NOT_TAKEN "MESSAGE_ID=843b917f13d9459990a1abc987452c4e"
#define MID_DEGRADED "MESSAGE_ID=c7f403d788b14174864a35d1f138f7c1"

static void journal_cycle(const struct health_cmd *hc, const struct health_counts *c, int status) {
        const struct health_snapshot *s = &hc->snap;
        unsigned degraded = 0;

        for (size_t i = 0; i < hc->plan.n_actions; i++) {
                const struct health_action *a = &hc->plan.actions[i];
                char target[160];

                if (a->lane >= 0)
                        snprintf(target, sizeof target, "lane %s", s->lanes[a->lane].d->name);
                else
                        snprintf(target, sizeof target, "%s run %lld", s->repos[a->repo].name, a->run_id);
                sd_journal_send("MESSAGE=health %s %s %s: %s (%s)", health_check_to_string(a->check),
                                health_verb_to_string(a->verb), target, health_result_to_string(a->result), a->detail,
                                a->result == HR_COMPLETED ? MID_COMPLETED : a->result == HR_FAILED ? MID_FAILED
                                                                                                    : MID_NOT_TAKEN,
                                "PRIORITY=%d", a->result == HR_FAILED ? 3 : a->result == HR_COMPLETED ? 5 : 4,
                                "CHECK=%s", health_check_to_string(a->check), "ACTION=%s", health_verb_to_string(a->verb),
                                "TARGET=%s", target, "DETAIL=%s", a->detail, "RECORD=%llu", (unsigned long long) a->seq,
                                "LANEKEEPER_CYCLE=%s", hc->cycle, NULL);
        }
        for (size_t i = 0; i < hc->plan.n_findings; i++)
                if (hc->plan.findings[i].degraded) {
                        degraded++;
                        sd_journal_send("MESSAGE=health %s: %s", health_check_to_string(hc->plan.findings[i].check),
                                        hc->plan.findings[i].text, MID_DEGRADED, "PRIORITY=4", "CHECK=%s",
                                        health_check_to_string(hc->plan.findings[i].check), "TEXT=%s",
                                        hc->plan.findings[i].text, "LANEKEEPER_CYCLE=%s", hc->cycle, NULL);
                }
        sd_journal_send("MESSAGE=health cycle %s finished: %u completed, %u failed, %u skipped, %u capped, %u degraded; "
                        "exit %d", hc->cycle, c->n[HR_COMPLETED], c->n[HR_FAILED], c->n[HR_SKIPPED], c->n[HR_CAPPED],
                        degraded, status, MID_CYCLE, "PRIORITY=%d", status == 0 ? 6 : status == 1 ? 4 : 3,
                        "COMPLETED=%u", c->n[HR_COMPLETED], "FAILED=%u", c->n[HR_FAILED], "SKIPPED=%u",
                        c->n[HR_SKIPPED], "CAPPED=%u", c->n[HR_CAPPED], "DEGRADED=%u", degraded, "EXIT=%d", status,
                        "LANEKEEPER_CYCLE=%s", hc->cycle, NULL);
}

int cli_health_exit_status(const struct health_cmd *hc, const struct health_counts *counts) {
        bool degraded = counts->n[HR_FAILED] || counts->n[HR_CAPPED] || (!hc->heal && hc->plan.n_actions);

        for (size_t i = 0; i < hc->snap.n_repos; i++)
                if (!hc->snap.repos[i].known)
                        return EXIT_ERROR;
        if (!hc->snap.runners_known)
                return EXIT_ERROR;
        for (size_t i = 0; i < hc->plan.n_findings; i++)
                degraded |= hc->plan.findings[i].degraded;
        return degraded ? EXIT_DEGRADED : EXIT_HEALTHY;
}

int cli_health_option(struct health_cmd *hc, int opt, const char *arg, const char *what) {
        switch (opt) {
        case 'o':
                if (strcmp(arg, "json") && strcmp(arg, "text"))
                        return fprintf(stderr, "lanectl %s: --output is text or json\n", what), -EINVAL;
                hc->json = strcmp(arg, "json") == 0;
                return 1;
        case 'p':
                hc->policy = arg;
                return 1;
        case 'd':
                hc->lanes_dir = arg;
                return 1;
        }
        return 0;
}

int cli_health_prepare(struct cli *cli, struct health_cmd *hc, const char *what) {
        time_t now = time(NULL);
        struct tm tm;

        if (cli_exec_open(cli, &hc->x, hc->policy, hc->lanes_dir, what) < 0 || load_lanes(hc) < 0)
                return -EINVAL;
        gmtime_r(&now, &tm);
        snprintf(hc->cycle, sizeof hc->cycle, "%04d%02d%02dT%02d%02d%02dZ-%d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) getpid());
        if (hc->heal && cycle_lock(hc) < 0)
                return -EBUSY;
        gather(hc);
        health_plan(&hc->snap, &hc->x.s->health, hc->have_only ? hc->only : NULL, &hc->plan);
        return 0;
}

static int run(struct cli *cli, struct health_cmd *hc) {
        struct health_counts counts = {};
        int ret;

        if (cli_health_prepare(cli, hc, "health") < 0)
                return EXIT_ERROR;
        if (hc->heal) {
                struct health_act_env env = { .gh = hc->x.real.gh, .github_problem = hc->x.real.gh_problem,
                                              .ops = &hc->x.ops, .pol = &hc->x.pol, .host = hc->x.host,
                                              .api_url = hc->x.s->api_url, .cycle = hc->cycle };

                health_act(&env, &hc->snap, &hc->plan, &counts);
                cli_route_after_health(hc->x.s, hc->x.real.gh, &hc->snap, &hc->plan, hc->x.host);
        }
        if (!hc->metrics)
                cache_remember(hc);
        ret = cli_health_exit_status(hc, &counts);
        if (hc->metrics)
                return cli_health_metrics(hc, ret != EXIT_ERROR, true) < 0 ? EXIT_ERROR : ret;
        if (hc->json)
                cli_health_print_json(hc, &counts);
        else
                print_text(hc, &counts);
        (void) cli_health_metrics(hc, ret != EXIT_ERROR, false);
        if (hc->heal)
                journal_cycle(hc, &counts, ret);
        return ret;
}

struct health_cmd *cli_health_new(void) {
        struct health_cmd *hc = calloc(1, sizeof *hc);

        if (!hc)
                return fprintf(stderr, "lanectl: out of memory\n"), NULL;
        hc->lock_fd = -EBADF;
        cli_exec_init(&hc->x);
        return hc;
}

void cli_health_free(struct health_cmd *hc) {
        health_snapshot_free(&hc->snap);
        free(hc->lanes);
        free(hc->entries);
        cli_exec_close(&hc->x);
        if (hc->lock_fd >= 0)
                close(hc->lock_fd);
        free(hc);
}

static int health_command(struct cli *cli, int argc, char **argv, bool metrics) {
        struct health_cmd *hc = cli_health_new();
        int ret = EXIT_ERROR;

        if (!hc)
                return EXIT_ERROR;
        hc->metrics = metrics;
        if (parse_args(hc, argc, argv) == 0 && !(metrics && (hc->heal || hc->have_only || hc->json)))
                ret = run(cli, hc);
        else if (metrics)
                fprintf(stderr, "usage: lanectl metrics [--policy FILE] [--lanes-dir DIR]\n");
        cli_health_free(hc);
        return ret;
}

int cmd_health(struct cli *cli, int argc, char **argv) {
        return health_command(cli, argc, argv, false);
}

/* lanectl metrics: a dry cycle's state as Prometheus metrics. */
int cmd_metrics(struct cli *cli, int argc, char **argv) {
        return health_command(cli, argc, argv, true);
}
