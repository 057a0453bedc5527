/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pool supervisor's side of the slot hand-off (slot-serve.h), over a
 * real SOCK_SEQPACKET pair and a real store directory: a slot's request,
 * its rules, its report and the JIT configuration; an install that
 * changed refused; a peer gone mid-request. And the rule the event loop
 * relies on: a connection the server ends is shut down for its peer at
 * once, even while a forked child holds a copy of the fd, and its fd
 * stays open until slot_server_drop(), so that the caller's event source
 * can still be removed from epoll (EPOLL_CTL_DEL on a closed fd fails,
 * and its registration then outlives the source while the child holds
 * the file: the supervisor aborted in sd-event when that happened). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto-slot.h"
#include "slot-serve.h"
#include "test-util.h"

#define FP "a3f1c2d4e5b6a7980123456789abcdef0123456789abcdef0123456789abcdef"

static char dir[64];
static int store = -1, peer = -1, ep = -1, jits, verdicts;
static struct slot_server srv;
static char buf[PROTO_SLOT_MAX + 1];

static int jit(void *data, const char *slot, char **ret, char *err, size_t errlen) {
        (void) data, (void) slot, (void) err, (void) errlen;
        jits++;
        *ret = strdup("ZXlKaGJHY2lPaUpTVXpJMU5pSjku");
        return *ret ? 0 : -ENOMEM;
}

static void verdict(void *data, const char *slot, bool refused, const char *reason) {
        (void) data, (void) slot, (void) refused, (void) reason;
        verdicts++;
}

static struct slot_hooks hooks = { .jit = jit, .verdict = verdict };

static void setup(void) {
        int sv[2];
        struct epoll_event ev = { .events = EPOLLIN };

        snprintf(dir, sizeof dir, "/tmp/check-slot-serve-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        store = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(store, 0);
        hooks.store_fd = store;
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        srv = (struct slot_server) { .fd = -EBADF, .conn = sv[0], .uid = getuid() };
        snprintf(srv.slot, sizeof srv.slot, "web-2");
        peer = sv[1];
        ep = epoll_create1(EPOLL_CLOEXEC);
        ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, srv.conn, &ev), 0);   /* as the event loop watches it */
        jits = verdicts = 0;
}

static void teardown(void) {
        slot_server_drop(&srv);
        close(peer);
        close(ep);
        (void) unlinkat(store, "slot-web-2.install", 0);
        close(store);
        ck_assert_int_eq(rmdir(dir), 0);
}

static void send_msg(int fd, const char *m, size_t len) {
        ck_assert_int_eq(send(fd, m, len, MSG_NOSIGNAL), (ssize_t) len);
}

/* The server ended the connection: its peer reads the end now, the fd is
 * still open and leaves the epoll set cleanly, and drop closes it. */
static void ck_ended(void) {
        ck_assert_int_ge(srv.conn, 0);
        ck_assert_int_ne(fcntl(srv.conn, F_GETFD), -1);
        ck_assert_int_eq(recv(peer, buf, sizeof buf, MSG_DONTWAIT), 0);
        ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_DEL, srv.conn, NULL), 0);
        slot_server_drop(&srv);
        ck_assert_int_lt(srv.conn, 0);
}

static void report(const char *keep) {
        size_t len;

        ck_assert_int_eq(proto_slot_encode_report(FP, keep, buf, sizeof buf, &len), 0);
        send_msg(peer, buf, len);
}

START_TEST(test_whole_exchange) {
        char slot[PROTO_LANE_NAME_MAX + 1], keep[PROTO_SLOT_KEEP_BUF], j[PROTO_SLOT_JIT_MAX + 1];
        char reason[PROTO_SLOT_REASON_MAX + 1], err[700];
        const char *why = NULL;
        size_t len;
        ssize_t n;

        ck_assert_int_eq(slot_server_step(&srv, &hooks, err, sizeof err), SLOT_STEP_WAIT);   /* nothing yet */
        ck_assert_int_eq(proto_slot_encode_request("web-2", buf, sizeof buf, &len), 0);
        send_msg(peer, buf, len);
        ck_assert_int_eq(slot_server_step(&srv, &hooks, err, sizeof err), SLOT_STEP_WAIT);
        n = recv(peer, buf, sizeof buf, 0);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(proto_slot_decode_rules(buf, (size_t) n, slot, keep, &why), 0);
        ck_assert_str_eq(slot, "web-2");
        ck_assert_str_eq(keep, "");                     /* the first run: nothing kept yet */
        report("bin,externals");
        ck_assert_int_eq(slot_server_step(&srv, &hooks, err, sizeof err), SLOT_STEP_DONE);
        ck_assert_str_eq(err, "");
        n = recv(peer, buf, sizeof buf, 0);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(proto_slot_decode_verdict(buf, (size_t) n, j, reason, &why), 0);
        ck_assert_str_eq(j, "ZXlKaGJHY2lPaUpTVXpJMU5pSjku");
        ck_assert_int_eq(jits, 1);
        ck_assert_int_eq(verdicts, 1);
        ck_ended();
}
END_TEST

