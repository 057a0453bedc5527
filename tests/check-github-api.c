/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every endpoint of the client, typed (gh-api.c), against the loopback
 * GitHub double (tests/github/ghdouble.py), each GitHub error mapped to its
 * errno, and the fault classes on a change: a 5xx or a lost answer is not
 * sent again, a rate-limit refusal is waited out. Needs python3-jwt and
 * python3-cryptography for the double: exits 77 without them (a failure
 * when CI=true). */
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gh-api.h"
#include "gh-auth.h"
#include "settings.h"
#include "test-double.h"
#include "test-util.h"

static char pat[48];
static struct gh_client *c;
static char err[1024];

#define work dbl_work
#define port dbl_port
#define control dbl_control
#define seen dbl_seen

static void start(void) {
        snprintf(pat, sizeof pat, "ghp_%s", "Ch3ckApiT0kenCh3ckApiT0kenCh3ckApiT0ken");
        dbl_start(pat);
}

static void stop(void) {
        dbl_stop();
}

static void client(void) {
        struct settings s;

        settings_defaults(&s, "/etc");
        snprintf(s.api_url, sizeof s.api_url, "http://127.0.0.1:%d", port);
        snprintf(s.token_file, sizeof s.token_file, "%s/token", work);
        s.timeout_s = 10;
        ck_assert_msg(gh_client_new(&s, NULL, &c, err, sizeof err) == 0, "%s", err);
}

static void unclient(void) {
        gh_client_free(c);
        c = NULL;
        ck_assert_ptr_null(strstr(err, pat));   /* no error names the token */
}

/* A runner registered as config.sh would; its id. */
static long long registered(const char *name) {
        char *tok, body[256], out[512];
        size_t len;
        time_t exp;

        ck_assert_msg(gh_registration_token(c, "repos/acme/site", &tok, &len, &exp, err, sizeof err) == 0, "%s", err);
        ck_assert_int_gt(exp, time(NULL) + 3000);
        snprintf(body, sizeof body, "{\"token\":\"%s\",\"name\":\"%s\",\"labels\":[\"lanekeeper-managed\"]}", tok, name);
        secret_free(tok, len + 1);
        ck_assert_int_eq(control("runner/register", body, out, sizeof out), 201);
        return strtoll(strstr(out, "\"id\": ") + 6, NULL, 10);
}

START_TEST(test_runner_and_labels) {
        const char *const add[] = { "gpu" }, *const set[] = { "lanekeeper-managed", "arm64" }, *const rm[] = { "arm64" };
        struct gh_runner r;
        long long id = registered("lane-labels");

        ck_assert_msg(gh_runner_get(c, "repos/acme/site", id, &r, err, sizeof err) == 0, "%s", err);
        ck_assert_str_eq(r.name, "lane-labels");
        ck_assert(!r.online && !r.busy && r.n_labels == 4);
        ck_assert_str_eq(r.labels[3], "lanekeeper-managed");
        ck_assert_int_eq(gh_runner_labels(c, "repos/acme/site", id, GH_LABELS_ADD, add, 1, &r, err, sizeof err), 0);
        ck_assert_uint_eq(r.n_labels, 5);
        ck_assert_int_eq(gh_runner_labels(c, "repos/acme/site", id, GH_LABELS_SET, set, 2, &r, err, sizeof err), 0);
        ck_assert_uint_eq(r.n_labels, 5);
        ck_assert_str_eq(r.labels[4], "arm64");
        ck_assert_int_eq(gh_runner_labels(c, "repos/acme/site", id, GH_LABELS_REMOVE, rm, 1, &r, err, sizeof err), 0);
        ck_assert_uint_eq(r.n_labels, 4);
        ck_assert_int_eq(gh_runner_labels(c, "repos/acme/site", id, GH_LABELS_REMOVE, rm, 1, &r, err, sizeof err), -ENOENT);
        ck_assert_int_eq(gh_runner_labels(c, "repos/acme/site", id, GH_LABELS_CLEAR, NULL, 0, &r, err, sizeof err), 0);
        ck_assert_uint_eq(r.n_labels, 3);   /* the read-only ones stay */
        ck_assert_int_eq(gh_runner_labels(c, "repos/acme/site", id, GH_LABELS_LIST, NULL, 0, &r, err, sizeof err), 0);
        ck_assert_str_eq(r.labels[0], "self-hosted");
        ck_assert_int_eq(gh_runner_labels(c, "repos/acme/site", id, GH_LABELS_ADD, (const char *const[]) { "a b" }, 1, &r,
                                          err, sizeof err), -EINVAL);   /* refused before sending */
        ck_assert_int_eq(gh_runner_delete(c, "repos/acme/site", id, err, sizeof err), 0);
        ck_assert_int_eq(gh_runner_get(c, "repos/acme/site", id, &r, err, sizeof err), -ENOENT);
        ck_assert_reason_has(err, "404 Not Found");
}
END_TEST

