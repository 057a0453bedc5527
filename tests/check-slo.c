/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SLO report and the routing guard's triggers (pure), on fixed runs
 * and jobs whose figures were worked out by hand (written beside each
 * case): nearest-rank percentiles with ties, the field's definition of a
 * trusted pull request, fewer trusted runs than asked for, runs with no
 * jobs, jobs still queued, and each trigger held and not held; and
 * GitHub's run, pull request and job objects read (route-parse.c). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "route.h"
#include "slo.h"
#include "test-util.h"

/* ---- builders ---- */

struct fixture {
        struct slo_run runs[32];
        struct slo_job jobs[64];
        struct slo_run_view views[32];
        struct slo_input in;
};

static struct fixture fx;

static void fx_reset(time_t now) {
        memset(&fx, 0, sizeof fx);
        fx.in = (struct slo_input) { .now = now, .runs = fx.runs, .jobs = fx.jobs };
}

/* A pull-request run, newest first: add them in that order. WHO is
 * "trusted", "fork", "bot", "contributor" or "push". */
static struct slo_run *run(long long id, time_t created, const char *who) {
        struct slo_run *r = &fx.runs[fx.in.n_runs++];

        *r = (struct slo_run) { .id = id, .attempt = 1, .created = created, .pr = id, .same_repo = true,
                                .pr_known = true, .expect_self_hosted = 1, .job0 = fx.in.n_jobs, .jobs_known = true };
        snprintf(r->event, sizeof r->event, "%s", strcmp(who, "push") ? "pull_request" : "push");
        snprintf(r->status, sizeof r->status, "completed");
        snprintf(r->association, sizeof r->association, strcmp(who, "contributor") ? "MEMBER" : "CONTRIBUTOR");
        snprintf(r->author, sizeof r->author, strcmp(who, "bot") ? "alice" : "dependabot[bot]");
        r->author_bot = strcmp(who, "bot") == 0;
        if (strcmp(who, "fork") == 0)
                r->same_repo = false, r->pr = 0, r->pr_known = false;
        return r;
}

/* A job of the last run. STARTED 0: no runner took it; FIRST 0: no step
 * after "Set up job" began; COMPLETED 0: not over. */
static struct slo_job *job(bool self_hosted, time_t created, time_t started, time_t first, time_t completed,
                           const char *conclusion) {
        struct slo_run *r = &fx.runs[fx.in.n_runs - 1];
        struct slo_job *j = &fx.jobs[fx.in.n_jobs++];

        *j = (struct slo_job) { .id = 1000 + (long long) fx.in.n_jobs, .self_hosted = self_hosted, .created = created,
                                .started = started, .completed = completed, .first_step = first,
                                .step_begun = first != 0, .runner_id = started ? 7 : 0 };
        snprintf(j->status, sizeof j->status, completed ? "completed" : started ? "in_progress" : "queued");
        snprintf(j->conclusion, sizeof j->conclusion, "%s", conclusion ?: "");
        r->n_jobs++;
        return j;
}

static void report(unsigned last, struct slo_report *rep) {
        struct slo_thresholds t;

        slo_thresholds_default(&t);
        rep->views = fx.views;
        slo_compute(&fx.in, last, &t, rep);
}

/* ---- percentiles ---- */

