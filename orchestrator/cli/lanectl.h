/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "lane-file.h"
#include "proto-codec.h"

struct settings;

/* The lane files of a directory (lanes.d/NAME.conf), each parsed. */
#define LANE_SET_MAX 100000
struct lane_entry {
        char path[PATH_MAX];
        struct lane_desired lane;
        bool valid;
};
struct lane_set {
        size_t n, invalid;
        struct lane_entry *lanes;
};
/* Parse C->path into C->lane (valid: no problem, and the file is named
 * after its lane); every problem printed to OUT with file and line. */
bool lane_entry_load(struct lane_entry *c, FILE *out);
/* Every problem is printed to OUT with file and line. Returns 0 (even with
 * invalid files: see ->invalid) or a negative errno when DIR is unreadable. */
int lane_set_load(const char *dir, struct lane_set *ret, FILE *out);
void lane_set_free(struct lane_set *s);

/* lanectl helper VERB [LANE] [options]: exit 0 ok, 1 refused or failed,
 * 2 usage, 3 helper unavailable. */
int cmd_helper(int argc, char **argv);

/* lanectl lane validate [--lanes-dir DIR] [FILE...]: exit 0 all valid,
 * 1 errors, 2 usage. */
int cmd_lane(int argc, char **argv);

/* lanectl config show [--output text|json] */
int cmd_config(int argc, char **argv);

/* --config FILE from main(); the settings, loaded on first use from that
 * file, LANEKEEPER_CONFIG, or SYSCONFDIR/lanekeeper/lanekeeper.conf (which
 * may be absent: built-in defaults then). Errors are printed. */
void lanectl_set_config(const char *path);
int lanectl_settings(const struct settings **ret);

/* lanectl audit list | show SEQ | verify */
int cmd_audit(int argc, char **argv);

/* lanectl plan [LANE...]: exit 0 every lane ready, 1 one or more blocked,
 * 2 error (usage, configuration, an unreadable input, the audit store). */
int cmd_plan(int argc, char **argv);

/* lanectl github runners|jobs|rate-limit: exit 0, 1 GitHub refused, 2 usage,
 * 3 GitHub unavailable or no credentials. */
int cmd_github(int argc, char **argv);

/* lanectl apply LANE... --confirm LANE --idempotency-key KEY: exit 0 every
 * lane completed, 1 blocked (nothing done), 2 usage or configuration, 3 lane
 * busy, 4 failed (a step or completion gate; the record names it). */
int cmd_apply(int argc, char **argv);

/* lanectl restart|remove LANE... [--apply --confirm LANE --idempotency-key
 * KEY]: without --apply a dry run (exit 0 ready, 1 blocked); with it as
 * apply's exit statuses. remove: stop, processes gone, deregister, GitHub
 * no longer listing it, remove-unit; a failure with the unit stopped
 * starts it again. */
int cmd_restart(int argc, char **argv);
int cmd_remove(int argc, char **argv);

/* What lanectl plan and the executor share (lanectl-plan.c). */
struct helper_policy;
struct plan_policy;
struct baseline_config;
struct settings;
struct lane_file {
        char *path;
        char stem[PROTO_LANE_NAME_MAX + 8];
        size_t same_name;        /* files naming this lane, without regard to case */
        bool selected;
};
int lanectl_list_lanes(const char *dir, struct lane_file **ret, size_t *ret_n);
void lanectl_free_lanes(struct lane_file *files, size_t n);
/* The helper's policy as a view (PATH explicit: checked from its own
 * directory down and may belong to the caller). Errors are printed. */
int lanectl_load_policy(const char *path, bool explicit, struct helper_policy *pol);
/* The arrays a plan_policy and a baseline_config point into. */
struct policy_view {
        const char *roots[32], *repos[32], *orgs[32], *users[32];
        size_t n_roots;
        const char *commands[16];
        char docker_cfg[PATH_MAX];
};
void lanectl_plan_policy(const struct helper_policy *hp, struct policy_view *v, struct plan_policy *ret);
/* Keeps a clock offset already in *BC. */
void lanectl_baseline_config(const struct settings *s, struct policy_view *v, struct baseline_config *bc);
