/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanekeeper.conf: defaults, a full file, and every error with its line. */
#include <stdio.h>
#include <string.h>

#include "settings.h"
#include "test-util.h"

static struct settings s;
static struct ini_diags d;

static int parse(const char *text) {
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        int r;

        ck_assert_ptr_nonnull(f);
        settings_defaults(&s, "/etc");
        d = (struct ini_diags) {};
        r = settings_parse(f, &s, &d);
        fclose(f);
        return r;
}

START_TEST(test_defaults) {
        ck_assert_int_eq(parse(""), 0);
        ck_assert_str_eq(s.api_url, "https://api.github.com");
        ck_assert_str_eq(s.lanes_dir, "/etc/lanekeeper/lanes.d");
        ck_assert_str_eq(s.store_dir, "/var/lib/lanekeeper");
        ck_assert_str_eq(s.helper_socket, "/run/lanekeeper/helper.socket");
        ck_assert_str_eq(settings_auth(&s), "none");
        ck_assert_str_eq(s.policy_file, "/etc/lanekeeper/policy.conf");
        ck_assert_uint_eq(s.min_free_mib, 2048);
        ck_assert_uint_eq(s.timeout_s, 120);
        ck_assert_uint_eq(s.n_commands, 2);
        ck_assert_str_eq(s.commands[1], "tar");
}
END_TEST

START_TEST(test_baseline) {
        ck_assert_int_eq(parse("[baseline]\nmin_free_mib = 10240\ncommands = bash, tar,git docker\n"
                               "[helper]\npolicy = /srv/lk/policy.conf\n[github]\ntimeout_s = 15\n"), 0);
        ck_assert_uint_eq(s.timeout_s, 15);
        ck_assert_uint_eq(s.min_free_mib, 10240);
        ck_assert_uint_eq(s.n_commands, 4);
        ck_assert_str_eq(s.commands[2], "git");
        ck_assert_str_eq(s.commands[3], "docker");
        ck_assert_str_eq(s.policy_file, "/srv/lk/policy.conf");
        ck_assert_int_eq(parse("[baseline]\ncommands =\n"), 0);
        ck_assert_uint_eq(s.n_commands, 0);
}
END_TEST

START_TEST(test_health) {
        ck_assert_int_eq(parse(""), 0);
        ck_assert_uint_eq(s.health.stale_job_hours, 4);
        ck_assert(s.health.superseded && !s.health.cancel_default_branch && !s.health.pr_priority);
        ck_assert_uint_eq(s.health.pr_priority_threshold, 5);
        ck_assert_uint_eq(s.health.max_cancels, 10);
        ck_assert_uint_eq(s.health.max_reruns, 5);
        ck_assert_uint_eq(s.health.max_clock_offset_s, 60);
        ck_assert(!s.health.metrics_off && s.health.metrics_file[0] == '\0');
        ck_assert_int_eq(parse("[health]\nstale_job_hours = 6\nsuperseded = no\ncancel_default_branch = yes\n"
                               "pr_priority = true\npr_priority_threshold = 2\nmax_cancels = 0\n"
                               "repositories = acme/site, acme/docs\nmetrics_file = /var/lib/node/lk.prom\n"), 0);
        ck_assert_uint_eq(s.health.stale_job_hours, 6);
        ck_assert(!s.health.superseded && s.health.cancel_default_branch && s.health.pr_priority);
        ck_assert_uint_eq(s.health.pr_priority_threshold, 2);
        ck_assert_uint_eq(s.health.max_cancels, 0);
        ck_assert_uint_eq(s.health.n_repositories, 2);
        ck_assert_str_eq(s.health.repositories[1], "acme/docs");
        ck_assert_str_eq(s.health.metrics_file, "/var/lib/node/lk.prom");
        ck_assert_int_eq(parse("[health]\nmetrics_file = none\n"), 0);
        ck_assert(s.health.metrics_off);
}
END_TEST

START_TEST(test_full_app) {
        ck_assert_int_eq(parse("[github]\napi_url = https://ghe.example.com/api/v3\napp_id = 12345\n"
                               "installation_id = 678\nprivate_key_file = /etc/lanekeeper/app.pem\n"
                               "[store]\ndir = /srv/lk/store\n[lanes]\ndir = /srv/lk/lanes\n"
                               "[helper]\nsocket = /run/lk.socket\n"), 0);
        ck_assert_str_eq(s.api_url, "https://ghe.example.com/api/v3");
        ck_assert_uint_eq(s.app_id, 12345);
        ck_assert_uint_eq(s.installation_id, 678);
        ck_assert_str_eq(s.private_key_file, "/etc/lanekeeper/app.pem");
        ck_assert_str_eq(s.store_dir, "/srv/lk/store");
        ck_assert_str_eq(s.lanes_dir, "/srv/lk/lanes");
        ck_assert_str_eq(s.helper_socket, "/run/lk.socket");
        ck_assert_str_eq(settings_auth(&s), "app");
}
END_TEST

