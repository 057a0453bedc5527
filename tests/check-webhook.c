/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pool supervisor's webhook receiver (webhook.h): the signature as
 * GitHub makes it (the example of GitHub's "Validating webhook deliveries"),
 * listen addresses, and a real libmicrohttpd server on a loopback port fed
 * raw HTTP: only a verified workflow_job delivery wakes the caller. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/hmac.h>

#include "test-util.h"
#include "webhook.h"

static const char secret[] = "a webhook secret of the test's";
static unsigned calls[_WEBHOOK_RESULT_MAX];
static char last_action[32];

static void on_delivery(void *data, enum webhook_result r, const char *action) {
        (void) data;
        calls[r]++;
        snprintf(last_action, sizeof last_action, "%s", action ?: "");
}

START_TEST(test_verify) {
        static const char key[] = "It's a Secret to Everybody", body[] = "Hello, World!";
        static const char good[] = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        char bad[sizeof good];

        ck_assert_int_eq(webhook_verify(key, strlen(key), body, strlen(body), good), 0);
        ck_assert_int_eq(webhook_verify(key, strlen(key), body, strlen(body), NULL), -ENOKEY);
        ck_assert_int_eq(webhook_verify(key, strlen(key), body, strlen(body), ""), -ENOKEY);
        ck_assert_int_eq(webhook_verify(key, strlen(key), "Hello, World?", 13, good), -EBADMSG);
        ck_assert_int_eq(webhook_verify("another secret", 14, body, strlen(body), good), -EBADMSG);
        memcpy(bad, good, sizeof good);
        bad[7] = 'g';
        ck_assert_int_eq(webhook_verify(key, strlen(key), body, strlen(body), bad), -EBADMSG);
        bad[7] = ' ';
        ck_assert_int_eq(webhook_verify(key, strlen(key), body, strlen(body), bad), -EBADMSG);
        ck_assert_int_eq(webhook_verify(key, strlen(key), body, strlen(body), "sha1=757107ea"), -EBADMSG);
        bad[sizeof good - 2] = '\0';
        memcpy(bad, good, sizeof good - 2);
        ck_assert_int_eq(webhook_verify(key, strlen(key), body, strlen(body), bad), -EBADMSG);
}
END_TEST

START_TEST(test_listen) {
        struct sockaddr_storage ss;
        const char *reason = NULL;

        ck_assert_int_eq(webhook_parse_listen("127.0.0.1:8787", &ss, &reason), 0);
        ck_assert_int_eq(ss.ss_family, AF_INET);
        ck_assert_int_eq(ntohs(((struct sockaddr_in *) &ss)->sin_port), 8787);
        ck_assert_int_eq(webhook_parse_listen("[::1]:9000", &ss, &reason), 0);
        ck_assert_int_eq(ss.ss_family, AF_INET6);
        ck_assert_int_eq(webhook_parse_listen("localhost:80", &ss, &reason), -EINVAL);
        ck_assert_int_eq(webhook_parse_listen("127.0.0.1", &ss, &reason), -EINVAL);
        ck_assert_str_eq(reason, "must be ADDRESS:PORT");
        ck_assert_int_eq(webhook_parse_listen("127.0.0.1:65536", &ss, &reason), -EINVAL);
        ck_assert_int_eq(webhook_parse_listen("127.0.0.1:80x", &ss, &reason), -EINVAL);
        ck_assert_int_eq(webhook_parse_listen("[::1:80", &ss, &reason), -EINVAL);
}
END_TEST

static void sign(const char *body, size_t len, char out[72]) {
        unsigned char mac[32];
        unsigned n = 0;

        HMAC(EVP_sha256(), secret, (int) strlen(secret), (const unsigned char *) body, len, mac, &n);
        strcpy(out, "sha256=");
        for (unsigned i = 0; i < 32; i++)
                sprintf(out + 7 + 2 * i, "%02x", mac[i]);
}

/* Send REQ (LEN bytes) to W's port, serving it meanwhile; the status line's code. */
static int exchange(struct webhook *w, const char *req, size_t len) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) webhook_port(w)) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), code = -1;
        size_t off = 0;
        char buf[512];
        ssize_t got = 0;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ck_assert_int_ge(fd, 0);
        ck_assert(connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0 || errno == EINPROGRESS);
        for (int round = 0; round < 2000 && got <= 0; round++) {
                struct pollfd p = { .fd = webhook_fd(w), .events = POLLIN };
                ssize_t n;

                if (off < len && (n = write(fd, req + off, len - off)) > 0)
                        off += (size_t) n;
                (void) poll(&p, 1, 5);
                webhook_run(w);
                got = read(fd, buf, sizeof buf - 1);
        }
        if (got > 0) {
                buf[got] = '\0';
                ck_assert_int_eq(sscanf(buf, "HTTP/1.1 %d", &code), 1);
        }
        close(fd);
        return code;
}

