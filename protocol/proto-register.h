/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registration hand-off: how a lane's runner gets what config.sh needs
 * (the registration URL, its name, labels, runner group and the token)
 * without the token ever touching a file, an argv or a unit: lanectl apply
 * listens on a one-shot socket, the lane's own unit (as the lane's user)
 * asks, lanectl admits it by its credentials and answers once.
 *   request  "LKREG1 LANE\n"
 *   answer   "url=URL\nname=NAME\nlabels=A,B\ngroup=GROUP\ntoken=TOKEN\n"
 *         or "purge=NAME\n" (lanectl remove --purge: the lane's directory
 *            is to be emptied, as the lane's user, instead of starting)
 *         or "forget=NAME\n" (lanectl revoke: the runner's registration and
 *            credentials, .runner, .credentials and .credentials_rsaparams,
 *            removed as the lane's user, instead of starting)
 *         or "slot=NAME\n" (lanectl pool supervise: NAME is a pool slot;
 *            nothing to register, its run phase takes a JIT configuration,
 *            proto-slot.h)
 *         or "reset-work=NAME\n" (lanectl gate run: the lane's _work, the
 *            runner's work directory with its actions cache, emptied as
 *            the lane's user; then the runner starts as it would)
 *         or "clear-actions=NAME\nmax_age_days=N\n" (lanectl health: the
 *            actions cache _work/_actions cleared as the lane's user, every
 *            entry when N is 0, else those older than N days and damaged
 *            ones; then the runner starts as it would)
 * Every value is validated on both sides; unknown, missing or repeated
 * keys are errors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "proto-validate.h"

/* Where lanectl offers a registration: DIR/LANE.sock, a SOCK_SEQPACKET
 * socket. The directory is root's, group lanekeeper may create in it,
 * others may only traverse it (tmpfiles.d). */
#define PROTO_REGISTER_DIR "/run/lanekeeper-register"
#define PROTO_REGISTER_MAX (32 * 1024)
#define PROTO_REGISTER_URL_MAX 256
#define PROTO_REGISTER_GROUP_MAX 64
#define PROTO_REGISTER_LABELS_MAX 100
#define PROTO_REGISTER_TOKEN_MAX (16 * 1024)

struct proto_register {
        char url[PROTO_REGISTER_URL_MAX + 1];
        char name[PROTO_RUNNER_NAME_MAX + 1];
        char labels[PROTO_REGISTER_LABELS_MAX * (PROTO_LABEL_MAX + 1)];   /* comma-separated */
        char group[PROTO_REGISTER_GROUP_MAX + 1];                           /* "" for the default */
        char token[PROTO_REGISTER_TOKEN_MAX + 1];
        bool purge;      /* the purge answer: only name is set */
        bool forget;     /* the forget answer: only name is set */
        bool slot;       /* the slot answer (proto-slot.h): only name is set */
        bool clear_actions;          /* the clear-actions answer: name and max_age_days */
        bool reset_work;             /* the reset-work answer: only name is set */
        unsigned max_age_days;       /* 0: every entry */
};

#define PROTO_REGISTER_MAX_AGE_DAYS 3650

/* https://HOST[:PORT]/OWNER[/REPO], or http:// on a loopback host (the
 * test double). */
int proto_register_validate_url(const char *url, const char **ret_reason);

/* Validate every field; 0 or -EINVAL with a reason. */
int proto_register_validate(const struct proto_register *r, const char **ret_reason);

int proto_register_encode_request(const char *lane, char *buf, size_t size, size_t *ret_len);
int proto_register_decode_request(const char *buf, size_t len, char lane[PROTO_LANE_NAME_MAX + 1],
                                  const char **ret_reason);
/* "MAGIC LANE\n" (MAGIC six bytes), shared with proto-slot.h: the lane, or
 * -EINVAL with WHAT (or why the name is not a lane's). */
int proto_request_decode(const char *magic, const char *what, const char *buf, size_t len,
                         char lane[PROTO_LANE_NAME_MAX + 1], const char **ret_reason);

int proto_register_encode(const struct proto_register *r, char *buf, size_t size, size_t *ret_len,
                          const char **ret_reason);
int proto_register_decode(const char *buf, size_t len, struct proto_register *ret, const char **ret_reason);

/* Wipe a hand-off (it holds a token). */
void proto_register_wipe(struct proto_register *r);

/* The actions cache of a lane (_work/_actions), as lanekeeper-register
 * measures it at every start of the lane's unit, as the lane's user, and
 * leaves it for lanectl to read in the lane's directory (mode 0640: the
 * maintainer reads it through the lane user's group):
 *   "entries=N\nbytes=N\noldest=EPOCH\ndamaged=N\nmeasured=EPOCH\n"
 * An entry is one downloaded action, OWNER/REPO/REF; damaged: its
 * ".completed" marker without the directory, or the directory empty (the
 * runner would use it as it is and fail the job). oldest is 0 without
 * entries. */
#define PROTO_CACHE_STATS_FILE ".lanekeeper-cache"
#define PROTO_CACHE_STATS_MAX 256

struct proto_cache_stats {
        unsigned long long entries, bytes, damaged;
        long long oldest, measured;
};

int proto_cache_stats_encode(const struct proto_cache_stats *s, char *buf, size_t size);
/* 0, or -EINVAL with a reason: every key once, in order, decimal. */
int proto_cache_stats_decode(const char *buf, size_t len, struct proto_cache_stats *ret, const char **ret_reason);
