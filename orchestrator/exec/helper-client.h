/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The typed client of lanekeeper-helper: one stub per verb, named after the
 * call it wraps (OpenSSH's monitor_wrap.c), behind struct helper_ops so
 * that the executor's tests can put a fake in its place. Which fields a
 * verb takes comes from the protocol's verb table, never a copy of it.
 * Callers own every buffer: nothing here is static. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto-codec.h"
#include "proto-sha256.h"
#include "proto-validate.h"

#define HELPER_MAX_FDS 8

struct helper_request {
        const char *lane;            /* every verb but daemon-reload */
        const char *user, *root;     /* install-unit */
        const char *bpf_object;      /* load-bpf */
        uint32_t ringbuf_size;       /* load-bpf: 0, the helper's default */
        bool dry_run;
};

/* A reply, decoded and copied out of the wire message. */
struct helper_reply {
        enum proto_verb verb;
        uint64_t request_id;
        bool dry_run;
        int32_t status;                              /* 0 or a negative errno */
        enum proto_error error;                      /* PROTO_OK when status is 0 */
        char reason[PROTO_REASON_MAX + 1];
        char unit_name[128];
        char unit_path[PROTO_PATH_MAX + 1];
        char digest[PROTO_SHA256_HEX_SIZE];
        int changed;                                 /* -1: not reported */
        char active_state[32], sub_state[32];
        size_t n_actions;
        char actions[PROTO_MAX_REPEAT][PROTO_REASON_MAX + 1];
        uint32_t prog_count, ringbuf_size;           /* load-bpf */
        uint64_t cgroup_id;
        char cgroup_path[PROTO_PATH_MAX + 1];
        size_t n_fds;                                /* load-bpf: fds passed back (SCM_RIGHTS) */
        int fds[HELPER_MAX_FDS];
};

/* Where the helper listens. */
struct helper_conn {
        const char *socket_path;
};

/* The verbs as an ops table: the real one below, fakes in tests. Each
 * returns 0 (the reply says ok), -EPERM (the helper refused: reply->error
 * and ->reason say why), -EHOSTDOWN (unreachable or no answer; reply->reason
 * says what happened), -EINVAL (the request does not encode: reply->reason)
 * or -EPROTO (an unreadable answer). */
struct helper_ops {
        int (*install_unit)(void *data, const struct helper_request *req, struct helper_reply *reply);
        int (*daemon_reload)(void *data, const struct helper_request *req, struct helper_reply *reply);
        int (*enable_now)(void *data, const struct helper_request *req, struct helper_reply *reply);
        int (*restart)(void *data, const struct helper_request *req, struct helper_reply *reply);
        int (*stop)(void *data, const struct helper_request *req, struct helper_reply *reply);
        int (*remove_unit)(void *data, const struct helper_request *req, struct helper_reply *reply);
        int (*load_bpf)(void *data, const struct helper_request *req, struct helper_reply *reply);
};

/* The real ops: DATA is a struct helper_conn. */
extern const struct helper_ops helper_socket_ops;

int helper_install_unit(const struct helper_conn *c, const struct helper_request *req, struct helper_reply *reply);
int helper_daemon_reload(const struct helper_conn *c, const struct helper_request *req, struct helper_reply *reply);
int helper_enable_now(const struct helper_conn *c, const struct helper_request *req, struct helper_reply *reply);
int helper_restart(const struct helper_conn *c, const struct helper_request *req, struct helper_reply *reply);
int helper_stop(const struct helper_conn *c, const struct helper_request *req, struct helper_reply *reply);
int helper_remove_unit(const struct helper_conn *c, const struct helper_request *req, struct helper_reply *reply);
/* load-bpf goes to the helper's load-bpf instance (helper_bpf_socket()):
 * the ring buffer, the counters and one link per program come back in
 * reply->fds, in that order; the caller closes them, which detaches. */
int helper_load_bpf(const struct helper_conn *c, const struct helper_request *req, struct helper_reply *reply);

/* Where load-bpf is served: helper-bpf.socket beside SOCKET_PATH (into BUF). */
const char *helper_bpf_socket(const char *socket_path, char *buf, size_t size);

/* Any verb through OPS (as 'lanectl helper VERB' does). */
int helper_ops_call(const struct helper_ops *ops, void *data, enum proto_verb verb, const struct helper_request *req,
                    struct helper_reply *reply);

/* Whether REQ carries exactly the fields VERB takes (the protocol's table):
 * 0, or -EINVAL with a reason naming what is missing or not taken. */
int helper_request_check(enum proto_verb verb, const struct helper_request *req, char *reason, size_t size);

/* "error-name: reason" of a failed call, for a step's detail. */
void helper_reply_error(const struct helper_reply *reply, char *buf, size_t size);
