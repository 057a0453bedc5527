/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What several commands share: the settings, lane files, the policy as the
 * planner sees it, the baseline configuration. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>
#include <systemd/sd-bus.h>

#include "audit.h"
#include "gh-client.h"
#include "cli.h"
#include "macro.h"
#include "observe.h"
#include "plan.h"
#include "proto-policy.h"
#include "proto-register.h"
#include "proto-time.h"

#define DEFAULT_CONFIG SYSCONFDIR "/lanekeeper/lanekeeper.conf"

int cli_become_store_owner(const char *store_dir) {
        struct stat st;

        if (geteuid() != 0 || stat(store_dir, &st) < 0 || st.st_uid == 0)
                return 0;
        if (setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0)
                return -errno;
        return setuid(0) == 0 ? -EPERM : 0;     /* root must be gone for good */
}

int cli_settings(struct cli *cli, const struct settings **ret) {
        struct settings *s = &cli->settings;
        _cleanup_(fclosep) FILE *f = NULL;
        struct ini_diags d = {};
        const char *path = cli->config_path ?: getenv("LANEKEEPER_CONFIG");
        bool explicit = path != NULL;

        if (cli->settings_loaded) {
                *ret = s;
                return 0;
        }
        settings_defaults(s, SYSCONFDIR);
        if (!path)
                path = DEFAULT_CONFIG;
        f = fopen(path, "re");
        if (!f && (explicit || errno != ENOENT)) {
                fprintf(stderr, "lanectl: cannot open %s: %m\n", path);
                return -errno;
        }
        if (f && settings_parse(f, s, &d) < 0) {
                ini_diags_print(stderr, path, &d);
                return -EINVAL;
        }
        cli->settings_loaded = true;
        *ret = s;
        return 0;
}

bool lane_entry_load(struct lane_entry *c, FILE *out) {
        _cleanup_(fclosep) FILE *f = NULL;
        struct ini_diags d = {};
        char copy[PATH_MAX], want[PROTO_LANE_NAME_MAX + 8];

        f = fopen(c->path, "re");
        if (!f) {
                fprintf(out, "%s: cannot open: %m\n", c->path);
                return false;
        }
        c->valid = lane_file_parse(f, &c->lane, &d) == 0;
        if (c->valid) {
                /* One lane per file, named after it: lanes.d/NAME.conf */
                snprintf(copy, sizeof copy, "%s", c->path);
                snprintf(want, sizeof want, "%s.conf", c->lane.name);
                if (strcmp(basename(copy), want) != 0) {
                        fprintf(out, "%s: the file of lane '%s' must be named %s\n", c->path, c->lane.name, want);
                        c->valid = false;
                }
        }
        ini_diags_print(out, c->path, &d);
        return c->valid;
}

/* The policy as a view: the helper enforces it; the planner only predicts.
 * The helper's file (SYSCONFDIR/lanekeeper/policy.conf) must pass the
 * helper's own checks from / down; any other file (a checkout, a test) is
 * checked from its own directory down and may also belong to the caller. */