START_TEST(test_percentile) {
        double ten[] = { 10, 1, 9, 2, 8, 3, 7, 4, 6, 5 };
        double twenty[20], ties[] = { 5, 7, 5, 5 }, one[] = { 42 }, flat[] = { 5, 5, 5, 5, 5, 5, 5, 5, 5, 200 };

        for (int i = 0; i < 20; i++)
                twenty[i] = 20 - i;
        ck_assert(slo_percentile(ten, 10, 95) == 10);          /* rank ceil(9.5) = 10 */
        ck_assert(slo_percentile(ten, 10, 50) == 5);           /* rank 5 */
        ck_assert(slo_percentile(twenty, 20, 95) == 19);       /* rank ceil(19.0) = 19, not 20 */
        ck_assert(slo_percentile(twenty, 20, 100) == 20);
        ck_assert(slo_percentile(twenty, 20, 0) == 1);         /* rank 0 is taken as 1 */
        ck_assert(slo_percentile(ties, 4, 50) == 5);           /* 5 5 5 7: rank 2 */
        ck_assert(slo_percentile(ties, 4, 95) == 7);           /* rank ceil(3.8) = 4 */
        ck_assert(slo_percentile(ties, 4, 75) == 5);           /* rank 3: a tie with ranks 1 and 2 */
        ck_assert(slo_percentile(one, 1, 95) == 42);
        ck_assert(slo_percentile(flat, 10, 90) == 5);          /* rank 9 */
        ck_assert(slo_percentile(flat, 10, 95) == 200);        /* rank 10: one slow job of ten shows */
}
END_TEST

/* ---- trust ---- */

START_TEST(test_classify) {
        struct slo_run *r;

        fx_reset(0);
        ck_assert_int_eq(slo_classify(run(1, 0, "trusted")), SLO_TRUSTED);
        ck_assert_int_eq(slo_classify(run(2, 0, "fork")), SLO_FORK);
        ck_assert_int_eq(slo_classify(run(3, 0, "bot")), SLO_BOT);
        ck_assert_int_eq(slo_classify(run(4, 0, "contributor")), SLO_ASSOCIATION);
        ck_assert_int_eq(slo_classify(run(5, 0, "push")), SLO_NOT_PULL_REQUEST);
        r = run(6, 0, "trusted");
        snprintf(r->association, sizeof r->association, "OWNER");
        ck_assert_int_eq(slo_classify(r), SLO_TRUSTED);
        snprintf(r->association, sizeof r->association, "COLLABORATOR");
        ck_assert_int_eq(slo_classify(r), SLO_TRUSTED);
        snprintf(r->association, sizeof r->association, "FIRST_TIME_CONTRIBUTOR");
        ck_assert_int_eq(slo_classify(r), SLO_ASSOCIATION);
        snprintf(r->association, sizeof r->association, "member");      /* GitHub's values are upper case */
        ck_assert_int_eq(slo_classify(r), SLO_ASSOCIATION);
        snprintf(r->association, sizeof r->association, "MEMBER");
        r->actor_bot = true;                                             /* a bot pushed to a member's branch */
        ck_assert_int_eq(slo_classify(r), SLO_BOT);
        r->actor_bot = false;
        r->pr_known = false;                                             /* the pull request could not be read */
        ck_assert_int_eq(slo_classify(r), SLO_TRUST_UNKNOWN);
        ck_assert(slo_login_is_bot("dependabot[bot]"));
        ck_assert(!slo_login_is_bot("[bot]"));
        ck_assert(!slo_login_is_bot("robot"));
}
END_TEST

/* ---- the report ---- */

/* Six runs, newest first (now = 2000):
 *   r6 trusted, self-hosted: created 1000, started 1030, first step 1040: wait 30, setup 10, started
 *   r5 trusted, self-hosted: created 900, started 960, first step 1000:   wait 60, setup 40, started
 *   r4 fork, hosted, created 950:                                        routing ok
 *   r3 trusted, self-hosted, never claimed: created 800, cancelled 900:  wait 100, never-claimed
 *   r2 trusted, no jobs:                                                 counted in no figure
 *   r1 trusted while routing was on, sent to hosted labels:             a routing mismatch */
static void six_runs(void) {
        fx_reset(2000);
        run(6, 1000, "trusted");
        job(true, 1000, 1030, 1040, 1100, "success");
        run(5, 900, "trusted");
        job(true, 900, 960, 1000, 1050, "failure");     /* a failing test is not a runner failure */
        run(4, 950, "fork");
        job(false, 950, 955, 960, 990, "success");
        run(3, 800, "trusted");
        job(true, 800, 0, 0, 900, "cancelled");
        run(2, 700, "trusted");
        run(1, 600, "trusted");
        job(false, 600, 610, 615, 650, "success");
}

