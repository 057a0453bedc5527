/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl cleanup-stale: GitHub registrations of this host that lost
 * their lane. A runner is deleted only when it carries the site's managed
 * label AND this host's label (the policy's host name), has been offline
 * at least the limit by lanekeeper's own sightings (GitHub keeps no "last
 * seen"), is not busy, and no lane file of this host is named after it.
 * Everything else is listed with the reason it is kept; a runner without
 * the managed label is never touched. stale_classify() is pure;
 * stale_delete() re-reads the runner, deletes it, proves it gone, and
 * writes a planned and then a completed, failed or skipped record. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "gh-api.h"

struct audit_store;
struct gh_client;

enum stale_verdict {
        STALE_DELETE,            /* every condition holds */
        STALE_KEEP_UNMANAGED,    /* no managed label: listed, never touched */
        STALE_KEEP_OTHER_HOST,   /* managed, but not this host's label */
        STALE_KEEP_LANE,         /* a lane of this host has its name */
        STALE_KEEP_ONLINE,
        STALE_KEEP_BUSY,
        STALE_KEEP_RECENT,       /* offline for less than the limit */
        _STALE_VERDICT_MAX,
};

enum stale_result { STALE_NONE, STALE_DELETED, STALE_FAILED, STALE_SKIPPED };

struct stale_rules {
        const char *managed_label;     /* the policy's */
        const char *host_label;        /* the policy's host name */
        unsigned older_than_s;
        const char *const *lanes;      /* this host's lane names (lane files, valid or not) */
        size_t n_lanes;
        time_t now;
};

struct stale_runner {
        char scope[200];
        struct gh_runner r;
        time_t offline_since;          /* 0: online */
        enum stale_verdict verdict;
        char why[200];
        enum stale_result result;
        char detail[300];
        unsigned long long seq;        /* the last record's number, 0 if none */
};

const char *stale_verdict_to_string(enum stale_verdict v);
const char *stale_result_to_string(enum stale_result r);

/* The verdict for R (scope, runner, offline_since filled), WHY set. */
void stale_classify(struct stale_runner *r, const struct stale_rules *rules);

struct stale_env {
        struct gh_client *gh;
        struct audit_store *store;
        const char *host;              /* for the record */
        const char *run;               /* this run's id, in each record */
        unsigned gone_wait_ms;         /* how long the gate waits for GitHub to forget it */
};

/* Delete R (verdict STALE_DELETE) with its records; R's result and detail
 * say what happened. */
void stale_delete(const struct stale_env *env, const struct stale_rules *rules, struct stale_runner *r);
