/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl plan [LANE...]: load the desired lanes, observe each, plan it,
 * write a planned audit record, and print what a person can act on.
 * Planning reads only: it has no helper connection and no GitHub
 * credential, so it can neither mutate a unit nor fetch a token. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "gh-client.h"
#include "proto-policy.h"
#include "inventory.h"
#include "cli.h"
#include "exec-real.h"
#include "macro.h"
#include "observe.h"
#include "plan-json.h"
#include "settings.h"

#define PLAN_SCHEMA "lanekeeper.plan/1"
#define INVENTORY_FILE_MAX (256u << 20)
enum { EXIT_READY = 0, EXIT_BLOCKED = 1, EXIT_ERROR = 2 };

struct plan_opts {
        const char *inventory, *policy, *lanes_dir;
        bool json;
};

static void usage(void) {
        fprintf(stderr, "usage: lanectl plan [LANE...] [--inventory FILE] [--policy FILE] [--lanes-dir DIR] "
                        "[--output text|json]\n");
}

static int read_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        struct stat st;
        char *buf;
        size_t len = 0;
        ssize_t n;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADF;
        if ((unsigned long long) st.st_size > max)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len < (size_t) st.st_size && (n = read(fd, buf + len, (size_t) st.st_size - len)) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        free(buf);
                        return -errno;
                }
                len += (size_t) n;
        }
        buf[len] = '\0';
        *ret = buf;
        *ret_len = len;
        return 0;
}

static void print_text_lane(const struct lane_desired *d, const struct observation *o, const struct plan *p,
                            uint64_t seq) {
        printf("%-32s %-8s %-9s %-20s #%" PRIu64 "\n", d->name, plan_status_to_string(p->status),
               plan_action_to_string(p->action), plan_shape_to_string(p->shape), seq);
        for (size_t i = 0; i < p->n_blockers; i++)
                printf("  blocked  %s: %s\n", blocker_to_string(p->blockers[i].id), p->blockers[i].detail);
        for (size_t i = 0; i < o->n_checks; i++)
                if (o->checks[i].state != BASELINE_READY)
                        printf("  check    %s %s: %s\n", o->checks[i].name, baseline_state_to_string(o->checks[i].state),
                               o->checks[i].detail);
        for (size_t i = 0; i < p->n_steps; i++)
                printf("  next     %s\n", p->steps[i]);
}

#define MAX_SCOPES 256

/* GitHub's runners, read once per repository or organisation. */
struct scope_cache {
        char scope[160];
        struct inventory inv;
        bool ok;
        char problem[OBS_DETAIL_MAX];
};

struct run {
        const struct plan_opts *opts;
        const struct observe_env *env;
        struct baseline_config *baseline;
        const struct plan_policy *pol;
        const char *host;
        struct audit_store *store;
        struct gh_client *gh;
        const char *store_dir;           /* the lanes' holds */
        struct scope_cache *scopes;
        size_t n_scopes;
        size_t ready, blocked, errors, emitted;
        /* one lane at a time: its entry, observation and plan */
        struct lane_entry e;
        struct observation o;
        struct plan p;
};

/* The lane's scope's runners through the client, read on first use. */
static void github_for(struct run *run, const struct lane_desired *d, struct observe_env *env) {
        struct scope_cache *sc = NULL;
        char scope[160], err[512];
        long long offset;

        lane_scope(d, scope, sizeof scope);
        for (size_t i = 0; i < run->n_scopes && !sc; i++)
                if (strcasecmp(run->scopes[i].scope, scope) == 0)
                        sc = &run->scopes[i];
        if (!sc) {
                if (run->n_scopes == MAX_SCOPES) {
                        env->inventory = NULL;
                        env->inventory_problem = "more than 256 repositories and organisations in one plan";
                        return;
                }
                sc = &run->scopes[run->n_scopes++];
                *sc = (struct scope_cache) {};
                snprintf(sc->scope, sizeof sc->scope, "%s", scope);
                sc->ok = gh_list_runners(run->gh, scope, NULL, &sc->inv, err, sizeof err) == 0;
                if (!sc->ok)
                        snprintf(sc->problem, sizeof sc->problem, "%.150s", err);
                if (gh_clock_offset(run->gh, &offset)) {
                        run->baseline->have_clock_offset = true;
                        run->baseline->clock_offset_s = offset;
                }
        }
        env->inventory = sc->ok ? &sc->inv : NULL;
        env->inventory_problem = sc->ok ? NULL : sc->problem;
}

