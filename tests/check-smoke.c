/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The smoke's pure part (smoke.h) on fixed job objects and logs: GitHub's
 * job read (a queued job's started_at is no start; a skipped step is no
 * step begun), whose runner counts (a lane's by id and name, a pool's
 * slots by name within max), the verdict and its first reason, the
 * marker (only with this smoke's nonce, never the script's own text),
 * the timings; and the workflow's shape. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "smoke.h"
#include "test-util.h"

static struct smoke_expect lane(void) {
        struct smoke_expect e = { .runner_id = 42 };

        snprintf(e.name, sizeof e.name, "lane-a");
        snprintf(e.labels[0], sizeof e.labels[0], "self-hosted");
        snprintf(e.labels[1], sizeof e.labels[1], "X64");
        e.n_labels = 2;
        snprintf(e.nonce, sizeof e.nonce, "0123456789abcdef");
        return e;
}

static struct smoke_job parse(const char *text) {
        struct json_object *o = json_tokener_parse(text);
        struct smoke_job j;

        ck_assert_ptr_nonnull(o);
        ck_assert_int_eq(smoke_parse_job(o, &j), 0);
        json_object_put(o);
        return j;
}

#define DONE_JOB(runner_id, runner, concl) \
        "{\"id\": 7, \"name\": \"smoke\", \"status\": \"completed\", \"conclusion\": \"" concl "\"," \
        " \"runner_id\": " #runner_id ", \"runner_name\": \"" runner "\", \"html_url\": \"https://github.com/x/y/job/7\"," \
        " \"created_at\": \"2026-11-28T10:00:00Z\", \"started_at\": \"2026-11-28T10:00:04Z\"," \
        " \"completed_at\": \"2026-11-28T10:00:19Z\", \"steps\": [" \
        " {\"name\": \"Set up job\", \"conclusion\": \"success\", \"started_at\": \"2026-11-28T10:00:04Z\"}," \
        " {\"name\": \"Run actions/checkout@v4\", \"conclusion\": \"skipped\", \"started_at\": \"2026-11-28T10:00:05Z\"}," \
        " {\"name\": \"lanekeeper smoke\", \"conclusion\": \"success\", \"started_at\": \"2026-11-28T10:00:06Z\"}]}"

static const char *log_ok =
        "##[group]Run case \"$SLEEP\" ...\nprintf 'lanekeeper smoke passed %s on %s\\n' \"$NONCE\" \"$RUNNER_NAME\"\n"
        "##[endgroup]\nlanekeeper smoke passed 0123456789abcdef on lane-a\n";

START_TEST(test_parse) {
        struct smoke_job j = parse(DONE_JOB(42, "lane-a", "success"));
        struct json_object *o;

        ck_assert_int_eq(j.id, 7);
        ck_assert_int_eq(j.runner_id, 42);
        ck_assert_str_eq(j.runner_name, "lane-a");
        ck_assert_int_eq(j.started - j.created, 4);
        ck_assert_int_eq(j.completed - j.started, 15);
        ck_assert_int_eq(j.first_step - j.started, 2);         /* the skipped checkout is no step begun */
        j = parse("{\"id\": 8, \"status\": \"queued\", \"created_at\": \"2026-11-28T10:00:00Z\","
                  " \"started_at\": \"2026-11-28T10:00:00Z\", \"runner_id\": null, \"runner_name\": null, \"steps\": []}");
        ck_assert_int_eq(j.started, 0);                         /* a queued job's started_at is no start */
        ck_assert_str_eq(j.runner_name, "");
        o = json_tokener_parse("{\"name\": \"no id\"}");
        ck_assert_int_eq(smoke_parse_job(o, &j), -EBADMSG);
        json_object_put(o);
}
END_TEST

START_TEST(test_runner) {
        struct smoke_expect e = lane(), p = lane();

        ck_assert(smoke_runner_ok(&e, "lane-a", 42));
        ck_assert(smoke_runner_ok(&e, "LANE-A", 42));           /* GitHub's names are case-insensitive */
        ck_assert(!smoke_runner_ok(&e, "lane-a", 43));          /* a namesake registered since */
        ck_assert(!smoke_runner_ok(&e, "lane-b", 42));
        p.pool = true;
        p.pool_max = 8;
        snprintf(p.name, sizeof p.name, "web");
        ck_assert(smoke_runner_ok(&p, "web-1", 900));
        ck_assert(smoke_runner_ok(&p, "web-8", 901));
        ck_assert(!smoke_runner_ok(&p, "web-9", 902));          /* above max */
        ck_assert(!smoke_runner_ok(&p, "web-0", 903));
        ck_assert(!smoke_runner_ok(&p, "web-1x", 904));
        ck_assert(!smoke_runner_ok(&p, "webby-1", 905));
        ck_assert(!smoke_runner_ok(&p, "web", 906));
}
END_TEST

