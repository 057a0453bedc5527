/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl apply | restart | remove | drain | undrain | rotate | revoke |
 * unrevoke: parse the command line, load settings, policy and lane files,
 * set up the executor's real ops, run exec_lane() for each lane in the
 * order given, and print what it did (cli-report.c). The work is the
 * executor's (exec/exec.h); this file only asks and tells.
 *
 * drain, undrain and rotate act when asked (the command is the
 * confirmation; drain and revoke need a reason); revoke and unrevoke need
 * --confirm LANE (revoke --all: --confirm all). Without
 * --idempotency-key these generate one. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply-state.h"
#include "audit.h"
#include "exec-real.h"
#include "exec.h"
#include "cli.h"
#include "gh-auth.h"
#include "cli-health.h"
#include "cli-lanecmd.h"
#include "cli-smoke.h"
#include "macro.h"
#include "observe.h"
#include "proto-policy.h"
#include "proto-register.h"
#include "settings.h"

#define DRAIN_WAIT_DEFAULT_S (6 * 3600)

static bool acts_when_asked(enum exec_cmd cmd) {
        return cmd == EXEC_DRAIN || cmd == EXEC_UNDRAIN || cmd == EXEC_ROTATE;
}

static void usage(enum exec_cmd cmd) {
        static const char *const tail = "[--idempotency-key KEY] [--timeout SECONDS] [--policy FILE] [--lanes-dir DIR]";

        switch (cmd) {
        case EXEC_APPLY:
                fprintf(stderr, "usage: lanectl apply LANE... --confirm LANE [--confirm LANE...] --idempotency-key KEY\n"
                                "                     [--smoke [--smoke-repo OWNER/REPO] [--smoke-workflow FILE]\n"
                                "                     [--smoke-deadline DURATION]]\n"
                                "                     [--timeout SECONDS] [--policy FILE] [--lanes-dir DIR]\n");
                return;
        case EXEC_DRAIN:
                fprintf(stderr, "usage: lanectl drain LANE...|--all --reason TEXT [--wait DURATION]\n       %s\n", tail);
                return;
        case EXEC_REVOKE:
                fprintf(stderr, "usage: lanectl revoke LANE...|--all --reason TEXT --confirm LANE|all...\n       %s\n",
                        tail);
                return;
        case EXEC_UNREVOKE:
                fprintf(stderr, "usage: lanectl unrevoke LANE... --confirm LANE...\n       %s\n", tail);
                return;
        case EXEC_UNDRAIN:
        case EXEC_ROTATE:
                fprintf(stderr, "usage: lanectl %s LANE...\n       %s\n", exec_cmd_to_string(cmd), tail);
                return;
        case EXEC_RESTART:
        case EXEC_REMOVE:
        case _EXEC_CMD_MAX:
        case _EXEC_CMD_INVALID:
                fprintf(stderr, "usage: lanectl %s LANE... [--apply --confirm LANE [--confirm LANE...] --idempotency-key KEY]\n"
                                "                     [--timeout SECONDS] [--policy FILE] [--lanes-dir DIR]%s\n",
                        exec_cmd_to_string(cmd), cmd == EXEC_REMOVE ? " [--purge]" : "");
        }
}

static int lane_one(const struct lane_cmd_ctx *c, const struct lane_file *f, const char *const confirm[], size_t n_confirm,
                    const char *key, bool *ret_left) {
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
                .timeout_s = c->timeout_s, .purge = c->purge, .dry_run = c->dry_run, .reason = c->reason,
                .credential_fp = c->credential_fp, .idle_wait_s = c->idle_wait_s, .prove = c->prove,
                .plan = { .this_host = c->host, .same_name_lanes = f->same_name, .idempotency_key = key,
                          .confirmed = acts_when_asked(c->cmd) },
        };
        for (size_t i = 0; i < n_confirm; i++)
                if (strcmp(confirm[i], e->lane.name) == 0 || strcmp(confirm[i], "all") == 0)
                        req.plan.confirmed = true;
        (void) exec_lane(c->ops, &req, res);
        if (ret_left)
                *ret_left = res->left_draining;
        return cli_lane_report(c, &e->lane, res);
}

