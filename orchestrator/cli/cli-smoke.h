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

/* A smoke's result as JSON: the audit record's body, --output json's. */
struct json_object *cli_smoke_json(const char *workflow, const struct smoke_result *r);

/* lanectl apply --smoke: the executor's proof hook (exec_prove.run) and
 * its data. */
struct cli_smoke_proof {
        struct gh_client *gh;
        const char *repo;                        /* --smoke-repo, or NULL: the lane's repository */
        const char *workflow;                    /* NULL: SMOKE_WORKFLOW_DEFAULT */
        unsigned deadline_s;
};
bool cli_smoke_prove(void *data, const struct lane_desired *d, long long runner_id, struct json_object **ret_evidence,
                     char *detail, size_t size);

/* --negative: every case for each repository, PASS:/FAIL: lines; 0 all
 * passed, 1 one failed, 2 a pool. */
int smoke_negative(struct smoke_cmd *c);
