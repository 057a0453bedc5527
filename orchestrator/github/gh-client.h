/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The GitHub REST client (libcurl, json-c): one request at a time, retried
 * only as gh_decide() allows, conditional GETs from an on-disk ETag cache
 * tied to the token, a token from a file or a GitHub App installation,
 * and the clock offset GitHub's Date header shows. Nothing it prints or
 * returns holds a token: errors and debug output pass the protocol's
 * redaction. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inventory.h"

struct settings;
struct gh_client;

struct gh_response {
        long status;                 /* 304 is turned into the cached 200 (from_cache) */
        bool from_cache;
        char *body;                  /* NUL-terminated, malloc'd; NULL for none */
        size_t len;
        char link[2048];
        char etag[160];
        char location[2048];         /* a redirect's target */
        char resource[48];
        bool have_remaining;
        long long remaining, used, limit, reset;
};

struct gh_stats {
        unsigned long requests;      /* sent to GitHub */
        unsigned long not_modified;  /* answered 304 */
        unsigned long retries;
        unsigned long tokens;        /* installation tokens made */
        long long units;             /* rate-limit units spent, as x-ratelimit-used grew */
        unsigned long service;       /* answers of the Actions service (gh-scaleset.h): no REST units */
        bool have_rate;              /* an answer carried x-ratelimit-*: the last one's */
        long long remaining, limit, reset;
};

/* From the settings: api_url, and token_file or the App (app_id,
 * installation_id, private_key_file). CACHE_DIR (may be NULL) holds the
 * ETag cache. On failure err says why (no secret in it). */
int gh_client_new(const struct settings *s, const char *cache_dir, struct gh_client **ret, char *err, size_t errlen);
void gh_client_free(struct gh_client *c);
/* In a child after fork(): the client's own libcurl handle and cache
 * left to the parent (closing them here would close the parent's
 * connections), a new handle for this process's requests. */
int gh_client_detach(struct gh_client *c);

/* The API URL, without a trailing '/'. */
const char *gh_client_api(const struct gh_client *c);

/* METHOD PATH (a path under the API URL, or a full URL on its origin),
 * BODY (JSON text or NULL). Returns 0 with *ret filled for any HTTP answer
 * (the caller reads ret->status), or a negative errno with err set when
 * no answer could be had (transport, deadline, a change not repeated). */
int gh_request(struct gh_client *c, const char *method, const char *path, const char *body, struct gh_response *ret,
               char *err, size_t errlen);
void gh_response_free(struct gh_response *r);

/* GET URL (https, or http on a loopback host) without the token: where
 * GitHub redirects a download (a job's log) to a signed URL, often on
 * another origin. Retried as any GET; not cached. */
int gh_fetch_signed(struct gh_client *c, const char *url, struct gh_response *ret, char *err, size_t errlen);

/* 0 when URL may carry a credential: https, or http on a loopback host
 * (the test double); else -EPERM with ERR. */
int gh_check_url(const char *url, char *err, size_t errlen);

/* GET PATH and every page its Link headers name, 100 a page; the pages'
 * bodies one after the other into *ret (malloc'd, NUL-terminated). */
int gh_get_pages(struct gh_client *c, const char *path, char **ret, size_t *ret_len, char *err, size_t errlen);

/* The KEY arrays of pages one after the other (gh_get_pages' text) as one
 * array (a new reference), or NULL when a page does not parse. */
struct json_object *gh_pages_items(const char *text, size_t len, const char *key);

/* gh_get_pages() and gh_pages_items() together: the items under KEY of
 * every page of PATH into *RET (a new reference); gh_get_pages()' error,
 * or -EPROTO when a page does not parse, with ERR. */
int gh_get_items(struct gh_client *c, const char *path, const char *key, struct json_object **ret, char *err,
                 size_t errlen);

/* The runners of a scope ("repos/OWNER/NAME" or "orgs/ORG"), all of them
 * or those named NAME (GitHub's name= filter). */
int gh_list_runners(struct gh_client *c, const char *scope, const char *name, struct inventory *ret, char *err,
                    size_t errlen);

/* GitHub's clock minus ours, seconds, once a Date header was seen. */
bool gh_clock_offset(const struct gh_client *c, long long *ret);
void gh_stats(const struct gh_client *c, struct gh_stats *ret);

/* "401 Bad credentials", "404 Not Found", ... from an error answer, the
 * message redacted; for 422 the first of its errors too. */
void gh_describe_error(const struct gh_response *r, char *buf, size_t size);

/* From now on refuse every request but GET (before sending anything): the
 * plan path holds a client that cannot fetch a token or change GitHub.
 * The App's own token exchange is not a request of the caller's. */
void gh_client_set_read_only(struct gh_client *c);

/* Forget the installation token: the next request makes a new one (and
 * every ETag made with the old one is worth nothing). */
void gh_client_refresh_token(struct gh_client *c);

/* Trace requests and headers (redacted) to standard error. */
void gh_client_set_debug(struct gh_client *c, bool on);
/* Overall deadline per request, retries included (default 120 s). */
void gh_client_set_deadline(struct gh_client *c, long long ms);
