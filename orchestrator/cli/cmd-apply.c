/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl apply | restart | remove: parse the command line, load settings,
 * policy and lane files, set up the executor's real ops, run exec_lane()
 * for each lane in the order given, and print what it did. The work is
 * the executor's (exec/exec.h); this file only asks and tells. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "apply-state.h"
#include "audit.h"
#include "exec-real.h"
#include "exec.h"
#include "gh-client.h"
#include "lanectl.h"
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

/* Where config.sh registers: GitHub's web origin for the API's. */
static void web_url(const char *api, const struct lane_desired *d, char *buf, size_t size) {
        size_t n = strlen(api);
        const char *host;

        while (n && api[n - 1] == '/')
                n--;
        if (n == strlen("https://api.github.com") && strncmp(api, "https://api.github.com", n) == 0)
                snprintf(buf, size, "https://github.com");
        else if (n >= 7 && strncmp(api + n - 7, "/api/v3", 7) == 0)
                snprintf(buf, size, "%.*s", (int) (n - 7), api);
        else {
                host = strstr(api, "://");
                host = host ? host + 3 : api;
                snprintf(buf, size, "%.*s", (int) (host - api + (ptrdiff_t) strcspn(host, "/")), api);
        }
        snprintf(buf + strlen(buf), size - strlen(buf), "/%s", d->repository[0] ? d->repository : d->organisation);
}

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

