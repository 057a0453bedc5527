/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl: the unprivileged orchestrator of lanekeeper. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "macro.h"
#include "proto-redact.h"
#include "proto-validate.h"

#define REDACT_INPUT_MAX (64u << 20)

static void help(void) {
        printf("Usage: lanectl [--help] [--version] COMMAND [ARGS...]\n\n"
               "Keep self-hosted CI runner lanes alive under systemd, without sudo.\n\n"
               "Commands:\n"
               "  redact [FILE]          copy FILE (or standard input) to standard output\n"
               "                         with tokens, keys and passwords replaced\n"
               "  check-name KIND VALUE  say whether VALUE is a valid KIND: lane, repository,\n"
               "                         organisation, label, runner, unit, user, path\n"
               "  helper VERB [LANE]     ask lanekeeper-helper to install-unit, daemon-reload,\n"
               "                         enable-now, restart, stop, remove-unit or load-bpf\n"
               "  lane validate [FILE...] check lane files (default: every *.conf in\n"
               "                         the lanes directory), every error with its line\n"
               "  config show            show the settings lanectl uses\n"
               "  github runners|jobs|rate-limit\n"
               "                         read GitHub: a scope's runners, queued and running\n"
               "                         jobs, the rate limits\n"
               "  plan [LANE...]         observe each lane, plan it (never acting) and\n"
               "                         record the plan; exit 0 ready, 1 blocked, 2 error\n"
               "  apply LANE... --confirm LANE --idempotency-key KEY [--smoke]\n"
               "                         create, adopt, reconcile or restart each lane, then\n"
               "                         verify it (completion gates; --smoke: a real job);\n"
               "                         exit 0 completed, 1 blocked, 2 error, 3 lane busy,\n"
               "                         4 failed, 5 applied but not proven\n"
               "  restart LANE... [--apply --confirm LANE --idempotency-key KEY]\n"
               "                         restart a lanekeeper unit, then check the gates;\n"
               "                         without --apply a dry run\n"
               "  remove LANE... [--apply --confirm LANE --idempotency-key KEY]\n"
               "                         stop, deregister from GitHub and remove the unit\n"
               "                         (the lane directory stays); refused while busy\n"
               "  runners [--output json]\n"
               "                         every runner of this host's scopes, joined with its\n"
               "                         lane: state, job, hold, managed or not\n"
               "  queue [--output json]  queued jobs per label set, with the online runners\n"
               "                         that match (0: waiting for a runner with labels)\n"
               "  drain LANE...|--all --reason TEXT [--wait DURATION]\n"
               "                         take the lane's routing labels off, let its job end,\n"
               "                         stop it; held until undrain (apply refuses)\n"
               "  undrain LANE...        the labels back, the unit started\n"
               "  rotate LANE...         new runner credentials: deregister and register again,\n"
               "                         only while idle\n"
               "  revoke LANE...|--all --reason TEXT --confirm LANE|all\n"
               "                         stop at once (a running job is killed), purge the\n"
               "                         credentials, deregister; held until unrevoke\n"
               "  unrevoke LANE... --confirm LANE\n"
               "                         lift a revoke once another GitHub credential is set\n"
               "  cleanup-stale [--older-than DURATION] [--apply]\n"
               "                         delete registrations of this host left offline with\n"
               "                         no lane (managed and host labels); a dry run by default\n"
               "  pool validate [FILE...]\n"
               "                         check pool files (lanekeeper-pool(5)) and their slots\n"
               "                         against the policy, every error with its line\n"
               "  pool supervise [--interval DURATION] [--once]\n"
               "                         the pool supervisor: demand-driven just-in-time\n"
               "                         runners, one job per slot start (lanekeeper-pool.service)\n"               "  pool status [POOL...] [--output json]\n"
               "                         slots with state, runner and job; the target and its\n"
               "                         reasons; the next actions; the last decisions\n"
               "  pool scale POOL [--min N] [--max N] [--spare N]\n"
               "                         rewrite the pool file's counts atomically (root)\n"
               "  pool drain POOL --reason TEXT | pool undrain POOL\n"
               "                         start nothing, stop idle slots (busy ones finish); undo\n"
               "  preflight [--output json]\n"
               "                         what a host needs before its first lane, each with a fix\n"
               "  health [--heal] [--only CHECK...]\n"
               "                         one health cycle: stale and superseded runs, offline\n"
               "                         lanes, a damaged actions cache, clock drift; a dry\n"
               "                         run unless --heal; exit 0 healthy, 1 degraded, 2 error\n"
               "  status [LANE...] [--output json]\n"
               "                         the dashboard: lanes, queue per label set, caches,\n"
               "                         clock, rate limit, the last self-heal actions\n"
               "  metrics                Prometheus metrics of this host's lanes, queue per\n"
               "                         label set, clock, rate limit, audit chain\n"
               "  slo --repo OWNER/REPO [--last N] [--output json]\n"
               "                         the rollout's success criteria over the latest N\n"
               "                         trusted pull-request runs, each with its threshold\n"
               "  route status|enable|disable|advance --repo OWNER/REPO [--reason TEXT]\n"
               "                         the variable routing trusted PRs to self-hosted\n"
               "                         labels, its canary stage; changes audited\n"
               "  route guard [--repo OWNER/REPO...]\n"
               "                         turn routing off when a rollback trigger holds\n"
               "  smoke LANE|--pool POOL [--repo OWNER/REPO...] [--workflow FILE] [--ref REF]\n"
               "        [--deadline DURATION] [--output json]\n"
               "                         prove a lane by a real job: dispatched, run on its\n"
               "                         runner, success, its marker in the log; audited\n"
               "  smoke --print-workflow  the workflow to commit for it\n"
               "  observe LANE --job ID|--duration D --out DIR\n"
               "                         what a lane's job executes, opens and connects to,\n"
               "                         seen from the kernel (load-bpf); canonical artifacts\n"
               "  gate run --lane LANE --workflow FILE --ref REF [--input K=V]... [--runs N]\n"
               "        --out DIR        a dedicated lane reset, the workflow run and observed\n"
               "                         N times: acceptance and determinism, PASS or FAIL\n"
               "  gate diff DIR1 DIR2    two observed runs compared as the determinism gate\n"
               "                         does: FAIL lines and unified diffs\n"
               "  proof pack DIR [--out PACK] [--expect GATE]... [--retention-days N]\n"
               "  proof verify PACK [--require-passed]\n"
               "                         gate runs' evidence as a directory and a tarball\n"
               "                         with a manifest; every digest checked again\n"
               "  emergency stop-claims|revoke-all --reason TEXT [--apply --confirm VERB]\n"
               "  emergency pause-repo|resume-repo|cancel-active OWNER/REPO --reason TEXT\n"
               "        [--apply --confirm OWNER/REPO]\n"
               "                         drain or revoke every lane of this host; Actions off\n"
               "                         for a repository and back as it was; its runs\n"
               "                         cancelled; a dry run unless --apply; audited\n"
               "  audit list|show SEQ|verify|prune [--older-than DURATION]\n"
               "                         read the audit store; verify finds missing, altered\n"
               "                         or reordered records; prune keeps a checkpoint\n\n"
               "Options:\n"
               "     --config FILE       settings file (default " SYSCONFDIR "/lanekeeper/lanekeeper.conf)\n"
               "  -h --help              show this help\n"
               "     --version           show the version\n\n"
               "See lanectl(1).\n");
}

