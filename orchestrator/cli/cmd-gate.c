/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl gate diff DIR1 DIR2: two observed runs (lanectl observe's
 * directories) compared as the determinism gate compares them
 * (kobs-gate.h). Exit 0 identical, 1 changed (FAIL lines and unified
 * diffs on standard output), 2 usage, 3 a directory or file unreadable. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli-gate.h"
#include "kobs-gate.h"
#include "macro.h"

static void usage(void) {
        fputs("usage: lanectl gate run --lane LANE --workflow FILE --ref REF [--input K=V]... [--runs N] --out DIR ...\n"
              "       lanectl gate diff DIR1 DIR2\n", stderr);
}

static int gate_diff(int argc, char **argv) {
        _cleanup_(closep) int d1 = -EBADF, d2 = -EBADF;
        char err[400];
        int r;

        if (argc != 4 || argv[2][0] == '-' || argv[3][0] == '-')
                return usage(), 2;
        d1 = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        d2 = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d1 < 0 || d2 < 0)
                return fprintf(stderr, "lanectl gate diff: cannot open %s: %m\n", d1 < 0 ? argv[2] : argv[3]), 3;
        r = kobs_gate_compare(d1, d2, argv[2], argv[3], stdout, err, sizeof err);
        if (r < 0)
                return fprintf(stderr, "lanectl gate diff: %s\n", err), 3;
        if (r == 0)
                printf("PASS: %s and %s are the same (%d files compared)\n", argv[2], argv[3], KOBS_GATE_FILES);
        return r ? 1 : 0;
}

int cmd_gate(struct cli *cli, int argc, char **argv) {
        if (argc >= 2 && strcmp(argv[1], "diff") == 0)
                return gate_diff(argc, argv);
        if (argc >= 2 && strcmp(argv[1], "run") == 0)
                return cmd_gate_run(cli, argc, argv);
        return usage(), 2;
}