static void plan_one(struct run *run, const struct lane_file *f) {
        struct lane_entry *e = &run->e;
        struct observation *o = &run->o;
        struct plan *p = &run->p;
        struct plan_request req = { .intent = INTENT_PLAN, .this_host = run->host, .same_name_lanes = f->same_name };
        struct json_object *lane, *record;
        char when[32];
        uint64_t seq = 0;
        int r;

        snprintf(e->path, sizeof e->path, "%s", f->path);
        if (!lane_entry_load(e, stderr)) {
                run->errors++;
                return;
        }
        {
                struct observe_env env = *run->env;

                if (run->gh)
                        github_for(run, &e->lane, &env);
                observe_lane(&observe_real, &env, &e->lane, o);
                exec_observe_hold(run->store_dir, e->lane.name, o);
        }
        plan_lane(&e->lane, o, run->pol, &req, p);

        cli_now_utc(when, sizeof when);
        lane = lane_plan_to_json(&e->lane, o, p);
        record = json_object_new_object();
        json_object_object_add(record, "status", json_object_new_string("planned"));
        json_object_object_add(record, "lane", json_object_new_string(e->lane.name));
        json_object_object_add(record, "time", json_object_new_string(when));
        json_object_object_add(record, "host", json_object_new_string(run->host));
        json_object_object_add(record, "command", json_object_new_string("plan"));
        json_object_object_add(record, "plan", json_object_get(lane));
        r = audit_append(run->store, record, &seq);
        json_object_put(record);
        if (r < 0) {
                fprintf(stderr, "lanectl plan: %s: cannot write the planned audit record: %s\n", e->lane.name, strerror(-r));
                json_object_put(lane);
                run->errors++;
                return;
        }
        if (run->opts->json) {
                json_object_object_add(lane, "audit_seq", json_object_new_uint64(seq));
                printf("%s\n    %s", run->emitted ? "," : "",
                       json_object_to_json_string_ext(lane, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
        } else
                print_text_lane(&e->lane, o, p, seq);
        json_object_put(lane);
        run->emitted++;
        if (p->status == PLAN_READY)
                run->ready++;
        else
                run->blocked++;
}

/* Everything one 'lanectl plan' owns. */
struct plan_cmd {
        struct plan_opts opts;
        struct helper_policy hp;
        struct policy_view pv;
        struct plan_policy pol;
        struct inventory inv;
        struct baseline_config bc;
        struct observe_env env;
        sd_bus *bus;
        struct audit_store store;
        struct lane_file *files;
        size_t n_files;
        char host[PROTO_HOST_NAME_MAX + 2];
        char inv_problem[PATH_MAX + 128], bus_problem[160];
        struct run run;
};

static int parse_opts(int argc, char **argv, struct plan_opts *opts) {
        static const struct option options[] = {
                { "inventory", required_argument, NULL, 'i' },
                { "policy", required_argument, NULL, 'p' },
                { "lanes-dir", required_argument, NULL, 'd' },
                { "output", required_argument, NULL, 'o' },
                {}
        };
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'i':
                        opts->inventory = optarg;
                        break;
                case 'p':
                        opts->policy = optarg;
                        break;
                case 'd':
                        opts->lanes_dir = optarg;
                        break;
                case 'o':
                        if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
                                fprintf(stderr, "lanectl plan: --output is text or json\n");
                                return -EINVAL;
                        }
                        opts->json = strcmp(optarg, "json") == 0;
                        break;
                default:
                        usage();
                        return -EINVAL;
                }
        return 0;
}

/* GitHub: an inventory file (a list-runners response), the client (read
 * only), or the reason there is neither. */
static int open_github(struct plan_cmd *pc, const struct settings *s) {
        _cleanup_(freep) char *text = NULL;
        char err[512], cache[PROTO_PATH_MAX + 32];
        size_t len = 0;
        int r;

        if (pc->opts.inventory) {
                r = read_file(pc->opts.inventory, INVENTORY_FILE_MAX, &text, &len);
                if (r < 0)
                        return fprintf(stderr, "lanectl plan: cannot read the inventory %s: %s\n", pc->opts.inventory,
                                       r == -EFBIG ? "larger than 256 MiB" : strerror(-r)), r;
                if (inventory_parse(text, len, &pc->inv, err, sizeof err) < 0)
                        return fprintf(stderr, "lanectl plan: the inventory %s: %s\n", pc->opts.inventory, err), -EINVAL;
                pc->env.inventory = &pc->inv;
                return 0;
        }
        if (strcmp(settings_auth(s), "none") == 0) {
                snprintf(pc->inv_problem, sizeof pc->inv_problem, "no GitHub credentials in lanekeeper.conf and no "
                         "--inventory FILE (a list-runners response)");
                pc->env.inventory_problem = pc->inv_problem;
                return 0;
        }
        (void) mkdir(s->store_dir, 0750);
        snprintf(cache, sizeof cache, "%s/github-cache", s->store_dir);
        if (gh_client_new(s, cache, &pc->run.gh, err, sizeof err) < 0) {
                snprintf(pc->inv_problem, sizeof pc->inv_problem, "%s", err);
                pc->env.inventory_problem = pc->inv_problem;
                return 0;
        }
        gh_client_set_read_only(pc->run.gh);
        pc->run.scopes = calloc(MAX_SCOPES, sizeof *pc->run.scopes);
        return pc->run.scopes ? 0 : (fprintf(stderr, "lanectl plan: out of memory\n"), -ENOMEM);
}

