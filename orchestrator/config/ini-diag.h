/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading human-edited INI files (libinih) so that every error is reported
 * with its line: a reader that counts lines, and a bounded, sorted list of
 * diagnostics. Shared by lane files and lanekeeper.conf. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "macro.h"

#define INI_MAX_DIAGS 64

struct ini_diag {
        int line;          /* 0: the file as a whole */
        char message[200];
};

struct ini_diags {
        size_t n;
        size_t dropped;    /* beyond INI_MAX_DIAGS */
        struct ini_diag d[INI_MAX_DIAGS];
};

typedef int (*ini_entry_fn)(void *user, int line, const char *section, const char *key, const char *value);

_printf_(3, 4)
void ini_diag(struct ini_diags *diags, int line, const char *fmt, ...);

/* Parse F, calling ENTRY for every key with its line; ENTRY reports its own
 * problems with ini_diag() and never stops the parse. A syntax error is
 * added with its line. Returns the number of diagnostics added. */
size_t ini_parse_lines(FILE *f, ini_entry_fn entry, void *user, struct ini_diags *diags);

/* Sort by line, whole-file problems (line 0) last. */
void ini_diags_sort(struct ini_diags *diags);

/* Print "PATH:LINE: message" (or "PATH: message") for each. */
void ini_diags_print(FILE *out, const char *path, const struct ini_diags *diags);