START_TEST(test_report_all) {
        struct slo_report rep;

        six_runs();
        report(50, &rep);                               /* fewer trusted runs (5) than asked for (50) */
        ck_assert_int_eq(rep.n_trusted, 5);
        ck_assert_int_eq(rep.n_untrusted, 1);
        /* lifecycle: r6, r5 started, r3 never claimed: 2 of 3 */
        ck_assert_int_eq(rep.lifecycle.verdict, SLO_FAIL);
        ck_assert(rep.lifecycle.value > 66.66 && rep.lifecycle.value < 66.67);
        ck_assert_int_eq(rep.lifecycle.n_jobs, 3);
        ck_assert_int_eq(rep.lifecycle.n_runs, 3);
        /* routing: r6 r5 r3 self-hosted (on), r4 hosted (fork), r1 hosted (on): 4 of 5; r2 not judged */
        ck_assert_int_eq(rep.routing.verdict, SLO_FAIL);
        ck_assert(rep.routing.value > 79.99 && rep.routing.value < 80.01);
        ck_assert_int_eq(rep.routing.n_runs, 5);
        ck_assert_int_eq(fx.views[5].routing_ok, 0);    /* r1 */
        ck_assert_int_eq(fx.views[4].routing_ok, -1);   /* r2: no jobs */
        ck_assert_int_eq(fx.views[4].route, SLO_ROUTE_NONE);
        /* queue wait: 30 60 100, p95 rank 3 = 100 <= 120 */
        ck_assert_int_eq(rep.queue_wait.verdict, SLO_PASS);
        ck_assert(rep.queue_wait.value == 100);
        ck_assert_int_eq(rep.queue_wait.n_jobs, 3);
        /* setup: 10 40, p95 rank 2 = 40 */
        ck_assert_int_eq(rep.setup.verdict, SLO_PASS);
        ck_assert(rep.setup.value == 40);
        ck_assert_int_eq(rep.setup.n_runs, 2);
        ck_assert_int_eq(rep.verdict, SLO_FAIL);
        ck_assert_int_eq(fx.views[3].life, SLO_LIFE_NEVER_CLAIMED);
        ck_assert_int_eq(fx.views[1].life, SLO_LIFE_STARTED);   /* failed tests: the runner did its part */
}
END_TEST

START_TEST(test_report_window) {
        struct slo_report rep;

        six_runs();
        report(2, &rep);                        /* r6 r5, and the fork run r4 made since r5 (950 >= 900) */
        ck_assert_int_eq(rep.n_trusted, 2);
        ck_assert_int_eq(rep.n_untrusted, 1);
        ck_assert(fx.views[2].in_window && !fx.views[3].in_window && !fx.views[5].in_window);
        ck_assert_int_eq(rep.lifecycle.verdict, SLO_PASS);
        ck_assert(rep.lifecycle.value == 100);
        ck_assert_int_eq(rep.routing.verdict, SLO_PASS);
        ck_assert_int_eq(rep.routing.n_runs, 3);
        ck_assert(rep.queue_wait.value == 60);  /* 30 60: rank 2 */
        ck_assert(rep.setup.value == 40);
        ck_assert_int_eq(rep.verdict, SLO_PASS);
}
END_TEST