START_TEST(test_busy_runner_and_runs) {
        char body[256], out[256];
        long long id = registered("lane-busy"), run;

        ck_assert_int_eq(control("run", "{\"repo\":\"acme/site\",\"jobs\":[[\"build\",[\"self-hosted\"]]]}", out, sizeof out), 201);
        run = strtoll(strstr(out, "\"run_id\": ") + 10, NULL, 10);
        snprintf(body, sizeof body, "{\"id\":%lld,\"credential\":\"wrong\",\"session\":\"s\"}", id);
        /* not this runner's credential: no session, so it stays offline and claims nothing */
        ck_assert_int_eq(control("runner/heartbeat", body, NULL, 0), 404);
        ck_assert_int_eq(gh_runner_delete(c, "repos/acme/site", id, err, sizeof err), 0);
        ck_assert_int_eq(gh_run_cancel(c, "acme/site", run, false, err, sizeof err), 0);
        ck_assert_int_eq(gh_run_cancel(c, "acme/site", run, false, err, sizeof err), -EEXIST);
        ck_assert_reason_has(err, "409");
        ck_assert_int_eq(gh_run_rerun_failed(c, "acme/site", run, err, sizeof err), 0);
        ck_assert_int_eq(gh_run_cancel(c, "acme/site", run, true, err, sizeof err), 0);
        ck_assert_int_eq(gh_run_cancel(c, "acme/site", 999999, true, err, sizeof err), -ENOENT);
}
END_TEST

START_TEST(test_delete_busy) {
        char body[256], out[512], *cred;
        long long id;
        char *tok;
        size_t len;
        time_t exp;

        ck_assert_int_eq(gh_registration_token(c, "repos/acme/site", &tok, &len, &exp, err, sizeof err), 0);
        snprintf(body, sizeof body, "{\"token\":\"%s\",\"name\":\"lane-job\",\"labels\":[]}", tok);
        secret_free(tok, len + 1);
        ck_assert_int_eq(control("runner/register", body, out, sizeof out), 201);
        id = strtoll(strstr(out, "\"id\": ") + 6, NULL, 10);
        cred = strstr(out, "\"credential\": \"") + 15;
        cred[strcspn(cred, "\"")] = '\0';
        snprintf(body, sizeof body, "{\"id\":%lld,\"credential\":\"%s\",\"session\":\"s1\"}", id, cred);
        ck_assert_int_eq(control("run", "{\"repo\":\"acme/site\"}", out, sizeof out), 201);
        /* the runner's long poll: an idle, online runner whose labels match claims the queued job */
        ck_assert_int_eq(control("runner/heartbeat", body, out, sizeof out), 200);
        ck_assert_ptr_nonnull(strstr(out, "\"job_id\""));
        ck_assert_ptr_nonnull(strstr(out, "\"ghs_"));   /* the job's own token */
        ck_assert_int_eq(gh_runner_delete(c, "repos/acme/site", id, err, sizeof err), -EBUSY);
        ck_assert_reason_has(err, "still running a job");
        ck_assert_reason_has(err, "422");
}
END_TEST

