/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure pieces of talking to GitHub's REST API (no I/O): when to retry and
 * how long to wait, the Link header, the Date header and timestamps. See
 * ../shared/reference/github-api.md for the facts they follow. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define GH_MAX_ATTEMPTS 6
#define GH_BACKOFF_BASE_MS 1000LL
#define GH_BACKOFF_CAP_MS 30000LL
#define GH_SECONDARY_MIN_MS 60000LL
#define GH_SECONDARY_CAP_MS (15 * 60000LL)

/* What one attempt came back with, and where we are. */
struct gh_attempt {
        int status;                /* HTTP status; 0: no response (transport failure) */
        bool sent;                 /* with status 0: the request may have reached GitHub */
        bool mutating;             /* POST, PUT, PATCH, DELETE */
        bool have_remaining;       /* x-ratelimit-remaining was present */
        long long remaining;
        long long reset_s;         /* x-ratelimit-reset, epoch seconds (0: absent) */
        bool have_retry_after;
        long long retry_after_s;   /* retry-after, seconds */
        bool secondary;            /* the body names a secondary rate limit */
        bool fresh_token;          /* the token was made moments ago (401: replication delay) */
        unsigned attempt;          /* 0 for the first */
        long long now_ms;          /* epoch ms, GitHub's clock (ours + measured offset) */
        long long deadline_ms;     /* epoch ms: never wait past it */
        double jitter;             /* uniform in [0, 1) */
};

enum gh_action { GH_DONE, GH_RETRY, GH_FAIL };

struct gh_decision {
        enum gh_action action;
        long long wait_ms;         /* GH_RETRY: how long first */
        const char *reason;        /* static text */
};

/* DONE: hand the response to the caller (success or a final HTTP error);
 * RETRY after wait_ms; FAIL: give up with a reason. A mutating request is
 * never repeated when the first may have taken effect (a 5xx, or a lost
 * response); rate-limit refusals took no effect and are waited out. */
void gh_decide(const struct gh_attempt *a, struct gh_decision *ret);

/* The rel="next" URL of a Link header into buf: 1 found, 0 none, -EINVAL
 * malformed, -ENAMETOOLONG when it does not fit. */
int gh_link_next(const char *header, char *buf, size_t size);

/* Whether URL has the same scheme, host and port as BASE (links are
 * followed only there: the token goes with them). */
bool gh_same_origin(const char *base, const char *url);

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into *ret; -EINVAL. */
int gh_parse_http_date(const char *s, time_t *ret);

/* GitHub's timestamps, "2016-07-11T22:14:10Z" and
 * "2020-01-22T12:13:35.123-08:00", into epoch seconds; -EINVAL. */
int gh_parse_timestamp(const char *s, time_t *ret);
