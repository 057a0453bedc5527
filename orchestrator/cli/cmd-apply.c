/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl apply | restart | remove: parse the command line, load settings,
 * policy and lane files, set up the executor's real ops, run exec_lane()
 * for each lane in the order given, and print what it did. The work is
 * the executor's (exec/exec.h); this file only asks and tells. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply-state.h"
#include "audit.h"
#include "exec-real.h"
#include "exec.h"
#include "cli.h"
#include "cli-health.h"
#include "macro.h"
#include "observe.h"
#include "proto-policy.h"
#include "proto-register.h"
#include "settings.h"

enum { EXIT_COMPLETED = 0, EXIT_BLOCKED = 1, EXIT_ERROR = 2, EXIT_BUSY = 3, EXIT_FAILED = 4 };

/* What every lane of one command shares. */
struct lane_cmd_ctx {
        const struct settings *s;
        const struct plan_policy *pol;
        const struct exec_ops *ops;
        const char *host;
        enum exec_cmd cmd;
        unsigned timeout_s;
        bool dry_run, purge;
};

static void usage(enum exec_cmd cmd) {
        if (cmd == EXEC_APPLY)
                fprintf(stderr, "usage: lanectl apply LANE... --confirm LANE [--confirm LANE...] --idempotency-key KEY\n"
                                "                     [--timeout SECONDS] [--policy FILE] [--lanes-dir DIR]\n");
        else
                fprintf(stderr, "usage: lanectl %s LANE... [--apply --confirm LANE [--confirm LANE...] --idempotency-key KEY]\n"
                                "                     [--timeout SECONDS] [--policy FILE] [--lanes-dir DIR]%s\n",
                        exec_cmd_to_string(cmd), cmd == EXEC_REMOVE ? " [--purge]" : "");
}

static void print_legacy(const struct exec_result *res) {
        if (!res->legacy_unit[0])
                return;
        printf("  legacy   svc.sh's unit %s is installed%s; lanekeeper never acts on units it did not write.\n"
               "           As root: systemctl disable --now %s && rm /etc/systemd/system/%s && systemctl daemon-reload\n"
               "           (what ./svc.sh uninstall does), so that only lanekeeper's unit runs this runner\n",
               res->legacy_unit, res->legacy_enabled ? " and enabled (it starts at boot)" : "", res->legacy_unit,
               res->legacy_unit);
}

static void print_blockers(const struct exec_result *res) {
        for (size_t i = 0; i < res->p.n_blockers; i++)
                printf("  blocked  %s: %s\n", blocker_to_string(res->p.blockers[i].id), res->p.blockers[i].detail);
        if (res->busy_job[0])
                printf("  busy     %s\n", res->busy_job);
}

/* restart or remove without --apply: what would be done. */
static void print_dry_run(const struct lane_cmd_ctx *c, const struct lane_desired *d, const struct exec_result *res) {
        const char *name = exec_cmd_to_string(c->cmd);

        printf("%s: %s %s (dry run, record #%" PRIu64 "); nothing done\n", d->name, plan_action_to_string(res->p.action),
               res->p.status == PLAN_BLOCKED ? "blocked" : "ready", res->seq);
        print_blockers(res);
        print_legacy(res);
        if (res->p.status != PLAN_BLOCKED)
                printf("  would    %s\n  then     lanectl %s %s --apply%s --confirm %s --idempotency-key KEY\n",
                       c->cmd == EXEC_RESTART ? "restart the unit through the helper, then check every completion gate"
                       : c->purge ? "stop the unit, check its processes are gone and no process of the lane's user "
                                    "runs, delete the GitHub registration, wait until GitHub no longer lists it, empty "
                                    "the lane directory through the lane's unit, remove the unit"
                                  : "stop the unit, check its processes are gone, delete the GitHub registration, wait "
                                    "until GitHub no longer lists it, remove the unit",
                       name, d->name, c->purge ? " --purge" : "", d->name);
        for (size_t i = 0; res->p.status == PLAN_BLOCKED && i < res->p.n_steps; i++)
                printf("  next     %s\n", res->p.steps[i]);
}

static void print_refused(const struct lane_desired *d, const struct exec_result *res) {
        printf("%s: %s blocked (record #%" PRIu64 "); nothing done\n", d->name, plan_action_to_string(res->p.action),
               res->seq);
        print_blockers(res);
        print_legacy(res);
        for (size_t i = 0; i < res->p.n_steps; i++)
                printf("  next     %s\n", res->p.steps[i]);
}

static void print_result(const struct lane_desired *d, const struct exec_result *res) {
        printf("%s: %s %s (record #%" PRIu64 ")\n", d->name, plan_action_to_string(res->p.action),
               res->outcome == EXEC_COMPLETED ? "completed" : "failed", res->seq);
        for (size_t i = 0; i < res->n_steps; i++)
                printf("  %-14s %-6s %6lld ms  %s\n", res->steps[i].name, res->steps[i].ok ? "ok" : "FAILED",
                       res->steps[i].ms, res->steps[i].detail);
        print_legacy(res);
}