START_TEST(test_tokens_and_jit) {
        const char *const labels[] = { "self-hosted", "lanekeeper-managed" };
        char *tok, *cfg;
        size_t len;
        time_t exp;
        long long id, group;

        ck_assert_int_eq(gh_remove_token(c, "repos/acme/site", &tok, &len, &exp, err, sizeof err), 0);
        ck_assert_uint_gt(len, 20);
        secret_free(tok, len + 1);
        ck_assert_int_eq(gh_registration_token(c, "orgs/acme", &tok, &len, &exp, err, sizeof err), 0);
        secret_free(tok, len + 1);
        ck_assert_int_eq(gh_registration_token(c, "repos/acme/nope", &tok, &len, &exp, err, sizeof err), -ENOENT);
        ck_assert_int_eq(gh_runner_group_id(c, "acme", "default", &group, err, sizeof err), 0);
        ck_assert(group == 1);
        ck_assert_int_eq(gh_runner_group_id(c, "acme", "gpu-pool", &group, err, sizeof err), -ENOENT);
        ck_assert_msg(gh_jit_config(c, "repos/acme/site", "jit-lane", 1, labels, 2, &id, &cfg, &len, err, sizeof err) == 0,
                      "%s", err);
        ck_assert(id > 0 && len > 20);
        secret_free(cfg, len + 1);
        ck_assert_int_eq(gh_jit_config(c, "repos/acme/site", "jit-lane", 1, labels, 2, &id, &cfg, &len, err, sizeof err),
                         -EEXIST);
        ck_assert_int_eq(gh_jit_config(c, "repos/acme/site", "jit-2", 1, labels, 0, &id, &cfg, &len, err, sizeof err),
                         -EINVAL);
        ck_assert_int_eq(gh_jit_config(c, "repos/acme/site", "bad name", 1, labels, 2, &id, &cfg, &len, err, sizeof err),
                         -EINVAL);
}
END_TEST

START_TEST(test_variables) {
        char v[64];

        ck_assert_int_eq(gh_variable_set(c, "acme/site", "LANE_ROUTE", "lanekeeper", true, err, sizeof err), 0);
        ck_assert_int_eq(gh_variable_set(c, "acme/site", "LANE_ROUTE", "x", true, err, sizeof err), -EEXIST);
        ck_assert_int_eq(gh_variable_get(c, "acme/site", "LANE_ROUTE", v, sizeof v, err, sizeof err), 0);
        ck_assert_str_eq(v, "lanekeeper");
        ck_assert_int_eq(gh_variable_set(c, "acme/site", "LANE_ROUTE", "github-hosted", false, err, sizeof err), 0);
        ck_assert_int_eq(gh_variable_get(c, "acme/site", "LANE_ROUTE", v, sizeof v, err, sizeof err), 0);
        ck_assert_str_eq(v, "github-hosted");
        ck_assert_int_eq(gh_variable_get(c, "acme/site", "MISSING", v, sizeof v, err, sizeof err), -ENOENT);
        ck_assert_int_eq(gh_variable_set(c, "acme/site", "GITHUB_X", "x", true, err, sizeof err), -EINVAL);
        ck_assert_int_eq(gh_variable_set(c, "acme/site", "1X", "x", true, err, sizeof err), -EINVAL);
        ck_assert_int_eq(gh_variable_set(c, "acme/site", "A-B", "x", true, err, sizeof err), -EINVAL);
}
END_TEST

/* A change that may have taken effect is never sent twice; a refusal by
 * rate limit is waited out and sent again. */
