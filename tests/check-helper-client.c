/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The typed helper client: argument rules from the protocol's verb table,
 * and round trips against a forked server on a real SOCK_SEQPACKET socket
 * that answers what a helper would, or what no helper may. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper-client.h"
#include "proto-io.h"
#include "test-util.h"

static const struct {
        enum proto_verb verb;
        struct helper_request req;
        const char *reason;          /* NULL: accepted */
} rules[] = {
        { PROTO_VERB_INSTALL_UNIT, { .lane = "a", .user = "u", .root = "/r" }, NULL },
        { PROTO_VERB_INSTALL_UNIT, { .lane = "a", .user = "u" }, "install-unit needs --root" },
        { PROTO_VERB_INSTALL_UNIT, { .user = "u", .root = "/r" }, "install-unit needs LANE" },
        { PROTO_VERB_DAEMON_RELOAD, {}, NULL },
        { PROTO_VERB_DAEMON_RELOAD, { .lane = "a" }, "daemon-reload takes no LANE" },
        { PROTO_VERB_ENABLE_NOW, { .lane = "a" }, NULL },
        { PROTO_VERB_ENABLE_NOW, {}, "enable-now needs LANE" },
        { PROTO_VERB_STOP, { .lane = "a", .user = "u" }, "stop takes no --user" },
        { PROTO_VERB_RESTART, { .lane = "a", .root = "/r" }, "restart takes no --root" },
        { PROTO_VERB_REMOVE_UNIT, { .lane = "a" }, NULL },
        { PROTO_VERB_LOAD_BPF, { .lane = "a", .bpf_object = "execs" }, NULL },
        { PROTO_VERB_LOAD_BPF, { .lane = "a" }, "load-bpf needs --bpf-object" },
        { PROTO_VERB_NONE, {}, "unknown verb 0" },
};

START_TEST(test_request_rules) {
        char reason[128] = "";
        int r = helper_request_check(rules[_i].verb, &rules[_i].req, reason, sizeof reason);

        if (!rules[_i].reason)
                ck_assert_msg(r == 0, "rule %d refused: %s", _i, reason);
        else {
                ck_assert_int_eq(r, -EINVAL);
                ck_assert_str_eq(reason, rules[_i].reason);
        }
}
END_TEST

/* ---- round trips against a forked server ---- */

enum answer { ANSWER_OK, ANSWER_REFUSED, ANSWER_OTHER_VERB, ANSWER_FD_NOT_ALLOWED, ANSWER_BPF_FD, ANSWER_BPF_FD_SHORT,
              ANSWER_NOTHING };

static char sock_path[108];

/* Serve one connection: read the request, answer as told. */
static void serve_one(int lfd, enum answer a) {
        static uint8_t buf[PROTO_MAX_MESSAGE];
        static struct proto_msg m;
        static struct proto_builder b;
        int fd = accept(lfd, NULL, NULL);
        ssize_t n = fd < 0 ? -1 : proto_recv(fd, buf, sizeof buf);
        size_t len;

        if (n < 0 || proto_decode(buf, (size_t) n, PROTO_REQUEST, &m, NULL) < 0)
                _exit(1);
        if (a == ANSWER_NOTHING) {
                close(fd);
                _exit(0);
        }
        if (a == ANSWER_REFUSED)
                proto_build_error_reply(&b, m.verb, m.request_id, PROTO_E_POLICY_VIOLATION, "root is not allowed", &len);
        else {
                proto_builder_init(&b, a == ANSWER_OTHER_VERB ? PROTO_VERB_STOP : m.verb,
                                   PROTO_FLAG_REPLY | (m.flags & PROTO_FLAG_DRY_RUN), m.request_id);
                proto_put_i32(&b, PROTO_TAG_STATUS, 0);
                if (m.verb == PROTO_VERB_INSTALL_UNIT) {
                        proto_put_str(&b, PROTO_TAG_UNIT_NAME, "lanekeeper-lane@a.service");
                        proto_put_bool(&b, PROTO_TAG_CHANGED, true);
                }
                if (m.verb == PROTO_VERB_LOAD_BPF) {
                        uint32_t ring = 0;

                        /* the asked size, echoed: it crossed the wire */
                        (void) proto_msg_u32(&m, PROTO_TAG_RINGBUF_SIZE, &ring);
                        proto_put_u32(&b, PROTO_TAG_RINGBUF_SIZE, ring ?: 4096);
                        proto_put_u64(&b, PROTO_TAG_CGROUP_ID, 4242);
                        proto_put_str(&b, PROTO_TAG_CGROUP_PATH, "/system.slice/x\\x2dy.service");
                        proto_put_u32(&b, PROTO_TAG_PROG_COUNT, 1);
                }
                proto_put_str(&b, PROTO_TAG_ACTION, "did it");
                if (proto_builder_finish(&b, &len, NULL) < 0)
                        _exit(2);
        }
        if (a == ANSWER_BPF_FD || a == ANSWER_BPF_FD_SHORT) {
                /* ring, counters, one link: as many as one program needs (SHORT: one less) */
                int pass[3];

                for (size_t i = 0; i < 3; i++)
                        pass[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (proto_send_fds(fd, b.buf, len, pass, a == ANSWER_BPF_FD ? 3 : 2) < 0)
                        _exit(3);
        } else if (a == ANSWER_FD_NOT_ALLOWED) {
                union { struct cmsghdr align; char c[CMSG_SPACE(sizeof(int))]; } control = {};
                struct iovec iov = { .iov_base = b.buf, .iov_len = len };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                                     .msg_controllen = sizeof control };
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                int pass = open("/dev/null", O_RDONLY | O_CLOEXEC);

                c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &pass, sizeof pass);
                if (sendmsg(fd, &mh, 0) < 0)
                        _exit(3);
        } else if (proto_send(fd, b.buf, len) < 0)
                _exit(3);
        close(fd);
        _exit(0);
}

