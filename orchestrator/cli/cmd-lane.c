/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl lane validate [FILE...]: check lane files, every error with its
 * file and line. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lane-file.h"
#include "lanectl.h"
#include "macro.h"
#include "settings.h"

static int conf_filter(const struct dirent *d) {
        size_t n = strlen(d->d_name);
        return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

/* The files of DIR named *.conf, sorted, into paths. */
static int list_dir(const char *dir, char ***ret, size_t *ret_n) {
        struct dirent **ents = NULL;
        char **paths;
        int n = scandir(dir, &ents, conf_filter, alphasort);

        if (n < 0)
                return -errno;
        paths = calloc((size_t) n + 1, sizeof *paths);
        for (int i = 0; i < n; i++) {
                if (paths && asprintf(&paths[i], "%s/%s", dir, ents[i]->d_name) < 0)
                        paths[i] = NULL;
                free(ents[i]);
        }
        free(ents);
        if (!paths)
                return -ENOMEM;
        *ret = paths;
        *ret_n = (size_t) n;
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

static int validate(char **paths, size_t n) {
        struct lane_entry *c = calloc(n ? n : 1, sizeof *c);
        size_t valid = 0;

        if (!c)
                return 1;
        for (size_t i = 0; i < n; i++) {
                snprintf(c[i].path, sizeof c[i].path, "%s", paths[i]);
                valid += lane_entry_load(&c[i], stdout);
        }
        /* Two files for one lane: GitHub compares runner names case-insensitively. */
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n && c[i].valid; j++)
                        if (c[j].valid && strcasecmp(c[i].lane.name, c[j].lane.name) == 0) {
                                printf("%s: lane '%s' is also declared in %s\n", c[j].path, c[j].lane.name, c[i].path);
                                c[j].valid = false;
                                valid--;
                        }
        printf("%zu lane file%s, %zu valid\n", n, n == 1 ? "" : "s", valid);
        free(c);
        return valid == n ? 0 : 1;
}

int lane_set_load(const char *dir, struct lane_set *ret, FILE *out) {
        char **paths = NULL;
        size_t n = 0;
        int r;

        *ret = (struct lane_set) {};
        r = list_dir(dir, &paths, &n);
        if (r < 0) {
                fprintf(out, "%s: cannot read: %s\n", dir, strerror(-r));
                return r;
        }
        if (n > LANE_SET_MAX)
                r = -E2BIG, fprintf(out, "%s: more than %d lane files\n", dir, LANE_SET_MAX);
        else if (!(ret->lanes = calloc(n ? n : 1, sizeof *ret->lanes)))
                r = -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (r == 0) {
                        snprintf(ret->lanes[i].path, sizeof ret->lanes[i].path, "%s", paths[i]);
                        ret->invalid += !lane_entry_load(&ret->lanes[i], out);
                }
                free(paths[i]);
        }
        free(paths);
        if (r < 0) {
                lane_set_free(ret);
                return r;
        }
        ret->n = n;
        return 0;
}

void lane_set_free(struct lane_set *s) {
        free(s->lanes);
        *s = (struct lane_set) {};
}

int cmd_lane(int argc, char **argv) {
        static const struct option options[] = {
                { "lanes-dir", required_argument, NULL, 'd' },
                {}
        };
        const char *dir = getenv("LANEKEEPER_LANES_DIR");
        const struct settings *settings;
        char **listed = NULL;
        size_t n = 0;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        dir = optarg;
                        break;
                default:
                        return 2;
                }
        if (optind >= argc || strcmp(argv[optind], "validate") != 0) {
                fprintf(stderr, "usage: lanectl lane validate [--lanes-dir DIR] [FILE...]\n");
                return 2;
        }
        optind++;
        if (optind < argc)
                return validate(argv + optind, (size_t) (argc - optind));
        if (!dir) {
                if (lanectl_settings(&settings) < 0)
                        return 1;
                dir = settings->lanes_dir;
        }
        r = list_dir(dir, &listed, &n);
        if (r < 0) {
                fprintf(stderr, "lanectl lane validate: cannot read %s: %s\n", dir, strerror(-r));
                return 1;
        }
        if (n > LANE_SET_MAX) {
                fprintf(stderr, "lanectl lane validate: more than %d lane files in %s\n", LANE_SET_MAX, dir);
                r = 1;
        } else
                r = validate(listed, n);
        for (size_t i = 0; i < n; i++)
                free(listed[i]);
        free(listed);
        return r;
}