/* The policy, the lanes asked for, the sources, the store. */
static int prepare(struct cli *cli, struct plan_cmd *pc, int argc, char **argv) {
        const struct settings *s;
        int r;

        if (cli_settings(cli, &s) < 0)
                return -EINVAL;
        if (!pc->opts.policy)
                pc->opts.policy = s->policy_file;
        if (!pc->opts.lanes_dir)
                pc->opts.lanes_dir = s->lanes_dir;
        /* The helper's own file gets the helper's checks; any other is a view. */
        if (cli_load_policy(pc->opts.policy, strcmp(pc->opts.policy, SYSCONFDIR "/lanekeeper/policy.conf") != 0,
                            &pc->hp) < 0)
                return -EINVAL;
        cli_plan_policy(&pc->hp, &pc->pv, &pc->pol);
        if (gethostname(pc->host, sizeof pc->host - 1) < 0)
                snprintf(pc->host, sizeof pc->host, "unknown");
        r = cli_list_lanes(pc->opts.lanes_dir, &pc->files, &pc->n_files);
        if (r < 0)
                return fprintf(stderr, "lanectl plan: cannot read the lane directory %s: %s\n", pc->opts.lanes_dir,
                               strerror(-r)), r;
        r = cli_select_lanes(pc->files, pc->n_files, argv + optind, (size_t) (argc - optind), pc->opts.lanes_dir, "plan");
        if (r < 0 || (r = open_github(pc, s)) < 0)
                return r;
        r = sd_bus_open_system(&pc->bus);
        if (r < 0) {
                snprintf(pc->bus_problem, sizeof pc->bus_problem, "cannot connect to the system bus: %s", strerror(-r));
                pc->env.bus_problem = pc->bus_problem;
                pc->bus = NULL;
        }
        pc->env.bus = pc->bus;
        cli_baseline_config(s, &pc->pv, &pc->bc);
        pc->run.store_dir = s->store_dir;
        return cli_open_audit(s, &pc->store, "plan");
}

/* Plan every selected lane, printing as it goes; then the summary. */
static void plan_all(struct plan_cmd *pc) {
        struct run *run = &pc->run;
        char when[32];
        size_t total;

        if (pc->opts.json) {
                cli_now_utc(when, sizeof when);
                printf("{\n  \"schema\": \"" PLAN_SCHEMA "\",\n  \"host\": \"%s\",\n  \"generated_at\": \"%s\",\n"
                       "  \"lanes\": [", pc->host, when);
        } else
                printf("%-32s %-8s %-9s %-20s %s\n", "LANE", "STATUS", "ACTION", "SHAPE", "RECORD");
        for (size_t i = 0; i < pc->n_files; i++)
                if (pc->files[i].selected)
                        plan_one(run, &pc->files[i]);
        total = run->ready + run->blocked + run->errors;
        if (pc->opts.json) {
                printf("\n  ],\n  \"summary\": { \"lanes\": %zu, \"ready\": %zu, \"blocked\": %zu, \"errors\": %zu }\n}\n",
                       total, run->ready, run->blocked, run->errors);
                return;
        }
        printf("%zu lane%s: %zu ready, %zu blocked", total, total == 1 ? "" : "s", run->ready, run->blocked);
        if (run->errors)
                printf(", %zu not planned (see the errors above)", run->errors);
        printf("\n");
}

static void plan_cmd_free(struct plan_cmd *pc) {
        audit_close(&pc->store);
        inventory_free(&pc->inv);
        for (size_t i = 0; i < pc->run.n_scopes; i++)
                inventory_free(&pc->run.scopes[i].inv);
        free(pc->run.scopes);
        gh_client_free(pc->run.gh);
        sd_bus_flush_close_unref(pc->bus);
        cli_free_lanes(pc->files, pc->n_files);
        free(pc);
}

int cmd_plan(struct cli *cli, int argc, char **argv) {
        struct plan_cmd *pc = calloc(1, sizeof *pc);
        int ret = EXIT_ERROR;

        if (!pc)
                return fprintf(stderr, "lanectl plan: out of memory\n"), EXIT_ERROR;
        pc->opts = (struct plan_opts) { .policy = getenv("LANEKEEPER_POLICY"), .lanes_dir = getenv("LANEKEEPER_LANES_DIR") };
        pc->store.dirfd = -EBADF;
        pc->env.baseline = &pc->bc;
        pc->run = (struct run) { .opts = &pc->opts, .env = &pc->env, .baseline = &pc->bc, .pol = &pc->pol,
                                 .host = pc->host, .store = &pc->store };
        if (parse_opts(argc, argv, &pc->opts) == 0 && prepare(cli, pc, argc, argv) >= 0) {
                plan_all(pc);
                ret = pc->run.errors ? EXIT_ERROR : pc->run.blocked ? EXIT_BLOCKED : EXIT_READY;
        }
        plan_cmd_free(pc);
        return ret;
}
