/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Actions service's runner scale set API, the one actions/scaleset
 * and actions-runner-controller autoscale with (reference/scale-sets.md),
 * over the REST client's request layer (gh_request_raw(): its retries,
 * redaction and deadline). A registration token (REST) is exchanged for
 * the service's URL and an admin token (a JWT, made again a minute before
 * it expires, or when the service refuses it); every service call
 * carries api-version=6.0-preview. The admin and queue tokens and every
 * JIT configuration are secrets: wiped when dropped, never in an error.
 * Errors map as gh-api.h's: -EACCES 401, -ENOENT 404 (or an unknown
 * message), -EEXIST a name taken, -EBUSY a session held elsewhere (409)
 * or a runner running a job, -EPROTO an answer without what it must
 * hold, -EIO/-EAGAIN no answer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "gh-client.h"

#define GH_SS_API_VERSION "6.0-preview"
#define GH_SS_URL_MAX 1024

struct gh_ss_stats {
        long long available, acquired, assigned, running, registered, busy, idle;
};

struct gh_ss {
        char scope[200];                   /* repos/OWNER/REPO or orgs/ORG */
        char service[GH_SS_URL_MAX];       /* the Actions service's URL, ending in '/' */
        char *admin;                       /* the admin token (secret) */
        size_t admin_len;
        time_t admin_expires;              /* our clock */
        long long set_id, group_id;
        char set_name[128];
        char session[64];                  /* "": none */
        char owner[128];
        char queue_url[GH_SS_URL_MAX];
        char *queue_token;                 /* secret */
        size_t queue_token_len;
        struct gh_ss_stats stats;          /* the session's, as created or refreshed */
        unsigned long exchanges;           /* registration exchanges (admin tokens made) */
};

enum gh_ss_job_kind { GH_SS_AVAILABLE, GH_SS_ASSIGNED, GH_SS_STARTED, GH_SS_COMPLETED, GH_SS_OTHER };

struct gh_ss_job {
        enum gh_ss_job_kind kind;
        long long request_id, runner_id, run_id;
        char runner_name[128];
        char result[24];                   /* JobCompleted: succeeded, failed, canceled, ... */
        char name[128];                    /* the job's display name */
        char repo[200];                    /* OWNER/NAME */
        time_t queued;                     /* queueTime, 0: not given */
};

struct gh_ss_message {
        long long id;
        char type[64];                     /* RunnerScaleSetJobMessages, else skipped */
        struct gh_ss_stats stats;
        size_t n_jobs;
        struct gh_ss_job *jobs;            /* malloc'd */
};

/* The answer's statistics, a message's or a session's (pure). */
int gh_ss_parse_stats(struct json_object *o, struct gh_ss_stats *ret);
/* A message's text (pure): 0, or -EPROTO. Free with gh_ss_message_free(). */
int gh_ss_parse_message(const char *text, struct gh_ss_message *ret);
void gh_ss_message_free(struct gh_ss_message *m);
/* The exp claim of a JWT (the admin token), or 0 when it has none. */
time_t gh_ss_jwt_expiry(const char *jwt);
const char *gh_ss_job_kind_to_string(enum gh_ss_job_kind k);

/* SS for SCOPE: nothing asked yet. */
void gh_ss_init(struct gh_ss *ss, const char *scope, const char *set_name);
/* Its secrets wiped and freed; the rest kept. */
void gh_ss_free(struct gh_ss *ss);

/* The registration exchange: the service's URL and an admin token. */
int gh_ss_connect(struct gh_client *c, struct gh_ss *ss, char *err, size_t errlen);

/* The scale set named ss->set_name in runner group GROUP: found, or made
 * (ephemeral runners, no self-update); *ret_created says which. */
int gh_ss_set_ensure(struct gh_client *c, struct gh_ss *ss, const char *group, bool *ret_created, char *err,
                     size_t errlen);
int gh_ss_set_delete(struct gh_client *c, struct gh_ss *ss, char *err, size_t errlen);

/* The message session of the set, owned by OWNER: -EBUSY while another
 * holds it (a killed predecessor's, until the service times it out). */
int gh_ss_session_open(struct gh_client *c, struct gh_ss *ss, const char *owner, char *err, size_t errlen);
int gh_ss_session_refresh(struct gh_client *c, struct gh_ss *ss, char *err, size_t errlen);
int gh_ss_session_close(struct gh_client *c, struct gh_ss *ss, char *err, size_t errlen);

/* The long poll: GET the queue after LAST, telling the service CAPACITY,
 * waiting up to POLL_MS. 0 with ret->status: 200 a message (its text in
 * ret->body), 202 none, 401 the queue token expired. */
int gh_ss_poll(struct gh_client *c, const struct gh_ss *ss, long long last, unsigned capacity, long poll_ms,
               struct gh_response *ret, char *err, size_t errlen);
/* Delete message ID (the queue token refreshed once if it expired); a
 * message already gone is not an error. */
int gh_ss_message_delete(struct gh_client *c, struct gh_ss *ss, long long id, char *err, size_t errlen);

/* Acquire the jobs IDS[0..N-1]: *ret_got of them were (others were taken
 * or are gone). */
int gh_ss_acquire(struct gh_client *c, struct gh_ss *ss, const long long *ids, size_t n, size_t *ret_got, char *err,
                  size_t errlen);

/* A JIT runner NAME of the set: its id and the configuration (a secret,
 * free with secret_free()). -EEXIST when a runner of that name exists. */
int gh_ss_jit(struct gh_client *c, struct gh_ss *ss, const char *name, const char *work_folder, long long *ret_id,
              char **ret_config, size_t *ret_len, char *err, size_t errlen);
/* The runner named NAME: its id, or -ENOENT. */
int gh_ss_runner_find(struct gh_client *c, struct gh_ss *ss, const char *name, long long *ret_id, char *err,
                      size_t errlen);
/* Remove runner ID: -EBUSY while it runs a job, -ENOENT when gone. */
int gh_ss_runner_delete(struct gh_client *c, struct gh_ss *ss, long long id, char *err, size_t errlen);
