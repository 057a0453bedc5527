/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The health planner on fixed snapshots: each check's detection, what it
 * must leave alone, the caps, the queue per label set, and the parsers of
 * GitHub's run and job objects. */
#include <check.h>
#include <json-c/json.h>
#include <string.h>

#include "health-gather.h"
#include "health.h"
#include "test-util.h"

#define NOW 1800000000

static struct lane_desired desired[2];
static struct hlane lanes[2];
static struct health_snapshot s;
static struct health_settings hs;

static void labels(struct hlabels *l, const char *csv) {
        char buf[512], *save = NULL;

        *l = (struct hlabels) {};
        snprintf(buf, sizeof buf, "%s", csv);
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
                snprintf(l->v[l->n++], sizeof l->v[0], "%s", t);
}

/* Two lanes (lane-a: self-hosted,X64; lane-b: self-hosted,only-b, busy
 * and online), one repository acme/site (default branch main). */
static void setup(void) {
        health_snapshot_free(&s);
        memset(desired, 0, sizeof desired);
        for (int i = 0; i < 2; i++) {
                snprintf(desired[i].name, sizeof desired[i].name, "lane-%c", 'a' + i);
                snprintf(desired[i].repository, sizeof desired[i].repository, "acme/site");
                desired[i].n_labels = 2;
                snprintf(desired[i].labels[0], sizeof desired[i].labels[0], "self-hosted");
                snprintf(desired[i].labels[1], sizeof desired[i].labels[1], i ? "only-b" : "X64");
                lanes[i] = (struct hlane) { .d = &desired[i], .enabled = true };
                lanes[i].o = (struct observation) { .github_known = true, .unit_known = true, .unit_exists = true,
                                                    .unit_managed = true, .local_configured = true, .n_runners = 1 };
                snprintf(lanes[i].o.unit_active, sizeof lanes[i].o.unit_active, "active");
                lanes[i].o.runners[0] = (struct obs_runner) { .id = 10 + i, .online = true, .busy = i == 1 };
        }
        s = (struct health_snapshot) { .now = NOW, .n_repos = 1, .lanes = lanes, .n_lanes = 2, .runners_known = true };
        snprintf(s.repos[0].name, sizeof s.repos[0].name, "acme/site");
        snprintf(s.repos[0].default_branch, sizeof s.repos[0].default_branch, "main");
        s.repos[0].known = true;
        hs = (struct health_settings) { .stale_job_hours = 4, .superseded = true, .pr_priority_threshold = 2,
                                        .max_cancels = 10, .max_reruns = 5, .max_restarts = 3,
                                        .max_clock_offset_s = 60 };
}

/* A run with one job per LABELS (";"-separated sets), AGE seconds old. */
static long long run(const char *branch, const char *event, long long age, const char *status, const char *sets) {
        struct hrun r = { .id = 1000 + (long long) s.n_runs, .workflow_id = 7, .attempt = 1, .repo = 0,
                          .created = NOW - age, .job0 = s.n_jobs, .jobs_known = true };
        char buf[512], *save = NULL;

        snprintf(r.branch, sizeof r.branch, "%s", branch);
        snprintf(r.event, sizeof r.event, "%s", event);
        snprintf(r.status, sizeof r.status, "%s", status);
        snprintf(buf, sizeof buf, "%s", sets);
        for (char *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
                struct hjob j = { .id = 5000 + (long long) s.n_jobs, .run_id = r.id, .created = NOW - age };

                snprintf(j.name, sizeof j.name, "job%zu", s.n_jobs);
                snprintf(j.status, sizeof j.status, "%s", strcmp(status, "in_progress") ? "queued" : "in_progress");
                if (!strcmp(status, "in_progress"))
                        j.runner_id = 11;   /* lane-b's */
                labels(&j.labels, t);
                ck_assert_int_eq(health_add_job(&s, &j), 0);
        }
        r.n_jobs = s.n_jobs - r.job0;
        ck_assert_int_eq(health_add_run(&s, &r), 0);
        return r.id;
}

static size_t count(const struct health_plan *p, enum health_verb v, enum health_result res) {
        size_t n = 0;

        for (size_t i = 0; i < p->n_actions; i++)
                n += p->actions[i].verb == v && p->actions[i].result == res;
        return n;
}

static bool cancels(const struct health_plan *p, long long run_id) {
        for (size_t i = 0; i < p->n_actions; i++)
                if (p->actions[i].verb == HV_CANCEL_RUN && p->actions[i].run_id == run_id)
                        return true;
        return false;
}

