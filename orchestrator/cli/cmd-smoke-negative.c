/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl smoke LANE --negative (cli-smoke.h): the cases that must stay
 * negative, each a PASS:/FAIL: line with its evidence.
 * - a label set nobody serves: the job stays queued, no runner of the
 *   scope matches its labels (as lanectl queue counts them), then it is
 *   cancelled;
 * - the lane drained: a smoke job waits; after its undrain it is claimed
 *   by the lane's runner and succeeds;
 * - a step longer than the job's timeout-minutes: the job ends timed out
 *   (GitHub's timed_out, or cancelled with its "exceeded the maximum
 *   execution time" annotation), and the lane's runner is online again. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "audit.h"
#include "cli-smoke.h"
#include "gh-api.h"
#include "gh-client.h"
#include "inventory.h"

#define LINE_MAX_ 1024
#define WAIT_S 15              /* how long a job that must not be claimed is watched */
#define TIMEOUT_SLEEP_S 120    /* the step of the timeout case: twice its timeout */

/* A case's PASS:/FAIL: line into LINE (LINE_MAX_); 1 when it failed. */
static int say(char *line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(char *line, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, LINE_MAX_, fmt, ap);
        va_end(ap);
        return strncmp(line, "PASS:", 5) != 0;
}

/* Watch the run's job for WAIT_S: true when it stayed unclaimed. */
static bool stays_queued(struct smoke_cmd *c, const char *repo, struct smoke_result *r, struct smoke_job *j) {
        char err[300];

        for (int t = 0; t < WAIT_S; t++) {
                if (smoke_job_state(c->x.real.gh, repo, r, j, err, sizeof err) != 0 || j->runner_name[0])
                        return false;
                sleep(1);
        }
        return r->have_job;
}

/* Online runners of the scope whose labels include all of J's labels. */
static int matching(struct smoke_cmd *c, const struct smoke_expect *e, const char *extra, size_t *ret_n) {
        struct inventory inv = {};
        char err[300];
        size_t m = 0;
        int r = gh_list_runners(c->x.real.gh, c->scope, NULL, &inv, err, sizeof err);

        for (size_t i = 0; r == 0 && i < inv.n; i++) {
                const struct inventory_runner *ir = &inv.runners[i];
                bool all = true;

                for (size_t k = 0; k <= e->n_labels && all; k++) {
                        const char *want = k < e->n_labels ? e->labels[k] : extra, *p = inv.arena + ir->labels;
                        bool have = false;

                        for (unsigned l = 0; l < ir->n_labels && !have; l++, p += strlen(p) + 1)
                                have = strcasecmp(p, want) == 0;
                        all = have;
                }
                m += all && ir->online;
        }
        *ret_n = inv.n;
        inventory_free(&inv);
        return r < 0 ? r : (int) m;
}

static bool wait_ended(struct smoke_cmd *c, const char *repo, struct smoke_result *r, struct smoke_job *j, unsigned s) {
        char err[300];

        for (unsigned t = 0; t < s; t += 2) {
                if (smoke_job_state(c->x.real.gh, repo, r, j, err, sizeof err) == 1)
                        return true;
                sleep(2);
        }
        return false;
}

static int unsupported(struct smoke_cmd *c, const char *repo, char *line) {
        struct smoke_result r;
        struct smoke_job j = {};
        char label[64], err[600] = "";
        size_t n = 0;
        int m;

        (void) smoke_nonce(&c->e);
        snprintf(label, sizeof label, "lanekeeper-nobody-%s", c->e.nonce);
        if (smoke_start(c->x.real.gh, repo, c->workflow, c->ref, &c->e, &(struct smoke_inputs) { .extra_label = label },
                        &r, err, sizeof err) != 0)
                return say(line, "FAIL: unsupported labels: no run: %s%s\n", r.reason, err);
        if (!stays_queued(c, repo, &r, &j))
                return say(line, "FAIL: unsupported labels: run %lld's job was claimed by %s\n", r.run_id,
                              j.runner_name[0] ? j.runner_name : "?");
        m = matching(c, &c->e, label, &n);
        (void) gh_run_cancel(c->x.real.gh, repo, r.run_id, false, err, sizeof err);
        if (m != 0)
                return say(line, "FAIL: unsupported labels: %d runners match them\n", m);
        if (!wait_ended(c, repo, &r, &j, 30) || strcmp(j.conclusion, "cancelled") != 0)
                return say(line, "FAIL: unsupported labels: run %lld not cancelled (%s)\n", r.run_id, j.status);
        return say(line, "PASS: unsupported labels: job %lld queued %d s for labels ending %s: 0 of %zu runners of %s "
                      "match (waiting for a runner with labels); cancelled\n", j.id, WAIT_S, label, n, c->scope);
}

static int drained(struct smoke_cmd *c, const char *repo, char *line) {
        char *dargv[] = { "drain", c->e.name, "--reason", "lanectl smoke --negative: a drained lane's job waits", NULL };
        char *uargv[] = { "undrain", c->e.name, NULL };
        struct smoke_result r;
        struct smoke_job j = {};
        char err[600] = "";
        bool waited;

        fflush(stdout);
        if (cmd_drain(c->cli, 4, dargv) != 0)
                return say(line, "FAIL: drained lane: %s could not be drained\n", c->e.name);
        (void) smoke_nonce(&c->e);
        if (smoke_start(c->x.real.gh, repo, c->workflow, c->ref, &c->e, NULL, &r, err, sizeof err) != 0) {
                (void) cmd_undrain(c->cli, 2, uargv);
                return say(line, "FAIL: drained lane: no run: %s%s\n", r.reason, err);
        }
        waited = stays_queued(c, repo, &r, &j);
        fflush(stdout);
        if (cmd_undrain(c->cli, 2, uargv) != 0)
                return say(line, "FAIL: drained lane: %s could not be undrained\n", c->e.name);
        if (!waited)
                return say(line, "FAIL: drained lane: the job was claimed by %s while %s was drained\n", j.runner_name,
                              c->e.name);
        if (!wait_ended(c, repo, &r, &j, c->deadline_s))
                return say(line, "FAIL: drained lane: after the undrain, job %lld did not end within %u s\n", j.id,
                              c->deadline_s);
        smoke_end(c->x.real.gh, repo, &c->e, &j, &r);
        if (!r.passed)
                return say(line, "FAIL: drained lane: after the undrain: %s\n", r.reason);
        return say(line, "PASS: drained lane: job %lld waited %d s while %s was drained; after the undrain %s claimed it "
                      "and it succeeded (queue wait %lld s)\n", j.id, WAIT_S, c->e.name, j.runner_name, r.queue_wait_s);
}

static bool runner_online(struct smoke_cmd *c) {
        struct inventory inv = {};
        char err[300];
        bool on = false;

        if (gh_list_runners(c->x.real.gh, c->scope, c->e.name, &inv, err, sizeof err) == 0)
                for (size_t i = 0; i < inv.n; i++)
                        on = on || (strcasecmp(inv.runners[i].name, c->e.name) == 0 && inv.runners[i].online &&
                                    !inv.runners[i].busy);
        inventory_free(&inv);
        return on;
}

static int timed_out(struct smoke_cmd *c, const char *repo, char *line) {
        struct smoke_inputs in = { .sleep_s = TIMEOUT_SLEEP_S, .timeout_min = 1 };
        struct smoke_result r;
        struct smoke_job j = {};
        char err[600] = "", *log = NULL;
        size_t len;
        bool annotated;
        int t;

        (void) smoke_nonce(&c->e);
        if (smoke_start(c->x.real.gh, repo, c->workflow, c->ref, &c->e, &in, &r, err, sizeof err) != 0)
                return say(line, "FAIL: timeout: no run: %s%s\n", r.reason, err);
        if (!wait_ended(c, repo, &r, &j, 60 + TIMEOUT_SLEEP_S))
                return say(line, "FAIL: timeout: job %lld did not end within %d s\n", j.id, 60 + TIMEOUT_SLEEP_S);
        (void) gh_job_log(c->x.real.gh, repo, j.id, &log, &len, err, sizeof err);
        annotated = log && strstr(log, "has exceeded the maximum execution time of ");
        free(log);
        if (strcmp(j.conclusion, "timed_out") != 0 && !(strcmp(j.conclusion, "cancelled") == 0 && annotated))
                return say(line, "FAIL: timeout: job %lld concluded %s%s\n", j.id, j.conclusion,
                              annotated ? "" : ", without GitHub's timeout annotation");
        for (t = 0; t < 60 && !runner_online(c); t += 2)
                sleep(2);
        if (t >= 60)
                return say(line, "FAIL: timeout: %s's runner was not online and idle again within 60 s\n", c->e.name);
        return say(line, "PASS: timeout: job %lld (timeout-minutes 1, a step of %d s) ended %s%s after %lld s on %s; the "
                      "runner is online and idle again\n", j.id, TIMEOUT_SLEEP_S, j.conclusion,
                      annotated ? " with GitHub's \"exceeded the maximum execution time\" annotation" : "",
                      (long long) (j.completed - j.started), j.runner_name);
}

/* Each case said and audited (command smoke, its case, passed or not, the
 * line); 1 when it failed or could not be recorded. */
static int one_case(struct smoke_cmd *c, const char *repo, const char *name,
                    int (*run)(struct smoke_cmd *c, const char *repo, char *line)) {
        char line[LINE_MAX_] = "";
        struct json_object *rec = json_object_new_object();
        int failed = run(c, repo, line), r;

        fputs(line, stdout);
        fflush(stdout);
        line[strcspn(line, "\n")] = '\0';
        json_object_object_add(rec, "lane", json_object_new_string(c->e.name));
        json_object_object_add(rec, "repository", json_object_new_string(repo));
        json_object_object_add(rec, "case", json_object_new_string(name));
        json_object_object_add(rec, "passed", json_object_new_boolean(!failed));
        json_object_object_add(rec, "evidence", json_object_new_string(line));
        r = audit_append_command(&c->x.store, failed ? "failed" : "completed", c->x.host, "smoke", rec, NULL);
        if (r < 0)
                return fprintf(stderr, "lanectl smoke: the audit record could not be written: %s\n", strerror(-r)), 1;
        return failed;
}

int smoke_negative(struct smoke_cmd *c) {
        int failed = 0;

        if (c->e.pool)
                return fprintf(stderr, "lanectl smoke: --negative is for a lane, not a pool\n"), 2;
        for (size_t i = 0; i < c->n_repos; i++) {
                printf("lane %s: %s: negative cases\n", c->e.name, c->repos[i]);
                failed += one_case(c, c->repos[i], "unsupported-labels", unsupported);
                failed += one_case(c, c->repos[i], "drained-lane", drained);
                failed += one_case(c, c->repos[i], "timeout", timed_out);
        }
        return failed ? 1 : 0;
}
