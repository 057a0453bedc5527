/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Acting on a health plan (health-act.c). */
#pragma once

#include "health.h"

struct exec_ops;
struct gh_client;
struct plan_policy;

struct health_act_env {
        struct gh_client *gh;                 /* NULL: no client (github_problem) */
        const char *github_problem;
        const struct exec_ops *ops;           /* the executor's: lanes, the clock, the audit store */
        const struct plan_policy *pol;
        const char *host, *api_url;
        const char *cycle;                    /* this cycle's id: in records and idempotency keys */
};

struct health_counts {
        unsigned n[_HR_MAX];                  /* actions by result */
};

/* Perform every planned action of P (a capped one is only counted),
 * recording each before and after. */
void health_act(const struct health_act_env *env, const struct health_snapshot *s, struct health_plan *p,
                struct health_counts *ret);