/* Tell what exec_lane() did; the exit status. */
static int report(const struct lane_cmd_ctx *c, const struct lane_desired *d, const struct exec_result *res) {
        const char *name = exec_cmd_to_string(c->cmd);

        switch (res->outcome) {
        case EXEC_BUSY:
                fprintf(stderr, "lanectl %s: %s: lane busy (another apply, restart or remove holds it); nothing done\n",
                        name, d->name);
                break;
        case EXEC_REPEATED:
                printf("%s: already done under this key: %s %s (record #%" PRIu64 "); nothing done\n", d->name, name,
                       res->prev.status, res->prev.audit_seq);
                break;
        case EXEC_BLOCKED:
        case EXEC_COMPLETED:
        case EXEC_FAILED:
                if (c->dry_run)
                        print_dry_run(c, d, res);
                else if (res->outcome == EXEC_BLOCKED)
                        print_refused(d, res);
                else
                        print_result(d, res);
                if (res->error[0])   /* recorded, but the key could not be */
                        fprintf(stderr, "lanectl %s: %s: %s\n", name, d->name, res->error);
                break;
        case EXEC_ERROR:
                if (res->planned && (c->dry_run || res->p.status == PLAN_BLOCKED))
                        c->dry_run ? print_dry_run(c, d, res) : print_refused(d, res);
                fprintf(stderr, "lanectl %s: %s: %s\n", name, d->name, res->error);
                break;
        case _EXEC_OUTCOME_MAX:
        case _EXEC_OUTCOME_INVALID:
                break;
        }
        return exec_exit_status(res);
}

static int lane_one(const struct lane_cmd_ctx *c, const struct lane_file *f, const char *const confirm[], size_t n_confirm,
                    const char *key) {
        _cleanup_(freep) struct lane_entry *e = calloc(1, sizeof *e);
        _cleanup_(freep) struct exec_result *res = calloc(1, sizeof *res);
        char web[PROTO_REGISTER_URL_MAX + 1];
        struct exec_request req;

        if (!e || !res)
                return fprintf(stderr, "lanectl: out of memory\n"), EXIT_ERROR;
        snprintf(e->path, sizeof e->path, "%s", f->path);
        if (!lane_entry_load(e, stderr))
                return EXIT_ERROR;
        exec_web_url(c->s->api_url, &e->lane, web, sizeof web);
        req = (struct exec_request) {
                .cmd = c->cmd, .lane = &e->lane, .pol = c->pol, .key = key, .host = c->host, .web_url = web,
                .timeout_s = c->timeout_s, .purge = c->purge, .dry_run = c->dry_run,
                .plan = { .this_host = c->host, .same_name_lanes = f->same_name, .idempotency_key = key },
        };
        for (size_t i = 0; i < n_confirm; i++)
                if (strcmp(confirm[i], e->lane.name) == 0)
                        req.plan.confirmed = true;
        (void) exec_lane(c->ops, &req, res);
        return report(c, &e->lane, res);
}

/* Everything one apply, restart or remove owns. */
struct lane_cmd {
        struct lane_cmd_ctx c;
        const char *confirm[64], *policy, *lanes_dir, *key;
        size_t n_confirm;
        char **lanes;
        size_t n_lanes;
        struct cli_exec x;
};

static int parse_option(struct lane_cmd *lc, int opt) {
        const char *name = exec_cmd_to_string(lc->c.cmd);
        char *end;

        switch (opt) {
        case 'a':
                if (lc->c.cmd == EXEC_APPLY)
                        return fprintf(stderr, "lanectl apply: --apply belongs to restart and remove (apply always acts)\n"),
                               -EINVAL;
                lc->c.dry_run = false;
                return 0;
        case 'P':
                if (lc->c.cmd != EXEC_REMOVE)
                        return fprintf(stderr, "lanectl %s: --purge belongs to remove\n", name), -EINVAL;
                lc->c.purge = true;
                return 0;
        case 'c':
                if (lc->n_confirm == ELEMENTSOF(lc->confirm))
                        return fprintf(stderr, "lanectl %s: at most 64 lanes at once\n", name), -EINVAL;
                lc->confirm[lc->n_confirm++] = optarg;
                return 0;
        case 'k':
                lc->key = optarg;
                return 0;
        case 't':
                errno = 0;
                lc->c.timeout_s = (unsigned) strtoul(optarg, &end, 10);
                if (errno || *end || lc->c.timeout_s < 1 || lc->c.timeout_s > 3600)
                        return fprintf(stderr, "lanectl %s: --timeout is 1 to 3600 seconds\n", name), -EINVAL;
                return 0;
        case 'p':
                lc->policy = optarg;
                return 0;
        case 'd':
                lc->lanes_dir = optarg;
                return 0;
        default:
                usage(lc->c.cmd);
                return -EINVAL;
        }
}

/* The command line, checked before anything is read: a mutation needs a
 * confirmation and a key, said plainly. */