START_TEST(test_report_edges) {
        struct slo_report rep;
        struct slo_run *r;

        fx_reset(1000);
        report(50, &rep);                       /* no runs at all */
        ck_assert_int_eq(rep.verdict, SLO_NO_DATA);
        ck_assert_int_eq(rep.lifecycle.verdict, SLO_NO_DATA);
        ck_assert_int_eq(rep.queue_wait.verdict, SLO_NO_DATA);

        run(3, 900, "trusted");                 /* a job still queued 100 s: pending, waited 100 s so far */
        job(true, 900, 0, 0, 0, NULL);
        run(2, 800, "trusted");                 /* a job skipped by its condition: not a runner failure */
        job(true, 800, 0, 0, 810, "skipped");
        r = run(1, 700, "trusted");             /* routing's state when it was made is not known */
        r->expect_self_hosted = -1;
        job(true, 700, 705, 0, 706, "failure");   /* taken, lost before any step */
        report(50, &rep);
        ck_assert_int_eq(rep.n_pending, 2);
        ck_assert_int_eq(rep.lifecycle.n_jobs, 1);
        ck_assert(rep.lifecycle.value == 0);
        ck_assert_int_eq(fx.views[2].life, SLO_LIFE_RUNNER_LOST);
        ck_assert_int_eq(rep.routing.n_runs, 2);  /* r1 not judged */
        ck_assert(rep.queue_wait.value == 100);   /* 100 (so far) and 5: rank 2 */
        ck_assert_int_eq(rep.setup.verdict, SLO_NO_DATA);
        ck_assert_int_eq(rep.verdict, SLO_FAIL);
}
END_TEST

/* ---- the guard ---- */

static void evaluate(time_t since, const struct route_offline *off, size_t n_off, struct route_verdict *v) {
        struct slo_thresholds t;

        slo_thresholds_default(&t);
        route_evaluate(&fx.in, since, off, n_off, &t, v);
}

START_TEST(test_guard_boot) {
        struct route_verdict v;

        fx_reset(2000);
        run(4, 1000, "trusted");
        job(true, 1000, 0, 0, 1200, "cancelled");       /* never claimed */
        run(3, 900, "trusted");
        job(true, 900, 905, 0, 910, "failure");         /* runner lost */
        run(2, 800, "trusted");
        job(true, 800, 805, 810, 900, "success");
        evaluate(0, NULL, 0, &v);
        ck_assert(v.held[RT_BOOT_FAILURE]);
        ck_assert_reason_has(v.evidence[RT_BOOT_FAILURE], "trusted runs 3 to 4");
        evaluate(950, NULL, 0, &v);                     /* routing enabled after run 3: one failure only */
        ck_assert(!v.held[RT_BOOT_FAILURE]);

        fx_reset(2000);                                 /* failure, success, failure: not in a row */
        run(3, 1000, "trusted");
        job(true, 1000, 0, 0, 1050, "cancelled");      /* waited 50 s: under the queue-wait trigger */
        run(2, 900, "trusted");
        job(true, 900, 905, 910, 950, "success");
        run(1, 800, "trusted");
        job(true, 800, 0, 0, 850, "cancelled");
        evaluate(0, NULL, 0, &v);
        ck_assert(!v.held[RT_BOOT_FAILURE]);
        ck_assert_int_eq(v.n_held, 0);
}
END_TEST

START_TEST(test_guard_queue) {
        struct route_verdict v;

        fx_reset(2000);
        for (int i = 12; i > 0; i--) {                   /* 12 runs; the latest 10 count */
                run(i, 1000 + i, "trusted");
                job(true, 1000 + i, 1010 + i, 1011 + i, 1020 + i, "success");   /* waited 10 s */
        }
        evaluate(0, NULL, 0, &v);
        ck_assert(!v.held[RT_QUEUE_WAIT]);
        ck_assert(v.queue_p95 == 10);
        ck_assert_int_eq(v.queue_runs, 10);
        fx.jobs[0].runner_id = 0, fx.jobs[0].started = 0, fx.jobs[0].first_step = 0, fx.jobs[0].completed = 0;
        fx.jobs[0].step_begun = false;
        snprintf(fx.jobs[0].status, sizeof fx.jobs[0].status, "queued");   /* the newest waits 2000-1012 s */
        evaluate(0, NULL, 0, &v);
        ck_assert(v.held[RT_QUEUE_WAIT]);
        ck_assert(v.queue_p95 == 988);
        ck_assert_reason_has(v.evidence[RT_QUEUE_WAIT], "p95 queue wait 988 s");
        fx.in.now = 1012 + 120;                          /* exactly the threshold: not over it */
        evaluate(0, NULL, 0, &v);
        ck_assert(!v.held[RT_QUEUE_WAIT]);
        fx.jobs[11].created = 0;                         /* a run the window leaves out changes nothing */
        evaluate(0, NULL, 0, &v);
        ck_assert(v.queue_p95 == 120);
}
END_TEST

