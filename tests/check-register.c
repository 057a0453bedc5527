/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registration hand-off: its codec refuses every malformed or hostile
 * message with a reason; lanectl's one-shot offer answers nobody but the
 * lane's own unit (here: a real socket, a real peer in another cgroup, or
 * with another uid, gets nothing at all, and the socket is gone after). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto-register.h"
#include "register-offer.h"
#include "test-util.h"

static const struct {
        const char *url;
        const char *reason;   /* NULL: accepted */
} urls[] = {
        { "https://github.com/acme/site", NULL },
        { "https://github.com/acme", NULL },
        { "https://ghe.example.com/acme/site", NULL },
        { "http://127.0.0.1:8080/acme/site", NULL },
        { "http://localhost:9/acme", NULL },
        { "http://github.com/acme/site", "not loopback" },
        { "ftp://github.com/acme", "https://" },
        { "https://github.com", "no owner" },
        { "https://github.com/", "empty" },
        { "https://github.com/a/b/c", "OWNER or OWNER/REPO" },
        { "https://github.com/a/../b", "'..'" },
        { "https://github.com/a//b", "empty" },
        { "https://github.com/acme site", "character" },
        { "https://user@github.com/acme", "character" },
        { "https://github.com/acme?x=1", "character" },
        { "https://github.com/acme\nExecStart=/bin/sh", "character" },
        { "https://github.com/acm\xc3\xa9", "character" },
        { "--url=https://github.com/acme", "https://" },
};

START_TEST(test_url) {
        const char *reason = NULL;
        int r = proto_register_validate_url(urls[_i].url, &reason);

        if (!urls[_i].reason)
                ck_assert_msg(r == 0, "%s refused: %s", urls[_i].url, reason_or_null(reason));
        else {
                ck_assert_int_eq(r, -EINVAL);
                ck_assert_reason_has(reason, urls[_i].reason);
        }
}
END_TEST

#define TOKEN "AABBCCDDEEFF0011223344556677"
#define GOOD_ANSWER "url=https://github.com/acme/site\nname=lane-a\nlabels=self-hosted,X64,lanekeeper-managed\ngroup=\ntoken=" TOKEN "\n"

static const struct {
        const char *text;
        const char *reason;
} answers[] = {
        { GOOD_ANSWER, NULL },
        { "token=" TOKEN "\ngroup=Default\nlabels=a\nname=lane-a\nurl=https://github.com/acme\n", NULL },   /* any order */
        { "url=https://github.com/acme/site\nname=lane-a\nlabels=a\ngroup=\n", "missing" },
        { GOOD_ANSWER "token=" TOKEN "\n", "twice" },
        { GOOD_ANSWER "shell=/bin/sh\n", "unknown key" },
        { "url=https://github.com/acme/site\nname=lane-a\nlabels=a\ngroup=\ntoken=" TOKEN, "without its end" },
        { "url https://github.com/acme/site\n", "without '='" },
        { "url=https://github.com/acme/site\nname=../../etc\nlabels=a\ngroup=\ntoken=" TOKEN "\n", "" },
        { "url=https://github.com/acme/site\nname=lane-a\nlabels=a,,b\ngroup=\ntoken=" TOKEN "\n", "comma-separated" },
        { "url=https://github.com/acme/site\nname=lane-a\nlabels=\ngroup=\ntoken=" TOKEN "\n", "comma-separated" },
        { "url=https://github.com/acme/site\nname=lane-a\nlabels=a b\ngroup=\ntoken=" TOKEN "\n", "" },
        { "url=https://github.com/acme/site\nname=lane-a\nlabels=a\ngroup=x,y\ntoken=" TOKEN "\n", "runner group" },
        { "url=https://github.com/acme/site\nname=lane-a\nlabels=a\ngroup=\ntoken=\n", "no token" },
        { "url=https://github.com/acme/site\nname=lane-a\nlabels=a\ngroup=\ntoken=ab cd\n", "space" },
        { "url=http://10.0.0.1/acme\nname=lane-a\nlabels=a\ngroup=\ntoken=" TOKEN "\n", "not loopback" },
        { "purge=lane-a\n", NULL },
        { "purge=lane-a\ntoken=" TOKEN "\n", "one line" },
        { "purge=lane-a", "one line" },
        { "purge=../etc\n", "" },
        { "purge=\n", "" },
        { "purge=lane-a\npurge=lane-a\n", "one line" },
        { "clear-actions=lane-a\nmax_age_days=0\n", NULL },
        { "clear-actions=lane-a\nmax_age_days=7\n", NULL },
        { "clear-actions=lane-a\nmax_age_days=3650\n", NULL },
        { "clear-actions=lane-a\nmax_age_days=3651\n", "3650" },
        { "clear-actions=lane-a\nmax_age_days=07\n", "two lines" },
        { "clear-actions=lane-a\nmax_age_days=-1\n", "not a number" },
        { "clear-actions=lane-a\nmax_age_days=\n", "two lines" },
        { "clear-actions=lane-a\nmax_age_days=99999\n", "two lines" },
        { "clear-actions=lane-a\n", "two lines" },   /* the fuzzer's over-read: nothing after the first line */
        { "clear-actions=lane-a\nmax_age_days=1\ntoken=" TOKEN "\n", "two lines" },
        { "clear-actions=lane-a\nmax_age_days=1", "two lines" },
        { "clear-actions=../x\nmax_age_days=1\n", "" },
        { "clear-actions=lane-a\npurge=lane-a\n", "two lines" },
        { "reset-work=lane-a\n", NULL },
        { "reset-work=lane-a\ntoken=" TOKEN "\n", "one line" },
        { "reset-work=lane-a", "one line" },
        { "reset-work=../lane-a\n", "" },
        { "reset-work=\n", "" },
        { "reset-work=lane-a\nmax_age_days=0\n", "one line" },
};