static bool found(const struct health_plan *p, const char *text) {
        for (size_t i = 0; i < p->n_findings; i++)
                if (strstr(p->findings[i].text, text))
                        return true;
        return false;
}

START_TEST(test_labels) {
        struct hlabels want, have;

        labels(&want, "Self-Hosted,ONLY-B");
        labels(&have, "self-hosted,only-b,extra");
        ck_assert(health_labels_match(&want, &have));
        labels(&want, "self-hosted,gpu");
        ck_assert(!health_labels_match(&want, &have));
        labels(&want, "");
        ck_assert(!health_labels_match(&want, &have));   /* no labels: nobody's to claim */
        labels(&want, "only-b");
        want.truncated = true;
        ck_assert(!health_labels_match(&want, &have));   /* more than we kept: never assumed ours */
}
END_TEST

START_TEST(test_stale) {
        struct health_plan p;
        long long a = run("x", "push", 5 * 3600, "queued", "self-hosted,only-b");
        long long b = run("y", "push", 5 * 3600, "queued", "only-b");
        long long c = run("z", "push", 5 * 3600, "queued", "ONLY-B");
        long long young = run("w", "push", 3 * 3600, "queued", "only-b");
        long long foreign = run("v", "push", 9 * 3600, "queued", "elsewhere");
        long long mixed = run("u", "push", 9 * 3600, "queued", "only-b;ubuntu-latest");
        bool only[_HC_MAX] = { [HC_STALE] = true };

        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(count(&p, HV_CANCEL_RUN, HR_PLANNED), 3);   /* all three in one cycle */
        ck_assert(cancels(&p, a) && cancels(&p, b) && cancels(&p, c));
        ck_assert(!cancels(&p, young) && !cancels(&p, foreign) && !cancels(&p, mixed));
        ck_assert(found(&p, "is queued for ubuntu-latest, not this host's"));
        for (size_t i = 0; i < p.n_findings; i++)
                ck_assert(!p.findings[i].degraded);
        hs.max_cancels = 2;
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(count(&p, HV_CANCEL_RUN, HR_PLANNED), 2);
        ck_assert_uint_eq(count(&p, HV_CANCEL_RUN, HR_CAPPED), 1);
        hs.stale_job_hours = 10;
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(p.n_actions, 0);
}
END_TEST

START_TEST(test_superseded) {
        struct health_plan p;
        bool only[_HC_MAX] = { [HC_SUPERSEDED] = true };
        long long f1 = run("feat", "push", 300, "queued", "only-b");
        long long f2 = run("feat", "push", 200, "queued", "only-b");
        long long f3 = run("feat", "push", 100, "queued", "only-b");
        long long pr = run("feat", "pull_request", 250, "queued", "only-b");   /* another event: its own group */
        long long m1 = run("main", "push", 300, "queued", "only-b");
        long long m2 = run("main", "push", 100, "queued", "only-b");
        long long r1 = run("busy", "push", 300, "in_progress", "only-b");     /* on lane-b: ours */
        long long r2 = run("busy", "push", 100, "queued", "only-b");
        long long o1 = run("other", "push", 300, "queued", "elsewhere");
        long long o2 = run("other", "push", 100, "queued", "elsewhere");

        health_plan(&s, &hs, only, &p);
        ck_assert(cancels(&p, f1) && cancels(&p, f2) && !cancels(&p, f3) && !cancels(&p, pr));
        ck_assert(!cancels(&p, m1) && !cancels(&p, m2));
        ck_assert(found(&p, "default branch"));
        ck_assert(cancels(&p, r1) && !cancels(&p, r2));
        ck_assert(!cancels(&p, o1) && !cancels(&p, o2));
        s.jobs[s.runs[6].job0].runner_id = 99;   /* r1 now runs on a runner not ours */
        health_plan(&s, &hs, only, &p);
        ck_assert(!cancels(&p, r1));
        ck_assert(found(&p, "not this host's"));
        hs.cancel_default_branch = true;
        health_plan(&s, &hs, only, &p);
        ck_assert(cancels(&p, m1) && !cancels(&p, m2));
        s.repos[0].default_branch[0] = '\0';   /* unknown: nothing is assumed */
        health_plan(&s, &hs, only, &p);
        ck_assert(!cancels(&p, f1) && found(&p, "default branch could not be read"));
        hs.superseded = false;
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(p.n_actions, 0);
}
END_TEST

