/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gh-exchange.h"
#include "macro.h"
#include "proto-redact.h"

void gh_redact_into(const char *s, char *buf, size_t size) {
        char *r = NULL;

        if (proto_redact(s, &r, NULL) < 0)
                snprintf(buf, size, "(unprintable)");
        else
                snprintf(buf, size, "%s", r);
        free(r);
}


size_t gh_on_body(char *p, size_t size, size_t n, void *ud) {
        struct gh_exchange *x = ud;
        struct gh_response *r = x->resp;
        size_t len = size * n;

        if (r->len + len + 1 > GH_BODY_MAX) {
                x->too_big = true;
                return 0;
        }
        if (r->len + len + 1 > x->cap) {
                size_t cap = (r->len + len + 1) * 2;
                char *b = realloc(r->body, cap);

                if (!b)
                        return 0;
                r->body = b;
                x->cap = cap;
        }
        memcpy(r->body + r->len, p, len);
        r->len += len;
        r->body[r->len] = '\0';
        return len;
}

static bool header_is(const char *line, size_t len, const char *name, const char **ret_value, size_t *ret_len) {
        size_t n = strlen(name);

        if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
                return false;
        line += n + 1, len -= n + 1;
        while (len && (*line == ' ' || *line == '\t'))
                line++, len--;
        while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
                len--;
        *ret_value = line;
        *ret_len = len;
        return true;
}

size_t gh_on_header(char *p, size_t size, size_t n, void *ud) {
        struct gh_exchange *x = ud;
        struct gh_response *r = x->resp;
        size_t len = size * n, vl;
        const char *v;
        char num[32];

#define COPY(dst) snprintf((dst), sizeof(dst), "%.*s", (int) vl, v)
#define NUM() (snprintf(num, sizeof num, "%.*s", (int) (vl < 31 ? vl : 31), v), strtoll(num, NULL, 10))
        if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {   /* a new response (after 100-continue): start over */
                r->link[0] = r->etag[0] = r->resource[0] = r->location[0] = '\0';
                r->have_remaining = x->have_retry_after = false;
        } else if (header_is(p, len, "link", &v, &vl))
                COPY(r->link);
        else if (header_is(p, len, "etag", &v, &vl))
                COPY(r->etag);
        else if (header_is(p, len, "location", &v, &vl))
                COPY(r->location);
        else if (header_is(p, len, "date", &v, &vl))
                COPY(x->date);
        else if (header_is(p, len, "x-ratelimit-resource", &v, &vl))
                COPY(r->resource);
        else if (header_is(p, len, "x-ratelimit-remaining", &v, &vl))
                r->remaining = NUM(), r->have_remaining = true;
        else if (header_is(p, len, "x-ratelimit-used", &v, &vl))
                r->used = NUM();
        else if (header_is(p, len, "x-ratelimit-limit", &v, &vl))
                r->limit = NUM();
        else if (header_is(p, len, "x-ratelimit-reset", &v, &vl))
                r->reset = NUM();
        else if (header_is(p, len, "retry-after", &v, &vl))
                x->retry_after = NUM(), x->have_retry_after = true;
#undef COPY
#undef NUM
        return len;
}

int gh_on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud) {
        char *line, out[4096];

        (void) h, (void) ud;
        if (type != CURLINFO_TEXT && type != CURLINFO_HEADER_IN && type != CURLINFO_HEADER_OUT)
                return 0;   /* bodies are not traced */
        line = strndup(data, size);
        if (!line)
                return 0;
        for (char *r = line, *w = line;; r++)   /* CRLF -> LF */
                if (*r != '\r' && !(*w++ = *r))
                        break;
        /* the Authorization header goes whatever redaction would make of it */
        for (char *a = strcasestr(line, "authorization:"); a; a = strcasestr(a + 1, "authorization:")) {
                char *end = a + strcspn(a, "\n");

                if (end - a > 15)
                        memset(a + 15, '*', (size_t) (end - a - 15));
        }
        gh_redact_into(line, out, sizeof out);
        fprintf(stderr, "%s %s", type == CURLINFO_HEADER_OUT ? ">" : type == CURLINFO_HEADER_IN ? "<" : "*", out);
        if (!size || data[size - 1] != '\n')
                fputc('\n', stderr);
        free(line);
        return 0;
}