/* Everything one lane command owns. */
struct lane_cmd {
        struct lane_cmd_ctx c;
        const char *confirm[64], *policy, *lanes_dir, *key;
        size_t n_confirm;
        char **lanes;
        size_t n_lanes;
        bool all;                      /* drain, revoke --all: every lane file */
        char *all_lanes[64];
        char auto_key[64];
        char credential_fp[CREDENTIAL_FP_SIZE];
        bool left[64];                 /* drain: left draining by the first pass */
        bool smoke;                    /* apply --smoke */
        struct cli_smoke_proof proof;
        struct exec_prove prove;
        struct cli_exec x;
};

/* apply --smoke's options: 0, 1 not one of them, -EINVAL. */
static int parse_smoke(struct lane_cmd *lc, int opt) {
        const char *why;

        if (opt != 'S' && opt != 'R' && opt != 'W' && opt != 'T')
                return 1;
        if (lc->c.cmd != EXEC_APPLY)
                return fprintf(stderr, "lanectl %s: --smoke and its options belong to apply\n",
                               exec_cmd_to_string(lc->c.cmd)), -EINVAL;
        lc->smoke = true;
        if (opt == 'R') {
                if (proto_validate_repository(optarg, &why) < 0)
                        return fprintf(stderr, "lanectl apply: --smoke-repo '%s' is not a repository (OWNER/NAME): %s\n",
                                       optarg, why), -EINVAL;
                lc->proof.repo = optarg;
        } else if (opt == 'W') {
                if (!optarg[0] || strpbrk(optarg, "/?#% "))
                        return fprintf(stderr, "lanectl apply: --smoke-workflow is a file name in .github/workflows or "
                                       "an id\n"), -EINVAL;
                lc->proof.workflow = optarg;
        } else if (opt == 'T' && (cli_parse_duration(optarg, 6 * 3600, &lc->proof.deadline_s) < 0 ||
                                  lc->proof.deadline_s < 10))
                return fprintf(stderr, "lanectl apply: --smoke-deadline must be from 10s to 6h\n"), -EINVAL;
        return 0;
}

