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
#include "cli.h"
#include "macro.h"
#include "settings.h"

#define LANE_FILES_MAX 100000

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

int cmd_lane(struct cli *cli, int argc, char **argv) {
        static const struct option options[] = {
                { "lanes-dir", required_argument, NULL, 'd' },
                {}
        };
        const char *dir = getenv("LANEKEEPER_LANES_DIR");
        const struct settings *settings;
        struct lane_file *files = NULL;
        _cleanup_(freep) char **paths = NULL;
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
                if (cli_settings(cli, &settings) < 0)
                        return 1;
                dir = settings->lanes_dir;
        }
        r = cli_list_lanes(dir, &files, &n);
        if (r < 0) {
                fprintf(stderr, "lanectl lane validate: cannot read %s: %s\n", dir, strerror(-r));
                return 1;
        }
        if (n > LANE_FILES_MAX) {
                fprintf(stderr, "lanectl lane validate: more than %d lane files in %s\n", LANE_FILES_MAX, dir);
                r = 1;
        } else if (!(paths = calloc(n + 1, sizeof *paths))) {
                fprintf(stderr, "lanectl lane validate: out of memory\n");
                r = 1;
        } else {
                for (size_t i = 0; i < n; i++)
                        paths[i] = files[i].path;
                r = validate(paths, n);
        }
        cli_free_lanes(files, n);
        return r;
}