int cli_load_policy(const char *path, bool explicit, struct helper_policy *pol) {
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
int cli_list_lanes(const char *dir, struct lane_file **ret, size_t *ret_n) {
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

void cli_free_lanes(struct lane_file *files, size_t n) {
        for (size_t i = 0; files && i < n; i++)
                free(files[i].path);
        free(files);
}

int cli_select_lanes(struct lane_file *files, size_t n, char **names, size_t n_names, const char *dir,
                     const char *cmd) {
        for (size_t i = 0; i < n; i++)
                files[i].selected = n_names == 0;
        for (size_t a = 0; a < n_names; a++) {
                bool found = false;

                for (size_t i = 0; i < n; i++)
                        if (strcmp(files[i].stem, names[a]) == 0)
                                files[i].selected = found = true;
                if (!found) {
                        fprintf(stderr, "lanectl %s: no lane file %s/%s.conf\n", cmd, dir, names[a]);
                        return -ENOENT;
                }
        }
        return 0;
}

void cli_plan_policy(const struct helper_policy *hp, struct policy_view *v, struct plan_policy *ret) {
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
                                      .users = v->users, .n_users = hp->n_users,
                                      .managed_label = policy_managed_label(hp) };
}

void cli_baseline_config(const struct settings *s, struct policy_view *v, struct baseline_config *bc) {
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

void cli_now_utc(char *buf, size_t size) {
        proto_utc_iso(time(NULL), buf, size);
}


int cli_open_audit(const struct settings *s, struct audit_store *store, const char *cmd) {
        char dir[PROTO_PATH_MAX + 16];
        int r;

        snprintf(dir, sizeof dir, "%s/audit", s->store_dir);
        r = audit_open(dir, store);
        if (r < 0)
                fprintf(stderr, "lanectl %s: cannot open the audit store %s: %s\n", cmd, dir, strerror(-r));
        return r;
}

void cli_exec_init(struct cli_exec *x) {
        *x = (struct cli_exec) {};
        x->store.dirfd = -EBADF;
        x->real = (struct exec_real) { .bc = &x->bc, .store = &x->store, .register_dir = PROTO_REGISTER_DIR };
}

int cli_exec_open(struct cli *cli, struct cli_exec *x, const char *policy, const char *lanes_dir, const char *cmd) {
        const struct settings *s;
        char cache[PROTO_PATH_MAX + 32];
        int r;

        if (cli_settings(cli, &s) < 0)
                return -EINVAL;
        x->s = s;
        x->real.helper.socket_path = getenv("LANEKEEPER_HELPER_SOCKET") ?: s->helper_socket;
        x->real.store_dir = s->store_dir;
        if (getenv("LANEKEEPER_REGISTER_DIR"))
                x->real.register_dir = getenv("LANEKEEPER_REGISTER_DIR");
        policy = policy ?: getenv("LANEKEEPER_POLICY") ?: s->policy_file;
        x->lanes_dir = lanes_dir ?: getenv("LANEKEEPER_LANES_DIR") ?: s->lanes_dir;
        if (cli_load_policy(policy, strcmp(policy, SYSCONFDIR "/lanekeeper/policy.conf") != 0, &x->hp) < 0)
                return -EINVAL;
        cli_plan_policy(&x->hp, &x->pv, &x->pol);
        if (gethostname(x->host, sizeof x->host - 1) < 0)
                snprintf(x->host, sizeof x->host, "unknown");
        r = cli_list_lanes(x->lanes_dir, &x->files, &x->n_files);
        if (r < 0)
                return fprintf(stderr, "lanectl %s: cannot read the lane directory %s: %s\n", cmd, x->lanes_dir,
                               strerror(-r)), r;
        (void) mkdir(s->store_dir, 0750);
        if (strcmp(settings_auth(s), "none") == 0)
                snprintf(x->real.gh_problem, sizeof x->real.gh_problem, "no GitHub credentials in lanekeeper.conf");
        else {
                snprintf(cache, sizeof cache, "%s/github-cache", s->store_dir);
                if (gh_client_new(s, cache, &x->real.gh, x->real.gh_problem, sizeof x->real.gh_problem) < 0)
                        x->real.gh = NULL;
        }
        if (sd_bus_open_system(&x->bus) < 0)
                x->bus = NULL;
        x->real.bus = x->bus;
        cli_baseline_config(s, &x->pv, &x->bc);
        r = cli_open_audit(s, &x->store, cmd);
        if (r < 0)
                return r;
        exec_real_ops(&x->real, &x->ops);
        return 0;
}

void cli_exec_close(struct cli_exec *x) {
        audit_close(&x->store);
        gh_client_free(x->real.gh);
        x->real.gh = NULL;
        x->bus = sd_bus_flush_close_unref(x->bus);
        cli_free_lanes(x->files, x->n_files);
        x->files = NULL;
        x->n_files = 0;
}

int cli_parse_duration(const char *s, unsigned max_s, unsigned *ret) {
        static const struct {
                char unit;
                unsigned long mult;
        } units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
        unsigned long v, mult = 1;
        char *end;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *s == '-' || *s == '+')
                return -EINVAL;
        if (*end) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(units) && units[i].unit != *end; i++)
                        ;
                if (i == ELEMENTSOF(units) || end[1])
                        return -EINVAL;
                mult = units[i].mult;
        }
        if (v > max_s / mult)
                return -ERANGE;
        *ret = (unsigned) (v * mult);
        return 0;
}

int cli_common_option(int opt, const char *arg, bool *json, const char **policy, const char **lanes_dir) {
        if (opt == 'o') {
                if (strcmp(arg, "json") && strcmp(arg, "text"))
                        return -EINVAL;
                *json = strcmp(arg, "json") == 0;
        } else if (opt == 'p')
                *policy = arg;
        else if (opt == 'd')
                *lanes_dir = arg;
        else
                return 0;
        return 1;
}

void cli_add_scope(char (*scopes)[CLI_SCOPE_MAX], size_t *n, size_t max, const char *kind, const char *name) {
        char s[CLI_SCOPE_MAX];

        snprintf(s, sizeof s, "%s/%s", kind, name);
        for (size_t i = 0; i < *n; i++)
                if (strcasecmp(scopes[i], s) == 0)
                        return;
        if (*n < max)
                snprintf(scopes[(*n)++], CLI_SCOPE_MAX, "%s", s);
}
