/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmicrohttpd in external mode with its own epoll fd (MHD_USE_EPOLL, no
 * thread): the supervisor forks for the helper's calls, and a process
 * with a second thread must not fork what it cannot trust. Chosen over a
 * hand-written HTTP parser: it is Debian's, maintained, and bounds
 * connections, memory and time for us. */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"
#include "webhook.h"

#define BODY_MAX (1024 * 1024)   /* workflow_job payloads are a few KiB; GitHub caps deliveries at 25 MB */

struct webhook {
        struct MHD_Daemon *d;
        webhook_fn fn;
        void *data;
        size_t secret_len;
        unsigned char secret[512];
};

struct request {
        char *body;
        size_t len;
        bool too_large;
};

const char *webhook_result_to_string(enum webhook_result r) {
        static const char *const names[_WEBHOOK_RESULT_MAX] = {
                [WEBHOOK_ACCEPTED] = "accepted", [WEBHOOK_IGNORED] = "ignored",
                [WEBHOOK_BAD_SIGNATURE] = "bad_signature", [WEBHOOK_REJECTED] = "rejected",
        };
        return (unsigned) r < _WEBHOOK_RESULT_MAX ? names[r] : "?";
}

int webhook_verify(const void *secret, size_t secret_len, const void *body, size_t len, const char *header) {
        unsigned char mac[EVP_MAX_MD_SIZE], want[32];
        unsigned mac_len = 0;

        if (!header || !header[0])
                return -ENOKEY;
        if (strncmp(header, "sha256=", 7) != 0 || strlen(header + 7) != 64)
                return -EBADMSG;
        for (size_t i = 0; i < 64; i++) {
                char ch = header[7 + i];
                int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
                        ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

                if (v < 0)
                        return -EBADMSG;
                want[i / 2] = (unsigned char) (i % 2 ? want[i / 2] | v : v << 4);
        }
        if (!HMAC(EVP_sha256(), secret, (int) secret_len, body, len, mac, &mac_len) || mac_len != 32)
                return -EBADMSG;
        return CRYPTO_memcmp(mac, want, 32) == 0 ? 0 : -EBADMSG;
}

int webhook_parse_listen(const char *listen, void *ss, const char **reason) {
        struct sockaddr_in *in4 = ss;
        struct sockaddr_in6 *in6 = ss;
        char host[64];
        const char *colon = strrchr(listen, ':');
        char *end;
        unsigned long port;
        size_t n;

        memset(ss, 0, sizeof(struct sockaddr_storage));
        if (!colon || colon == listen)
                return *reason = "must be ADDRESS:PORT", -EINVAL;
        port = strtoul(colon + 1, &end, 10);
        if (!colon[1] || *end || port > 65535)
                return *reason = "has no port from 0 (any free one) to 65535", -EINVAL;
        n = (size_t) (colon - listen);
        if (listen[0] == '[' && n >= 2 && listen[n - 1] == ']' && n - 2 < sizeof host) {
                snprintf(host, sizeof host, "%.*s", (int) (n - 2), listen + 1);
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                return inet_pton(AF_INET6, host, &in6->sin6_addr) == 1 ? 0 : (*reason = "has no IPv6 address", -EINVAL);
        }
        if (n >= sizeof host)
                return *reason = "has no IPv4 address", -EINVAL;
        snprintf(host, sizeof host, "%.*s", (int) n, listen);
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t) port);
        return inet_pton(AF_INET, host, &in4->sin_addr) == 1 ? 0 : (*reason = "has no IPv4 address (or [IPv6])", -EINVAL);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text) {
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *) text, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        (void) MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

/* The verified body's workflow_job action into ACTION ("" when absent). */
static bool job_action(const char *body, size_t len, char *action, size_t size) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o = tok ? json_tokener_parse_ex(tok, body, (int) len) : NULL, *a;

        action[0] = '\0';
        if (tok)
                json_tokener_free(tok);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return false;
        }
        if (json_object_object_get_ex(o, "action", &a) && json_object_is_type(a, json_type_string))
                snprintf(action, size, "%s", json_object_get_string(a));
        json_object_put(o);
        return true;
}

static enum MHD_Result finish(struct webhook *w, struct MHD_Connection *c, struct request *rq) {
        const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hub-Signature-256");
        const char *event = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-GitHub-Event");
        char action[32];

