/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What lanectl health and lanectl status share: one cycle's state and its
 * JSON (cmd-health.c, cli-health.c). */
#pragma once

#include <getopt.h>

#include "cli.h"
#include "health-act.h"
#include "health-gather.h"
#include "health.h"

struct health_cmd {
        struct cli_exec x;
        const char *policy, *lanes_dir;
        bool heal, json, have_only, metrics;   /* metrics: lanectl metrics */
        bool status;                            /* lanectl status: reads only */
        bool refresh;                           /* the textfile refreshed after apply, restart, remove */
        bool only[_HC_MAX];
        char cycle[64];
        int lock_fd;
        struct lane_entry *entries;
        struct hlane *lanes;
        struct health_snapshot snap;
        struct health_plan plan;
        struct health_cache_state cache;      /* STORE/health-cache.state */
};

struct health_cmd *cli_health_new(void);
void cli_health_free(struct health_cmd *hc);

/* The options health and status share (getopt's OPT 'o' --output, 'p'
 * --policy, 'd' --lanes-dir): 1 taken, 0 not one of them, -EINVAL said. */
int cli_health_option(struct health_cmd *hc, int opt, const char *arg, const char *what);
/* getopt_long's table of exactly those three (status, runners, queue). */
extern const struct option cli_health_read_options[];

/* Open the settings, policy and store (WHAT names the command in errors),
 * load this host's lanes, gather the snapshot and plan (a dry run): 0, or
 * a negative errno once said on standard error. */
int cli_health_prepare(struct cli *cli, struct health_cmd *hc, const char *what);

/* 0 healthy, 1 degraded (findings, actions pending, failed or capped), 2
 * error (GitHub or the runners unreadable). */
int cli_health_exit_status(const struct health_cmd *hc, const struct health_counts *counts);

/* The queue per label set, and the findings, as JSON arrays (new references). */
struct json_object *cli_health_queue_json(const struct health_cmd *hc);
struct json_object *cli_health_findings_json(const struct health_cmd *hc);

/* The cycle as JSON (schema lanekeeper.health/1) on standard output. */
void cli_health_print_json(const struct health_cmd *hc, const struct health_counts *counts);

/* The cycle's metrics: on standard output (lanectl metrics), or into the
 * textfile (every cycle; atomically, mode 0644 for node_exporter). OK says
 * whether the cycle read everything (then it is the last success). */
int cli_health_metrics(const struct health_cmd *hc, bool ok, bool to_stdout);

/* After a command that changed lanes (apply, restart --apply, remove
 * --apply): the textfile rewritten from a fresh read of the lanes and the
 * queues; the last health cycle's action counts and last success kept. */
void cli_health_refresh_metrics(struct cli *cli, const char *policy, const char *lanes_dir);