static int read_all(FILE *f, char **ret) {
        _cleanup_(freep) char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                size_t n;

                if (cap - len < 4096) {
                        char *b;

                        if (cap >= REDACT_INPUT_MAX)
                                return -EFBIG;
                        cap = cap ? cap * 2 : 65536;
                        b = realloc(buf, cap + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                n = fread(buf + len, 1, cap - len, f);
                len += n;
                if (n == 0)
                        break;
        }
        if (ferror(f))
                return -EIO;
        if (memchr(buf, '\0', len))
                return -EBADMSG;
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

static int cmd_redact(struct cli *cli, int argc, char **argv) {
        (void) cli;
        _cleanup_(fclosep) FILE *opened = NULL;
        _cleanup_(freep) char *in = NULL, *out = NULL;
        FILE *f = stdin;
        int r;

        if (argc > 2) {
                fprintf(stderr, "lanectl redact: at most one FILE\n");
                return 2;
        }
        if (argc == 2 && strcmp(argv[1], "-") != 0) {
                f = opened = fopen(argv[1], "re");
                if (!f) {
                        fprintf(stderr, "lanectl redact: cannot open '%s': %m\n", argv[1]);
                        return 1;
                }
        }
        r = read_all(f, &in);
        if (r < 0) {
                fprintf(stderr, "lanectl redact: cannot read input: %s\n",
                        r == -EBADMSG ? "it contains a NUL byte (text only)" :
                        r == -EFBIG   ? "it is larger than 64 MiB" : strerror(-r));
                return 1;
        }
        r = proto_redact(in, &out, NULL);
        if (r < 0) {
                fprintf(stderr, "lanectl redact: %s\n", strerror(-r));
                return 1;
        }
        if (fputs(out, stdout) == EOF || fflush(stdout) == EOF) {
                fprintf(stderr, "lanectl redact: cannot write output: %m\n");
                return 1;
        }
        return 0;
}

static int cmd_check_name(struct cli *cli, int argc, char **argv) {
        (void) cli;
        static const struct {
                const char *kind;
                int (*validate)(const char *, const char **);
        } kinds[] = {
                { "lane", proto_validate_lane_name },
                { "repository", proto_validate_repository },
                { "organisation", proto_validate_organisation },
                { "label", proto_validate_label },
                { "runner", proto_validate_runner_name },
                { "unit", proto_validate_unit_name },
                { "user", proto_validate_user_name },
                { "path", proto_validate_abs_path },
        };
        const char *reason = NULL;

        if (argc != 3) {
                fprintf(stderr, "lanectl check-name: needs KIND and VALUE\n");
                return 2;
        }
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                if (strcmp(kinds[i].kind, argv[1]) != 0)
                        continue;
                if (kinds[i].validate(argv[2], &reason) < 0) {
                        /* Do not echo the value: it is untrusted and may hold control bytes. */
                        printf("invalid %s: %s\n", kinds[i].kind, reason);
                        return 1;
                }
                printf("valid %s\n", kinds[i].kind);
                return 0;
        }
        fprintf(stderr, "lanectl check-name: unknown KIND; one of lane, repository, organisation, "
                        "label, runner, unit, user, path\n");
        return 2;
}

static int cmd_help(struct cli *cli, int argc, char **argv) {
        (void) cli, (void) argc, (void) argv;
        help();
        return 0;
}

/* The commands: a name, the function. An unknown name is an error. */
static const struct {
        const char *name;
        int (*run)(struct cli *cli, int argc, char **argv);
} commands[] = {
        { "redact", cmd_redact },
        { "check-name", cmd_check_name },
        { "helper", cmd_helper },
        { "lane", cmd_lane },
        { "config", cmd_config },
        { "audit", cmd_audit },
        { "plan", cmd_plan },
        { "github", cmd_github },
        { "apply", cmd_apply },
        { "restart", cmd_restart },
        { "remove", cmd_remove },
        { "drain", cmd_drain },
        { "undrain", cmd_undrain },
        { "rotate", cmd_rotate },
        { "revoke", cmd_revoke },
        { "unrevoke", cmd_unrevoke },
        { "runners", cmd_runners },
        { "queue", cmd_queue },
        { "cleanup-stale", cmd_cleanup_stale },
        { "preflight", cmd_preflight },
        { "pool", cmd_pool },
        { "health", cmd_health },
        { "metrics", cmd_metrics },
        { "status", cmd_status },
        { "slo", cmd_slo },
        { "route", cmd_route },
        { "smoke", cmd_smoke },
        { "observe", cmd_observe },
        { "gate", cmd_gate },
        { "proof", cmd_proof },
        { "emergency", cmd_emergency },
        { "help", cmd_help },
};

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "config", required_argument, NULL, 'c' },
                {}
        };
        _cleanup_(freep) struct cli *cli = calloc(1, sizeof *cli);
        int c;

        if (!cli)
                return 2;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        cli->config_path = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("lanectl " PACKAGE_VERSION "\n");
                        return 0;
                default:
                        return 2;
                }
        if (optind >= argc) {
                help();
                return 2;
        }
        argc -= optind;
        argv += optind;
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(argv[0], commands[i].name) == 0)
                        return commands[i].run(cli, argc, argv);
        fprintf(stderr, "lanectl: unknown command; see 'lanectl --help'\n");
        return 2;
}