START_TEST(test_answer) {
        static struct proto_register r;
        const char *reason = NULL;
        int ret = proto_register_decode(answers[_i].text, strlen(answers[_i].text), &r, &reason);

        if (!answers[_i].reason) {
                ck_assert_msg(ret == 0, "refused: %s", reason_or_null(reason));
                ck_assert_int_eq(r.purge, strncmp(answers[_i].text, "purge=", 6) == 0);
                ck_assert_int_eq(r.clear_actions, strncmp(answers[_i].text, "clear-actions=", 14) == 0);
                ck_assert_int_eq(r.reset_work, strncmp(answers[_i].text, "reset-work=", 11) == 0);
                ck_assert_str_eq(r.token, r.purge || r.clear_actions || r.reset_work ? "" : TOKEN);
                ck_assert_str_eq(r.name, "lane-a");
        } else {
                ck_assert_int_eq(ret, -EINVAL);
                ck_assert_ptr_nonnull(reason);
                ck_assert_reason_has(reason, answers[_i].reason);
        }
        proto_register_wipe(&r);
}
END_TEST

START_TEST(test_answer_binary) {
        static struct proto_register r;
        static char big[PROTO_REGISTER_MAX + 2];
        char nul[] = "url=https://github.com/acme\0\nname=lane-a\n";
        const char *reason;

        ck_assert_int_eq(proto_register_decode(nul, sizeof nul - 1, &r, &reason), -EINVAL);
        memset(big, 'a', sizeof big);
        ck_assert_int_eq(proto_register_decode(big, sizeof big, &r, &reason), -EINVAL);
        /* a token longer than the field: refused, never truncated */
        memset(big, 'T', sizeof big);
        memcpy(big, "token=", 6);
        big[PROTO_REGISTER_TOKEN_MAX + 8] = '\n';
        ck_assert_int_eq(proto_register_decode(big, PROTO_REGISTER_TOKEN_MAX + 9, &r, &reason), -EINVAL);
        ck_assert_reason_has(reason, "too long");
}
END_TEST

