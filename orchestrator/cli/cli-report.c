/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a lane command did, told: a dry run, a refusal, the steps of a
 * change; the exit status. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli-lanecmd.h"

static void print_legacy(const struct exec_result *res) {
        if (!res->legacy_unit[0])
                return;
        printf("  legacy   svc.sh's unit %s is installed%s; lanekeeper never acts on units it did not write.\n"
               "           As root: systemctl disable --now %s && rm /etc/systemd/system/%s && systemctl daemon-reload\n"
               "           (what ./svc.sh uninstall does), so that only lanekeeper's unit runs this runner\n",
               res->legacy_unit, res->legacy_enabled ? " and enabled (it starts at boot)" : "", res->legacy_unit,
               res->legacy_unit);
}

static void print_blockers(const struct exec_result *res) {
        for (size_t i = 0; i < res->p.n_blockers; i++)
                printf("  blocked  %s: %s\n", blocker_to_string(res->p.blockers[i].id), res->p.blockers[i].detail);
        if (res->busy_job[0])
                printf("  busy     %s\n", res->busy_job);
}

/* restart or remove without --apply: what would be done. */
static void print_dry_run(const struct lane_cmd_ctx *c, const struct lane_desired *d, const struct exec_result *res) {
        const char *name = exec_cmd_to_string(c->cmd);

        printf("%s: %s %s (dry run, record #%" PRIu64 "); nothing done\n", d->name, plan_action_to_string(res->p.action),
               res->p.status == PLAN_BLOCKED ? "blocked" : "ready", res->seq);
        print_blockers(res);
        print_legacy(res);
        if (res->p.status != PLAN_BLOCKED)
                printf("  would    %s\n  then     lanectl %s %s --apply%s --confirm %s --idempotency-key KEY\n",
                       c->cmd == EXEC_RESTART ? "restart the unit through the helper, then check every completion gate"
                       : c->purge ? "stop the unit, check its processes are gone and no process of the lane's user "
                                    "runs, delete the GitHub registration, wait until GitHub no longer lists it, empty "
                                    "the lane directory through the lane's unit, remove the unit"
                                  : "stop the unit, check its processes are gone, delete the GitHub registration, wait "
                                    "until GitHub no longer lists it, remove the unit",
                       name, d->name, c->purge ? " --purge" : "", d->name);
        for (size_t i = 0; res->p.status == PLAN_BLOCKED && i < res->p.n_steps; i++)
                printf("  next     %s\n", res->p.steps[i]);
}

static void print_refused(const struct lane_desired *d, const struct exec_result *res) {
        printf("%s: %s blocked (record #%" PRIu64 "); nothing done\n", d->name, plan_action_to_string(res->p.action),
               res->seq);
        print_blockers(res);
        print_legacy(res);
        for (size_t i = 0; i < res->p.n_steps; i++)
                printf("  next     %s\n", res->p.steps[i]);
}

static void print_result(const struct lane_desired *d, const struct exec_result *res) {
        printf("%s: %s %s (record #%" PRIu64 ")\n", d->name, plan_action_to_string(res->p.action),
               res->outcome != EXEC_COMPLETED ? "failed" : res->left_draining ? "draining" : "completed", res->seq);
        for (size_t i = 0; i < res->n_steps; i++)
                printf("  %-14s %-6s %6lld ms  %s\n", res->steps[i].name, res->steps[i].ok ? "ok" : "FAILED",
                       res->steps[i].ms, res->steps[i].detail);
        if (res->proof != PROOF_NOT_ASKED)
                printf("  %-14s %-6s %6lld ms  %s%s\n", "smoke", res->proof == PROOF_PROVEN ? "ok" : "FAILED", res->proof_ms,
                       res->proof == PROOF_PROVEN ? "" : "applied, NOT PROVEN: ", res->proof_detail);
        if (res->routed_by[0])
                printf("  labels left    %s\n", res->routed_by);
        if (res->killed_job[0])
                printf("  killed         %s\n", res->killed_job);
        print_legacy(res);
}

/* Tell what exec_lane() did; the exit status. */
int cli_lane_report(const struct lane_cmd_ctx *c, const struct lane_desired *d, const struct exec_result *res) {
        const char *name = exec_cmd_to_string(c->cmd);

        switch (res->outcome) {
        case EXEC_BUSY:
                fprintf(stderr, "lanectl %s: %s: lane busy (another lanectl command holds it); nothing done\n",
                        name, d->name);
                break;
        case EXEC_REPEATED:
                printf("%s: already done under this key: %s %s (record #%" PRIu64 "); nothing done\n", d->name, name,
                       res->prev.status, res->prev.audit_seq);
                break;
        case EXEC_BLOCKED:
        case EXEC_COMPLETED:
        case EXEC_FAILED:
                if (c->dry_run)
                        print_dry_run(c, d, res);
                else if (res->outcome == EXEC_BLOCKED)
                        print_refused(d, res);
                else
                        print_result(d, res);
                if (res->error[0])   /* recorded, but the key could not be */
                        fprintf(stderr, "lanectl %s: %s: %s\n", name, d->name, res->error);
                break;
        case EXEC_ERROR:
                if (res->planned && (c->dry_run || res->p.status == PLAN_BLOCKED))
                        c->dry_run ? print_dry_run(c, d, res) : print_refused(d, res);
                fprintf(stderr, "lanectl %s: %s: %s\n", name, d->name, res->error);
                break;
        case _EXEC_OUTCOME_MAX:
        case _EXEC_OUTCOME_INVALID:
                break;
        }
        return exec_exit_status(res);
}

