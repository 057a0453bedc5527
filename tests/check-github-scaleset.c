/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scale set client (gh-scaleset.c) against the double's Actions
 * service (tests/github/ghscaleset.py): the registration exchange, a set
 * found or made, one session per set, the long poll and its messages,
 * acquisition, JIT runners and their removal, expired admin and queue
 * tokens taken again, a 5xx storm retried, and no token in any error.
 * The parser on its own, on messages as actions/scaleset's types have
 * them. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "gh-auth.h"
#include "gh-scaleset.h"
#include "settings.h"
#include "test-double.h"
#include "test-util.h"

static char pat[48];
static struct gh_client *c;
static char err[1024];

static void start(void) {
        snprintf(pat, sizeof pat, "ghp_%s", "Sc4leSetT0kenSc4leSetT0kenSc4leSetT0kn");
        dbl_start(pat);
}

static void client(void) {
        struct settings s;

        settings_defaults(&s, "/etc");
        snprintf(s.api_url, sizeof s.api_url, "http://127.0.0.1:%d", dbl_port);
        snprintf(s.token_file, sizeof s.token_file, "%s/token", dbl_work);
        s.timeout_s = 20;
        ck_assert_msg(gh_client_new(&s, NULL, &c, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(dbl_control("scaleset", "{\"poll_s\": 1, \"flow\": \"available\"}", NULL, 0), 200);
}

static void unclient(void) {
        gh_client_free(c);
        c = NULL;
        ck_assert_ptr_null(strstr(err, pat));
}

/* No token the double issued (admin, queue, JIT) appears in S. */
static void no_issued_secret(const char *s) {
        static char issued[1 << 18];
        char *p, *q;

        ck_assert_int_eq(dbl_control("issued", NULL, issued, sizeof issued), 200);
        for (p = issued; (p = strchr(p, '"')); p = q + 1) {
                q = strchr(p + 1, '"');
                if (!q)
                        break;
                if (q - p - 1 >= 20) {
                        char tok[4096];

                        snprintf(tok, sizeof tok, "%.*s", (int) (q - p - 1 < 4000 ? q - p - 1 : 4000), p + 1);
                        ck_assert_msg(!strstr(s, tok), "an issued secret in: %.200s", s);
                }
        }
}

static const char message[] =
        "{\"messageId\": 7, \"messageType\": \"RunnerScaleSetJobMessages\", \"statistics\": {\"totalAvailableJobs\": 1,"
        " \"totalAcquiredJobs\": 0, \"totalAssignedJobs\": 2, \"totalRunningJobs\": 1, \"totalRegisteredRunners\": 3,"
        " \"totalBusyRunners\": 1, \"totalIdleRunners\": 2}, \"body\": \"[{\\\"messageType\\\": \\\"JobAvailable\\\","
        " \\\"runnerRequestId\\\": 41, \\\"repositoryName\\\": \\\"site\\\", \\\"ownerName\\\": \\\"acme\\\","
        " \\\"jobDisplayName\\\": \\\"build\\\", \\\"queueTime\\\": \\\"2026-11-27T10:00:00Z\\\"},"
        " {\\\"messageType\\\": \\\"JobStarted\\\", \\\"runnerRequestId\\\": 40, \\\"runnerId\\\": 12,"
        " \\\"runnerName\\\": \\\"web-2\\\"}, {\\\"messageType\\\": \\\"JobCompleted\\\", \\\"runnerRequestId\\\": 39,"
        " \\\"runnerId\\\": 11, \\\"runnerName\\\": \\\"web-1\\\", \\\"result\\\": \\\"succeeded\\\"},"
        " {\\\"messageType\\\": \\\"JobSomethingNew\\\"}]\"}";

START_TEST(test_parse) {
        struct gh_ss_message m;

        ck_assert_int_eq(gh_ss_parse_message(message, &m), 0);
        ck_assert_int_eq(m.id, 7);
        ck_assert_int_eq(m.stats.assigned, 2);
        ck_assert_int_eq(m.stats.idle, 2);
        ck_assert_uint_eq(m.n_jobs, 4);
        ck_assert_int_eq(m.jobs[0].kind, GH_SS_AVAILABLE);
        ck_assert_int_eq(m.jobs[0].request_id, 41);
        ck_assert_str_eq(m.jobs[0].repo, "acme/site");
        ck_assert_int_eq(m.jobs[0].queued, 1795773600);
        ck_assert_int_eq(m.jobs[1].kind, GH_SS_STARTED);
        ck_assert_str_eq(m.jobs[1].runner_name, "web-2");
        ck_assert_int_eq(m.jobs[2].kind, GH_SS_COMPLETED);
        ck_assert_str_eq(m.jobs[2].result, "succeeded");
        ck_assert_int_eq(m.jobs[3].kind, GH_SS_OTHER);   /* unknown kinds are skipped, not refused */
        gh_ss_message_free(&m);
        /* no statistics, no id, a body that is not an array, a job without its request */
        ck_assert_int_eq(gh_ss_parse_message("{\"messageId\": 1, \"messageType\": \"x\"}", &m), -EPROTO);
        ck_assert_int_eq(gh_ss_parse_message("{\"messageType\": \"x\", \"statistics\": {}}", &m), -EPROTO);
        ck_assert_int_eq(gh_ss_parse_message("not json", &m), -EPROTO);
        ck_assert_int_eq(gh_ss_jwt_expiry("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjIwMDAwMDAwMDB9.c2ln"), 2000000000);
        ck_assert_int_eq(gh_ss_jwt_expiry("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln"), 0);   /* no JSON claims */
        ck_assert_int_eq(gh_ss_jwt_expiry("not-a-jwt"), 0);
        {
                char bad[sizeof message + 16];
                char *p;

                snprintf(bad, sizeof bad, "%s", message);
                p = strstr(bad, "\\\"runnerRequestId\\\": 41");
                memcpy(p + 3, "RUNNER", 6);
                ck_assert_int_eq(gh_ss_parse_message(bad, &m), -EPROTO);
        }
}
END_TEST

/* A connected scale set named NAME of acme/site. */
static void set_up(struct gh_ss *ss, const char *name) {
        bool created;

        gh_ss_init(ss, "repos/acme/site", name);
        ck_assert_msg(gh_ss_set_ensure(c, ss, "Default", &created, err, sizeof err) == 0, "%s", err);
        ck_assert(created);
        ck_assert_int_gt(ss->set_id, 0);
        ck_assert_int_eq(ss->group_id, 1);
        ck_assert_int_eq(strncmp(ss->service, "http://127.0.0.1:", 17), 0);
        ck_assert_int_gt(ss->admin_expires, time(NULL) + 60);
}

static long poll_once(struct gh_ss *ss, long long last, struct gh_ss_message *m) {
        struct gh_response r;
        long status;

        ck_assert_msg(gh_ss_poll(c, ss, last, 4, 10000, &r, err, sizeof err) == 0, "%s", err);
        status = r.status;
        if (status == 200)
                ck_assert_int_eq(gh_ss_parse_message(r.body, m), 0);
        gh_response_free(&r);
        return status;
}

START_TEST(test_set_session_messages) {
        struct gh_ss ss, other;
        struct gh_ss_message m;
        long long id;
        size_t got;
        bool created;

        set_up(&ss, "lk-flow");
        gh_ss_init(&other, "repos/acme/site", "lk-flow");
        ck_assert_int_eq(gh_ss_set_ensure(c, &other, "Default", &created, err, sizeof err), 0);
        ck_assert(!created);   /* found by name */
        ck_assert_int_eq(other.set_id, ss.set_id);
        ck_assert_int_eq(gh_ss_session_open(c, &ss, "host-a", err, sizeof err), 0);
        ck_assert_int_eq(gh_ss_session_open(c, &other, "host-b", err, sizeof err), -EBUSY);
        ck_assert_reason_has(err, "409 TaskAgentSessionConflictException");
        ck_assert_int_eq(ss.stats.assigned, 0);
        ck_assert_int_eq(poll_once(&ss, 0, &m), 202);
        ck_assert_int_eq(dbl_control("run", "{\"repo\":\"acme/site\",\"jobs\":[[\"build\",[\"lk-flow\"]]]}", NULL, 0), 201);
        ck_assert_int_eq(poll_once(&ss, 0, &m), 200);
        ck_assert_uint_eq(m.n_jobs, 1);
        ck_assert_int_eq(m.jobs[0].kind, GH_SS_AVAILABLE);
        ck_assert_int_eq(m.stats.available, 1);
        id = m.jobs[0].request_id;
        ck_assert_int_eq(gh_ss_acquire(c, &ss, &id, 1, &got, err, sizeof err), 0);
        ck_assert_uint_eq(got, 1);
        ck_assert_int_eq(gh_ss_acquire(c, &ss, (long long[]) { 987654 }, 1, &got, err, sizeof err), 0);
        ck_assert_uint_eq(got, 0);   /* not a job of the set */
        ck_assert_int_eq(gh_ss_message_delete(c, &ss, m.id, err, sizeof err), 0);
        ck_assert_int_eq(gh_ss_message_delete(c, &ss, m.id, err, sizeof err), 0);   /* gone: not an error */
        id = m.id;
        gh_ss_message_free(&m);
        ck_assert_int_eq(poll_once(&ss, id, &m), 200);
        ck_assert_int_eq(m.jobs[0].kind, GH_SS_ASSIGNED);
        ck_assert_int_eq(m.stats.assigned, 1);
        gh_ss_message_free(&m);
        ck_assert_int_eq(gh_ss_session_close(c, &ss, err, sizeof err), 0);
        ck_assert_int_eq(gh_ss_session_open(c, &other, "host-b", err, sizeof err), 0);   /* closed: free */
        ck_assert_int_eq(other.stats.assigned, 1);
        ck_assert_int_eq(gh_ss_session_close(c, &other, err, sizeof err), 0);
        ck_assert_int_eq(gh_ss_set_delete(c, &ss, err, sizeof err), 0);
        gh_ss_free(&ss);
        gh_ss_free(&other);
}
END_TEST

START_TEST(test_jit_and_runners) {
        struct gh_ss ss;
        long long id, found;
        char *cfg;
        size_t len;

        set_up(&ss, "lk-jit");
        ck_assert_msg(gh_ss_jit(c, &ss, "lk-jit-1", "_work", &id, &cfg, &len, err, sizeof err) == 0, "%s", err);
        ck_assert_int_gt(id, 0);
        ck_assert_uint_gt(len, 20);
        secret_free(cfg, len + 1);
        ck_assert_int_eq(gh_ss_jit(c, &ss, "lk-jit-1", "_work", &id, &cfg, &len, err, sizeof err), -EEXIST);
        ck_assert_reason_has(err, "AgentExistsException");
        ck_assert_int_eq(gh_ss_runner_find(c, &ss, "lk-jit-1", &found, err, sizeof err), 0);
        ck_assert_int_eq(found, id);
        ck_assert_int_eq(gh_ss_runner_delete(c, &ss, id, err, sizeof err), 0);
        ck_assert_int_eq(gh_ss_runner_delete(c, &ss, id, err, sizeof err), -ENOENT);
        ck_assert_int_eq(gh_ss_runner_find(c, &ss, "lk-jit-1", &found, err, sizeof err), -ENOENT);
        no_issued_secret(err);
        gh_ss_free(&ss);
}
END_TEST

START_TEST(test_expiry_and_faults) {
        struct gh_ss ss;
        struct gh_ss_message m;
        struct gh_response r;
        struct gh_stats st;
        unsigned long service;

        set_up(&ss, "lk-expiry");
        ck_assert_int_eq(gh_ss_session_open(c, &ss, "host-a", err, sizeof err), 0);
        /* the admin token expires early: the next call makes a new one */
        ck_assert_int_eq(dbl_control("scaleset", "{\"expire\": \"admin\"}", NULL, 0), 200);
        ck_assert_msg(gh_ss_runner_find(c, &ss, "nobody", &(long long) { 0 }, err, sizeof err) == -ENOENT, "%s", err);
        ck_assert_uint_eq(ss.exchanges, 2);
        ck_assert_int_eq(poll_once(&ss, 0, &m), 202);   /* the session's queue token outlived the admin token */
        ck_assert_msg(gh_ss_session_refresh(c, &ss, err, sizeof err) == 0, "%s", err);
        /* the queue token expires: the poll says 401, a refresh gives a new one; a delete refreshes by itself */
        ck_assert_int_eq(dbl_control("scaleset", "{\"expire\": \"queue\"}", NULL, 0), 200);
        ck_assert_int_eq(gh_ss_poll(c, &ss, 0, 4, 10000, &r, err, sizeof err), 0);
        ck_assert_int_eq(r.status, 401);
        gh_response_free(&r);
        ck_assert_int_eq(dbl_control("scaleset", "{\"expire\": \"queue\"}", NULL, 0), 200);
        ck_assert_int_eq(gh_ss_message_delete(c, &ss, 999, err, sizeof err), 0);
        ck_assert_int_eq(poll_once(&ss, 0, &m), 202);
        /* a storm of 502s on the service: GETs retried through it */
        ck_assert_int_eq(dbl_control("fault", "{\"kind\": \"status\", \"status\": 502, \"match\": \"_apis/runtime\", \"count\": 3}",
                                     NULL, 0), 200);
        gh_stats(c, &st);
        service = st.service;
        ck_assert_msg(gh_ss_runner_find(c, &ss, "nobody", &(long long) { 0 }, err, sizeof err) == -ENOENT, "%s", err);
        {
                bool created;

                ck_assert_msg(gh_ss_set_ensure(c, &ss, "Default", &created, err, sizeof err) == 0, "%s", err);
                ck_assert(!created);
        }
        gh_stats(c, &st);
        ck_assert_uint_ge(st.service, service + 2);
        ck_assert_int_eq(dbl_control("clear-faults", "{}", NULL, 0), 200);
        /* a 5xx on a change is not sent again: the caller hears it */
        ck_assert_int_eq(dbl_control("fault", "{\"kind\": \"status\", \"status\": 500, \"match\": \"POST .*acquirejobs\", \"count\": 1}",
                                     NULL, 0), 200);
        ck_assert_int_lt(gh_ss_acquire(c, &ss, (long long[]) { 1 }, 1, &(size_t) { 0 }, err, sizeof err), 0);
        ck_assert_int_eq(dbl_control("clear-faults", "{}", NULL, 0), 200);
        ck_assert_int_eq(gh_ss_session_close(c, &ss, err, sizeof err), 0);
        no_issued_secret(err);
        gh_ss_free(&ss);
}
END_TEST

int main(void) {
        Suite *s = suite_create("github-scaleset");
        TCase *pure = tcase_create("parse"), *tc = tcase_create("against the double");

        tcase_add_test(pure, test_parse);
        suite_add_tcase(s, pure);
        if (!dbl_usable("check-github-scaleset"))
                return getenv("CI") && strcmp(getenv("CI"), "true") == 0 ? 1 : 77;
        tcase_add_unchecked_fixture(tc, start, dbl_stop);
        tcase_add_checked_fixture(tc, client, unclient);
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, test_set_session_messages);
        tcase_add_test(tc, test_jit_and_runners);
        tcase_add_test(tc, test_expiry_and_faults);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
