/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prometheus metrics of a health snapshot (health-metrics.c). */
#pragma once

#include <stdint.h>

#include "health.h"

#define HEALTH_METRICS_MAX_SETS 256

struct health_metrics_in {
        const struct health_snapshot *snap;
        const struct health_settings *settings;
        const struct health_plan *plan;       /* NULL: no cycle's actions */
        const char *carry;                    /* plan NULL: the last cycle's action samples, as they were */
        uint64_t audit_records;
        bool audit_intact;
        long long last_success;               /* Unix time; 0: never */
        const char *managed_label;            /* the policy's: for the stale registrations */
        const char *host_label;               /* the policy's host name; NULL: none counted */
};

/* The metrics as text (malloc'd). */
int health_metrics_render(const struct health_metrics_in *in, char **ret, size_t *ret_len);