static int lane_one(const struct lane_cmd_ctx *c, const struct lane_file *f, const char *confirm[], size_t n_confirm,
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
        web_url(c->s->api_url, &e->lane, web, sizeof web);
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

static int lane_command(int argc, char **argv, enum exec_cmd cmd) {
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
        static struct helper_policy hp;
        static struct policy_view pv;
        const char *confirm[64], *policy = getenv("LANEKEEPER_POLICY"), *lanes_dir = getenv("LANEKEEPER_LANES_DIR");
        const char *key = NULL, *reason;
        size_t n_confirm = 0, n_files = 0;
        const struct settings *s;
        struct plan_policy pol;
        struct baseline_config bc = {};
        struct audit_store store = { .dirfd = -EBADF };
        struct lane_file *files = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        char host[PROTO_HOST_NAME_MAX + 2] = "", store_dir[PROTO_PATH_MAX + 16], cache[PROTO_PATH_MAX + 32];
        struct exec_real real = { .bc = &bc, .store = &store, .register_dir = PROTO_REGISTER_DIR };
        struct exec_ops ops;
        struct lane_cmd_ctx c = { .timeout_s = EXEC_DEFAULT_TIMEOUT_S, .host = host, .pol = &pol, .ops = &ops,
                                  .cmd = cmd, .dry_run = cmd != EXEC_APPLY };
        const char *name = exec_cmd_to_string(cmd);
        int opt, r, ret = EXIT_COMPLETED;
        char *end;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case 'a':
                        if (cmd == EXEC_APPLY) {
                                fprintf(stderr, "lanectl apply: --apply belongs to restart and remove (apply always acts)\n");
                                return EXIT_ERROR;
                        }
                        c.dry_run = false;
                        break;
                case 'P':
                        if (cmd != EXEC_REMOVE) {
                                fprintf(stderr, "lanectl %s: --purge belongs to remove\n", name);
                                return EXIT_ERROR;
                        }
                        c.purge = true;
                        break;
                case 'c':
                        if (n_confirm == 64) {
                                fprintf(stderr, "lanectl %s: at most 64 lanes at once\n", name);
                                return EXIT_ERROR;
                        }
                        confirm[n_confirm++] = optarg;
                        break;
                case 'k':
                        key = optarg;
                        break;
                case 't':
                        errno = 0;
                        c.timeout_s = (unsigned) strtoul(optarg, &end, 10);
                        if (errno || *end || c.timeout_s < 1 || c.timeout_s > 3600) {
                                fprintf(stderr, "lanectl %s: --timeout is 1 to 3600 seconds\n", name);
                                return EXIT_ERROR;
                        }
                        break;
                case 'p':
                        policy = optarg;
                        break;
                case 'd':
                        lanes_dir = optarg;
                        break;
                default:
                        usage(cmd);
                        return EXIT_ERROR;
                }
        if (optind >= argc) {
                usage(cmd);
                return EXIT_ERROR;
        }
        if (argc - optind > 64) {
                fprintf(stderr, "lanectl %s: at most 64 lanes at once\n", name);
                return EXIT_ERROR;
        }
        /* Checked before anything is read: a mutation needs both, said plainly. */
        if (!c.dry_run && (!key || !n_confirm)) {
                fprintf(stderr, "lanectl %s: a change needs --confirm LANE for each lane and --idempotency-key KEY\n", name);
                usage(cmd);
                return EXIT_ERROR;
        }
        if (c.dry_run && (key || n_confirm)) {
                fprintf(stderr, "lanectl %s: --confirm and --idempotency-key go with --apply; without it this is a dry "
                                "run\n", name);
                return EXIT_ERROR;
        }
        if (key && idempotency_key_validate(key, &reason) < 0) {
                fprintf(stderr, "lanectl %s: the idempotency key %s\n", name, reason);
                return EXIT_ERROR;
        }
        if (key && argc - optind > 1 && strlen(key) + 1 + PROTO_LANE_NAME_MAX > IDEMPOTENCY_KEY_MAX) {
                fprintf(stderr, "lanectl %s: with several lanes the key gets ':LANE' appended; keep it under %d "
                                "characters\n", name, IDEMPOTENCY_KEY_MAX - PROTO_LANE_NAME_MAX);
                return EXIT_ERROR;
        }
        if (lanectl_settings(&s) < 0)
                return EXIT_ERROR;
        c.s = s;
        real.helper.socket_path = getenv("LANEKEEPER_HELPER_SOCKET") ?: s->helper_socket;
        real.store_dir = s->store_dir;
        if (getenv("LANEKEEPER_REGISTER_DIR"))
                real.register_dir = getenv("LANEKEEPER_REGISTER_DIR");
        if (!policy)
                policy = s->policy_file;
        if (!lanes_dir)
                lanes_dir = s->lanes_dir;
        if (lanectl_load_policy(policy, strcmp(policy, SYSCONFDIR "/lanekeeper/policy.conf") != 0, &hp) < 0)
                return EXIT_ERROR;
        lanectl_plan_policy(&hp, &pv, &pol);
        if (gethostname(host, sizeof host - 1) < 0)
                snprintf(host, sizeof host, "unknown");
        r = lanectl_list_lanes(lanes_dir, &files, &n_files);
        if (r < 0) {
                fprintf(stderr, "lanectl %s: cannot read the lane directory %s: %s\n", name, lanes_dir, strerror(-r));
                return EXIT_ERROR;
        }
        for (int a = optind; a < argc; a++) {
                bool found = false;

                for (size_t i = 0; i < n_files; i++)
                        if (strcmp(files[i].stem, argv[a]) == 0)
                                found = true;
                if (!found) {
                        fprintf(stderr, "lanectl %s: no lane file %s/%s.conf\n", name, lanes_dir, argv[a]);
                        ret = EXIT_ERROR;
                        goto out;
                }
        }

        (void) mkdir(s->store_dir, 0750);
        if (strcmp(settings_auth(s), "none") == 0)
                snprintf(real.gh_problem, sizeof real.gh_problem, "no GitHub credentials in lanekeeper.conf");
        else {
                snprintf(cache, sizeof cache, "%s/github-cache", s->store_dir);
                if (gh_client_new(s, cache, &real.gh, real.gh_problem, sizeof real.gh_problem) < 0)
                        real.gh = NULL;
        }
        if (sd_bus_open_system(&bus) < 0)
                bus = NULL;
        real.bus = bus;
        lanectl_baseline_config(s, &pv, &bc);
        snprintf(store_dir, sizeof store_dir, "%s/audit", s->store_dir);
        r = audit_open(store_dir, &store);
        if (r < 0) {
                fprintf(stderr, "lanectl %s: cannot open the audit store %s: %s\n", name, store_dir, strerror(-r));
                ret = EXIT_ERROR;
                goto out;
        }
        exec_real_ops(&real, &ops);

        /* One lane at a time, in the order given; each under its own key
         * (KEY, or KEY:LANE when several lanes share one command). */
        for (int a = optind; a < argc; a++) {
                char lane_key[IDEMPOTENCY_KEY_MAX + PROTO_LANE_NAME_MAX + 2];
                int one = EXIT_ERROR;

                snprintf(lane_key, sizeof lane_key, "%s%s%s", key ?: "", argc - optind > 1 ? ":" : "",
                         argc - optind > 1 ? argv[a] : "");
                for (size_t i = 0; i < n_files; i++)
                        if (strcmp(files[i].stem, argv[a]) == 0) {
                                one = lane_one(&c, &files[i], confirm, n_confirm, key ? lane_key : NULL);
                                break;
                        }
                /* the worst outcome decides: error > failed > busy > blocked > completed */
                if (one == EXIT_ERROR || (ret != EXIT_ERROR && one > ret))
                        ret = one;
        }
out:
        audit_close(&store);
        gh_client_free(real.gh);
        lanectl_free_lanes(files, n_files);
        return ret;
}

int cmd_apply(int argc, char **argv) {
        return lane_command(argc, argv, EXEC_APPLY);
}

int cmd_restart(int argc, char **argv) {
        return lane_command(argc, argv, EXEC_RESTART);
}

int cmd_remove(int argc, char **argv) {
        return lane_command(argc, argv, EXEC_REMOVE);
}