START_TEST(test_pr_priority) {
        struct health_plan p;
        bool only[_HC_MAX] = { [HC_PR_PRIORITY] = true };
        long long push_dev, push_main, push_running;

        for (int i = 0; i < 3; i++) {
                char b[16];

                snprintf(b, sizeof b, "pr-%d", i);
                run(b, "pull_request", 60, "queued", "only-b");
        }
        push_dev = run("dev", "push", 60, "queued", "only-b");
        push_main = run("main", "push", 60, "queued", "only-b");
        push_running = run("dev2", "push", 60, "in_progress", "only-b");
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(p.n_actions, 0);   /* off unless switched on */
        hs.pr_priority = true;
        health_plan(&s, &hs, only, &p);
        ck_assert(cancels(&p, push_dev) && !cancels(&p, push_main) && !cancels(&p, push_running));
        hs.pr_priority_threshold = 3;   /* three PR runs are not more than three */
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(p.n_actions, 0);
}
END_TEST

START_TEST(test_offline) {
        struct health_plan p;
        bool only[_HC_MAX] = { [HC_OFFLINE] = true, [HC_CLOCK] = true };

        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(p.n_actions + p.n_findings, 0);
        snprintf(lanes[0].o.unit_active, sizeof lanes[0].o.unit_active, "failed");
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(count(&p, HV_RESTART, HR_PLANNED), 1);
        ck_assert_int_eq(p.actions[0].lane, 0);
        snprintf(lanes[0].o.unit_active, sizeof lanes[0].o.unit_active, "active");
        lanes[0].o.runners[0].online = false;
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(p.n_actions, 0);   /* offline, nothing waits: reported */
        ck_assert(p.n_findings == 1 && p.findings[0].degraded && found(&p, "no job waits"));
        run("q", "push", 60, "queued", "self-hosted,X64");
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(count(&p, HV_RESTART, HR_PLANNED), 1);
        lanes[0].o.n_runners = 0;   /* GitHub lists it no more, .runner is here */
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(count(&p, HV_REREGISTER, HR_PLANNED), 1);
        s.have_offset = true;
        s.clock_offset_s = -75;
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(p.n_actions, 0);
        ck_assert(found(&p, "not re-registered while the clock is -75 s off"));
        ck_assert(found(&p, "timedatectl set-ntp true"));
        lanes[0].enabled = false;
        s.clock_offset_s = 0;
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(p.n_actions, 0);
        lanes[0].enabled = true;
        lanes[0].o.unit_managed = false;
        health_plan(&s, &hs, only, &p);
        ck_assert(p.n_actions == 0 && found(&p, "no lanekeeper unit"));
        lanes[0].o.unit_managed = true;
        hs.max_restarts = 0;
        lanes[0].o.n_runners = 1;
        snprintf(lanes[0].o.unit_active, sizeof lanes[0].o.unit_active, "inactive");
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(count(&p, HV_RESTART, HR_CAPPED), 1);
        /* drained: stopped on purpose, left alone, not degraded; a hold that cannot be read is */
        hs.max_restarts = 3;
        snprintf(lanes[0].o.hold, sizeof lanes[0].o.hold, "drained");
        snprintf(lanes[0].o.hold_reason, sizeof lanes[0].o.hold_reason, "kernel update");
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(p.n_actions, 0);
        ck_assert(found(&p, "drained since") && found(&p, "lanectl undrain"));
        for (size_t i = 0; i < p.n_findings; i++)
                ck_assert(!p.findings[i].degraded || p.findings[i].check == HC_CLOCK);
        snprintf(lanes[0].o.hold, sizeof lanes[0].o.hold, "unknown");
        health_plan(&s, &hs, only, &p);
        ck_assert(p.n_actions == 0 && found(&p, "cannot be read"));

        /* draining (a drain's --wait ran out under a job): finished once idle, never under a job */
        snprintf(lanes[0].o.hold, sizeof lanes[0].o.hold, "draining");
        snprintf(lanes[0].o.unit_active, sizeof lanes[0].o.unit_active, "active");
        lanes[0].o.runners[0].busy = true;
        health_plan(&s, &hs, only, &p);
        ck_assert(p.n_actions == 0 && found(&p, "draining since"));
        lanes[0].o.runners[0].busy = false;
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(count(&p, HV_FINISH_DRAIN, HR_PLANNED), 1);
        ck_assert_str_eq(health_verb_to_string(HV_FINISH_DRAIN), "finish-drain");
        hs.max_restarts = 0;
        health_plan(&s, &hs, only, &p);
        ck_assert_uint_eq(count(&p, HV_FINISH_DRAIN, HR_CAPPED), 1);   /* the restarts' cap holds it too */
        hs.max_restarts = 3;
        lanes[0].o.hold[0] = '\0';
}
END_TEST

