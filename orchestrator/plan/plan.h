/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fail-closed planner (DESIGN §6): a pure function of the desired lane,
 * what was observed, the policy and the request. It never performs
 * anything and can never say "completed". */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lane-file.h"
#include "observation.h"

#define PLAN_MAX_STEPS 8

struct plan_policy {
        const char *host;                       /* the approved host; NULL: none */
        const char *const *repositories;
        size_t n_repositories;
        const char *const *organisations;
        size_t n_organisations;
        const char *const *roots;
        size_t n_roots;
        const char *const *users;
        size_t n_users;
        const char *managed_label;              /* the site's (policy.conf); NULL: LANE_MANAGED_LABEL */
};

/* The managed label POL names, or the default. */
const char *plan_managed_label(const struct plan_policy *pol);

enum plan_intent {
        INTENT_PLAN,
        INTENT_APPLY,
        INTENT_RESTART,
        INTENT_REMOVE,
        INTENT_DRAIN,         /* take no new job, finish the one running */
        INTENT_UNDRAIN,
        INTENT_ROTATE,        /* new runner credentials, when idle */
        INTENT_REVOKE,        /* stop at once, deregister, purge credentials, hold */
        INTENT_UNREVOKE,      /* lift a revoke, with another GitHub credential */
};

struct plan_request {
        enum plan_intent intent;
        const char *this_host;       /* where lanectl runs */
        size_t same_name_lanes;      /* lane files declaring this name (1 when unique) */
        bool confirmed;              /* --confirm LANE given and matching */
        const char *idempotency_key; /* NULL or "" when absent */
        bool idle_only;              /* restart: refused while the runner runs a job */
        const char *credential_fp;   /* unrevoke: the fingerprint of the GitHub credential now configured */
};

enum plan_status { PLAN_READY, PLAN_BLOCKED };
enum plan_action {
        ACTION_CREATE,
        ACTION_ADOPT,
        ACTION_RECONCILE,
        ACTION_RESTART,
        ACTION_REMOVE,
        ACTION_NOOP,
        ACTION_DRAIN,
        ACTION_UNDRAIN,
        ACTION_ROTATE,
        ACTION_REVOKE,
        ACTION_UNREVOKE,
};
enum plan_shape {
        SHAPE_ABSENT,
        SHAPE_GITHUB_ONLY,
        SHAPE_LOCAL_SERVICE_ONLY,
        SHAPE_SUPERVISED_ACTIVE,
        SHAPE_SUPERVISED_INACTIVE,
        SHAPE_MISMATCHED_LABELS,
        SHAPE_UNKNOWN_CONFLICT,
        _SHAPE_MAX,
};

enum blocker_id {
        BLOCK_REPOSITORY_NOT_ALLOWLISTED,
        BLOCK_HOST_NOT_APPROVED,
        BLOCK_ROOT_OUTSIDE_ALLOWLIST,
        BLOCK_MISSING_MANAGED_LABEL,
        BLOCK_UNMANAGED_RUNNER,
        BLOCK_DUPLICATE_LANE,
        BLOCK_LANE_STATUS_UNKNOWN,
        BLOCK_SERVICE_USER_MISMATCH,
        BLOCK_UNIT_NAME_MISMATCH,
        BLOCK_UNSAFE_LANE,
        BLOCK_STALE_STATE,
        BLOCK_BASELINE_NOT_READY,
        BLOCK_UNCONFIRMED_MUTATION,
        BLOCK_LANE_HELD,             /* drained or revoked: apply and restart wait for undrain/unrevoke */
        BLOCK_RUNNER_BUSY,           /* rotate: never under a running job */
        BLOCK_CREDENTIAL_UNCHANGED,  /* unrevoke: the credential of the revoke is still configured */
        _BLOCK_MAX,
};

struct plan {
        enum plan_status status;
        enum plan_action action;
        enum plan_shape shape;
        size_t n_blockers;
        struct {
                enum blocker_id id;
                char detail[400];
        } blockers[_BLOCK_MAX];
        size_t n_steps;
        char steps[PLAN_MAX_STEPS][200];
};

void plan_lane(const struct lane_desired *desired, const struct observation *obs, const struct plan_policy *pol,
               const struct plan_request *req, struct plan *ret);
bool plan_has_blocker(const struct plan *p, enum blocker_id id);

/* Stable names, used in JSON and in tests: "ready", "create", "github_only",
 * "repository_not_allowlisted", ... */
const char *plan_status_to_string(enum plan_status s);
const char *plan_action_to_string(enum plan_action a);
const char *plan_shape_to_string(enum plan_shape s);
const char *blocker_to_string(enum blocker_id b);
