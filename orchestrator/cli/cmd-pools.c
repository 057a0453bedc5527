/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl pool validate [--pools-dir DIR] [--policy FILE] [FILE...]: check
 * pool files (lanekeeper-pool(5)), every error with its file and line, and
 * their slots against the policy as the helper will check any lane. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "macro.h"
#include "plan.h"
#include "pool-file.h"
#include "settings.h"

struct pool_entry {
        char path[PATH_MAX];
        struct pool_desired pool;
        bool valid;
};

/* What the helper and the planner will refuse of the pool's slots. */
static bool check_policy(const struct pool_entry *e, const struct helper_policy *hp, FILE *out) {
        const struct lane_desired *p = &e->pool.lane;
        /* a scale set's runners carry the set's name only: the set marks them */
        const char *label = e->pool.mode == POOL_MODE_SCALE_SET ? NULL : policy_managed_label(hp);
        bool ok = true, scope = false;

        for (size_t i = 0; i < hp->n_repositories; i++)
                scope = scope || strcasecmp(hp->repositories[i], p->repository) == 0;
        for (size_t i = 0; i < hp->n_organisations; i++)
                scope = scope || strcasecmp(hp->organisations[i], p->organisation) == 0;
        if (!scope)
                ok = false, fprintf(out, "%s: the policy allows no lane in %s\n", e->path,
                                   p->repository[0] ? p->repository : p->organisation);
        if (!policy_find_root(hp, p->root))
                ok = false, fprintf(out, "%s: root %s is not one of the policy's roots\n", e->path, p->root);
        if (!policy_has_user(hp, p->user))
                ok = false, fprintf(out, "%s: user %s is not one of the policy's users\n", e->path, p->user);
        if (hp->host[0] && strcasecmp(hp->host, p->host) != 0)
                ok = false, fprintf(out, "%s: host %s is not the policy's (%s)\n", e->path, p->host, hp->host);
        for (size_t i = 0; i < p->n_labels && label; i++)
                if (strcasecmp(p->labels[i], label) == 0)
                        label = NULL;
        if (label)
                ok = false, fprintf(out, "%s: the labels must include the managed label '%s'\n", e->path, label);
        return ok;
}

static bool load(struct pool_entry *e, const struct helper_policy *hp, FILE *out) {
        _cleanup_(fclosep) FILE *f = fopen(e->path, "re");
        struct ini_diags d = {};
        char copy[PATH_MAX], want[PROTO_LANE_NAME_MAX + 8];

        if (!f)
                return fprintf(out, "%s: cannot open: %m\n", e->path), false;
        e->valid = pool_file_parse(f, &e->pool, &d) == 0;
        ini_diags_print(out, e->path, &d);
        if (!e->valid)
                return false;
        snprintf(copy, sizeof copy, "%s", e->path);
        snprintf(want, sizeof want, "%s.conf", e->pool.lane.name);
        if (strcmp(basename(copy), want) != 0)
                return fprintf(out, "%s: the file of pool '%s' must be named %s\n", e->path, e->pool.lane.name, want),
                       e->valid = false;
        return e->valid = !hp || check_policy(e, hp, out);
}

static int validate(char **paths, size_t n, const struct helper_policy *hp) {
        _cleanup_(freep) struct pool_entry *e = calloc(n ? n : 1, sizeof *e);
        size_t valid = 0;

        if (!e)
                return 1;
        for (size_t i = 0; i < n; i++) {
                snprintf(e[i].path, sizeof e[i].path, "%s", paths[i]);
                valid += load(&e[i], hp, stdout);
        }
        /* slots are lanes: two pools of one name would share them */
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n && e[i].valid; j++)
                        if (e[j].valid && strcasecmp(e[i].pool.lane.name, e[j].pool.lane.name) == 0) {
                                printf("%s: pool '%s' is also declared in %s\n", e[j].path, e[j].pool.lane.name, e[i].path);
                                e[j].valid = false;
                                valid--;
                        }
        printf("%zu pool file%s, %zu valid%s\n", n, n == 1 ? "" : "s", valid, hp ? "" : " (policy not checked)");
        return valid == n ? 0 : 1;
}

