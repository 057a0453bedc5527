/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What lanectl slo and lanectl route share: the settings, GitHub, the
 * store (as its owner: these commands need no root), the repository's
 * routing record with the variable just read. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "audit.h"
#include "cli.h"
#include "route.h"

struct route_ctx {
        const struct settings *s;
        struct gh_client *c;
        char repo[ROUTE_REPO_MAX];
        int store_fd;
        int lock_fd;                    /* the routing record's lock (WRITE), -1: none */
        struct audit_store audit;
        struct route_state st;
        bool had_history;               /* the record knew the variable before this reading */
        bool value;                     /* the variable as just read */
        time_t now;                     /* GitHub's clock (its Date header), else ours */
        struct slo_input in;
        char host[256];
};

/* Everything above for REPO (errors printed as CMD's): -EINVAL for a bad
 * name, another -errno when something cannot be reached. WRITE: the audit
 * store is opened too and the routing record locked (route_state_lock)
 * until cli_route_close. */
int cli_route_open(struct cli *cli, struct route_ctx *rc, const char *repo, const char *cmd, bool write);
/* The runs (route_gather) with what routing was when each was made. */
int cli_route_gather(struct route_ctx *rc, unsigned last, const char *cmd);
void cli_route_close(struct route_ctx *rc);

/* After a health cycle: the lanes of [route] repositories seen offline or
 * online (a restart or re-registration this cycle: a recovery attempt),
 * told to their routing records; then the guard of each. Said on stderr. */
struct health_snapshot;
struct health_plan;
void cli_route_after_health(const struct settings *s, struct gh_client *gh, const struct health_snapshot *snap,
                            const struct health_plan *plan, const char *host);

/* In the pool supervisor's loop: every [route] interval_s, the pools of
 * SUP serving [route] repositories told to their routing records as
 * offline or online (sup_pool_offline), then the guard of each
 * repository (none when there are none); *RET the source. */
struct pool_sup;
int cli_route_supervise(sd_event *e, struct cli_exec *x, const struct pool_sup *sup, sd_event_source **ret);
