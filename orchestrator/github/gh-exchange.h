/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One HTTP exchange's libcurl callbacks (the client's own: not for other
 * subsystems): the body, bounded; the headers GitHub's pacing and paging
 * need; a redacted trace for --debug; and the ETag cache's files. */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "gh-client.h"
#include "proto-sha256.h"

#define GH_BODY_MAX (32u << 20)
#define GH_API_VERSION "2022-11-28"


struct gh_exchange {
        struct gh_response *resp;
        size_t cap;
        bool too_big;
        char date[64];
        bool have_retry_after;
        long long retry_after;
};

size_t gh_on_body(char *p, size_t size, size_t n, void *ud);
size_t gh_on_header(char *p, size_t size, size_t n, void *ud);
int gh_on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud);

/* One request's particulars beyond the REST API's: the Actions service's
 * (gh-scaleset.h), on its own origin. */
struct gh_send {
        const char *scheme;          /* of the Authorization header: "Bearer" (NULL) or "RemoteAuth" */
        const char *extra;           /* one more header line ("X-ScaleSetMaxCapacity: 8"), or NULL */
        long timeout_ms;             /* per attempt (a long poll's), 0: up to 60 s */
};

/* The request's headers (GitHub's media type and API version, our
 * User-Agent, the credential of any length under SEND's scheme, wiped
 * after the send, SEND's extra line, a JSON body's type, If-None-Match);
 * NULL when out of memory. */
struct curl_slist *gh_request_headers(const char *bearer, const struct gh_send *send, bool json_body,
                                      const char *if_none_match);

/* METHOD URL (any origin: the caller chose it) with CRED under SEND's
 * scheme (NULL: none), BODY: retried as gh_decide() allows, never cached,
 * not counted as rate-limit units (stats.service counts them). */
int gh_request_raw(struct gh_client *c, const char *method, const char *url, const char *cred,
                   const struct gh_send *send, const char *body, struct gh_response *ret, char *err, size_t errlen);

/* Copy S into BUF with every secret replaced. */
void gh_redact_into(const char *s, char *buf, size_t size);

/* The ETag cache: CACHE_FD/SHA256(token id, URL) holds "ETAG\nLINK\nBODY".
 * A read returns the entry (malloc'd) with its ETag in ETAG; split gives
 * its Link header and body. CACHE_FD < 0: no cache. */
char *gh_cache_read(int cache_fd, const char *token_id, const char *url, char *etag, size_t etag_size);
void gh_cache_split(char *cached, const char **ret_link, size_t *ret_link_len, const char **ret_body);
void gh_cache_write(int cache_fd, const char *token_id, const char *url, const struct gh_response *r);