int cli_load_pools(const char *dir, const struct helper_policy *hp, FILE *out, struct pool_desired **ret, size_t *ret_n) {
        struct lane_file *files = NULL;
        struct pool_desired *v;
        size_t n = 0, k = 0;
        int r = cli_list_lanes(dir, &files, &n);

        if (r < 0)
                return fprintf(out, "%s: cannot read: %s\n", dir, strerror(-r)), r;
        v = calloc(n ? n : 1, sizeof *v);
        for (size_t i = 0; v && i < n; i++) {
                _cleanup_(freep) struct pool_entry *e = calloc(1, sizeof *e);
                bool dup = false;

                if (!e)
                        break;
                snprintf(e->path, sizeof e->path, "%s", files[i].path);
                if (!load(e, hp, out))
                        continue;
                for (size_t j = 0; j < k; j++)
                        dup = dup || strcasecmp(v[j].lane.name, e->pool.lane.name) == 0;
                if (dup)
                        fprintf(out, "%s: pool '%s' is declared twice\n", e->path, e->pool.lane.name);
                else
                        v[k++] = e->pool;
        }
        cli_free_lanes(files, n);
        if (!v)
                return -ENOMEM;
        *ret = v;
        *ret_n = k;
        return 0;
}

int cmd_pool(struct cli *cli, int argc, char **argv) {
        static const struct option options[] = {
                { "pools-dir", required_argument, NULL, 'd' }, { "policy", required_argument, NULL, 'p' }, {}
        };
        const char *dir = getenv("LANEKEEPER_POOLS_DIR"), *policy = getenv("LANEKEEPER_POLICY");
        const struct settings *s;
        struct helper_policy hp;
        struct lane_file *files = NULL;
        _cleanup_(freep) char **paths = NULL;
        bool have_policy;
        size_t n = 0;
        int c, r;

        if (argc > 1 && strcmp(argv[1], "supervise") == 0)
                return cmd_pool_supervise(cli, argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "status") == 0)
                return cmd_pool_status(cli, argc - 1, argv + 1);
        if (argc > 1 && (strcmp(argv[1], "scale") == 0 || strcmp(argv[1], "drain") == 0 || strcmp(argv[1], "undrain") == 0))
                return cmd_pool_change(cli, argc - 1, argv + 1);
        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if (c == 'd')
                        dir = optarg;
                else if (c == 'p')
                        policy = optarg;
                else
                        return 2;
        if (optind >= argc || strcmp(argv[optind], "validate") != 0) {
                fprintf(stderr, "usage: lanectl pool validate|status|scale|drain|undrain|supervise ... (see lanectl(1))\n");
                return 2;
        }
        if (cli_settings(cli, &s) < 0)
                return 1;
        policy = policy ?: s->policy_file;
        have_policy = cli_load_policy(policy, strcmp(policy, SYSCONFDIR "/lanekeeper/policy.conf") != 0, &hp) == 0;
        if (!have_policy)
                fprintf(stderr, "lanectl pool validate: the files are checked, their slots against the policy not\n");
        if (++optind < argc)
                return validate(argv + optind, (size_t) (argc - optind), have_policy ? &hp : NULL);
        r = cli_list_lanes(dir ?: s->pools_dir, &files, &n);   /* the same *.conf listing */
        if (r < 0)
                return fprintf(stderr, "lanectl pool validate: cannot read %s: %s\n", dir ?: s->pools_dir, strerror(-r)), 1;
        paths = calloc(n ? n : 1, sizeof *paths);
        for (size_t i = 0; paths && i < n; i++)
                paths[i] = files[i].path;
        r = paths ? validate(paths, n, have_policy ? &hp : NULL) : 1;
        cli_free_lanes(files, n);
        return r;
}