START_TEST(test_round_trip) {
        static struct proto_register in, out;
        static char buf[PROTO_REGISTER_MAX];
        const char *reason = NULL;
        size_t len;

        /* an installation-token-like length with dots: lengths are never assumed */
        snprintf(in.url, sizeof in.url, "https://ghe.example.com/acme/site");
        snprintf(in.name, sizeof in.name, "cm-website-chris-testing");
        snprintf(in.labels, sizeof in.labels, "self-hosted,launchplane-managed,X64");
        snprintf(in.group, sizeof in.group, "Default");
        memset(in.token, 'A', 520);
        in.token[100] = in.token[300] = '.';
        ck_assert_int_eq(proto_register_encode(&in, buf, sizeof buf, &len, &reason), 0);
        ck_assert_int_eq(proto_register_decode(buf, len, &out, &reason), 0);
        ck_assert_mem_eq(&in, &out, sizeof in);
        ck_assert_int_eq(proto_register_encode(&in, buf, 64, &len, &reason), -ENOBUFS);
        /* the purge answer: the name only, whatever else the struct holds */
        in.purge = true;
        ck_assert_int_eq(proto_register_encode(&in, buf, sizeof buf, &len, &reason), 0);
        ck_assert_int_eq(len, strlen("purge=cm-website-chris-testing\n"));
        ck_assert_mem_eq(buf, "purge=cm-website-chris-testing\n", len);
        ck_assert_int_eq(proto_register_decode(buf, len, &out, &reason), 0);
        ck_assert(out.purge);
        ck_assert_str_eq(out.name, "cm-website-chris-testing");
        ck_assert_str_eq(out.token, "");
        /* the cache clear answer: the name and the age only */
        in.purge = false;
        in.clear_actions = true;
        in.max_age_days = 14;
        ck_assert_int_eq(proto_register_encode(&in, buf, sizeof buf, &len, &reason), 0);
        ck_assert_int_eq(len, strlen("clear-actions=cm-website-chris-testing\nmax_age_days=14\n"));
        ck_assert_mem_eq(buf, "clear-actions=cm-website-chris-testing\nmax_age_days=14\n", len);
        ck_assert_int_eq(proto_register_decode(buf, len, &out, &reason), 0);
        ck_assert(out.clear_actions && !out.purge);
        ck_assert_uint_eq(out.max_age_days, 14);
        ck_assert_str_eq(out.token, "");
        in.purge = true;   /* both: refused */
        ck_assert_int_eq(proto_register_encode(&in, buf, sizeof buf, &len, &reason), -EINVAL);
        ck_assert_reason_has(reason, "one of a registration, a purge");
        in.purge = false;   /* forget: one line */
        in.clear_actions = false;
        in.forget = true;
        ck_assert_int_eq(proto_register_encode(&in, buf, sizeof buf, &len, &reason), 0);
        ck_assert_mem_eq(buf, "forget=cm-website-chris-testing\n", len);
        ck_assert_int_eq(proto_register_decode(buf, len, &out, &reason), 0);
        ck_assert(out.forget && !out.purge && !out.clear_actions);
        ck_assert_str_eq(out.name, "cm-website-chris-testing");
        ck_assert_int_eq(proto_register_decode("forget=a\nx", 10, &out, &reason), -EINVAL);
        ck_assert_int_eq(proto_register_decode("forget=../a\n", 12, &out, &reason), -EINVAL);
        in.forget = false;   /* the work reset: one line, alone */
        in.reset_work = true;
        ck_assert_int_eq(proto_register_encode(&in, buf, sizeof buf, &len, &reason), 0);
        ck_assert_int_eq(len, strlen("reset-work=cm-website-chris-testing\n"));
        ck_assert_mem_eq(buf, "reset-work=cm-website-chris-testing\n", len);
        ck_assert_int_eq(proto_register_decode(buf, len, &out, &reason), 0);
        ck_assert(out.reset_work && !out.purge && !out.forget && !out.slot && !out.clear_actions);
        ck_assert_str_eq(out.token, "");
        in.slot = true;
        ck_assert_int_eq(proto_register_encode(&in, buf, sizeof buf, &len, &reason), -EINVAL);
        ck_assert_reason_has(reason, "or a work reset");
        in.slot = false;
        proto_register_wipe(&out);
        ck_assert_int_eq(out.token[0], 0);
}
END_TEST

static const struct {
        const char *text;
        bool ok;
} requests[] = {
        { "LKREG1 lane-a\n", true },
        { "LKREG1 cm-website-chris-testing\n", true },
        { "LKREG1 lane-a", false },
        { "LKREG2 lane-a\n", false },
        { "LKREG1 ../x\n", false },
        { "LKREG1 lane-a\nextra\n", false },
        { "LKREG1 \n", false },
        { "LKREG1 Lane-A\n", false },
        { "", false },
};

START_TEST(test_request) {
        char lane[PROTO_LANE_NAME_MAX + 1];
        const char *reason = NULL;
        int r = proto_register_decode_request(requests[_i].text, strlen(requests[_i].text), lane, &reason);

        ck_assert_msg((r == 0) == requests[_i].ok, "request %d: %d %s", _i, r, reason_or_null(reason));
}
END_TEST

