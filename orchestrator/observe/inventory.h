/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Untrusted inputs of observation, parsed strictly: GitHub's list-runners
 * response ({total_count, runners[]}, per GitHub's OpenAPI description) and
 * a runner directory's .runner file (JSON written by actions/runner, which
 * may begin with a UTF-8 BOM). Unknown extra members are allowed (GitHub
 * adds fields); missing or mistyped required ones are errors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "observation.h"

#define INVENTORY_MAX_RUNNERS 100000
#define RUNNER_FILE_MAX (64 * 1024)

/* One runner, compact: a 10,000-runner inventory stays a few MiB. */
struct inventory_runner {
        long long id;
        bool online, busy;
        unsigned n_labels;
        size_t labels;                /* offset in the arena: n_labels NUL-terminated names */
        char name[PROTO_FOREIGN_NAME_MAX + 1];   /* as GitHub gave it, escaped where not printable */
};

struct inventory {
        size_t n;
        struct inventory_runner *runners;   /* malloc'd, in response order */
        size_t *by_name;                    /* indices sorted by name without case */
        char *arena;                        /* label names */
        size_t arena_len;
};

int inventory_parse(const char *text, size_t len, struct inventory *ret, char *err, size_t errlen);
void inventory_free(struct inventory *inv);
/* Label K of runner R. */
const char *inventory_label(const struct inventory *inv, const struct inventory_runner *r, unsigned k);
/* Copy the runners named like LANE (compared without case; a binary
 * search) into the observation, at most OBS_MAX_RUNNERS of them (more than
 * one is ambiguous whatever the number). */
void inventory_observe(const struct inventory *inv, const char *lane, struct observation *o);

struct runner_file {
        long long agent_id;
        char agent_name[PROTO_RUNNER_NAME_MAX + 1];
        char github_url[256];
};

int runner_file_parse(const char *text, size_t len, struct runner_file *ret, char *err, size_t errlen);
