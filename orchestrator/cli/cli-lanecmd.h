/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lane commands (apply, restart, remove, drain, undrain, rotate,
 * revoke, unrevoke): what they share, and how exec_lane()'s result is
 * told (cli-report.c). */
#pragma once

#include <stdbool.h>

#include "exec.h"
#include "settings.h"

enum { EXIT_COMPLETED = 0, EXIT_BLOCKED = 1, EXIT_ERROR = 2, EXIT_BUSY = 3, EXIT_FAILED = 4, EXIT_NOT_PROVEN = 5 };

/* What every lane of one command shares. */
struct lane_cmd_ctx {
        const struct settings *s;
        const struct plan_policy *pol;
        const struct exec_ops *ops;
        const char *host;
        enum exec_cmd cmd;
        unsigned timeout_s;
        bool dry_run, purge;
        const char *reason;             /* drain, revoke */
        const char *credential_fp;      /* revoke, unrevoke */
        unsigned idle_wait_s;           /* drain */
        const struct exec_prove *prove; /* apply --smoke */
};

/* Tell what exec_lane() did for D; the exit status (lanectl(1)). */
int cli_lane_report(const struct lane_cmd_ctx *c, const struct lane_desired *d, const struct exec_result *res);
