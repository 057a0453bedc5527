/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Observation (DESIGN §6): what is there for one lane, read without
 * privilege and without changing anything. Each source is an adapter in a
 * small ops table, so that the planner is tested without I/O and each
 * adapter against real files (check-observe) or a real systemd (e2e). An
 * adapter that cannot read its source says so (known = false, with a
 * detail); it never guesses. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "inventory.h"
#include "lane-file.h"
#include "observation.h"

typedef struct sd_bus sd_bus;

struct baseline_config {
        unsigned long long min_free_bytes;    /* in the registration root */
        const char *const *commands;          /* looked up in OBSERVE_PATH */
        size_t n_commands;
        const char *cgroup_root;              /* "/sys/fs/cgroup" */
        bool have_clock_offset;               /* GitHub's Date was seen */
        long long clock_offset_s;             /* GitHub's Date minus ours */
        const char *const *roots;             /* the policy's registration roots */
        size_t n_roots;
        const char *maintainer_docker_config; /* the maintainer's config.json, or NULL */
};

struct observe_env {
        const struct inventory *inventory;    /* NULL: GitHub was not read */
        const char *inventory_problem;        /* why not, when NULL */
        sd_bus *bus;                          /* NULL: systemd was not read */
        const char *bus_problem;
        const struct baseline_config *baseline;
};

struct observe_ops {
        void (*github)(const struct observe_env *env, const struct lane_desired *d, struct observation *o);
        void (*local)(const struct observe_env *env, const struct lane_desired *d, struct observation *o);
        void (*unit)(const struct observe_env *env, const struct lane_desired *d, struct observation *o);
        void (*baseline)(const struct observe_env *env, const struct lane_desired *d, struct observation *o);
};

/* The real adapters: inventory, runner directory, systemd over D-Bus,
 * baseline checks on this host. */
extern const struct observe_ops observe_real;

#define OBSERVE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Run every adapter of OPS for D into *O (cleared first), then the baseline
 * verdict. */
void observe_lane(const struct observe_ops *ops, const struct observe_env *env, const struct lane_desired *d,
                  struct observation *o);

/* The adapters, one by one (observe_real's entries). */
void observe_github(const struct observe_env *env, const struct lane_desired *d, struct observation *o);
void observe_local(const struct observe_env *env, const struct lane_desired *d, struct observation *o);
void observe_unit(const struct observe_env *env, const struct lane_desired *d, struct observation *o);
/* 1: systemd must reload to see UNIT as on disk (or cannot tell); 0: not. */
int observe_unit_needs_reload(sd_bus *bus, const char *unit, char *why, size_t size);
void observe_baseline(const struct observe_env *env, const struct lane_desired *d, struct observation *o);

/* "2.330.0" from a runner directory's bin -> bin.2.330.0 link (the layout
 * self-update leaves), or -ENOENT/-EINVAL. */
int observe_runner_version(int lane_fd, char *buf, size_t size);
/* The lane directory ROOT/NAME, opened beneath its root without following
 * a symlink (an O_PATH fd; *ret_root_fd the root's, if asked): -ENOENT when
 * either is missing, another errno with a reason. */
int observe_open_lane_dir(const struct lane_desired *d, int *ret_root_fd, const char **ret_reason);
/* Whether VERSION satisfies POLICY: 1, 0, or -EINVAL when VERSION does not
 * parse. */
int version_satisfies(const struct version_policy *policy, const char *version);