START_TEST(test_guard_offline_mismatch) {
        struct route_offline off[] = {
                { .name = "lane-a", .since = 100, .recovery = 0 },          /* no recovery tried yet */
                { .name = "pool-b", .since = 100, .recovery = 1500 },       /* 500 s after it */
        };
        struct route_verdict v;
        struct slo_run *r;

        fx_reset(2000);
        run(2, 1000, "fork");
        job(false, 1000, 1001, 1002, 1010, "success");
        r = run(1, 900, "trusted");
        r->expect_self_hosted = 0;                       /* routing was off: hosted is right */
        job(false, 900, 901, 902, 910, "success");
        evaluate(0, off, 2, &v);
        ck_assert_int_eq(v.n_held, 0);
        off[1].recovery = 1399;                          /* 601 s after the recovery attempt */
        evaluate(0, off, 2, &v);
        ck_assert(v.held[RT_OFFLINE]);
        ck_assert_reason_has(v.evidence[RT_OFFLINE], "pool-b offline 601 s");
        fx.jobs[0].self_hosted = true;                   /* an untrusted run on self-hosted labels */
        evaluate(0, NULL, 0, &v);
        ck_assert(v.held[RT_MISMATCH]);
        ck_assert_reason_has(v.evidence[RT_MISMATCH], "untrusted run 2 (fork) went to self-hosted labels");
        evaluate(1001, NULL, 0, &v);                     /* made before routing was last enabled */
        ck_assert(!v.held[RT_MISMATCH]);
}
END_TEST

/* The routing record's offline list kept across writers: a note made
 * while another holds the lock waits for it and keeps what it wrote. */
START_TEST(test_record_lock) {
        char dir[] = "/tmp/check-slo-XXXXXX";
        struct route_state st;
        int fd, lock, status;
        pid_t pid;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(route_note_offline(fd, "Acme/Site", "V", "pool web", true, false, 1000), 0);
        ck_assert_int_eq(route_note_offline(fd, "acme/site", "V", "pool web", true, true, 1010), 0);
        lock = route_state_lock(fd, "acme/site");
        ck_assert_int_ge(lock, 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0 && close(lock) == 0)   /* waits for the parent's lock, then adds its lane to what it wrote */
                _exit(route_note_offline(fd, "acme/site", "V", "lane-a", true, false, 1020) == 0 ? 0 : 1);
        usleep(300 * 1000);
        ck_assert_int_eq(route_state_load(fd, "acme/site", "V", &st), 0);
        route_state_offline(&st, "pool web", false, false, 1015);       /* online again */
        route_state_offline(&st, "lane-b", true, true, 1015);
        ck_assert_int_eq(route_state_save(fd, &st), 0);
        close(lock);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ck_assert_int_eq(route_state_load(fd, "acme/site", "V", &st), 0);
        ck_assert_uint_eq(st.n_offline, 2);
        ck_assert_str_eq(st.offline[0].name, "lane-b");
        ck_assert_int_eq(st.offline[0].recovery, 1015);
        ck_assert_str_eq(st.offline[1].name, "lane-a");
        ck_assert_int_eq(st.offline[1].since, 1020);
        ck_assert_int_eq(st.offline[1].recovery, 0);
        ck_assert_int_eq(route_state_load(fd, "acme/site", "W", &st), -ENOENT);  /* another variable's record */
        ck_assert_int_eq(unlinkat(fd, "route-acme+site.json", 0), 0);
        ck_assert_int_eq(unlinkat(fd, "route-acme+site.lock", 0), 0);
        close(fd);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_stages) {
        fx_reset(2000);
        ck_assert_uint_eq(route_stage_size(0), 1);
        ck_assert_uint_eq(route_stage_size(1), 10);
        ck_assert_uint_eq(route_stage_size(2), 25);
        ck_assert_uint_eq(route_stage_size(3), 0);
        run(3, 1000, "trusted");
        job(true, 1000, 1001, 1002, 1010, "success");
        run(2, 900, "fork");
        job(false, 900, 901, 902, 910, "success");
        run(1, 800, "trusted");
        job(true, 800, 801, 802, 810, "success");
        snprintf(fx.runs[0].status, sizeof fx.runs[0].status, "in_progress");
        ck_assert_uint_eq(route_stage_count(&fx.in, 0), 1);     /* r1; r3 has not ended, r2 is a fork */
        ck_assert_uint_eq(route_stage_count(&fx.in, 801), 0);
        ck_assert_int_eq(route_trigger_from_string("queue-wait"), RT_QUEUE_WAIT);
        ck_assert_int_eq(route_trigger_from_string("nope"), _RT_INVALID);
        ck_assert_str_eq(slo_life_to_string(SLO_LIFE_RUNNER_LOST), "runner-lost");
}
END_TEST

