/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What was observed of one lane: GitHub's runners of its name, the runner
 * directory, the unit, baseline readiness. Filled by observe/ (and
 * github/'s inventory), read by plan/ and exec/'s gates; a plain struct,
 * so that no reader depends on how it was observed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lane-file.h"

#define OBS_MAX_RUNNERS 4

struct obs_runner {
        long long id;
        char name[PROTO_RUNNER_NAME_MAX + 1];
        bool online, busy;
        size_t n_labels;
        char labels[LANE_MAX_LABELS][PROTO_LABEL_MAX + 1];
};

enum baseline_state { BASELINE_READY, BASELINE_NOT_READY, BASELINE_UNKNOWN };

#define BASELINE_MAX_CHECKS 12
#define OBS_DETAIL_MAX 160

/* One named readiness check ("cgroup_v2", "disk_space", ...). */
struct baseline_check {
        const char *name;                 /* static string */
        enum baseline_state state;
        char detail[OBS_DETAIL_MAX];
};

struct observation {
        /* GitHub: runners whose name equals the lane's, compared without case */
        bool github_known;
        char github_detail[OBS_DETAIL_MAX];   /* why it is not known */
        size_t n_runners;
        struct obs_runner runners[OBS_MAX_RUNNERS];
        /* the local runner directory ROOT/LANE */
        bool local_known;
        char local_detail[OBS_DETAIL_MAX];
        bool local_exists;           /* ROOT/LANE is a directory */
        bool local_configured;       /* .runner present */
        bool local_credentials;      /* .credentials present (content never read) */
        bool local_rsaparams;        /* .credentials_rsaparams present (never read) */
        unsigned long long local_credentials_stamp;   /* .credentials' inode and change time, hashed: a new file differs */
        char local_agent_name[PROTO_RUNNER_NAME_MAX + 1];
        long long local_agent_id;
        char runner_version[24];     /* "" when it cannot be told */
        /* the unit, read over D-Bus */
        bool unit_known;
        char unit_detail[OBS_DETAIL_MAX];
        bool unit_exists;
        bool unit_managed;           /* the helper's marker, content it would render */
        char unit_name[128];
        char unit_load[32];          /* LoadState */
        char unit_active[32];        /* ActiveState */
        char unit_sub[32];           /* SubState */
        char unit_file_state[32];    /* UnitFileState */
        unsigned main_pid;           /* 0: none */
        unsigned n_restarts;         /* NRestarts: automatic restarts since the last start by hand */
        unsigned long long state_since_us;   /* StateChangeTimestamp (realtime, µs); 0 unknown */
        long long main_uid;          /* -1: unknown */
        char unit_user[PROTO_USER_NAME_MAX + 1];   /* of MainPID, else the managed marker's */
        char unit_root[PROTO_PATH_MAX + 1];        /* the managed marker's registration root */
        /* an operator's hold (lanectl drain, revoke; the store's, filled
         * by the executor's and health's observation): "" none, "draining",
         * "drained", "revoked" */
        char hold[12];
        char hold_reason[300];   /* HOLD_TEXT_MAX */
        char hold_since[32];
        char hold_credential[33];    /* revoke: the fingerprint of the credential then in use */
        /* baseline readiness: the checks, and their verdict (baseline_overall) */
        size_t n_checks;
        struct baseline_check checks[BASELINE_MAX_CHECKS];
        enum baseline_state baseline;
};

/* Ready only when at least one check was observed (ready or not_ready) and
 * none is not_ready; unknown when none was observed. */
enum baseline_state baseline_overall(const struct baseline_check *checks, size_t n);
const char *baseline_state_to_string(enum baseline_state s);