/* The log says which entry: only one under the lane's own cache counts. */
START_TEST(test_cache_log) {
        static const char log[] = "2026-11-27T10:00:00Z Download action repository 'acme/hello@v1'\n"
                                  "##[error]Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under "
                                  "'/srv/r/lane-a/_work/_actions/acme/hello/v1'. Did you forget to run "
                                  "actions/checkout before running your local action?\n";
        static const char other[] = "##[error]Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under "
                                    "'/srv/r/lane-b/_work/_actions/acme/hello/v1'.\n";
        static const char workspace[] = "##[error]Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under "
                                        "'/srv/r/lane-a/_work/site/site/.github/actions/x'.\n";
        char path[200] = "";

        ck_assert(health_log_cache_damage(log, strlen(log), "/srv/r/lane-a", path, sizeof path));
        ck_assert_str_eq(path, "/srv/r/lane-a/_work/_actions/acme/hello/v1");
        ck_assert(!health_log_cache_damage(other, strlen(other), "/srv/r/lane-a", path, sizeof path));
        /* a local action missing in the workspace is the workflow's fault, not the cache's */
        ck_assert(!health_log_cache_damage(workspace, strlen(workspace), "/srv/r/lane-a", path, sizeof path));
        ck_assert(!health_log_cache_damage(log, 60, "/srv/r/lane-a", path, sizeof path));
}
END_TEST

/* Damage found: the lane's cache cleared, then the run rerun once; a
 * busy lane waits; a stale cache is pruned without a rerun; caps hold. */
START_TEST(test_cache_plan) {
        struct health_plan p;
        long long id = run("feature", "push", 600, "completed", "self-hosted,X64");

        strcpy(s.runs[0].conclusion, "failure");
        s.n_cache_hits = 2;
        s.cache_hits[0] = (struct hcache_hit) { .repo = 0, .run_id = id, .job_id = 5000, .attempt = 1, .lane = 0,
                                                .rerun_ok = true, .path = "/srv/r/lane-a/_work/_actions/acme/x/v1" };
        s.cache_hits[1] = (struct hcache_hit) { .repo = 0, .run_id = 77, .job_id = 5001, .attempt = 2, .lane = 0,
                                                .reran_before = true, .path = "/srv/r/lane-a/_work/_actions/acme/x/v1" };
        health_plan(&s, &hs, NULL, &p);
        ck_assert_int_eq(count(&p, HV_CLEAR_CACHE, HR_PLANNED), 1);
        ck_assert_int_eq(count(&p, HV_RERUN_FAILED, HR_PLANNED), 1);
        for (size_t i = 0; i < p.n_actions; i++)
                if (p.actions[i].verb == HV_RERUN_FAILED) {
                        ck_assert_int_eq(p.actions[i].run_id, id);
                        ck_assert_int_ge(p.actions[i].after, 0);
                        ck_assert_int_eq(p.actions[p.actions[i].after].verb, HV_CLEAR_CACHE);
                        ck_assert_int_eq(p.actions[p.actions[i].after].max_age_days, 0);
                }
        ck_assert(found(&p, "reran it once already"));
        /* the same damage on a busy lane: nothing done, degraded */
        s.cache_hits[0].lane = s.cache_hits[1].lane = 1;
        health_plan(&s, &hs, NULL, &p);
        ck_assert_int_eq(count(&p, HV_CLEAR_CACHE, HR_PLANNED), 0);
        ck_assert_int_eq(count(&p, HV_RERUN_FAILED, HR_PLANNED), 0);
        ck_assert(found(&p, "it runs a job now"));
        /* no damage, entries older than the limit: pruned, no rerun */
        s.n_cache_hits = 0;
        hs.cache_max_age_days = 7;
        lanes[0].have_cache = true;
        lanes[0].cache = (struct proto_cache_stats) { .entries = 3, .oldest = NOW - 9 * 86400 };
        health_plan(&s, &hs, NULL, &p);
        ck_assert_int_eq(count(&p, HV_CLEAR_CACHE, HR_PLANNED), 1);
        ck_assert_int_eq(p.actions[0].max_age_days, 7);
        ck_assert_int_eq(count(&p, HV_RERUN_FAILED, HR_PLANNED), 0);
        /* within the limit: nothing */
        lanes[0].cache.oldest = NOW - 6 * 86400;
        health_plan(&s, &hs, NULL, &p);
        ck_assert_int_eq(count(&p, HV_CLEAR_CACHE, HR_PLANNED), 0);
        /* the clear is a restart: max_restarts caps it */
        lanes[0].cache.damaged = 1;
        hs.max_restarts = 0;
        health_plan(&s, &hs, NULL, &p);
        ck_assert_int_eq(count(&p, HV_CLEAR_CACHE, HR_CAPPED), 1);
}
END_TEST