START_TEST(test_cgroup_match) {
        ck_assert(reg_cgroup_is_lane_unit("/system.slice/system-lanekeeper\\x2dlane.slice/lanekeeper-lane@lane-a.service",
                                          "lane-a"));
        ck_assert(reg_cgroup_is_lane_unit("/lanekeeper-e2e-1/system.slice/lanekeeper-lane@lane-a.service", "lane-a"));
        ck_assert(!reg_cgroup_is_lane_unit("/system.slice/lanekeeper-lane@lane-b.service", "lane-a"));
        ck_assert(!reg_cgroup_is_lane_unit("/system.slice/lanekeeper-lane@lane-a.service/job", "lane-a"));
        ck_assert(!reg_cgroup_is_lane_unit("/system.slice/lanekeeper-lane@lane-a.serviceX", "lane-a"));
        ck_assert(!reg_cgroup_is_lane_unit("/user.slice/user-1000.slice/session-1.scope", "lane-a"));
        ck_assert(!reg_cgroup_is_lane_unit("lanekeeper-lane@lane-a.service", "lane-a"));
        ck_assert(!reg_cgroup_is_lane_unit("/x/lanekeeper-lane@../a.service", "../a"));
}
END_TEST

/* A real offer, a real peer: not the lane's unit, so it gets no answer
 * at all, and the wait ends at its deadline; the socket is gone after. */
START_TEST(test_offer_refuses_strangers) {
        static struct proto_register reg;
        char dir[] = "/tmp/lanekeeper-check-register-XXXXXX", err[256], buf[256];
        struct reg_offer o;
        struct stat st;
        int status;
        pid_t pid;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(chmod(dir, 0771), 0);
        snprintf(reg.url, sizeof reg.url, "https://github.com/acme/site");
        snprintf(reg.name, sizeof reg.name, "lane-a");
        snprintf(reg.labels, sizeof reg.labels, "self-hosted");
        snprintf(reg.token, sizeof reg.token, "%s", TOKEN);
        ck_assert_int_eq(reg_offer_open(&o, dir, "lane-a", err, sizeof err), 0);
        ck_assert_int_eq(stat(o.path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        pid = fork();
        if (pid == 0) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
                ssize_t n;

                if (strlen(o.path) >= sizeof sa.sun_path)
                        _exit(6);
                memcpy(sa.sun_path, o.path, strlen(o.path) + 1);
                if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                        _exit(2);
                /* the offer may refuse on accept, before we ask: then the
                 * request meets a closed socket, which is the same refusal */
                if (send(fd, "LKREG1 lane-a\n", 14, MSG_NOSIGNAL) != 14)
                        _exit(errno == EPIPE || errno == ECONNRESET ? 0 : 3);
                n = recv(fd, buf, sizeof buf, 0);
                _exit(n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : n > 0 ? 4 : 5);   /* closed without a word */
        }
        /* our own uid, but not inside lanekeeper-lane@lane-a.service */
        ck_assert_int_eq(reg_offer_serve(&o, getuid(), &reg, 1500, err, sizeof err), -ETIMEDOUT);
        ck_assert_uint_eq(o.refused, 1);
        ck_assert_reason_has(err, "did not ask");
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the stranger got an answer (%d)", status);
        reg_offer_close(&o);
        ck_assert_int_eq(stat(o.path[0] ? o.path : dir, &st), 0);   /* the directory stays */
        {
                char sock[256];

                snprintf(sock, sizeof sock, "%s/lane-a.sock", dir);
                ck_assert_int_eq(stat(sock, &st), -1);
        }
        /* a directory others may write to is refused */
        ck_assert_int_eq(chmod(dir, 0777), 0);
        ck_assert_int_eq(reg_offer_open(&o, dir, "lane-a", err, sizeof err), -EPERM);
        ck_assert_int_eq(reg_offer_open(&o, dir, "../etc", err, sizeof err), -EINVAL);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("register");
        TCase *tc = tcase_create("register");

        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_url, 0, (int) ELEMENTSOF(urls));
        tcase_add_loop_test(tc, test_answer, 0, (int) ELEMENTSOF(answers));
        tcase_add_test(tc, test_answer_binary);
        tcase_add_test(tc, test_round_trip);
        tcase_add_loop_test(tc, test_request, 0, (int) ELEMENTSOF(requests));
        tcase_add_test(tc, test_cgroup_match);
        tcase_add_test(tc, test_offer_refuses_strangers);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