START_TEST(test_changed_install_refused) {
        char j[PROTO_SLOT_JIT_MAX + 1], reason[PROTO_SLOT_REASON_MAX + 1], err[700];
        const char *why = NULL;
        size_t len;
        ssize_t n;

        ck_assert_int_eq(slot_install_save(store, "web-2", "bin,externals", FP), 0);
        ck_assert_int_eq(proto_slot_encode_request("web-2", buf, sizeof buf, &len), 0);
        send_msg(peer, buf, len);
        ck_assert_int_eq(slot_server_step(&srv, &hooks, err, sizeof err), SLOT_STEP_WAIT);
        ck_assert_int_gt(recv(peer, buf, sizeof buf, 0), 0);
        report("bin");                                  /* externals went away */
        ck_assert_int_eq(slot_server_step(&srv, &hooks, err, sizeof err), SLOT_STEP_REFUSED);
        ck_assert_ptr_nonnull(strstr(err, "lost entries"));
        n = recv(peer, buf, sizeof buf, 0);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(proto_slot_decode_verdict(buf, (size_t) n, j, reason, &why), 0);
        ck_assert_str_eq(j, "");
        ck_assert_ptr_nonnull(strstr(reason, "lost entries"));
        ck_assert_int_eq(jits, 0);                      /* no JIT configuration for it */
        ck_ended();
}
END_TEST

START_TEST(test_other_slot) {
        char err[700];
        size_t len;

        ck_assert_int_eq(proto_slot_encode_request("web-3", buf, sizeof buf, &len), 0);
        send_msg(peer, buf, len);
        ck_assert_int_eq(slot_server_step(&srv, &hooks, err, sizeof err), SLOT_STEP_REFUSED);
        ck_assert_ptr_nonnull(strstr(err, "not a request of this slot"));
        ck_ended();
}
END_TEST

START_TEST(test_peer_gone) {
        char err[700];

        close(peer);
        peer = open("/dev/null", O_RDONLY | O_CLOEXEC);   /* for teardown */
        ck_assert_int_eq(slot_server_step(&srv, &hooks, err, sizeof err), SLOT_STEP_REFUSED);
        ck_assert_ptr_nonnull(strstr(err, "went away mid-request"));
        ck_assert_int_ne(fcntl(srv.conn, F_GETFD), -1);
        ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_DEL, srv.conn, NULL), 0);
        slot_server_drop(&srv);
}
END_TEST

/* A child holding a copy of the connection (the long poll's, forked
 * while the request was served) neither keeps the peer waiting for the
 * end nor keeps the loop's registration alive. */
START_TEST(test_child_holds_a_copy) {
        struct epoll_event ev;
        char err[700];
        size_t len;
        pid_t pid;
        int status;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                pause();                /* holds every fd of the parent's until killed */
                _exit(0);
        }
        ck_assert_int_eq(proto_slot_encode_request("web-9", buf, sizeof buf, &len), 0);
        send_msg(peer, buf, len);
        ck_assert_int_eq(slot_server_step(&srv, &hooks, err, sizeof err), SLOT_STEP_REFUSED);
        ck_ended();                     /* the peer saw the end with the child's copy still open */
        close(peer);                    /* the peer hangs up: no event may reach the loop now */
        peer = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(epoll_wait(ep, &ev, 1, 100), 0);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}
END_TEST

int main(void) {
        Suite *s = suite_create("slot-serve");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_whole_exchange);
        tcase_add_test(tc, test_changed_install_refused);
        tcase_add_test(tc, test_other_slot);
        tcase_add_test(tc, test_peer_gone);
        tcase_add_test(tc, test_child_holds_a_copy);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
