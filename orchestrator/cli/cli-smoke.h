/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What lanectl smoke (cmd-smoke.c) and its negative cases
 * (cmd-smoke-negative.c) share. */
#pragma once

#include "cli.h"
#include "smoke.h"

#define SMOKE_REPOS_MAX 16
#define REPO_BUF (PROTO_OWNER_MAX + PROTO_REPO_NAME_MAX + 2)

struct smoke_cmd {
        struct cli *cli;
        struct cli_exec x;
        const char *policy, *lanes_dir, *pools_dir, *workflow, *ref, *pool, *name;
        char repos[SMOKE_REPOS_MAX][REPO_BUF];
        size_t n_repos;
        unsigned deadline_s;
        bool json, print, negative;
        struct smoke_expect e;
        char scope[CLI_SCOPE_MAX];
        char repository[REPO_BUF];               /* the lane's own, "" for an organisation's */
        struct smoke_result res[SMOKE_REPOS_MAX];
};

/* --negative: every case for each repository, PASS:/FAIL: lines; 0 all
 * passed, 1 one failed, 2 a pool. */
int smoke_negative(struct smoke_cmd *c);
