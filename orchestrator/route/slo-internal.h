/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What slo.c and route-eval.c share. */
#pragma once

#include "slo.h"

/* A trusted run goes where routing said when it was made; an untrusted one
 * to hosted labels: 1, 0, or -1 when it cannot be judged. */
int slo_routing_ok(const struct slo_run *r, enum slo_trust t, enum slo_route route);
/* How long J waited for a runner (seconds), or -1 when not known. */
double slo_job_wait(const struct slo_job *j, time_t now);