/* ---- the ETag cache: CACHE/SHA256(token id, URL) holds "ETAG\nBODY" ---- */

static void cache_name(const char *token_id, const char *url, char name[PROTO_SHA256_HEX_SIZE]) {
        char key[4096];
        int n = snprintf(key, sizeof key, "%s\n%s", token_id, url);

        proto_sha256_hex(key, (size_t) (n < 0 ? 0 : n >= (int) sizeof key ? (int) sizeof key - 1 : n), name);
}

char *gh_cache_read(int cache_fd, const char *token_id, const char *url, char *etag, size_t etag_size) {
        char name[PROTO_SHA256_HEX_SIZE], *text, *nl, *nl2;
        _cleanup_(closep) int fd = -EBADF;
        struct stat st;

        if (cache_fd < 0)
                return NULL;
        cache_name(token_id, url, name);
        fd = openat(cache_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > GH_BODY_MAX)
                return NULL;
        text = malloc((size_t) st.st_size + 1);
        if (!text || read(fd, text, (size_t) st.st_size) != st.st_size) {
                free(text);
                return NULL;
        }
        text[st.st_size] = '\0';
        nl = strchr(text, '\n');
        nl2 = nl ? strchr(nl + 1, '\n') : NULL;
        if (!nl2 || (size_t) (nl - text) >= etag_size) {
                free(text);
                return NULL;
        }
        snprintf(etag, etag_size, "%.*s", (int) (nl - text), text);
        return text;   /* the caller takes the Link and the body after the ETag line */
}

/* The cached entry's Link header and body. */
void gh_cache_split(char *cached, const char **ret_link, size_t *ret_link_len, const char **ret_body) {
        char *nl = strchr(cached, '\n'), *nl2 = strchr(nl + 1, '\n');

        *ret_link = nl + 1;
        *ret_link_len = (size_t) (nl2 - nl - 1);
        *ret_body = nl2 + 1;
}

void gh_cache_write(int cache_fd, const char *token_id, const char *url, const struct gh_response *r) {
        char name[PROTO_SHA256_HEX_SIZE], tmp[PROTO_SHA256_HEX_SIZE + 8];
        _cleanup_(closep) int fd = -EBADF;
        bool ok;

        if (cache_fd < 0 || !r->etag[0] || strchr(r->etag, '\n') || strchr(r->link, '\n') || !r->body)
                return;
        cache_name(token_id, url, name);
        snprintf(tmp, sizeof tmp, "%s.tmp", name);
        fd = openat(cache_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        ok = dprintf(fd, "%s\n%s\n", r->etag, r->link) > 0 && write(fd, r->body, r->len) == (ssize_t) r->len;
        if (!ok || renameat(cache_fd, tmp, cache_fd, name) < 0)
                (void) unlinkat(cache_fd, tmp, 0);
}

/* The request's headers: the bearer of any length, wiped after the send. */
struct curl_slist *gh_request_headers(const char *bearer, const struct gh_send *send, bool json_body,
                                      const char *if_none_match) {
        const char *scheme = send && send->scheme ? send->scheme : "Bearer";
        struct curl_slist *h = NULL;
        char inm[200];

        h = curl_slist_append(h, send ? "Accept: application/json" : "Accept: application/vnd.github+json");
        if (!send)
                h = curl_slist_append(h, "X-GitHub-Api-Version: " GH_API_VERSION);
        h = curl_slist_append(h, "User-Agent: lanekeeper/" PACKAGE_VERSION);
        if (bearer) {
                size_t n = strlen(bearer) + strlen(scheme) + sizeof "Authorization:  ";
                char *auth = malloc(n);

                if (!auth) {
                        curl_slist_free_all(h);
                        return NULL;
                }
                snprintf(auth, n, "Authorization: %s %s", scheme, bearer);
                h = curl_slist_append(h, auth);
                explicit_bzero(auth, n);
                free(auth);
        }
        if (send && send->extra)
                h = curl_slist_append(h, send->extra);
        if (json_body)
                h = curl_slist_append(h, "Content-Type: application/json");
        if (if_none_match) {
                snprintf(inm, sizeof inm, "If-None-Match: %s", if_none_match);
                h = curl_slist_append(h, inm);
        }
        return h;
}
