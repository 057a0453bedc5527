/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>

#include "ini-diag.h"

struct reader {
        FILE *f;
        int line;
        ini_entry_fn entry;
        void *user;
};

void ini_diag(struct ini_diags *diags, int line, const char *fmt, ...) {
        va_list ap;

        if (diags->n >= INI_MAX_DIAGS) {
                diags->dropped++;
                return;
        }
        diags->d[diags->n].line = line;
        va_start(ap, fmt);
        vsnprintf(diags->d[diags->n].message, sizeof diags->d[0].message, fmt, ap);
        va_end(ap);
        diags->n++;
}

static char *read_line(char *buf, int size, void *user) {
        struct reader *r = user;
        char *s = fgets(buf, size, r->f);

        if (s)
                r->line++;
        return s;
}

static int handler(void *user, const char *section, const char *key, const char *value) {
        struct reader *r = user;

        (void) r->entry(r->user, r->line, section, key, value);
        return 1;   /* never stop: every error is reported */
}

size_t ini_parse_lines(FILE *f, ini_entry_fn entry, void *user, struct ini_diags *diags) {
        struct reader rd = { .f = f, .entry = entry, .user = user };
        size_t before = diags->n + diags->dropped;
        int r;

        /* The handler never stops inih, so a positive result is inih's own
         * first syntax error. */
        r = ini_parse_stream(read_line, &rd, handler, &rd);
        if (r > 0)
                ini_diag(diags, r, "syntax error (expected [section] or key = value)");
        else if (r < 0)
                ini_diag(diags, 0, "%s", r == -2 ? "out of memory" : "cannot read the file");
        return diags->n + diags->dropped - before;
}

static int diag_cmp(const void *a, const void *b) {
        const struct ini_diag *x = a, *y = b;
        int lx = x->line ?: 1 << 30, ly = y->line ?: 1 << 30;

        return lx != ly ? (lx > ly) - (lx < ly) : (x > y) - (x < y);
}

void ini_diags_sort(struct ini_diags *diags) {
        qsort(diags->d, diags->n, sizeof diags->d[0], diag_cmp);
}

void ini_diags_print(FILE *out, const char *path, const struct ini_diags *diags) {
        for (size_t i = 0; i < diags->n; i++)
                if (diags->d[i].line > 0)
                        fprintf(out, "%s:%d: %s\n", path, diags->d[i].line, diags->d[i].message);
                else
                        fprintf(out, "%s: %s\n", path, diags->d[i].message);
        if (diags->dropped)
                fprintf(out, "%s: ... and %zu more errors\n", path, diags->dropped);
}
