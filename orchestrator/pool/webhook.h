/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pool supervisor's optional webhook receiver (libmicrohttpd, driven
 * from the caller's event loop through one epoll fd): GitHub's
 * workflow_job deliveries, each verified by its X-Hub-Signature-256
 * (HMAC-SHA256 of the body with the hook's secret, compared in constant
 * time) before anything of it is read, only wake the supervisor early:
 * the payload is a hint, the API is the truth. Unsigned, wrongly signed,
 * oversized or non-POST requests are refused and counted; nothing of a
 * body or a signature is ever logged. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum webhook_result {
        WEBHOOK_ACCEPTED,       /* a verified workflow_job delivery: the caller woken */
        WEBHOOK_IGNORED,        /* verified, another event (ping answered) */
        WEBHOOK_BAD_SIGNATURE,  /* no signature, or not the secret's */
        WEBHOOK_REJECTED,       /* not a POST to /, too large, not JSON */
        _WEBHOOK_RESULT_MAX,
};

struct webhook;

/* Called for every request with its result; ACTION is the workflow_job's
 * action for WEBHOOK_ACCEPTED ("queued", "completed", ...), else NULL. */
typedef void (*webhook_fn)(void *data, enum webhook_result result, const char *action);

/* Listen on LISTEN ("127.0.0.1:8787", "[::1]:8787", "0.0.0.0:8787") with
 * SECRET (SECRET_LEN bytes, copied). 0, or -errno with ERR. */
int webhook_new(const char *listen, const void *secret, size_t secret_len, webhook_fn fn, void *data,
                struct webhook **ret, char *err, size_t errlen);
void webhook_free(struct webhook *w);

/* The fd to watch for input, and what to do when it is readable or the
 * timeout (ms, -1: none) passed. */
int webhook_fd(const struct webhook *w);
int webhook_port(const struct webhook *w);
void webhook_run(struct webhook *w);
long long webhook_timeout_ms(const struct webhook *w);

/* HEADER ("sha256=HEX", or NULL) against the HMAC-SHA256 of BODY with
 * SECRET: 0 when it matches, -ENOKEY when there is none, -EBADMSG when it
 * does not match or is malformed. */
int webhook_verify(const void *secret, size_t secret_len, const void *body, size_t len, const char *header);

/* "ADDR:PORT" into a socket address (port 0: any free one): 0, or
 * -EINVAL with REASON. */
int webhook_parse_listen(const char *listen, void *sockaddr_storage, const char **reason);

const char *webhook_result_to_string(enum webhook_result r);