static pid_t server(enum answer a) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        pid_t pid;

        snprintf(sock_path, sizeof sock_path, "/tmp/check-helper-client.%d.sock", (int) getpid());
        unlink(sock_path);
        strcpy(sa.sun_path, sock_path);
        ck_assert_int_ge(lfd, 0);
        ck_assert_int_eq(bind(lfd, (struct sockaddr *) &sa, sizeof sa), 0);
        ck_assert_int_eq(listen(lfd, 4), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                serve_one(lfd, a);
        close(lfd);
        return pid;
}

static void reap(pid_t pid) {
        int status;

        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server status 0x%x", status);
        unlink(sock_path);
}

START_TEST(test_install_unit_ok) {
        pid_t pid = server(ANSWER_OK);
        struct helper_conn c = { .socket_path = sock_path };
        struct helper_request req = { .lane = "a", .user = "u", .root = "/r", .dry_run = true };
        static struct helper_reply reply;

        ck_assert_int_eq(helper_install_unit(&c, &req, &reply), 0);
        reap(pid);
        ck_assert_int_eq(reply.verb, PROTO_VERB_INSTALL_UNIT);
        ck_assert(reply.dry_run);
        ck_assert_int_eq(reply.error, PROTO_OK);
        ck_assert_str_eq(reply.unit_name, "lanekeeper-lane@a.service");
        ck_assert_int_eq(reply.changed, 1);
        ck_assert_int_eq(reply.n_actions, 1);
        ck_assert_str_eq(reply.actions[0], "did it");
}
END_TEST

START_TEST(test_refused) {
        pid_t pid = server(ANSWER_REFUSED);
        struct helper_conn c = { .socket_path = sock_path };
        static struct helper_reply reply;
        char err[256];

        ck_assert_int_eq(helper_stop(&c, &(struct helper_request) { .lane = "a" }, &reply), -EPERM);
        reap(pid);
        ck_assert_int_eq(reply.error, PROTO_E_POLICY_VIOLATION);
        helper_reply_error(&reply, err, sizeof err);
        ck_assert_str_eq(err, "policy-violation: root is not allowed");
}
END_TEST

/* What no helper may answer is refused: another verb's reply, descriptors
 * with a verb that passes none, no answer at all. */
START_TEST(test_bad_answers) {
        struct helper_conn c = { .socket_path = sock_path };
        static struct helper_reply reply;
        pid_t pid;

        pid = server(ANSWER_OTHER_VERB);
        ck_assert_int_eq(helper_restart(&c, &(struct helper_request) { .lane = "a" }, &reply), -EPROTO);
        reap(pid);
        pid = server(ANSWER_FD_NOT_ALLOWED);
        ck_assert_int_eq(helper_enable_now(&c, &(struct helper_request) { .lane = "a" }, &reply), -EPROTO);
        ck_assert_int_eq(reply.n_fds, 0);
        reap(pid);
        pid = server(ANSWER_NOTHING);
        ck_assert_int_eq(helper_daemon_reload(&c, &(struct helper_request) {}, &reply), -EHOSTDOWN);
        reap(pid);
        /* nothing listening at all */
        c.socket_path = "/nonexistent/helper.socket";
        ck_assert_int_eq(helper_remove_unit(&c, &(struct helper_request) { .lane = "a" }, &reply), -EHOSTDOWN);
        ck_assert_reason_has(reply.reason, "the helper is unavailable at /nonexistent/helper.socket");
        /* an argument the verb does not take never leaves */
        ck_assert_int_eq(helper_stop(&c, &(struct helper_request) { .lane = "a", .user = "u" }, &reply), -EINVAL);
}
END_TEST