static int parse_args(struct lane_cmd *lc, int argc, char **argv) {
        static const struct option options[] = {
                { "apply", no_argument, NULL, 'a' },
                { "purge", no_argument, NULL, 'P' },
                { "confirm", required_argument, NULL, 'c' },
                { "idempotency-key", required_argument, NULL, 'k' },
                { "timeout", required_argument, NULL, 't' },
                { "policy", required_argument, NULL, 'p' },
                { "lanes-dir", required_argument, NULL, 'd' },
                {}
        };
        const char *name = exec_cmd_to_string(lc->c.cmd), *reason;
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if (parse_option(lc, opt) < 0)
                        return -EINVAL;
        if (optind >= argc)
                return usage(lc->c.cmd), -EINVAL;
        lc->lanes = argv + optind;
        lc->n_lanes = (size_t) (argc - optind);
        if (lc->n_lanes > 64)
                return fprintf(stderr, "lanectl %s: at most 64 lanes at once\n", name), -EINVAL;
        if (!lc->c.dry_run && (!lc->key || !lc->n_confirm)) {
                fprintf(stderr, "lanectl %s: a change needs --confirm LANE for each lane and --idempotency-key KEY\n", name);
                return usage(lc->c.cmd), -EINVAL;
        }
        if (lc->c.dry_run && (lc->key || lc->n_confirm))
                return fprintf(stderr, "lanectl %s: --confirm and --idempotency-key go with --apply; without it this is "
                               "a dry run\n", name), -EINVAL;
        if (lc->key && idempotency_key_validate(lc->key, &reason) < 0)
                return fprintf(stderr, "lanectl %s: the idempotency key %s\n", name, reason), -EINVAL;
        if (lc->key && lc->n_lanes > 1 && strlen(lc->key) + 1 + PROTO_LANE_NAME_MAX > IDEMPOTENCY_KEY_MAX)
                return fprintf(stderr, "lanectl %s: with several lanes the key gets ':LANE' appended; keep it under %d "
                               "characters\n", name, IDEMPOTENCY_KEY_MAX - PROTO_LANE_NAME_MAX), -EINVAL;
        return 0;
}

/* Settings, policy, lanes, GitHub, the bus, the store: the executor's real ops. */
static int prepare(struct cli *cli, struct lane_cmd *lc) {
        const char *name = exec_cmd_to_string(lc->c.cmd);
        int r;

        r = cli_exec_open(cli, &lc->x, lc->policy, lc->lanes_dir, name);
        if (r < 0)
                return r;
        lc->c.s = lc->x.s;
        return cli_select_lanes(lc->x.files, lc->x.n_files, lc->lanes, lc->n_lanes, lc->x.lanes_dir, name);
}

/* One lane at a time, in the order given; each under its own key (KEY, or
 * KEY:LANE when several lanes share one command). The worst outcome
 * decides: error > failed > busy > blocked > completed. */
static int run_lanes(struct lane_cmd *lc) {
        int ret = EXIT_COMPLETED;

        for (size_t a = 0; a < lc->n_lanes; a++) {
                char lane_key[IDEMPOTENCY_KEY_MAX + PROTO_LANE_NAME_MAX + 2];
                int one = EXIT_ERROR;

                snprintf(lane_key, sizeof lane_key, "%s%s%s", lc->key ?: "", lc->n_lanes > 1 ? ":" : "",
                         lc->n_lanes > 1 ? lc->lanes[a] : "");
                for (size_t i = 0; i < lc->x.n_files; i++)
                        if (strcmp(lc->x.files[i].stem, lc->lanes[a]) == 0) {
                                one = lane_one(&lc->c, &lc->x.files[i], lc->confirm, lc->n_confirm, lc->key ? lane_key : NULL);
                                break;
                        }
                if (one == EXIT_ERROR || (ret != EXIT_ERROR && one > ret))
                        ret = one;
        }
        return ret;
}

static int lane_command(struct cli *cli, int argc, char **argv, enum exec_cmd cmd) {
        struct lane_cmd *lc = calloc(1, sizeof *lc);
        int ret = EXIT_ERROR;
        bool ran = false;

        if (!lc)
                return fprintf(stderr, "lanectl: out of memory\n"), EXIT_ERROR;
        cli_exec_init(&lc->x);
        lc->c = (struct lane_cmd_ctx) { .timeout_s = EXEC_DEFAULT_TIMEOUT_S, .host = lc->x.host, .pol = &lc->x.pol,
                                        .ops = &lc->x.ops, .cmd = cmd, .dry_run = cmd != EXEC_APPLY };
        if (parse_args(lc, argc, argv) == 0 && prepare(cli, lc) == 0) {
                ret = run_lanes(lc);
                ran = !lc->c.dry_run;
        }
        cli_exec_close(&lc->x);
        if (ran)   /* lanes may have changed: node_exporter's textfile says so now, not at the next cycle */
                cli_health_refresh_metrics(cli, lc->policy, lc->lanes_dir);
        free(lc);
        return ret;
}

int cmd_apply(struct cli *cli, int argc, char **argv) {
        return lane_command(cli, argc, argv, EXEC_APPLY);
}

int cmd_restart(struct cli *cli, int argc, char **argv) {
        return lane_command(cli, argc, argv, EXEC_RESTART);
}

int cmd_remove(struct cli *cli, int argc, char **argv) {
        return lane_command(cli, argc, argv, EXEC_REMOVE);
}