/* ---- GitHub's objects (route-parse.c) ---- */

static const char run_same[] =
        "{\"id\": 30433642, \"run_attempt\": 1, \"event\": \"pull_request\", \"status\": \"completed\","
        " \"conclusion\": \"success\", \"html_url\": \"https://github.com/acme/site/actions/runs/30433642\","
        " \"created_at\": \"2026-11-20T10:00:00Z\", \"pull_requests\": [{\"id\": 1, \"number\": 42, \"url\": \"u\","
        " \"head\": {\"ref\": \"t\", \"sha\": \"s\", \"repo\": {\"id\": 1, \"url\": \"u\", \"name\": \"site\"}},"
        " \"base\": {\"ref\": \"main\", \"sha\": \"s\", \"repo\": {\"id\": 1, \"url\": \"u\", \"name\": \"site\"}}}],"
        " \"actor\": {\"login\": \"alice\", \"type\": \"User\"}, \"triggering_actor\": {\"login\": \"alice\", \"type\": \"User\"},"
        " \"repository\": {\"full_name\": \"acme/site\"}, \"head_repository\": {\"full_name\": \"Acme/Site\"}}";
static const char run_fork[] =
        "{\"id\": 7, \"event\": \"pull_request\", \"status\": \"queued\", \"pull_requests\": [],"
        " \"actor\": {\"login\": \"mallory\", \"type\": \"User\"}, \"created_at\": \"2026-11-20T10:00:00Z\","
        " \"repository\": {\"full_name\": \"acme/site\"}, \"head_repository\": {\"full_name\": \"mallory/site\"}}";
static const char run_bot[] =
        "{\"id\": 8, \"event\": \"pull_request\", \"status\": \"queued\", \"pull_requests\": [],"
        " \"actor\": {\"login\": \"renovate\", \"type\": \"Bot\"},"
        " \"repository\": {\"full_name\": \"acme/site\"}, \"head_repository\": {\"full_name\": \"acme/site\"}}";
static const char pull[] = "{\"number\": 42, \"author_association\": \"COLLABORATOR\","
                           " \"user\": {\"login\": \"alice\", \"type\": \"User\"}}";
/* steps: GitHub's own "Set up job", a skipped step (GitHub stamps its times too), then the first that ran */
static const char job_ran[] =
        "{\"id\": 99, \"status\": \"completed\", \"conclusion\": \"failure\", \"runner_id\": 5,"
        " \"runner_name\": \"web-1\", \"labels\": [\"Self-Hosted\", \"pool-web\"],"
        " \"created_at\": \"2026-11-20T10:00:00Z\", \"started_at\": \"2026-11-20T10:00:30Z\","
        " \"completed_at\": \"2026-11-20T10:05:00Z\", \"steps\": ["
        " {\"name\": \"Set up job\", \"number\": 1, \"status\": \"completed\", \"conclusion\": \"success\","
        "  \"started_at\": \"2026-11-20T10:00:30Z\"},"
        " {\"name\": \"Cache\", \"number\": 2, \"status\": \"completed\", \"conclusion\": \"skipped\","
        "  \"started_at\": \"2026-11-20T10:00:31Z\"},"
        " {\"name\": \"Test\", \"number\": 3, \"status\": \"completed\", \"conclusion\": \"failure\","
        "  \"started_at\": \"2026-11-20T10:00:45Z\"}]}";