static int post(struct webhook *w, const char *event, const char *body, size_t len, const char *sig) {
        char *req = malloc(len + 600);
        int n = snprintf(req, 600, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                   "X-GitHub-Event: %s\r\n%s%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
                         event, sig ? "X-Hub-Signature-256: " : "", sig ?: "", sig ? "\r\n" : "", len);
        int code;

        memcpy(req + n, body, len);
        code = exchange(w, req, (size_t) n + len);
        free(req);
        return code;
}

START_TEST(test_server) {
        static const char job[] = "{\"action\":\"queued\",\"workflow_job\":{\"id\":1,\"labels\":[\"pool-web\"]}}";
        struct webhook *w = NULL;
        char err[200], sig[72], *big;
        size_t big_len = 1024 * 1024 + 16;
        int r = webhook_new("127.0.0.1:0", secret, strlen(secret), on_delivery, NULL, &w, err, sizeof err);

        ck_assert_msg(r == 0, "%s", err);
        ck_assert_int_gt(webhook_port(w), 0);
        sign(job, strlen(job), sig);
        ck_assert_int_eq(post(w, "workflow_job", job, strlen(job), sig), 202);
        ck_assert_uint_eq(calls[WEBHOOK_ACCEPTED], 1);
        ck_assert_str_eq(last_action, "queued");
        ck_assert_int_eq(post(w, "workflow_job", job, strlen(job), NULL), 401);
        sig[10] ^= 1;
        ck_assert_int_eq(post(w, "workflow_job", job, strlen(job), sig), 401);
        ck_assert_uint_eq(calls[WEBHOOK_BAD_SIGNATURE], 2);
        ck_assert_uint_eq(calls[WEBHOOK_ACCEPTED], 1);   /* never woken by an unverified one */
        sign("{}", 2, sig);
        ck_assert_int_eq(post(w, "ping", "{}", 2, sig), 200);
        ck_assert_uint_eq(calls[WEBHOOK_IGNORED], 1);
        sign("not json", 8, sig);
        ck_assert_int_eq(post(w, "workflow_job", "not json", 8, sig), 400);
        {
                static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

                ck_assert_int_eq(exchange(w, get, strlen(get)), 405);
        }
        big = malloc(big_len);
        memset(big, ' ', big_len);
        sign(big, big_len, sig);
        ck_assert_int_eq(post(w, "workflow_job", big, big_len, sig), 413);
        free(big);
        ck_assert_uint_eq(calls[WEBHOOK_REJECTED], 3);
        ck_assert_uint_eq(calls[WEBHOOK_ACCEPTED], 1);
        webhook_free(w);
        ck_assert_int_eq(webhook_new("127.0.0.1:0", "short", 5, on_delivery, NULL, &w, err, sizeof err), -EINVAL);
}
END_TEST

int main(void) {
        Suite *s = suite_create("webhook");
        TCase *tc = tcase_create("webhook");

        tcase_add_test(tc, test_verify);
        tcase_add_test(tc, test_listen);
        tcase_add_test(tc, test_server);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