START_TEST(test_token_and_loopback) {
        ck_assert_int_eq(parse("[github]\napi_url = http://127.0.0.1:8080\ntoken_file = /etc/lanekeeper/token\n"), 0);
        ck_assert_str_eq(settings_auth(&s), "token");
        ck_assert_int_eq(parse("[github]\napi_url = http://[::1]:9/x\n"), 0);
        ck_assert_int_eq(parse("[github]\napi_url = http://localhost\n"), 0);
}
END_TEST

static const struct {
        const char *text;
        int line;
        const char *message;
} bad[] = {
        { "[github]\napi_url = http://example.com\n", 2, "not loopback" },
        { "[pools]\nwebhook_listen = 8787\n", 2, "must be ADDRESS:PORT" },
        { "[pools]\nwebhook_secret_file = secret\n", 2, "'webhook_secret_file'" },
        { "[pools]\nmetrics_file = relative.prom\n", 2, "'metrics_file'" },
        { "[github]\napi_url = ftp://x\n", 2, "must start with https://" },
        { "[github]\napi_url = https://user:pw@example.com\n", 2, "no credentials in URLs" },
        { "[github]\napi_url = https://\n", 2, "has no host" },
        { "[github]\napi_url = http://127example.com\n", 2, "not loopback" },
        { "[github]\napp_id = 0\n", 2, "positive decimal" },
        { "[github]\napp_id = 12x\n", 2, "positive decimal" },
        { "[github]\ntoken = ghp_secret\n", 2, "unknown key 'token'" },
        { "[github]\ntoken_file = relative\n", 2, "not an absolute path" },
        { "[store]\ndir = /\n", 2, "may not be '/'" },
        { "[lanes]\ndir = /a\ndir = /b\n", 3, "'dir' is set twice" },
        { "[other]\nx = 1\n", 2, "unknown key 'x' in section [other]" },
        { "[baseline]\ncommands = /bin/sh\n", 2, "not a plain command name" },
        { "[baseline]\ncommands = git;rm\n", 2, "not a plain command name" },
        { "[baseline]\ncommands = -x\n", 2, "not a plain command name" },
        { "[baseline]\ncommands = a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n", 2, "more than 16" },
        { "[baseline]\nmin_free_mib = lots\n", 2, "positive decimal" },
        { "[github]\ntimeout_s = 0\n", 2, "positive decimal" },
        { "[helper]\npolicy = policy.conf\n", 2, "not an absolute path" },
        { "garbage\n", 1, "syntax error" },
        { "[health]\nstale_job_hours = 0\n", 2, "'stale_job_hours' must be a whole number from 1 to 720" },
        { "[health]\nmax_cancels = -1\n", 2, "'max_cancels' must be a whole number" },
        { "[health]\nsuperseded = maybe\n", 2, "'superseded' must be yes or no" },
        { "[health]\nrepositories = acme\n", 2, "'repositories'" },
        { "[health]\nmetrics_file = rel/x.prom\n", 2, "not an absolute path" },
        { "[health]\nstale = 4\n", 2, "unknown key 'stale' in section [health]" },
        { "[route]\nvariable = GITHUB_ROUTE\n", 2, "'variable' may not start with GITHUB_" },
        { "[route]\nvariable = 9LIVES\n", 2, "'variable' may not start with a digit" },
        { "[route]\nvariable = A-B\n", 2, "'variable' may hold only letters, digits and '_'" },
        { "[route]\nrepositories = acme\n", 2, "'repositories'" },
        { "[route]\nlabels = ,\n", 2, "'labels' names no label" },
        { "[route]\nqueue_wait_s = 0\n", 2, "'queue_wait_s' must be a whole number from 1 to 86400" },
        { "[route]\noffline_s = 59\n", 2, "'offline_s' must be a whole number from 60 to 86400" },
        { "[route]\nlifecycle_pct = 101\n", 2, "'lifecycle_pct' must be a whole number from 1 to 100" },
        { "[route]\nvariable = A\nvariable = B\n", 3, "'variable' is set twice" },
        { "[github]\napp_id = 1\n", 0, "needs app_id, installation_id and private_key_file together" },
        { "[github]\napp_id = 1\ninstallation_id = 2\nprivate_key_file = /k\ntoken_file = /t\n", 0, "not both" },
};

