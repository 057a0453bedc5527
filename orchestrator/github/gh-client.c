/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gh-auth.h"
#include "gh-client.h"
#include "gh-exchange.h"
#include "gh-wire.h"
#include "macro.h"
#include "proto-redact.h"
#include "proto-sha256.h"
#include "proto-validate.h"
#include "settings.h"
#include "proto-time.h"

#define TOKEN_REFRESH_MS (50 * 60 * 1000LL)
#define FRESH_TOKEN_MS (10 * 1000LL)

struct gh_client {
        char api[SETTINGS_URL_MAX + 1];
        CURL *curl;
        int cache_fd;
        bool debug, read_only;
        long long deadline_ms;
        const struct gh_send *send;   /* the request being sent is the Actions service's */
        long long attempt_deadline;   /* wall clock ms: the current request's overall deadline */
        /* the bearer: a token file's token, or an installation token */
        char *token;
        size_t token_len;
        char token_id[PROTO_SHA256_HEX_SIZE];   /* SHA-256 of the token: keys the ETag cache */
        long long token_made_ms;                /* CLOCK_MONOTONIC */
        long long token_life_ms;                /* made again once this old: before its expires_at */
        /* a GitHub App */
        EVP_PKEY *key;
        char app_id[24];
        unsigned long installation_id;
        /* GitHub's clock */
        bool have_offset;
        long long offset_s;
        struct gh_stats stats;
};

static long long wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double jitter(void) {
        uint32_t v = 0;

        if (getrandom(&v, sizeof v, 0) != sizeof v)
                v = (uint32_t) proto_now_ms();
        return (double) v / 4294967296.0;
}

static void set_token(struct gh_client *c, char *token, size_t len) {
        secret_free(c->token, c->token_len + 1);
        c->token = token;
        c->token_len = len;
        c->token_made_ms = proto_now_ms();
        c->token_life_ms = TOKEN_REFRESH_MS;
        proto_sha256_hex(token, len, c->token_id);
}

int gh_client_new(const struct settings *s, const char *cache_dir, struct gh_client **ret, char *err, size_t errlen) {
        struct gh_client *c;
        char *tok;
        size_t len;
        int r;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return snprintf(err, errlen, "libcurl does not initialise"), -EIO;
        c = calloc(1, sizeof *c);
        if (!c)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        c->cache_fd = -EBADF;
        c->deadline_ms = (long long) (s->timeout_s ? s->timeout_s : 120) * 1000;
        snprintf(c->api, sizeof c->api, "%s", s->api_url);
        while (strlen(c->api) > 8 && c->api[strlen(c->api) - 1] == '/')
                c->api[strlen(c->api) - 1] = '\0';
        c->curl = curl_easy_init();
        if (!c->curl) {
                gh_client_free(c);
                return snprintf(err, errlen, "libcurl does not initialise"), -EIO;
        }
        if (s->token_file[0]) {
                r = token_file_read(s->token_file, &tok, &len, err, errlen);
                if (r < 0) {
                        gh_client_free(c);
                        return r;
                }
                set_token(c, tok, len);
        } else if (s->app_id) {
                r = app_key_load(s->private_key_file, &c->key, err, errlen);
                if (r < 0) {
                        gh_client_free(c);
                        return r;
                }
                snprintf(c->app_id, sizeof c->app_id, "%lu", s->app_id);
                c->installation_id = s->installation_id;
        } else {
                gh_client_free(c);
                return snprintf(err, errlen, "no GitHub credentials: set token_file or a GitHub App in lanekeeper.conf"),
                       -ENOKEY;
        }
        if (cache_dir) {
                (void) mkdir(cache_dir, 0700);
                c->cache_fd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        *ret = c;
        return 0;
}

void gh_client_free(struct gh_client *c) {
        if (!c)
                return;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        secret_free(c->token, c->token_len + 1);
        EVP_PKEY_free(c->key);
        closep(&c->cache_fd);
        free(c);
}

const char *gh_client_api(const struct gh_client *c) {
        return c->api;
}

void gh_client_set_read_only(struct gh_client *c) {
        c->read_only = true;
}

void gh_client_refresh_token(struct gh_client *c) {
        if (c->key)
                c->token_life_ms = 0;
}

void gh_client_set_debug(struct gh_client *c, bool on) {
        c->debug = on;
}

void gh_client_set_deadline(struct gh_client *c, long long ms) {
        c->deadline_ms = ms;
}

bool gh_clock_offset(const struct gh_client *c, long long *ret) {
        *ret = c->offset_s;
        return c->have_offset;
}

void gh_stats(const struct gh_client *c, struct gh_stats *ret) {
        *ret = c->stats;
}

/* ---- one exchange (callbacks in gh-exchange.c) ---- */

static void request_options(struct gh_client *c, const char *method, const char *url, const char *body,
                            struct curl_slist *h, struct gh_exchange *x) {
        long long left = c->attempt_deadline ? c->attempt_deadline - wall_ms() : 60000;
        long cap = c->send && c->send->timeout_ms ? c->send->timeout_ms : 60000;   /* a long poll waits longer */

        curl_easy_reset(c->curl);
        curl_easy_setopt(c->curl, CURLOPT_URL, url);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
        } else if (strcmp(method, "GET") == 0)
                curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, gh_on_body);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, gh_on_header);
        curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, x);
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);   /* the token never follows a redirect */
        curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https,http");
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        /* an attempt never outlives the request's deadline (timeout_s, retries included) */
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, left < 1000 ? 1000L : left > cap ? cap : (long) left);
        curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "");
        /* libcurl sends a request again by itself when a reused connection
         * turns out dead; a change goes on a connection of its own, so that
         * it is sent once and only gh_decide() may repeat it */
        if (strcmp(method, "GET") != 0) {
                curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 1L);
                curl_easy_setopt(c->curl, CURLOPT_FORBID_REUSE, 1L);
        }
        if (c->debug) {
                curl_easy_setopt(c->curl, CURLOPT_VERBOSE, 1L);
                curl_easy_setopt(c->curl, CURLOPT_DEBUGFUNCTION, gh_on_debug);
        }
}

