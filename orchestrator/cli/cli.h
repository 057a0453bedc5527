/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl's commands: one file each (cmd-*.c), run from the table in
 * lanectl.c with the command line's shared state (struct cli). What several
 * commands share (lane files, the policy as the planner sees it, the
 * baseline configuration) is in cli-common.c. The work itself belongs to
 * the subsystems: a command parses, asks and prints. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "audit.h"
#include "exec-real.h"
#include "lane-file.h"
#include "observe.h"
#include "plan.h"
#include "proto-policy.h"
#include "settings.h"

/* The command line's state, owned by main(): no command keeps a static. */
struct cli {
        const char *config_path;        /* --config */
        struct settings settings;
        bool settings_loaded;
};

/* The settings, loaded on first use from --config, LANEKEEPER_CONFIG, or
 * SYSCONFDIR/lanekeeper/lanekeeper.conf (which may be absent: built-in
 * defaults then). Errors are printed. */
int cli_settings(struct cli *cli, const struct settings **ret);
/* Drop root for the store's owner, for good (no-op unless root and the
 * store is another's): what root may run that reads GitHub with the
 * store's credentials (lanectl route, slo, pool status). 0 or -errno. */
int cli_become_store_owner(const char *store_dir);

/* Each command: exit status as its man page says (lanectl(1)). */
int cmd_helper(struct cli *cli, int argc, char **argv);
int cmd_lane(struct cli *cli, int argc, char **argv);
int cmd_config(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_plan(struct cli *cli, int argc, char **argv);
int cmd_github(struct cli *cli, int argc, char **argv);
int cmd_apply(struct cli *cli, int argc, char **argv);
int cmd_restart(struct cli *cli, int argc, char **argv);
int cmd_remove(struct cli *cli, int argc, char **argv);
int cmd_drain(struct cli *cli, int argc, char **argv);
int cmd_undrain(struct cli *cli, int argc, char **argv);
int cmd_rotate(struct cli *cli, int argc, char **argv);
int cmd_revoke(struct cli *cli, int argc, char **argv);
int cmd_unrevoke(struct cli *cli, int argc, char **argv);
int cmd_runners(struct cli *cli, int argc, char **argv);
int cmd_queue(struct cli *cli, int argc, char **argv);
int cmd_cleanup_stale(struct cli *cli, int argc, char **argv);
int cmd_preflight(struct cli *cli, int argc, char **argv);
int cmd_pool(struct cli *cli, int argc, char **argv);
int cmd_pool_supervise(struct cli *cli, int argc, char **argv);
int cmd_pool_status(struct cli *cli, int argc, char **argv);
int cmd_pool_change(struct cli *cli, int argc, char **argv);   /* scale, drain, undrain */
int cmd_health(struct cli *cli, int argc, char **argv);
int cmd_metrics(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_slo(struct cli *cli, int argc, char **argv);
int cmd_route(struct cli *cli, int argc, char **argv);
int cmd_smoke(struct cli *cli, int argc, char **argv);
int cmd_observe(struct cli *cli, int argc, char **argv);
int cmd_gate(struct cli *cli, int argc, char **argv);
int cmd_proof(struct cli *cli, int argc, char **argv);
int cmd_emergency(struct cli *cli, int argc, char **argv);

/* ---- cli-common.c ---- */

/* A lane file, parsed. */
struct lane_entry {
        char path[PATH_MAX];
        struct lane_desired lane;
        bool valid;
};
/* Parse E->path into E->lane (valid: no problem, and the file is named
 * after its lane); every problem printed to OUT with file and line. */
bool lane_entry_load(struct lane_entry *e, FILE *out);

/* The lane files of a directory (NAME.conf), sorted. */
struct lane_file {
        char *path;
        char stem[PROTO_LANE_NAME_MAX + 8];
        size_t same_name;        /* files naming this lane, without regard to case */
        bool selected;
};
int cli_list_lanes(const char *dir, struct lane_file **ret, size_t *ret_n);
void cli_free_lanes(struct lane_file *files, size_t n);
/* Mark the files NAMES select (all when there are none); an unknown name
 * is printed as CMD's error and answers -ENOENT. */
int cli_select_lanes(struct lane_file *files, size_t n, char **names, size_t n_names, const char *dir,
                     const char *cmd);

/* The helper's policy as a view (PATH explicit: checked from its own
 * directory down and may belong to the caller). Errors are printed. */
int cli_load_policy(const char *path, bool explicit, struct helper_policy *pol);
/* The arrays a plan_policy and a baseline_config point into. */
struct policy_view {
        const char *roots[32], *repos[32], *orgs[32], *users[32];
        size_t n_roots;
        const char *commands[16];
        char docker_cfg[PATH_MAX];
};
void cli_plan_policy(const struct helper_policy *hp, struct policy_view *v, struct plan_policy *ret);
/* Keeps a clock offset already in *BC. */
void cli_baseline_config(const struct settings *s, struct policy_view *v, struct baseline_config *bc);

/* The audit store beneath the settings' store directory; errors printed as CMD's. */
struct audit_store;
int cli_open_audit(const struct settings *s, struct audit_store *store, const char *cmd);

/* The executor's real ops with everything they read: what apply, restart,
 * remove and health share. cli_exec_init() first; cli_exec_close() always. */
struct cli_exec {
        const struct settings *s;
        const char *lanes_dir;
        struct helper_policy hp;
        struct policy_view pv;
        struct plan_policy pol;
        struct baseline_config bc;
        struct audit_store store;
        sd_bus *bus;
        struct lane_file *files;
        size_t n_files;
        char host[PROTO_HOST_NAME_MAX + 2];
        struct exec_real real;
        struct exec_ops ops;
};
void cli_exec_init(struct cli_exec *x);
/* Settings, the policy (POLICY, LANEKEEPER_POLICY or the settings'), the
 * lane files (LANES_DIR, LANEKEEPER_LANES_DIR or the settings'), GitHub,
 * the bus and the audit store; errors printed as CMD's. */
int cli_exec_open(struct cli *cli, struct cli_exec *x, const char *policy, const char *lanes_dir, const char *cmd);
void cli_exec_close(struct cli_exec *x);

/* 90, 90s, 15m, 6h, 2d: seconds into *RET; -ERANGE above MAX_S, -EINVAL
 * when it is not one. */
int cli_parse_duration(const char *s, unsigned max_s, unsigned *ret);

/* The options reading commands share (getopt's OPT 'o' --output text|json,
 * 'p' --policy, 'd' --lanes-dir): 1 taken, 0 not one of them, -EINVAL a
 * bad --output. */
int cli_common_option(int opt, const char *arg, bool *json, const char **policy, const char **lanes_dir);

/* "KIND/NAME" (repos/OWNER/REPO, orgs/ORG) added to SCOPES (N of at most
 * MAX) unless there, compared without case. */
#define CLI_SCOPE_MAX 200
void cli_add_scope(char (*scopes)[CLI_SCOPE_MAX], size_t *n, size_t max, const char *kind, const char *name);

/* Now, UTC, ISO 8601, into BUF. */
void cli_now_utc(char *buf, size_t size);

/* The valid pool files of DIR checked against HP (problems to OUT, those
 * pools left out): *RET (caller frees), *RET_N. */
struct pool_desired;
int cli_load_pools(const char *dir, const struct helper_policy *hp, FILE *out, struct pool_desired **ret, size_t *ret_n);