static const char job_queued[] =
        "{\"id\": 100, \"status\": \"queued\", \"conclusion\": null, \"runner_id\": null, \"labels\": [\"ubuntu-latest\"],"
        " \"created_at\": \"2026-11-20T10:00:00Z\", \"started_at\": \"2026-11-20T10:00:00Z\", \"steps\": []}";

START_TEST(test_parse) {
        static const char labels[2][PROTO_LABEL_MAX + 1] = { "self-hosted", "lk-bench" };
        struct json_object *o;
        struct slo_run r;
        struct slo_job j;

        ck_assert_ptr_nonnull(o = json_tokener_parse(run_same));
        ck_assert_int_eq(route_parse_run(o, &r), 0);
        json_object_put(o);
        ck_assert(r.same_repo && r.pr == 42 && !r.actor_bot && !r.pr_known && r.expect_self_hosted == -1);
        ck_assert_int_eq(slo_classify(&r), SLO_TRUST_UNKNOWN);          /* until its pull request is read */
        ck_assert_ptr_nonnull(o = json_tokener_parse(pull));
        ck_assert_int_eq(route_parse_pull(o, &r), 0);
        json_object_put(o);
        ck_assert_int_eq(slo_classify(&r), SLO_TRUSTED);
        ck_assert_ptr_nonnull(o = json_tokener_parse(run_fork));
        ck_assert_int_eq(route_parse_run(o, &r), 0);
        json_object_put(o);
        ck_assert(!r.same_repo && r.pr == 0);
        ck_assert_int_eq(slo_classify(&r), SLO_FORK);
        ck_assert_ptr_nonnull(o = json_tokener_parse(run_bot));
        ck_assert_int_eq(route_parse_run(o, &r), 0);
        json_object_put(o);
        ck_assert_int_eq(slo_classify(&r), SLO_BOT);
        ck_assert_ptr_nonnull(o = json_tokener_parse(job_ran));
        ck_assert_int_eq(route_parse_job(o, labels, 2, &j), 0);
        json_object_put(o);
        ck_assert(j.self_hosted && j.step_begun && j.runner_id == 5);
        ck_assert_int_eq(j.first_step - j.started, 15);                /* "Test", not the skipped "Cache" */
        ck_assert_int_eq(slo_job_life(&j), SLO_LIFE_STARTED);
        ck_assert_ptr_nonnull(o = json_tokener_parse(job_queued));
        ck_assert_int_eq(route_parse_job(o, labels, 2, &j), 0);
        json_object_put(o);
        ck_assert(!j.self_hosted && !j.step_begun && j.started == 0);   /* a queued job's started_at is not a start */
        ck_assert_ptr_nonnull(o = json_tokener_parse("{\"id\": 1}"));
        ck_assert_int_eq(route_parse_run(o, &r), -EPROTO);
        ck_assert_int_eq(route_parse_job(o, labels, 2, &j), -EPROTO);
        json_object_put(o);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("slo");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_percentile);
        tcase_add_test(tc, test_classify);
        tcase_add_test(tc, test_report_all);
        tcase_add_test(tc, test_report_window);
        tcase_add_test(tc, test_report_edges);
        tcase_add_test(tc, test_guard_boot);
        tcase_add_test(tc, test_guard_queue);
        tcase_add_test(tc, test_guard_offline_mismatch);
        tcase_add_test(tc, test_record_lock);
        tcase_add_test(tc, test_stages);
        tcase_add_test(tc, test_parse);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(suite());
}