START_TEST(test_mutation_faults) {
        char *tok;
        size_t len;
        time_t exp;
        int before;

        before = seen("POST", "/repos/acme/site/actions/runners/registration-token");
        ck_assert_int_eq(control("fault", "{\"kind\":\"status\",\"status\":502,\"match\":\"registration-token\"}", NULL, 0),
                         200);
        ck_assert_int_eq(gh_registration_token(c, "repos/acme/site", &tok, &len, &exp, err, sizeof err), -EAGAIN);
        ck_assert_reason_has(err, "not repeated");
        ck_assert_int_eq(seen("POST", "/repos/acme/site/actions/runners/registration-token"), before + 1);
        ck_assert_int_eq(control("fault", "{\"kind\":\"reset\",\"match\":\"registration-token\"}", NULL, 0), 200);
        ck_assert_int_eq(gh_registration_token(c, "repos/acme/site", &tok, &len, &exp, err, sizeof err), -EIO);
        ck_assert_int_eq(seen("POST", "/repos/acme/site/actions/runners/registration-token"), before + 2);
        ck_assert_int_eq(control("fault", "{\"kind\":\"status\",\"status\":429,\"retry_after\":1,\"match\":\"registration-token\"}",
                                 NULL, 0), 200);
        ck_assert_msg(gh_registration_token(c, "repos/acme/site", &tok, &len, &exp, err, sizeof err) == 0, "%s", err);
        secret_free(tok, len + 1);
        ck_assert_int_eq(seen("POST", "/repos/acme/site/actions/runners/registration-token"), before + 4);
        /* a GET after a 502 is sent again */
        ck_assert_int_eq(control("fault", "{\"kind\":\"status\",\"status\":502,\"match\":\"variables/LANE\"}", NULL, 0), 200);
        {
                char v[64];

                ck_assert_int_eq(gh_variable_set(c, "acme/site", "LANE_F", "1", true, err, sizeof err), 0);
                ck_assert_int_eq(control("fault", "{\"kind\":\"status\",\"status\":502,\"match\":\"GET .*variables/LANE_F\"}",
                                         NULL, 0), 200);
                ck_assert_msg(gh_variable_get(c, "acme/site", "LANE_F", v, sizeof v, err, sizeof err) == 0, "%s", err);
        }
        control("clear-faults", "{}", NULL, 0);
}
END_TEST

/* The plan path's client reads only: a change is refused before it is sent. */
START_TEST(test_read_only) {
        struct gh_runner r;
        char *tok;
        size_t len;
        time_t exp;
        int before = seen("POST", "/repos/acme/site/actions/runners/registration-token");

        gh_client_set_read_only(c);
        ck_assert_int_eq(gh_registration_token(c, "repos/acme/site", &tok, &len, &exp, err, sizeof err), -EPERM);
        ck_assert_reason_has(err, "only reads");
        ck_assert_int_eq(gh_runner_delete(c, "repos/acme/site", 1, err, sizeof err), -EPERM);
        ck_assert_int_eq(seen("POST", "/repos/acme/site/actions/runners/registration-token"), before);
        ck_assert_int_eq(gh_runner_get(c, "repos/acme/site", 999999, &r, err, sizeof err), -ENOENT);   /* reads still go */
}
END_TEST

START_TEST(test_credentials_errors) {
        struct settings s;
        struct gh_client *bad;
        struct gh_runner r;
        char path[128];
        FILE *f;

        snprintf(path, sizeof path, "%s/wrong", work);
        f = fopen(path, "we");
        fprintf(f, "ghp_%s%s%s\n", "Wrong", "WrongWrongWrong", "WrongWrong");   /* made here, not committed whole */
        fclose(f);
        chmod(path, 0600);
        settings_defaults(&s, "/etc");
        snprintf(s.api_url, sizeof s.api_url, "http://127.0.0.1:%d", port);
        snprintf(s.token_file, sizeof s.token_file, "%s", path);
        ck_assert_int_eq(gh_client_new(&s, NULL, &bad, err, sizeof err), 0);
        ck_assert_int_eq(gh_runner_get(bad, "repos/acme/site", 1, &r, err, sizeof err), -EACCES);
        ck_assert_reason_has(err, "401 Bad credentials");
        ck_assert_ptr_null(strstr(err, "WrongWrong"));
        gh_client_free(bad);
}
END_TEST

int main(void) {
        Suite *s = suite_create("github-api");
        TCase *tc = tcase_create("against the double");

        if (!dbl_usable("check-github-api"))
                return getenv("CI") && strcmp(getenv("CI"), "true") == 0 ? 1 : 77;
        tcase_add_unchecked_fixture(tc, start, stop);
        tcase_add_checked_fixture(tc, client, unclient);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_runner_and_labels);
        tcase_add_test(tc, test_busy_runner_and_runs);
        tcase_add_test(tc, test_delete_busy);
        tcase_add_test(tc, test_tokens_and_jit);
        tcase_add_test(tc, test_variables);
        tcase_add_test(tc, test_mutation_faults);
        tcase_add_test(tc, test_credentials_errors);
        tcase_add_test(tc, test_read_only);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
