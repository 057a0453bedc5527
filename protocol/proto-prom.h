/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Prometheus text exposition format, what every metrics renderer of
 * lanectl shares: a family's HELP and TYPE, a label value escaped. */
#pragma once

#include <stdio.h>

/* A label value: backslash, double quote and newline escaped. */
static inline void proto_prom_value(FILE *f, const char *v) {
        for (; *v; v++)
                if (*v == '\\' || *v == '"')
                        fprintf(f, "\\%c", *v);
                else if (*v == '\n')
                        fputs("\\n", f);
                else
                        fputc(*v, f);
}

static inline void proto_prom_family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}