        if (rq->too_large)
                return w->fn(w->data, WEBHOOK_REJECTED, NULL), reply(c, 413, "too large\n");
        if (webhook_verify(w->secret, w->secret_len, rq->body ?: "", rq->len, sig) < 0)
                return w->fn(w->data, WEBHOOK_BAD_SIGNATURE, NULL), reply(c, MHD_HTTP_UNAUTHORIZED, "bad signature\n");
        if (!event || strcmp(event, "workflow_job") != 0) {
                w->fn(w->data, WEBHOOK_IGNORED, NULL);
                return reply(c, MHD_HTTP_OK, event && strcmp(event, "ping") == 0 ? "pong\n" : "ignored\n");
        }
        if (!job_action(rq->body ?: "", rq->len, action, sizeof action))
                return w->fn(w->data, WEBHOOK_REJECTED, NULL), reply(c, MHD_HTTP_BAD_REQUEST, "not JSON\n");
        w->fn(w->data, WEBHOOK_ACCEPTED, action);
        return reply(c, MHD_HTTP_ACCEPTED, "accepted\n");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
        struct webhook *w = cls;
        struct request *rq = *con_cls;

        (void) version;
        if (!rq) {
                if (strcmp(method, "POST") != 0 || strcmp(url, "/") != 0) {
                        w->fn(w->data, WEBHOOK_REJECTED, NULL);
                        return reply(c, strcmp(method, "POST") ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND,
                                     "POST / only\n");
                }
                rq = calloc(1, sizeof *rq);
                *con_cls = rq;
                return rq ? MHD_YES : MHD_NO;
        }
        if (*upload_size > 0) {
                if (!rq->too_large && rq->len + *upload_size <= BODY_MAX) {
                        char *b = realloc(rq->body, rq->len + *upload_size + 1);

                        if (!b)
                                return MHD_NO;
                        memcpy(b + rq->len, upload, *upload_size);
                        rq->len += *upload_size;
                        b[rq->len] = '\0';
                        rq->body = b;
                } else
                        rq->too_large = true;
                *upload_size = 0;
                return MHD_YES;
        }
        return finish(w, c, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code) {
        struct request *rq = *con_cls;

        (void) cls, (void) c, (void) code;
        if (rq)
                free(rq->body);
        free(rq);
        *con_cls = NULL;
}

int webhook_new(const char *listen, const void *secret, size_t secret_len, webhook_fn fn, void *data,
                struct webhook **ret, char *err, size_t errlen) {
        struct sockaddr_storage ss;
        const char *reason;
        struct webhook *w;

        if (webhook_parse_listen(listen, &ss, &reason) < 0)
                return snprintf(err, errlen, "webhook_listen '%s' %s", listen, reason), -EINVAL;
        if (secret_len < 16 || secret_len > sizeof ((struct webhook *) NULL)->secret)
                return snprintf(err, errlen, "the webhook secret must be 16 to 512 bytes"), -EINVAL;
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        *w = (struct webhook) { .fn = fn, .data = data, .secret_len = secret_len };
        memcpy(w->secret, secret, secret_len);
        w->d = MHD_start_daemon(MHD_USE_EPOLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, handle, w,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 10,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned) 32, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) 16,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (64 * 1024), MHD_OPTION_NOTIFY_COMPLETED,
                                completed, w, MHD_OPTION_END);
        if (!w->d) {
                snprintf(err, errlen, "cannot listen on %s for webhooks", listen);
                webhook_free(w);
                return -EADDRNOTAVAIL;
        }
        *ret = w;
        return 0;
}

void webhook_free(struct webhook *w) {
        if (!w)
                return;
        if (w->d)
                MHD_stop_daemon(w->d);
        explicit_bzero(w->secret, sizeof w->secret);
        free(w);
}

int webhook_fd(const struct webhook *w) {
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_EPOLL_FD);

        return i ? i->epoll_fd : -EBADF;
}

int webhook_port(const struct webhook *w) {
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT);

        return i ? i->port : -1;
}

void webhook_run(struct webhook *w) {
        (void) MHD_run(w->d);
}

long long webhook_timeout_ms(const struct webhook *w) {
        MHD_UNSIGNED_LONG_LONG ms;

        return MHD_get_timeout(w->d, &ms) == MHD_YES ? (long long) ms : -1;
}