START_TEST(test_load_bpf_fds) {
        pid_t pid = server(ANSWER_BPF_FD);
        struct helper_conn c = { .socket_path = sock_path };
        static struct helper_reply reply;

        ck_assert_int_eq(helper_load_bpf(&c, &(struct helper_request) { .lane = "a", .bpf_object = "execs",
                                                                         .ringbuf_size = 65536 }, &reply), 0);
        reap(pid);
        ck_assert_int_eq(reply.n_fds, 3);
        ck_assert_int_eq(reply.prog_count, 1);
        ck_assert_int_eq(reply.ringbuf_size, 65536);
        ck_assert_uint_eq(reply.cgroup_id, 4242);
        ck_assert_str_eq(reply.cgroup_path, "/system.slice/x\\x2dy.service");
        for (size_t i = 0; i < reply.n_fds; i++) {
                ck_assert_int_ge(fcntl(reply.fds[i], F_GETFD), FD_CLOEXEC);
                close(reply.fds[i]);
        }
}
END_TEST

/* Descriptors that do not match the programs attached are refused, and
 * closed; a ring buffer size the protocol refuses never leaves. */
START_TEST(test_load_bpf_bad) {
        struct helper_conn c = { .socket_path = sock_path };
        static struct helper_reply reply;
        int before = open("/dev/null", O_RDONLY | O_CLOEXEC), after;
        pid_t pid;

        close(before);
        pid = server(ANSWER_BPF_FD_SHORT);
        ck_assert_int_eq(helper_load_bpf(&c, &(struct helper_request) { .lane = "a", .bpf_object = "execs" }, &reply),
                         -EPROTO);
        reap(pid);
        ck_assert_int_eq(reply.n_fds, 0);
        ck_assert_reason_has(reply.reason, "passed 2 descriptors for 1 programs");
        after = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(after, before);   /* the two passed were closed */
        close(after);
        ck_assert_int_eq(helper_load_bpf(&c, &(struct helper_request) { .lane = "a", .bpf_object = "execs",
                                                                         .ringbuf_size = 5000 }, &reply), -EINVAL);
        ck_assert_reason_has(reply.reason, "is not a power of two");
}
END_TEST

/* The ops table reaches the stub of each verb. */
static enum proto_verb seen;
#define FAKE(name, VERB)                                                                                   \
        static int fake_##name(void *data, const struct helper_request *req, struct helper_reply *reply) { \
                (void) data, (void) req, (void) reply;                                                     \
                seen = PROTO_VERB_##VERB;                                                                  \
                return 0;                                                                                  \
        }
FAKE(install_unit, INSTALL_UNIT)
FAKE(daemon_reload, DAEMON_RELOAD)
FAKE(enable_now, ENABLE_NOW)
FAKE(restart, RESTART)
FAKE(stop, STOP)
FAKE(remove_unit, REMOVE_UNIT)
FAKE(load_bpf, LOAD_BPF)

START_TEST(test_ops_dispatch) {
        static const struct helper_ops fake = {
                fake_install_unit, fake_daemon_reload, fake_enable_now, fake_restart, fake_stop, fake_remove_unit,
                fake_load_bpf,
        };
        static struct helper_reply reply;

        for (int v = PROTO_VERB_INSTALL_UNIT; v < _PROTO_VERB_MAX; v++) {
                seen = PROTO_VERB_NONE;
                ck_assert_int_eq(helper_ops_call(&fake, NULL, (enum proto_verb) v, &(struct helper_request) {}, &reply), 0);
                ck_assert_int_eq(seen, v);
        }
        ck_assert_int_eq(helper_ops_call(&fake, NULL, PROTO_VERB_NONE, &(struct helper_request) {}, &reply), -EINVAL);
}
END_TEST

int main(void) {
        Suite *s = suite_create("helper-client");
        TCase *tc = tcase_create("helper-client");

        signal(SIGPIPE, SIG_IGN);
        tcase_add_loop_test(tc, test_request_rules, 0, (int) ELEMENTSOF(rules));
        tcase_add_test(tc, test_install_unit_ok);
        tcase_add_test(tc, test_refused);
        tcase_add_test(tc, test_bad_answers);
        tcase_add_test(tc, test_load_bpf_fds);
        tcase_add_test(tc, test_load_bpf_bad);
        tcase_add_test(tc, test_ops_dispatch);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