/* Send once. Returns 0 with an HTTP status, or -EIO with *sent telling
 * whether the request may have reached GitHub. */
static int exchange(struct gh_client *c, const char *method, const char *url, const char *bearer, const char *body,
                    const char *if_none_match, struct gh_response *resp, struct gh_exchange *x, bool *sent, char *err,
                    size_t errlen) {
        struct curl_slist *h;
        curl_off_t req_size = 0;
        CURLcode cc;
        long status = 0;
        time_t server;

        *resp = (struct gh_response) {};
        *x = (struct gh_exchange) { .resp = resp };
        h = gh_request_headers(bearer, c->send, body != NULL, if_none_match);
        if (!h)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        request_options(c, method, url, body, h, x);
        cc = curl_easy_perform(c->curl);
        for (struct curl_slist *i = h; i; i = i->next)   /* the copy of the Authorization line too */
                explicit_bzero(i->data, strlen(i->data));
        curl_slist_free_all(h);
        c->stats.requests++;
        curl_easy_getinfo(c->curl, CURLINFO_REQUEST_SIZE, &req_size);
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        if (x->date[0] && gh_parse_http_date(x->date, &server) == 0) {
                c->offset_s = (long long) server - wall_ms() / 1000;
                c->have_offset = true;
        }
        if (cc != CURLE_OK || status == 0) {
                *sent = req_size > 0;
                snprintf(err, errlen, "%s", x->too_big ? "the answer is larger than 32 MiB" : curl_easy_strerror(cc));
                free(resp->body);
                resp->body = NULL;
                return -EIO;
        }
        resp->status = status;
        return 0;
}

/* "; the primary rate limit (core) resets at 2026-11-27T12:00:00Z, in 59 min"
 * for an answer that exhausted it, else "". NOW_MS is GitHub's clock. */
static void describe_reset(const struct gh_response *r, long long now_ms, char *buf, size_t size) {
        long long in_s = r->reset - now_ms / 1000;
        char when[32];

        buf[0] = '\0';
        if ((r->status != 403 && r->status != 429) || !r->have_remaining || r->remaining != 0 || r->reset <= 0)
                return;
        proto_utc_iso((time_t) r->reset, when, sizeof when);
        snprintf(buf, size, "; the primary rate limit (%s) resets at %s, in %lld min %lld s",
                 r->resource[0] ? r->resource : "core", when, (in_s > 0 ? in_s : 0) / 60, (in_s > 0 ? in_s : 0) % 60);
}

/* ---- tokens ---- */

static bool jwt_complaint(const struct gh_response *r) {
        return r->status == 401 && r->body && (strstr(r->body, "'iat'") || strstr(r->body, "'exp'") ||
                                               strstr(r->body, "Issued at") || strstr(r->body, "Expiration time"));
}

static int request_with(struct gh_client *c, const char *method, const char *url, const char *bearer, bool fresh,
                        const char *body, bool conditional, struct gh_response *ret, char *err, size_t errlen);

/* The token of answer O made again before its expires_at (GitHub's
 * clock): at 50 minutes, or earlier for a shorter life, with a quarter of
 * it (at most 5 minutes) to spare. */