START_TEST(test_queue) {
        struct health_labelset sets[8];
        struct hrunner other = { .id = 99, .online = true, .lane = -1 };
        size_t n;

        snprintf(s.repos[1].name, sizeof s.repos[1].name, "acme/docs");
        s.n_repos = 2;
        run("a", "push", 5 * 3600, "queued", "self-hosted,only-b");
        run("b", "push", 60, "queued", "ONLY-B,self-hosted");
        s.runs[s.n_runs - 1].repo = 1;
        run("c", "push", 60, "queued", "windows-latest");
        labels(&other.labels, "self-hosted,only-b");
        ck_assert_int_eq(health_add_runner(&s, &other), 0);
        n = health_queue(&s, &hs, sets, 8);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(sets[0].queued, 2);   /* one set across two repositories, any case or order */
        ck_assert_uint_eq(sets[0].stale, 1);
        ck_assert_int_eq(sets[0].oldest, NOW - 5 * 3600);
        ck_assert_uint_eq(sets[0].online_runners, 1);
        ck_assert(sets[0].served);
        ck_assert_str_eq(sets[0].repos, "acme/site,acme/docs");
        ck_assert_uint_eq(sets[1].queued, 1);
        ck_assert_uint_eq(sets[1].online_runners, 0);   /* waiting for a runner with labels: windows-latest */
        ck_assert(!sets[1].served);
        ck_assert_uint_eq(health_queue(&s, &hs, sets, 1), 1);
}
END_TEST

START_TEST(test_parse) {
        struct json_object *o = json_tokener_parse(
                "{\"id\": 5, \"run_id\": 4, \"status\": \"queued\", \"conclusion\": null, \"name\": \"build\","
                " \"created_at\": \"2026-11-27T10:00:00Z\", \"started_at\": \"2026-11-27T10:00:00Z\","
                " \"runner_id\": null, \"runner_name\": null, \"labels\": [\"self-hosted\", \"only-b\"]}");
        struct hjob j;
        struct hrun r;

        ck_assert_int_eq(health_parse_job(o, &j), 0);
        ck_assert(j.id == 5 && j.run_id == 4 && j.runner_id == 0 && j.labels.n == 2);
        ck_assert_str_eq(j.labels.v[1], "only-b");
        ck_assert_str_eq(j.status, "queued");
        ck_assert_int_gt(j.created, 0);
        json_object_put(o);
        o = json_tokener_parse("{\"id\": 5, \"name\": \"x\"}");
        ck_assert_int_eq(health_parse_job(o, &j), -EPROTO);
        ck_assert_int_eq(health_parse_run(o, 0, &r), -EPROTO);
        json_object_put(o);
        o = json_tokener_parse("{\"id\": 9, \"workflow_id\": 3, \"status\": \"queued\", \"event\": \"push\","
                               " \"head_branch\": \"dev\", \"run_attempt\": 2, \"created_at\": \"2026-11-27T10:00:00Z\"}");
        ck_assert_int_eq(health_parse_run(o, 0, &r), 0);
        ck_assert(r.id == 9 && r.workflow_id == 3 && r.attempt == 2);
        ck_assert_str_eq(r.branch, "dev");
        json_object_put(o);
}
END_TEST

int main(void) {
        Suite *su = suite_create("health");
        TCase *tc = tcase_create("health");

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, test_labels);
        tcase_add_test(tc, test_stale);
        tcase_add_test(tc, test_superseded);
        tcase_add_test(tc, test_pr_priority);
        tcase_add_test(tc, test_offline);
        tcase_add_test(tc, test_queue);
        tcase_add_test(tc, test_cache_log);
        tcase_add_test(tc, test_cache_plan);
        tcase_add_test(tc, test_parse);
        suite_add_tcase(su, tc);
        return run_suite(su);
}