static int parse_option(struct lane_cmd *lc, int opt) {
        const char *name = exec_cmd_to_string(lc->c.cmd), *reason;
        char *end;
        int k;

        if ((k = parse_smoke(lc, opt)) <= 0)
                return k;
        switch (opt) {
        case 'a':
                if (lc->c.cmd != EXEC_RESTART && lc->c.cmd != EXEC_REMOVE)
                        return fprintf(stderr, "lanectl %s: --apply belongs to restart and remove (%s always acts)\n",
                                       name, name), -EINVAL;
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
        case 'r':
                if (lc->c.cmd != EXEC_DRAIN && lc->c.cmd != EXEC_REVOKE)
                        return fprintf(stderr, "lanectl %s: --reason belongs to drain and revoke\n", name), -EINVAL;
                if (lane_hold_reason_validate(optarg, &reason) < 0)
                        return fprintf(stderr, "lanectl %s: the reason %s\n", name, reason), -EINVAL;
                lc->c.reason = optarg;
                return 0;
        case 'w':
                if (lc->c.cmd != EXEC_DRAIN)
                        return fprintf(stderr, "lanectl %s: --wait belongs to drain\n", name), -EINVAL;
                if (cli_parse_duration(optarg, 7 * 86400, &lc->c.idle_wait_s) < 0)
                        return fprintf(stderr, "lanectl drain: --wait is a duration of at most 7 days: 90, 90s, 15m, "
                                       "6h, 2d\n"), -EINVAL;
                return 0;
        case 'A':
                if (lc->c.cmd != EXEC_DRAIN && lc->c.cmd != EXEC_REVOKE)
                        return fprintf(stderr, "lanectl %s: --all belongs to drain and revoke\n", name), -EINVAL;
                lc->all = true;
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
                { "reason", required_argument, NULL, 'r' },
                { "wait", required_argument, NULL, 'w' },
                { "all", no_argument, NULL, 'A' },
                { "smoke", no_argument, NULL, 'S' },
                { "smoke-repo", required_argument, NULL, 'R' },
                { "smoke-workflow", required_argument, NULL, 'W' },
                { "smoke-deadline", required_argument, NULL, 'T' },
                {}
        };
        const char *name = exec_cmd_to_string(lc->c.cmd), *reason;
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if (parse_option(lc, opt) < 0)
                        return -EINVAL;
        if (optind >= argc && !lc->all)
                return usage(lc->c.cmd), -EINVAL;
        if (optind < argc && lc->all)
                return fprintf(stderr, "lanectl %s: LANE... or --all, not both\n", name), -EINVAL;
        lc->lanes = argv + optind;
        lc->n_lanes = (size_t) (argc - optind);
        if (lc->n_lanes > 64)
                return fprintf(stderr, "lanectl %s: at most 64 lanes at once\n", name), -EINVAL;
        if ((lc->c.cmd == EXEC_DRAIN || lc->c.cmd == EXEC_REVOKE) && !lc->c.reason)
                return fprintf(stderr, "lanectl %s: say why with --reason TEXT (kept with the lane and in the audit "
                               "record)\n", name), -EINVAL;
        if ((lc->c.cmd == EXEC_REVOKE || lc->c.cmd == EXEC_UNREVOKE) && !lc->n_confirm)
                return fprintf(stderr, "lanectl %s: needs --confirm LANE for each lane%s\n", name,
                               lc->c.cmd == EXEC_REVOKE ? " (--confirm all with --all): a revoke kills a running job" : ""),
                       -EINVAL;
        if (lc->c.cmd == EXEC_APPLY || lc->c.cmd == EXEC_RESTART || lc->c.cmd == EXEC_REMOVE) {
                if (!lc->c.dry_run && (!lc->key || !lc->n_confirm)) {
                        fprintf(stderr, "lanectl %s: a change needs --confirm LANE for each lane and --idempotency-key "
                                "KEY\n", name);
                        return usage(lc->c.cmd), -EINVAL;
                }
                if (lc->c.dry_run && (lc->key || lc->n_confirm))
                        return fprintf(stderr, "lanectl %s: --confirm and --idempotency-key go with --apply; without it "
                                       "this is a dry run\n", name), -EINVAL;
        } else if (!lc->key) {
                /* the operator's own verbs: one key per invocation */
                snprintf(lc->auto_key, sizeof lc->auto_key, "%s-%lld-%d", name, (long long) time(NULL), (int) getpid());
                lc->key = lc->auto_key;
        }
        if (lc->key && idempotency_key_validate(lc->key, &reason) < 0)
                return fprintf(stderr, "lanectl %s: the idempotency key %s\n", name, reason), -EINVAL;
        if (lc->key && (lc->n_lanes > 1 || lc->all) && strlen(lc->key) + 6 + PROTO_LANE_NAME_MAX > IDEMPOTENCY_KEY_MAX)
                return fprintf(stderr, "lanectl %s: with several lanes the key gets ':LANE' appended; keep it under %d "
                               "characters\n", name, IDEMPOTENCY_KEY_MAX - PROTO_LANE_NAME_MAX - 6), -EINVAL;
        return 0;
}