START_TEST(test_judge) {
        struct smoke_expect e = lane();
        struct smoke_result r = {};
        struct smoke_job j = parse(DONE_JOB(42, "lane-a", "success"));
        char bad[512];

        smoke_judge(&e, &j, log_ok, &r);
        ck_assert(r.passed && r.marker && r.claimed);
        ck_assert_str_eq(r.reason, "");
        ck_assert_int_eq(r.queue_wait_s, 4);
        ck_assert_int_eq(r.setup_s, 2);
        ck_assert_int_eq(r.duration_s, 15);
        /* the script's own text, and another smoke's nonce, are no marker */
        smoke_judge(&e, &j, "printf 'lanekeeper smoke passed %s on %s\\n'\nlanekeeper smoke passed fedcba9876543210 on lane-a\n",
                    &r);
        ck_assert(!r.passed && !r.marker);
        ck_assert_ptr_nonnull(strstr(r.reason, "marker line"));
        smoke_judge(&e, &j, NULL, &r);
        ck_assert_str_eq(r.reason, "the job's log could not be read");
        /* elsewhere: named, whatever the log says */
        j = parse(DONE_JOB(77, "lane-other", "success"));
        smoke_judge(&e, &j, log_ok, &r);
        ck_assert(!r.passed);
        ck_assert_str_eq(r.reason, "the job ran on runner lane-other (id 77), not on lane lane-a's runner");
        /* failed: the runner's first error line */
        j = parse(DONE_JOB(42, "lane-a", "failure"));
        snprintf(bad, sizeof bad, "Set up job\n##[error]Can't find 'action.yml' under '/x'.\n##[error]second\n");
        smoke_judge(&e, &j, bad, &r);
        ck_assert_str_eq(r.reason, "the job concluded failure: Can't find 'action.yml' under '/x'.");
        /* never claimed: no timings */
        j = parse("{\"id\": 9, \"status\": \"completed\", \"conclusion\": \"cancelled\", \"runner_id\": 0,"
                  " \"runner_name\": null, \"created_at\": \"2026-11-28T10:00:00Z\", \"started_at\": \"2026-11-28T10:00:00Z\","
                  " \"completed_at\": \"2026-11-28T10:10:00Z\", \"steps\": []}");
        smoke_judge(&e, &j, NULL, &r);
        ck_assert(!r.passed && !r.claimed);
        ck_assert_str_eq(r.reason, "no runner claimed the job (labels asked: self-hosted, ...)");
        ck_assert_int_eq(r.queue_wait_s, -1);
        ck_assert_int_eq(r.duration_s, -1);
}
END_TEST

START_TEST(test_workflow) {
        const char *w = smoke_workflow();
        const char *run = strstr(w, "run: |");

        ck_assert_ptr_nonnull(strstr(w, "\non:\n  workflow_dispatch:\n"));
        ck_assert_ptr_null(strstr(w, "  push:"));
        ck_assert_ptr_nonnull(strstr(w, "permissions:\n  contents: read\n"));
        ck_assert_ptr_nonnull(strstr(w, "persist-credentials: false"));
        ck_assert_ptr_nonnull(strstr(w, "runs-on: ${{ fromJSON(inputs.labels) }}"));
        ck_assert_ptr_nonnull(run);
        ck_assert_ptr_null(strstr(run, "${{"));                 /* inputs reach the script through env only */
        ck_assert_ptr_nonnull(strstr(run, SMOKE_MARKER " %s on %s"));
}
END_TEST

START_TEST(test_nonce) {
        struct smoke_expect a = lane(), b = lane();

        ck_assert_int_eq(smoke_nonce(&a), 0);
        ck_assert_int_eq(smoke_nonce(&b), 0);
        ck_assert_uint_eq(strlen(a.nonce), SMOKE_NONCE_HEX);
        ck_assert_uint_eq(strspn(a.nonce, "0123456789abcdef"), SMOKE_NONCE_HEX);
        ck_assert_str_ne(a.nonce, b.nonce);
}
END_TEST

int main(void) {
        Suite *s = suite_create("smoke");
        TCase *tc = tcase_create("judge");

        tcase_add_test(tc, test_parse);
        tcase_add_test(tc, test_runner);
        tcase_add_test(tc, test_judge);
        tcase_add_test(tc, test_workflow);
        tcase_add_test(tc, test_nonce);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
