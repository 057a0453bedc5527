/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl status: the dashboard (cmd-status.c gathers, cli-status.c shows). */
#pragma once

#include "audit.h"
#include "cli-health.h"

#define STATUS_HEAL_SHOWN 5

/* One audit record, as the dashboard names it. */
struct status_record {
        uint64_t seq;                         /* 0: none */
        char time[32], command[24], status[16], lane[PROTO_LANE_NAME_MAX + 1];
        char check[24], action[24], target[96], detail[160];
};

struct status_view {
        struct health_cmd *hc;
        bool *shown;                          /* per lane of hc->snap: asked for (all when no LANE given) */
        int exit_status;
        bool color;
        time_t now;
        struct audit_verify_result audit;
        bool audit_intact;
        struct status_record *lane_last;      /* per lane: its last record */
        size_t n_heal;
        struct status_record heal[STATUS_HEAL_SHOWN];   /* the last health actions, newest first */
};

void status_print_text(const struct status_view *v);
void status_print_json(const struct status_view *v);