START_TEST(test_pools) {
        ck_assert_int_eq(parse(""), 0);
        ck_assert_str_eq(s.pools_dir, "/etc/lanekeeper/pools.d");
        ck_assert(!s.pools_metrics_off && !s.pools_metrics_file[0] && !s.pools_webhook_listen[0]);
        ck_assert_int_eq(parse("[pools]\ndir = /srv/pools\nmetrics_file = none\nwebhook_listen = [::1]:8787\n"
                               "webhook_secret_file = /etc/lanekeeper/webhook.secret\n"), 0);
        ck_assert_str_eq(s.pools_dir, "/srv/pools");
        ck_assert(s.pools_metrics_off);
        ck_assert_str_eq(s.pools_webhook_listen, "[::1]:8787");
        ck_assert_str_eq(s.pools_webhook_secret_file, "/etc/lanekeeper/webhook.secret");
        ck_assert_int_eq(parse("[pools]\nmetrics_file = /var/lib/node/pool.prom\n"), 0);
        ck_assert_str_eq(s.pools_metrics_file, "/var/lib/node/pool.prom");
}
END_TEST

START_TEST(test_route) {
        ck_assert_int_eq(parse(""), 0);
        ck_assert_str_eq(s.route.variable, "CI_SELF_HOSTED_TRUSTED_ROUTING");
        ck_assert_uint_eq(s.route.n_labels, 1);
        ck_assert_str_eq(s.route.labels[0], "self-hosted");
        ck_assert_uint_eq(s.route.n_repositories, 0);
        ck_assert_uint_eq(s.route.lifecycle_pct, 98);
        ck_assert_uint_eq(s.route.queue_wait_s, 120);
        ck_assert_uint_eq(s.route.setup_s, 180);
        ck_assert_uint_eq(s.route.offline_s, 600);
        ck_assert_uint_eq(s.route.interval_s, 60);
        ck_assert_int_eq(parse("[route]\nvariable = SELF_HOSTED_PRS\nrepositories = acme/site acme/docs\n"
                               "labels = self-hosted, lk-bench\nlifecycle_pct = 95\nqueue_wait_s = 300\nsetup_s = 60\n"
                               "offline_s = 900\ninterval_s = 30\nmetrics_file = none\n"
                               "[health]\nmax_cancels = 1\n[pools]\ndir = /srv/pools\n"), 0);   /* more than 32 keys known */
        ck_assert_str_eq(s.route.variable, "SELF_HOSTED_PRS");
        ck_assert_uint_eq(s.route.n_repositories, 2);
        ck_assert_str_eq(s.route.repositories[1], "acme/docs");
        ck_assert_uint_eq(s.route.n_labels, 2);
        ck_assert_str_eq(s.route.labels[1], "lk-bench");
        ck_assert_uint_eq(s.route.lifecycle_pct, 95);
        ck_assert_uint_eq(s.route.queue_wait_s, 300);
        ck_assert_uint_eq(s.route.setup_s, 60);
        ck_assert_uint_eq(s.route.offline_s, 900);
        ck_assert_uint_eq(s.route.interval_s, 30);
        ck_assert(s.route.metrics_off);
        ck_assert_uint_eq(s.health.max_cancels, 1);
}
END_TEST

START_TEST(test_bad) {
        bool found = false;

        ck_assert_int_eq(parse(bad[_i].text), -EINVAL);
        for (size_t i = 0; i < d.n; i++)
                found |= d.d[i].line == bad[_i].line && strstr(d.d[i].message, bad[_i].message);
        ck_assert_msg(found, "case %d: no '%s' on line %d (first: %d %s)", _i, bad[_i].message, bad[_i].line,
                      d.n ? d.d[0].line : -1, d.n ? d.d[0].message : "");
}
END_TEST

int main(void) {
        Suite *su = suite_create("settings");
        TCase *tc = tcase_create("settings");

        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_full_app);
        tcase_add_test(tc, test_baseline);
        tcase_add_test(tc, test_health);
        tcase_add_test(tc, test_token_and_loopback);
        tcase_add_test(tc, test_pools);
        tcase_add_test(tc, test_route);
        tcase_add_loop_test(tc, test_bad, 0, (int) ELEMENTSOF(bad));
        suite_add_tcase(su, tc);
        return run_suite(su);
}
