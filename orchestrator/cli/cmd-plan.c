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
#include "lanectl.h"
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

/* The policy as a view: the helper enforces it; the planner only predicts.
 * The helper's file (SYSCONFDIR/lanekeeper/policy.conf) must pass the
 * helper's own checks from / down; any other file (a checkout, a test) is
 * checked from its own directory down and may also belong to the caller. */
int lanectl_load_policy(const char *path, bool explicit, struct helper_policy *pol) {
        _cleanup_(closep) int anchor = -EBADF;
        char err[512], dir[PATH_MAX];
        const char *base = strrchr(path, '/');
        int r;

        if (path[0] != '/' || !base || !base[1]) {
                fprintf(stderr, "lanectl: the policy path %s is not an absolute file name\n", path);
                return -EINVAL;
        }
        snprintf(dir, sizeof dir, "%.*s", (int) (base - path), path);
        anchor = open(explicit && dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (anchor < 0)
                r = -errno, snprintf(err, sizeof err, "%s", strerror(errno));
        else
                r = policy_load_at(anchor, explicit ? base + 1 : path + 1, explicit ? getuid() : 0, pol, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "lanectl: cannot use the policy %s: %s%s\n", path, err,
                        explicit ? "" : "\n  (give --policy FILE or LANEKEEPER_POLICY to plan against another)");
        return r;
}


static int conf_filter(const struct dirent *d) {
        size_t n = strlen(d->d_name);
        return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

static int stem_cmp(const void *a, const void *b) {
        return strcasecmp((*(struct lane_file *const *) a)->stem, (*(struct lane_file *const *) b)->stem);
}

static void count_same_names(struct lane_file *files, size_t n) {
        struct lane_file **byname = calloc(n + 1, sizeof *byname);

        for (size_t i = 0; i < n; i++)
                files[i].same_name = 1;
        if (!byname)
                return;   /* each counted once: no duplicate is invented */
        for (size_t i = 0; i < n; i++)
                byname[i] = &files[i];
        qsort(byname, n, sizeof *byname, stem_cmp);
        for (size_t i = 0, j; i < n; i = j) {
                for (j = i + 1; j < n && strcasecmp(byname[i]->stem, byname[j]->stem) == 0; j++)
                        ;
                for (size_t k = i; k < j; k++)
                        byname[k]->same_name = j - i;
        }
        free(byname);
}

/* The lane files of DIR, sorted, each with how many files name the same lane
 * without regard to case (a lane file is NAME.conf, checked when parsed). */
int lanectl_list_lanes(const char *dir, struct lane_file **ret, size_t *ret_n) {
        struct dirent **ents = NULL;
        struct lane_file *files;
        int n = scandir(dir, &ents, conf_filter, alphasort);

        if (n < 0)
                return -errno;
        files = calloc((size_t) n + 1, sizeof *files);
        for (int i = 0; i < n; i++) {
                if (files) {
                        size_t len = strlen(ents[i]->d_name) - 5;

                        if (asprintf(&files[i].path, "%s/%s", dir, ents[i]->d_name) < 0)
                                files[i].path = NULL;
                        snprintf(files[i].stem, sizeof files[i].stem, "%.*s", (int) (len < sizeof files[i].stem - 1 ? len : sizeof files[i].stem - 1),
                                 ents[i]->d_name);
                }
                free(ents[i]);
        }
        free(ents);
        if (!files)
                return -ENOMEM;
        count_same_names(files, (size_t) n);
        *ret = files;
        *ret_n = (size_t) n;
        return 0;
}

void lanectl_free_lanes(struct lane_file *files, size_t n) {
        for (size_t i = 0; files && i < n; i++)
                free(files[i].path);
        free(files);
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

static void now_utc(char *buf, size_t size) {
        struct timespec ts;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
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
        struct scope_cache *scopes;
        size_t n_scopes;
        size_t ready, blocked, errors, emitted;
};

/* The lane's scope's runners through the client, read on first use. */
static void github_for(struct run *run, const struct lane_desired *d, struct observe_env *env) {
        struct scope_cache *sc = NULL;
        char scope[160], err[512];
        long long offset;

        snprintf(scope, sizeof scope, "%s/%s", d->repository[0] ? "repos" : "orgs",
                 d->repository[0] ? d->repository : d->organisation);
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
        static struct lane_entry e;
        static struct observation o;
        static struct plan p;
        struct plan_request req = { .intent = INTENT_PLAN, .this_host = run->host, .same_name_lanes = f->same_name };
        struct json_object *lane, *record;
        char when[32];
        uint64_t seq = 0;
        int r;

        snprintf(e.path, sizeof e.path, "%s", f->path);
        if (!lane_entry_load(&e, stderr)) {
                run->errors++;
                return;
        }
        {
                struct observe_env env = *run->env;

                if (run->gh)
                        github_for(run, &e.lane, &env);
                observe_lane(&observe_real, &env, &e.lane, &o);
        }
        plan_lane(&e.lane, &o, run->pol, &req, &p);

        now_utc(when, sizeof when);
        lane = lane_plan_to_json(&e.lane, &o, &p);
        record = json_object_new_object();
        json_object_object_add(record, "status", json_object_new_string("planned"));
        json_object_object_add(record, "lane", json_object_new_string(e.lane.name));
        json_object_object_add(record, "time", json_object_new_string(when));
        json_object_object_add(record, "host", json_object_new_string(run->host));
        json_object_object_add(record, "command", json_object_new_string("plan"));
        json_object_object_add(record, "plan", json_object_get(lane));
        r = audit_append(run->store, record, &seq);
        json_object_put(record);
        if (r < 0) {
                fprintf(stderr, "lanectl plan: %s: cannot write the planned audit record: %s\n", e.lane.name, strerror(-r));
                json_object_put(lane);
                run->errors++;
                return;
        }
        if (run->opts->json) {
                json_object_object_add(lane, "audit_seq", json_object_new_uint64(seq));
                printf("%s\n    %s", run->emitted ? "," : "",
                       json_object_to_json_string_ext(lane, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
        } else
                print_text_lane(&e.lane, &o, &p, seq);
        json_object_put(lane);
        run->emitted++;
        if (p.status == PLAN_READY)
                run->ready++;
        else
                run->blocked++;
}

void lanectl_plan_policy(const struct helper_policy *hp, struct policy_view *v, struct plan_policy *ret) {
        for (size_t i = 0; i < hp->n_roots; i++)
                v->roots[i] = hp->roots[i];
        for (size_t i = 0; i < hp->n_repositories; i++)
                v->repos[i] = hp->repositories[i];
        for (size_t i = 0; i < hp->n_organisations; i++)
                v->orgs[i] = hp->organisations[i];
        for (size_t i = 0; i < hp->n_users; i++)
                v->users[i] = hp->users[i];
        v->n_roots = hp->n_roots;
        *ret = (struct plan_policy) { .host = hp->host[0] ? hp->host : NULL, .repositories = v->repos,
                                      .n_repositories = hp->n_repositories, .organisations = v->orgs,
                                      .n_organisations = hp->n_organisations, .roots = v->roots, .n_roots = hp->n_roots,
                                      .users = v->users, .n_users = hp->n_users };
}

void lanectl_baseline_config(const struct settings *s, struct policy_view *v, struct baseline_config *bc) {
        for (size_t i = 0; i < s->n_commands; i++)
                v->commands[i] = s->commands[i];
        v->docker_cfg[0] = '\0';
        if (getenv("DOCKER_CONFIG"))
                snprintf(v->docker_cfg, sizeof v->docker_cfg, "%s/config.json", getenv("DOCKER_CONFIG"));
        else if (getenv("HOME"))
                snprintf(v->docker_cfg, sizeof v->docker_cfg, "%s/.docker/config.json", getenv("HOME"));
        *bc = (struct baseline_config) { .have_clock_offset = bc->have_clock_offset, .clock_offset_s = bc->clock_offset_s,
                                         .min_free_bytes = (unsigned long long) s->min_free_mib << 20,
                                         .commands = v->commands, .n_commands = s->n_commands,
                                         .cgroup_root = "/sys/fs/cgroup", .roots = v->roots, .n_roots = v->n_roots,
                                         .maintainer_docker_config = v->docker_cfg[0] ? v->docker_cfg : NULL };
}

int cmd_plan(int argc, char **argv) {
        static const struct option options[] = {
                { "inventory", required_argument, NULL, 'i' },
                { "policy", required_argument, NULL, 'p' },
                { "lanes-dir", required_argument, NULL, 'd' },
                { "output", required_argument, NULL, 'o' },
                {}
        };
        static struct helper_policy hp;
        struct plan_opts opts = { .policy = getenv("LANEKEEPER_POLICY"), .lanes_dir = getenv("LANEKEEPER_LANES_DIR") };
        static struct policy_view pv;
        const struct settings *s;
        struct plan_policy pol = {};
        struct inventory inv = {};
        struct baseline_config bc = {};
        struct observe_env env = { .baseline = &bc };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct audit_store store = { .dirfd = -EBADF };
        struct lane_file *files = NULL;
        size_t n_files = 0;
        char host[PROTO_HOST_NAME_MAX + 2] = "", store_dir[PROTO_PATH_MAX + 16];
        char inv_problem[PATH_MAX + 128], bus_problem[160], when[32];
        struct run run = { .opts = &opts, .env = &env, .baseline = &bc, .pol = &pol, .host = host, .store = &store };
        bool policy_explicit;
        int c, r, ret = EXIT_ERROR;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'i':
                        opts.inventory = optarg;
                        break;
                case 'p':
                        opts.policy = optarg;
                        break;
                case 'd':
                        opts.lanes_dir = optarg;
                        break;
                case 'o':
                        if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
                                fprintf(stderr, "lanectl plan: --output is text or json\n");
                                return EXIT_ERROR;
                        }
                        opts.json = strcmp(optarg, "json") == 0;
                        break;
                default:
                        usage();
                        return EXIT_ERROR;
                }
        if (lanectl_settings(&s) < 0)
                return EXIT_ERROR;
        if (!opts.policy)
                opts.policy = s->policy_file;
        /* The helper's own file gets the helper's checks; any other is a view. */
        policy_explicit = strcmp(opts.policy, SYSCONFDIR "/lanekeeper/policy.conf") != 0;
        if (!opts.lanes_dir)
                opts.lanes_dir = s->lanes_dir;

        /* the policy, as the planner sees it */
        if (lanectl_load_policy(opts.policy, policy_explicit, &hp) < 0)
                return EXIT_ERROR;
        lanectl_plan_policy(&hp, &pv, &pol);
        if (gethostname(host, sizeof host - 1) < 0)
                snprintf(host, sizeof host, "unknown");

        /* the lanes: every file, or the ones named */
        r = lanectl_list_lanes(opts.lanes_dir, &files, &n_files);
        if (r < 0) {
                fprintf(stderr, "lanectl plan: cannot read the lane directory %s: %s\n", opts.lanes_dir, strerror(-r));
                return EXIT_ERROR;
        }
        for (size_t i = 0; i < n_files; i++)
                files[i].selected = optind >= argc;
        for (int a = optind; a < argc; a++) {
                bool found = false;

                for (size_t i = 0; i < n_files; i++)
                        if (strcmp(files[i].stem, argv[a]) == 0)
                                files[i].selected = found = true;
                if (!found) {
                        fprintf(stderr, "lanectl plan: no lane file %s/%s.conf\n", opts.lanes_dir, argv[a]);
                        goto out;
                }
        }

        /* the sources: an inventory file (GitHub's list-runners response), the
         * system bus, this host */
        if (opts.inventory) {
                _cleanup_(freep) char *text = NULL;
                char err[256];
                size_t len = 0;

                r = read_file(opts.inventory, INVENTORY_FILE_MAX, &text, &len);
                if (r < 0) {
                        fprintf(stderr, "lanectl plan: cannot read the inventory %s: %s\n", opts.inventory,
                                r == -EFBIG ? "larger than 256 MiB" : strerror(-r));
                        goto out;
                }
                if (inventory_parse(text, len, &inv, err, sizeof err) < 0) {
                        fprintf(stderr, "lanectl plan: the inventory %s: %s\n", opts.inventory, err);
                        goto out;
                }
                env.inventory = &inv;
        } else if (strcmp(settings_auth(s), "none") != 0) {
                char cache[PROTO_PATH_MAX + 32], err[512];

                (void) mkdir(s->store_dir, 0750);
                snprintf(cache, sizeof cache, "%s/github-cache", s->store_dir);
                if (gh_client_new(s, cache, &run.gh, err, sizeof err) < 0) {
                        snprintf(inv_problem, sizeof inv_problem, "%s", err);
                        env.inventory_problem = inv_problem;
                } else if (gh_client_set_read_only(run.gh), !(run.scopes = calloc(MAX_SCOPES, sizeof *run.scopes))) {
                        fprintf(stderr, "lanectl plan: out of memory\n");
                        goto out;
                }
        } else {
                snprintf(inv_problem, sizeof inv_problem, "no GitHub credentials in lanekeeper.conf and no "
                         "--inventory FILE (a list-runners response)");
                env.inventory_problem = inv_problem;
        }
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                snprintf(bus_problem, sizeof bus_problem, "cannot connect to the system bus: %s", strerror(-r));
                env.bus_problem = bus_problem;
                bus = NULL;
        }
        env.bus = bus;
        lanectl_baseline_config(s, &pv, &bc);

        snprintf(store_dir, sizeof store_dir, "%s/audit", s->store_dir);
        r = audit_open(store_dir, &store);
        if (r < 0) {
                fprintf(stderr, "lanectl plan: cannot open the audit store %s: %s\n", store_dir, strerror(-r));
                goto out;
        }

        if (opts.json) {
                now_utc(when, sizeof when);
                printf("{\n  \"schema\": \"" PLAN_SCHEMA "\",\n  \"host\": \"%s\",\n  \"generated_at\": \"%s\",\n"
                       "  \"lanes\": [", host, when);
        } else
                printf("%-32s %-8s %-9s %-20s %s\n", "LANE", "STATUS", "ACTION", "SHAPE", "RECORD");
        for (size_t i = 0; i < n_files; i++)
                if (files[i].selected)
                        plan_one(&run, &files[i]);
        if (opts.json)
                printf("\n  ],\n  \"summary\": { \"lanes\": %zu, \"ready\": %zu, \"blocked\": %zu, \"errors\": %zu }\n}\n",
                       run.ready + run.blocked + run.errors, run.ready, run.blocked, run.errors);
        else
        {
                size_t total = run.ready + run.blocked + run.errors;

                printf("%zu lane%s: %zu ready, %zu blocked", total, total == 1 ? "" : "s", run.ready, run.blocked);
                if (run.errors)
                        printf(", %zu not planned (see the errors above)", run.errors);
                printf("\n");
        }
        ret = run.errors ? EXIT_ERROR : run.blocked ? EXIT_BLOCKED : EXIT_READY;
out:
        audit_close(&store);
        inventory_free(&inv);
        for (size_t i = 0; i < run.n_scopes; i++)
                inventory_free(&run.scopes[i].inv);
        free(run.scopes);
        gh_client_free(run.gh);
        lanectl_free_lanes(files, n_files);
        return ret;
}
