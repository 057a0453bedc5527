/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Throughput of proto_redact() on a realistic runner log and on the inputs
 * that once made it quadratic. Prints MiB/s per input and the ratio of the
 * slowest hostile input to the realistic log (goal: every ratio within a
 * small constant, i.e. linear time; not asserted, only printed).
 * Usage: redact-throughput [MiB per input, default 8] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "proto-redact.h"

static char *repeat(const char *unit, size_t size) {
        size_t n = strlen(unit);
        char *s = malloc(size + 1);

        if (!s)
                exit(EXIT_FAILURE);
        for (size_t i = 0; i < size; i++)
                s[i] = unit[i % n];
        s[size] = '\0';
        return s;
}

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Best of three runs, in MiB/s. */
static double measure(const char *in, size_t size, unsigned *ret_count) {
        double best = 0;

        for (int k = 0; k < 3; k++) {
                char *out = NULL;
                double t0 = now(), dt;

                if (proto_redact(in, &out, ret_count) < 0)
                        exit(EXIT_FAILURE);
                dt = now() - t0;
                free(out);
                if (dt > 0 && (double) size / dt / 1048576.0 > best)
                        best = (double) size / dt / 1048576.0;
        }
        return best;
}

int main(int argc, char *argv[]) {
        static const struct {
                const char *name, *unit;
        } inputs[] = {
                { "runner log", "2026-11-23T08:00:01Z [RUNNER] Listening for Jobs; job 42 on lane cm-website "
                                "(labels self-hosted,X64) sha e3b0c44298fc1c149afbf4c8996fb92427ae41e4 "
                                "token=hunter2 Authorization: Bearer abc.def.ghi\n" },
                { "'+a' runs", "+a" },
                { "'eyJ' without dot", "eyJ" },
                { "'_eyJa'", "_eyJa" },
                { "BEGIN markers", "-----BEGIN " },
                { "'token=x '", "token=x " },
                { "'://a'", "://a" },
                { "plain letters", "a" },
        };
        size_t size = (argc > 1 ? (size_t) strtoul(argv[1], NULL, 10) : 8) << 20;
        double base = 0, worst = 1e30;
        const char *worst_name = "";

        printf("%-20s %10s %12s\n", "input", "MiB/s", "redactions");
        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                _cleanup_(freep) char *in = repeat(inputs[i].unit, size);
                unsigned count = 0;
                double mibs = measure(in, size, &count);

                printf("%-20s %10.1f %12u\n", inputs[i].name, mibs, count);
                if (i == 0)
                        base = mibs;
                else if (mibs < worst) {
                        worst = mibs;
                        worst_name = inputs[i].name;
                }
        }
        printf("slowest hostile input: %s, %.2fx the runner log's time per byte\n", worst_name, base / worst);
        return 0;
}