static void token_life(struct gh_client *c, struct json_object *o) {
        struct json_object *e;
        time_t expires;
        long long life;

        if (!json_object_object_get_ex(o, "expires_at", &e) || !json_object_is_type(e, json_type_string) ||
            gh_parse_timestamp(json_object_get_string(e), &expires) < 0)
                return;
        life = (long long) expires - ((long long) time(NULL) + (c->have_offset ? c->offset_s : 0));
        life -= life / 4 < 300 ? life / 4 : 300;
        if (life * 1000 < c->token_life_ms)
                c->token_life_ms = life > 0 ? life * 1000 : 0;
}

/* An installation token from the App's JWT, made again when it is 50
 * minutes old or near its expiry (token_life); a JWT refused for its times is signed once more with the
 * clock offset that answer's Date showed. */
static int ensure_token(struct gh_client *c, char *err, size_t errlen) {
        char url[SETTINGS_URL_MAX + 96], *jwt = NULL;
        struct gh_response r = {};
        struct json_object *o = NULL, *t;
        int tries, rc;

        if (!c->key)
                return c->token ? 0 : (snprintf(err, errlen, "no token"), -ENOKEY);
        if (c->token && proto_now_ms() - c->token_made_ms < c->token_life_ms)
                return 0;
        snprintf(url, sizeof url, "%s/app/installations/%lu/access_tokens", c->api, c->installation_id);
        for (tries = 0; tries < 2; tries++) {
                rc = app_jwt(c->key, c->app_id, time(NULL), c->have_offset ? c->offset_s : 0, &jwt, err, errlen);
                if (rc < 0)
                        return rc;
                rc = request_with(c, "POST", url, jwt, false, NULL, false, &r, err, errlen);
                explicit_bzero(jwt, strlen(jwt));
                free(jwt);
                if (rc < 0)
                        return rc;
                if (!jwt_complaint(&r))
                        break;
                gh_response_free(&r);   /* the Date of this answer set the offset: sign again */
        }
        if (r.status != 201 || !r.body || !(o = json_tokener_parse(r.body)) ||
            !json_object_object_get_ex(o, "token", &t) || !json_object_is_type(t, json_type_string) ||
            json_object_get_string_len(t) == 0) {
                if (r.status && r.status != 201)
                        gh_describe_error(&r, err, errlen);
                else
                        snprintf(err, errlen, "the installation token answer is not what GitHub sends");
                json_object_put(o);
                gh_response_free(&r);
                return -EACCES;
        }
        {
                size_t len = (size_t) json_object_get_string_len(t);
                char *tok = malloc(len + 1);

                if (!tok) {
                        json_object_put(o);
                        gh_response_free(&r);
                        return -ENOMEM;
                }
                memcpy(tok, json_object_get_string(t), len + 1);
                set_token(c, tok, len);
                token_life(c, o);
        }
        c->stats.tokens++;
        if (r.body)
                explicit_bzero(r.body, r.len);
        json_object_put(o);
        gh_response_free(&r);
        return 0;
}

/* ---- requests, retried as gh_decide() says ---- */

