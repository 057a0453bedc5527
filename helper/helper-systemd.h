/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd, over sd-bus: org.freedesktop.systemd1.Manager calls. Never
 * systemctl, never exec. */
#pragma once

#include <systemd/sd-bus.h>

#define SYSD_STATE_MAX 32

struct sysd_state {
        char active[SYSD_STATE_MAX];
        char sub[SYSD_STATE_MAX];
        char job_result[SYSD_STATE_MAX];   /* "done", "failed", ... or "" */
};

/* systemd's private socket (root), else the system bus. */
int sysd_open(sd_bus **ret);
int sysd_reload(sd_bus *bus, char *err, size_t errlen);
/* StartUnit/RestartUnit/StopUnit with mode "replace"; waits up to
 * TIMEOUT_USEC for the job to finish, then reads the unit's state. */
int sysd_job(sd_bus *bus, const char *method, const char *unit, uint64_t timeout_usec, struct sysd_state *ret,
             char *err, size_t errlen);
int sysd_enable(sd_bus *bus, const char *unit, char *err, size_t errlen);
int sysd_disable(sd_bus *bus, const char *unit, char *err, size_t errlen);
int sysd_unit_state(sd_bus *bus, const char *unit, struct sysd_state *ret, char *err, size_t errlen);
/* The state and the ControlGroup of a service unit ("" when it has none). */
int sysd_unit_cgroup(sd_bus *bus, const char *unit, struct sysd_state *ret, char *cgroup, size_t size,
                     char *err, size_t errlen);