/* revoke and unrevoke: the fingerprint of the GitHub credential configured. */
static int credential(struct lane_cmd *lc) {
        const struct settings *s = lc->x.s;
        const char *path = strcmp(settings_auth(s), "app") == 0 ? s->private_key_file : s->token_file;
        char err[512];

        if (lc->c.cmd != EXEC_REVOKE && lc->c.cmd != EXEC_UNREVOKE)
                return 0;
        if (strcmp(settings_auth(s), "none") == 0)
                return 0;   /* revoke goes on; unrevoke is refused by the plan */
        if (credential_fingerprint(path, strcmp(settings_auth(s), "app") == 0 ? s->app_id : 0, lc->credential_fp, err,
                                   sizeof err) < 0) {
                if (lc->c.cmd == EXEC_UNREVOKE)
                        return fprintf(stderr, "lanectl unrevoke: cannot read the GitHub credential: %s\n", err), -EINVAL;
                fprintf(stderr, "lanectl revoke: cannot read the GitHub credential (%s); revoking all the same\n", err);
                return 0;
        }
        lc->c.credential_fp = lc->credential_fp;
        return 0;
}

/* Settings, policy, lanes, GitHub, the bus, the store: the executor's real ops. */
/* apply --smoke: each lane serves the repository its smoke runs in (the
 * lane's own, or --smoke-repo in its organisation), checked before
 * anything is done. */
static int smoke_serves(struct lane_cmd *lc) {
        _cleanup_(freep) struct lane_entry *e = calloc(1, sizeof *e);
        const char *repo = lc->proof.repo;

        if (!e)
                return -ENOMEM;
        for (size_t a = 0; a < lc->n_lanes; a++)
                for (size_t i = 0; i < lc->x.n_files; i++) {
                        const struct lane_desired *d = &e->lane;

                        if (strcmp(lc->x.files[i].stem, lc->lanes[a]) != 0)
                                continue;
                        snprintf(e->path, sizeof e->path, "%s", lc->x.files[i].path);
                        if (!lane_entry_load(e, stderr))
                                return -EINVAL;
                        if (!repo && !d->repository[0])
                                return fprintf(stderr, "lanectl apply: --smoke: %s serves the organisation %s: name the "
                                               "repository with --smoke-repo\n", d->name, d->organisation), -EINVAL;
                        if (repo && !lane_serves_repository(d, repo))
                                return fprintf(stderr, "lanectl apply: --smoke: %s does not serve %s\n", d->name, repo),
                                       -EINVAL;
                }
        return 0;
}

static int prepare(struct cli *cli, struct lane_cmd *lc) {
        const char *name = exec_cmd_to_string(lc->c.cmd);
        int r;

        r = cli_exec_open(cli, &lc->x, lc->policy, lc->lanes_dir, name);
        if (r < 0)
                return r;
        lc->c.s = lc->x.s;
        if (credential(lc) < 0)
                return -EINVAL;
        if (lc->all) {
                for (size_t i = 0; i < lc->x.n_files && lc->n_lanes < ELEMENTSOF(lc->all_lanes); i++)
                        lc->all_lanes[lc->n_lanes++] = lc->x.files[i].stem;
                lc->lanes = lc->all_lanes;
                if (!lc->n_lanes)
                        return fprintf(stderr, "lanectl %s: no lane files in %s\n", name, lc->x.lanes_dir), -ENOENT;
        }
        r = cli_select_lanes(lc->x.files, lc->x.n_files, lc->lanes, lc->n_lanes, lc->x.lanes_dir, name);
        if (r < 0 || !lc->smoke)
                return r;
        lc->proof.gh = lc->x.real.gh;
        lc->prove = (struct exec_prove) { .run = cli_smoke_prove, .data = &lc->proof };
        lc->c.prove = &lc->prove;
        return smoke_serves(lc);
}

/* How bad an exit status is: error > failed > not proven > busy > blocked
 * > completed. */
static int severity(int exit_status) {
        static const int rank[] = { [EXIT_COMPLETED] = 0, [EXIT_BLOCKED] = 1, [EXIT_BUSY] = 2, [EXIT_NOT_PROVEN] = 3,
                                    [EXIT_FAILED] = 4, [EXIT_ERROR] = 5 };

        return exit_status >= 0 && (size_t) exit_status < ELEMENTSOF(rank) ? rank[exit_status] : 5;
}