static int request_with(struct gh_client *c, const char *method, const char *url, const char *bearer, bool fresh,
                        const char *body, bool conditional, struct gh_response *ret, char *err, size_t errlen) {
        bool mutating = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
        long long deadline = wall_ms() + c->deadline_ms;
        char etag[160] = "", *cached = NULL;

        if (conditional && !mutating)
                cached = gh_cache_read(c->cache_fd, c->token_id, url, etag, sizeof etag);
        for (unsigned attempt = 0;; attempt++) {
                struct gh_attempt a = { .mutating = mutating, .attempt = attempt, .fresh_token = fresh,
                                        .deadline_ms = deadline, .jitter = jitter() };
                struct gh_decision d;
                struct gh_exchange x;
                bool sent = false;
                char why[256] = "";
                int r;

                c->attempt_deadline = deadline;
                r = exchange(c, method, url, bearer, body, cached ? etag : NULL, ret, &x, &sent, why, sizeof why);

                a.now_ms = wall_ms() + (c->have_offset ? c->offset_s * 1000 : 0);
                a.deadline_ms += c->have_offset ? c->offset_s * 1000 : 0;
                if (r < 0)
                        a.sent = sent;
                else {
                        a.status = (int) ret->status;
                        a.have_remaining = ret->have_remaining;
                        if (ret->have_remaining && !strstr(url, "/access_tokens")) {
                                c->stats.have_rate = true;
                                c->stats.remaining = ret->remaining;
                                c->stats.limit = ret->limit;
                                c->stats.reset = ret->reset;
                        }
                        a.remaining = ret->remaining;
                        a.reset_s = ret->reset;
                        a.have_retry_after = x.have_retry_after;
                        a.retry_after_s = x.retry_after;
                        a.secondary = ret->body && strstr(ret->body, "secondary rate limit");
                }
                gh_decide(&a, &d);
                if (d.action == GH_DONE) {
                        if (ret->status == 304 && cached) {
                                const char *link, *cbody;
                                size_t link_len;

                                gh_cache_split(cached, &link, &link_len, &cbody);
                                c->stats.not_modified++;
                                free(ret->body);
                                ret->len = strlen(cbody);
                                ret->body = strdup(cbody);
                                snprintf(ret->link, sizeof ret->link, "%.*s", (int) link_len, link);
                                ret->status = 200;
                                ret->from_cache = true;
                                snprintf(ret->etag, sizeof ret->etag, "%s", etag);
                        } else {
                                if (c->send)
                                        c->stats.service++;
                                else if (ret->status != 304 && bearer && !strstr(url, "/rate_limit") &&
                                         !strstr(url, "/access_tokens"))
                                        c->stats.units++;
                                if (ret->status == 200 && conditional && !mutating)
                                        gh_cache_write(c->cache_fd, c->token_id, url, ret);
                        }
                        free(cached);
                        return 0;
                }
                if (d.action == GH_FAIL) {
                        if (r < 0)
                                snprintf(err, errlen, "%s %s: %s (%s)", method, url, d.reason, why);
                        else {
                                char desc[300], reset[160] = "";

                                gh_describe_error(ret, desc, sizeof desc);
                                describe_reset(ret, a.now_ms, reset, sizeof reset);
                                snprintf(err, errlen, "%s %s: %s (%s)%s", method, url, d.reason, desc, reset);
                                gh_response_free(ret);
                        }
                        free(cached);
                        return r < 0 ? -EIO : -EAGAIN;
                }
                if (r == 0)
                        gh_response_free(ret);
                c->stats.retries++;
                if (c->debug)
                        fprintf(stderr, "* %s; retrying in %lld ms\n", d.reason, d.wait_ms);
                proto_sleep_ms(d.wait_ms);
        }
}

static int full_url(const struct gh_client *c, const char *path, char *buf, size_t size, char *err, size_t errlen) {
        if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0) {
                if (!gh_same_origin(c->api, path))
                        return snprintf(err, errlen, "refusing to send the token to another origin"), -EPERM;
                if ((size_t) snprintf(buf, size, "%s", path) >= size)
                        return snprintf(err, errlen, "URL too long"), -ENAMETOOLONG;
                return 0;
        }
        if ((size_t) snprintf(buf, size, "%s%s%s", c->api, path[0] == '/' ? "" : "/", path) >= size)
                return snprintf(err, errlen, "URL too long"), -ENAMETOOLONG;
        return 0;
}

int gh_request_raw(struct gh_client *c, const char *method, const char *url, const char *cred,
                   const struct gh_send *send, const char *body, struct gh_response *ret, char *err, size_t errlen) {
        int r;

        *ret = (struct gh_response) {};
        if (c->read_only && strcmp(method, "GET") != 0)
                return snprintf(err, errlen, "%s %s: this client only reads", method, url), -EPERM;
        c->send = send;
        r = request_with(c, method, url, cred, false, body, false, ret, err, errlen);
        c->send = NULL;
        return r;
}

int gh_client_detach(struct gh_client *c) {
        c->curl = curl_easy_init();   /* the parent's stays the parent's: not cleaned up here */
        c->cache_fd = -EBADF;
        return c->curl ? 0 : -ENOMEM;
}

int gh_request(struct gh_client *c, const char *method, const char *path, const char *body, struct gh_response *ret,
               char *err, size_t errlen) {
        char url[4096];
        int r;

        *ret = (struct gh_response) {};
        if (c->read_only && strcmp(method, "GET") != 0)
                return snprintf(err, errlen, "%s %s: this client only reads", method, path), -EPERM;
        r = full_url(c, path, url, sizeof url, err, errlen);
        if (r < 0)
                return r;
        r = ensure_token(c, err, errlen);
        if (r < 0)
                return r;
        r = request_with(c, method, url, c->token, c->key && proto_now_ms() - c->token_made_ms < FRESH_TOKEN_MS, body, true,
                         ret, err, errlen);
        /* an installation token that expired early (the replication retries
         * are behind us): make a new one, once */
        if (r == 0 && ret->status == 401 && c->key) {
                gh_response_free(ret);
                gh_client_refresh_token(c);
                r = ensure_token(c, err, errlen);
                if (r < 0)
                        return r;
                r = request_with(c, method, url, c->token, true, body, true, ret, err, errlen);
        }
        return r;
}
