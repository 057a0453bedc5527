/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Completion gates (DESIGN §6): pure functions of an observation. A gate
 * decides with a verdict; the message a person reads is rendered from the
 * verdict afterwards, never the other way round. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "plan.h"

enum gate_id {
        GATE_UNIT_ACTIVE,          /* apply, restart: unit active (running), enabled, main process as the user */
        GATE_GITHUB_ONLINE,        /* apply, restart: one runner, online, exactly the desired labels */
        GATE_BASELINE_READY,       /* apply, restart: every baseline check ready */
        GATE_UNIT_REMOVED,         /* remove: no unit for the lane */
        GATE_GITHUB_DEREGISTERED,  /* remove, revoke: GitHub lists no runner of the lane's name */
        GATE_UNIT_STOPPED,         /* drain: the unit exists and runs nothing */
        GATE_GITHUB_UNROUTED,      /* drain: none of the lane's routing labels left (or not listed) */
        GATE_CREDENTIALS_GONE,     /* revoke: no .runner, .credentials or .credentials_rsaparams */
        _GATE_ID_MAX,
        _GATE_ID_INVALID = -EINVAL,
};

enum gate_verdict {
        VERDICT_PASS,
        VERDICT_SYSTEMD_UNREADABLE,
        VERDICT_NO_MANAGED_UNIT,
        VERDICT_UNIT_NOT_RUNNING,
        VERDICT_UNIT_NOT_ENABLED,
        VERDICT_WRONG_USER,
        VERDICT_GITHUB_UNREADABLE,
        VERDICT_RUNNER_COUNT,
        VERDICT_RUNNER_OFFLINE,
        VERDICT_LABELS_DIFFER,
        VERDICT_BASELINE_NOT_READY,
        VERDICT_UNIT_STILL_THERE,
        VERDICT_STILL_LISTED,
        VERDICT_UNIT_RUNNING,
        VERDICT_STILL_ROUTED,
        VERDICT_DIRECTORY_UNREADABLE,
        VERDICT_CREDENTIALS_LEFT,
        _VERDICT_MAX,
        _VERDICT_INVALID = -EINVAL,
};

#define GATE_DETAIL_MAX 300

/* "unit_active", ...; "pass", "labels_differ", ... */
const char *gate_id_to_string(enum gate_id g);
const char *gate_verdict_to_string(enum gate_verdict v);

enum gate_kind {
        GATES_UP,        /* apply, restart, undrain, rotate: the runner works */
        GATES_GONE,      /* remove */
        GATES_DRAINED,   /* drain */
        GATES_DRAINING,  /* drain that left the runner finishing its job */
        GATES_REVOKED,   /* revoke */
        GATES_NONE,      /* unrevoke: a mark in the store, checked by its step */
};

/* The gates a command waits for. */
size_t gate_set(enum gate_kind k, const enum gate_id **ret);

/* What a gate is evaluated for: the desired lane, its user's uid, and the
 * site's managed label (a drained runner keeps it). */
struct gate_ctx {
        const struct lane_desired *d;
        uid_t uid;
        const char *managed_label;
};

/* The verdict of gate G on observation O. */
enum gate_verdict gate_eval(enum gate_id g, const struct observation *o, const struct gate_ctx *c);

/* The message for that verdict (at most GATE_DETAIL_MAX - 1 bytes). */
void gate_describe(enum gate_id g, enum gate_verdict v, const struct observation *o, const struct gate_ctx *c,
                   char *buf, size_t size);

/* Whether LABEL still routes jobs to a drained runner: a label of the lane
 * other than the managed label and GitHub's read-only defaults (self-hosted,
 * the OS, the architecture), which the labels API cannot remove. */
bool gate_routing_label(const struct gate_ctx *c, const char *label);

/* Exactly the lane's labels (GitHub compares them without case). */
bool labels_exact(const struct lane_desired *d, const char (*labels)[PROTO_LABEL_MAX + 1], size_t n);
/* "a,b,c" into BUF. */
void label_list(const char (*labels)[PROTO_LABEL_MAX + 1], size_t n, char *buf, size_t size);