/* One lane at a time, in the order given; each under its own key (KEY, or
 * KEY:LANE when several lanes share one command). The worst outcome
 * decides (severity()). */
static int run_lanes(struct lane_cmd *lc, bool second_pass) {
        int ret = EXIT_COMPLETED;
        bool many = lc->n_lanes > 1 || lc->all;

        for (size_t a = 0; a < lc->n_lanes; a++) {
                char lane_key[IDEMPOTENCY_KEY_MAX + PROTO_LANE_NAME_MAX + 8];
                int one = EXIT_ERROR;

                if (second_pass && !lc->left[a])
                        continue;
                snprintf(lane_key, sizeof lane_key, "%s%s%s%s", lc->key ?: "", many ? ":" : "", many ? lc->lanes[a] : "",
                         second_pass ? ":wait" : "");
                for (size_t i = 0; i < lc->x.n_files; i++)
                        if (strcmp(lc->x.files[i].stem, lc->lanes[a]) == 0) {
                                one = lane_one(&lc->c, &lc->x.files[i], lc->confirm, lc->n_confirm, lc->key ? lane_key : NULL,
                                               &lc->left[a]);
                                break;
                        }
                if (severity(one) > severity(ret))
                        ret = one;
        }
        return ret;
}

/* A drain of several lanes takes the labels off every lane first (and
 * stops the idle ones), then waits for the busy ones: none takes a new job
 * while another's job ends. */
static int run_command(struct lane_cmd *lc) {
        unsigned wait = lc->c.idle_wait_s;
        int ret, again;

        if (lc->c.cmd != EXEC_DRAIN || lc->n_lanes < 2 || wait == 0)
                return run_lanes(lc, false);
        lc->c.idle_wait_s = 0;
        ret = run_lanes(lc, false);
        lc->c.idle_wait_s = wait;
        again = run_lanes(lc, true);
        return severity(again) > severity(ret) ? again : ret;
}

static int lane_command(struct cli *cli, int argc, char **argv, enum exec_cmd cmd) {
        struct lane_cmd *lc = calloc(1, sizeof *lc);
        int ret = EXIT_ERROR;
        bool ran = false;

        if (!lc)
                return fprintf(stderr, "lanectl: out of memory\n"), EXIT_ERROR;
        cli_exec_init(&lc->x);
        lc->proof.deadline_s = SMOKE_DEADLINE_DEFAULT_S;
        lc->c = (struct lane_cmd_ctx) { .timeout_s = EXEC_DEFAULT_TIMEOUT_S, .host = lc->x.host, .pol = &lc->x.pol,
                                        .ops = &lc->x.ops, .cmd = cmd,
                                        .dry_run = cmd == EXEC_RESTART || cmd == EXEC_REMOVE,
                                        .idle_wait_s = DRAIN_WAIT_DEFAULT_S };
        if (parse_args(lc, argc, argv) == 0 && prepare(cli, lc) == 0) {
                ret = run_command(lc);
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

int cmd_drain(struct cli *cli, int argc, char **argv) {
        return lane_command(cli, argc, argv, EXEC_DRAIN);
}

int cmd_undrain(struct cli *cli, int argc, char **argv) {
        return lane_command(cli, argc, argv, EXEC_UNDRAIN);
}

int cmd_rotate(struct cli *cli, int argc, char **argv) {
        return lane_command(cli, argc, argv, EXEC_ROTATE);
}

int cmd_revoke(struct cli *cli, int argc, char **argv) {
        return lane_command(cli, argc, argv, EXEC_REVOKE);
}

int cmd_unrevoke(struct cli *cli, int argc, char **argv) {
        return lane_command(cli, argc, argv, EXEC_UNREVOKE);
}
