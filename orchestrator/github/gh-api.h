/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GitHub's runner, job and variable endpoints, typed, over gh_request().
 * SCOPE is "repos/OWNER/NAME" or "orgs/ORG"; REPO is "OWNER/NAME".
 * GitHub's answers map to errors that say what happened:
 *   -EACCES 401 (credentials), -EPERM 403 (refused), -ENOENT 404,
 *   -EEXIST 409 (exists, or a conflict), -EBUSY 422 on a runner still
 *   running a job, -EINVAL other 422 (validation), -EPROTO an answer that
 *   does not parse, -EIO/-EAGAIN no answer in time;
 * err then holds the status and GitHub's message (redacted). Tokens come
 * back malloc'd: free them with secret_free(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "gh-client.h"
#include "proto-validate.h"

#define GH_MAX_LABELS 100

struct gh_runner {
        long long id;
        char name[PROTO_FOREIGN_NAME_MAX + 1];   /* as GitHub gave it, escaped where not printable */
        bool online, busy, ephemeral;
        long long group_id;
        size_t n_labels;
        char labels[GH_MAX_LABELS][PROTO_LABEL_MAX + 1];
};

/* The parsers of GitHub's answers (pure; tested on the OpenAPI description's
 * own examples): 0, or -EPROTO for an answer without what it must hold. */
int gh_parse_runner(const char *text, struct gh_runner *ret);
int gh_parse_labels(const char *text, struct gh_runner *ret);
int gh_parse_token(const char *text, char **ret, size_t *ret_len, time_t *ret_expires);
int gh_parse_jit(const char *text, long long *ret_id, char **ret_config, size_t *ret_len);
int gh_parse_variable(const char *text, char *buf, size_t size);
/* Pages of runner groups: the id of the group named NAME (without case), or -ENOENT. */
int gh_parse_runner_group(const char *text, size_t len, const char *name, long long *ret);

int gh_runner_get(struct gh_client *c, const char *scope, long long id, struct gh_runner *ret, char *err, size_t errlen);
int gh_runner_delete(struct gh_client *c, const char *scope, long long id, char *err, size_t errlen);

/* The job runner ID is running in REPO: "job NAME (id J) of run R, WORKFLOW"
 * into BUF. 0 when found, -ENOENT when no in-progress job names the runner
 * (GitHub may not have listed it yet), other errors as above. */
int gh_runner_job(struct gh_client *c, const char *repo, long long id, char *buf, size_t size, char *err, size_t errlen);

/* A registration or remove token (valid an hour) and when it expires. */
int gh_registration_token(struct gh_client *c, const char *scope, char **ret, size_t *ret_len, time_t *ret_expires,
                          char *err, size_t errlen);
int gh_remove_token(struct gh_client *c, const char *scope, char **ret, size_t *ret_len, time_t *ret_expires, char *err,
                    size_t errlen);

/* A just-in-time runner NAME with exactly LABELS: its id, and the encoded
 * configuration run.sh --jitconfig takes (a secret). */
int gh_jit_config(struct gh_client *c, const char *scope, const char *name, long long group_id,
                  const char *const *labels, size_t n_labels, long long *ret_id, char **ret_config, size_t *ret_len,
                  char *err, size_t errlen);

enum gh_label_op { GH_LABELS_LIST, GH_LABELS_ADD, GH_LABELS_SET, GH_LABELS_CLEAR, GH_LABELS_REMOVE };

/* List, add, set (replace the custom ones), clear (every custom one) or
 * remove (LABELS[0]) a runner's labels; *ret gets the labels after. */
int gh_runner_labels(struct gh_client *c, const char *scope, long long id, enum gh_label_op op,
                     const char *const *labels, size_t n_labels, struct gh_runner *ret, char *err, size_t errlen);

/* An organisation's runner groups: id of the group named NAME. */
int gh_runner_group_id(struct gh_client *c, const char *org, const char *name, long long *ret, char *err, size_t errlen);

/* The body of a workflow_dispatch at REF with INPUTS (a JSON object,
 * taken): return_run_details asked, so that GitHub answers the run's id.
 * Malloc'd text, or NULL. */
struct json_object;
char *gh_dispatch_body(const char *ref, struct json_object *inputs);
int gh_run_cancel(struct gh_client *c, const char *repo, long long run_id, bool force, char *err, size_t errlen);
int gh_run_rerun_failed(struct gh_client *c, const char *repo, long long run_id, char *err, size_t errlen);

/* A job's log: GitHub answers 302 to a short-lived signed URL, fetched
 * without the token. *ret (malloc'd, NUL-terminated) and its length. */
int gh_job_log(struct gh_client *c, const char *repo, long long job_id, char **ret, size_t *ret_len, char *err,
               size_t errlen);

/* Repository variables: get (into buf), create, update. */
int gh_variable_get(struct gh_client *c, const char *repo, const char *name, char *buf, size_t size, char *err,
                    size_t errlen);
int gh_variable_set(struct gh_client *c, const char *repo, const char *name, const char *value, bool create,
                    char *err, size_t errlen);

/* A repository's Actions permissions (GET/PUT .../actions/permissions):
 * enabled, allowed_actions ("" when GitHub gives none: disabled), and
 * sha_pinning_required when GitHub gives it. set() writes exactly these. */
struct gh_actions_perms {
        bool enabled;
        char allowed[24];
        bool have_sha, sha_pinning;
};
int gh_actions_perms_parse(const char *text, struct gh_actions_perms *ret);
int gh_actions_perms_get(struct gh_client *c, const char *repo, struct gh_actions_perms *ret, char *err, size_t errlen);
int gh_actions_perms_set(struct gh_client *c, const char *repo, const struct gh_actions_perms *p, char *err,
                         size_t errlen);
/* The ids of REPO's runs not yet ended (queued, in_progress, waiting,
 * requested, pending), every page: *RET (caller frees), *RET_N. */
int gh_active_runs(struct gh_client *c, const char *repo, long long **ret, size_t *ret_n, char *err, size_t errlen);
