/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl's settings: /etc/lanekeeper/lanekeeper.conf (INI). See
 * lanekeeper.conf(5). Names files that hold credentials, never a
 * credential itself. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "ini-diag.h"
#include "proto-validate.h"

#define SETTINGS_URL_MAX 256
#define SETTINGS_MAX_COMMANDS 16
#define SETTINGS_COMMAND_MAX 64
#define SETTINGS_DEFAULT_MIN_FREE_MIB 2048

#define SETTINGS_MAX_REPOS 32

/* [health]: what lanectl health checks and may do (lanekeeper.conf(5)). */
struct health_settings {
        unsigned long stale_job_hours;        /* a job queued longer is stale (4) */
        bool superseded;                      /* cancel superseded runs (yes) */
        bool cancel_default_branch;           /* ... on the default branch too (no) */
        bool pr_priority;                     /* cancel queued push runs when PRs wait (no) */
        unsigned long pr_priority_threshold;  /* more than this many PR runs waiting (5) */
        unsigned long cache_max_age_days;     /* actions cache entries kept (7) */
        unsigned long max_cancels, max_reruns, max_restarts;   /* per cycle (10, 5, 3) */
        unsigned long max_clock_offset_s;     /* beyond it the lane is degraded (60) */
        size_t n_repositories;                /* watched besides the lanes' own (org lanes) */
        char repositories[SETTINGS_MAX_REPOS][PROTO_OWNER_MAX + PROTO_REPO_NAME_MAX + 2];
        char metrics_file[PROTO_PATH_MAX + 1];   /* node_exporter's textfile; "": STORE/metrics/lanekeeper.prom */
        bool metrics_off;                        /* metrics_file = none */
};

#define SETTINGS_VARIABLE_MAX 100
#define SETTINGS_MAX_LABELS 16

/* [route]: the routing switch of trusted pull requests and its guard
 * (lanekeeper.conf(5), lanectl(1) slo and route). */
struct route_settings {
        char variable[SETTINGS_VARIABLE_MAX + 1];   /* CI_SELF_HOSTED_TRUSTED_ROUTING */
        size_t n_repositories;                      /* guarded each cycle by the pool supervisor and health */
        char repositories[SETTINGS_MAX_REPOS][PROTO_OWNER_MAX + PROTO_REPO_NAME_MAX + 2];
        size_t n_labels;                            /* a job asking for one of these is self-hosted (self-hosted) */
        char labels[SETTINGS_MAX_LABELS][PROTO_LABEL_MAX + 1];
        unsigned long lifecycle_pct;                /* the criteria and triggers: 98 */
        unsigned long queue_wait_s, setup_s;        /* 120, 180 */
        unsigned long offline_s;                    /* 600 */
        unsigned long interval_s;                   /* the pool supervisor guards this often: 60 */
        char metrics_file[PROTO_PATH_MAX + 1];      /* "": STORE/metrics/lanekeeper-route.prom */
        bool metrics_off;
};

struct settings {
        char api_url[SETTINGS_URL_MAX + 1];
        unsigned long app_id, installation_id;            /* 0: not set */
        unsigned long timeout_s;                          /* per request, retries included */
        char private_key_file[PROTO_PATH_MAX + 1];
        char token_file[PROTO_PATH_MAX + 1];
        char store_dir[PROTO_PATH_MAX + 1];
        char lanes_dir[PROTO_PATH_MAX + 1];
        char pools_dir[PROTO_PATH_MAX + 1];               /* [pools] dir */
        char pools_metrics_file[PROTO_PATH_MAX + 1];      /* [pools] metrics_file, "": STORE/metrics/lanekeeper-pool.prom */
        bool pools_metrics_off;                           /* metrics_file = none */
        char pools_webhook_listen[64];                    /* [pools] webhook_listen, "": no receiver */
        char pools_webhook_secret_file[PROTO_PATH_MAX + 1];
        char helper_socket[PROTO_PATH_MAX + 1];
        char policy_file[PROTO_PATH_MAX + 1];             /* the helper's policy, read as a view */
        /* [baseline] */
        unsigned long min_free_mib;
        size_t n_commands;
        char commands[SETTINGS_MAX_COMMANDS][SETTINGS_COMMAND_MAX + 1];
        struct health_settings health;
        struct route_settings route;
        unsigned long retention_days;                     /* [retention] days: lanectl audit prune's default */
};

/* Built-in defaults (paths under SYSCONFDIR and /var/lib, /run). */
void settings_defaults(struct settings *s, const char *sysconfdir);

/* Parse F over the values already in *s; every problem to *diags with its
 * line. Returns 0, or -EINVAL if there were problems. */
int settings_parse(FILE *f, struct settings *s, struct ini_diags *diags);

/* Whether URL is https://HOST[:PORT][/PATH], or http:// on a loopback host
 * (127.0.0.0/8, [::1], localhost) for the test double. */
bool settings_api_url_ok(const char *url, const char **ret_reason);

/* Whether NAME may name a repository variable: letters, digits and '_',
 * not starting with a digit or GITHUB_. */
bool settings_variable_ok(const char *name, const char **ret_reason);

/* "app", "token" or "none". */
const char *settings_auth(const struct settings *s);
