/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The observation adapters against real files in a temporary directory:
 * the runner directory (.runner with a BOM, credentials present, the
 * version link, symlinks refused), the baseline checks one by one, and the
 * ops table's order. The unit adapter meets a real systemd in the e2e
 * suite; here only its "no bus" answer. */
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "observe.h"
#include "test-util.h"

static char tmp[] = "/tmp/lanekeeper-check-observe-XXXXXX";
static char root[256], lane_dir[512], me[PROTO_USER_NAME_MAX + 1];
static struct lane_desired d;
static struct observation o;

static void write_file(const char *path, const char *text, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        ck_assert_int_eq(chmod(path, mode), 0);
}

static void at(char *buf, size_t size, const char *rel) {
        snprintf(buf, size, "%s/%s", lane_dir, rel);
}

static void setup(void) {
        struct passwd *pw = getpwuid(getuid());

        ck_assert_ptr_nonnull(mkdtemp(tmp));
        snprintf(root, sizeof root, "%s/runners", tmp);
        snprintf(lane_dir, sizeof lane_dir, "%s/cm-website", root);
        ck_assert_int_eq(mkdir(root, 0755), 0);
        ck_assert_ptr_nonnull(pw);
        snprintf(me, sizeof me, "%s", pw->pw_name);
        d = (struct lane_desired) { .n_labels = 1 };
        strcpy(d.name, "cm-website");
        strcpy(d.root, root);
        snprintf(d.user, sizeof d.user, "%s", me);
        o = (struct observation) {};
}

static void teardown(void) {
        char cmd[600];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(tmp, "/tmp/lanekeeper-check-observe-XXXXXX");
}

static const struct baseline_check *find(const char *name) {
        for (size_t i = 0; i < o.n_checks; i++)
                if (strcmp(o.checks[i].name, name) == 0)
                        return &o.checks[i];
        ck_abort_msg("no check %s", name);
        return NULL;
}

static const struct observe_env no_sources = {};

/* ---- the runner directory ---- */

START_TEST(test_local_absent) {
        observe_local(&no_sources, &d, &o);
        ck_assert(o.local_known && !o.local_exists && !o.local_configured);
        strcpy(d.root, "/nonexistent-lanekeeper-root");   /* no root at all: nothing here either */
        observe_local(&no_sources, &d, &o);
        ck_assert(o.local_known && !o.local_exists);
}
END_TEST

START_TEST(test_local_configured) {
        char p[600];

        ck_assert_int_eq(mkdir(lane_dir, 0750), 0);
        at(p, sizeof p, ".runner");
        write_file(p, "\xef\xbb\xbf{\"agentId\":42,\"agentName\":\"cm-website\",\"poolId\":1,\"poolName\":\"Default\","
                      "\"serverUrl\":\"https://pipelines.example\",\"gitHubUrl\":\"https://github.com/acme/site\","
                      "\"workFolder\":\"_work\"}", 0644);
        at(p, sizeof p, ".credentials");
        write_file(p, "{\"scheme\":\"OAuth\"}", 0600);
        ck_assert_int_eq(mkdir(strcat(strcpy(p, lane_dir), "/bin.2.330.1"), 0755), 0);
        at(p, sizeof p, "bin");
        ck_assert_int_eq(symlink("bin.2.330.1", p), 0);
        observe_local(&no_sources, &d, &o);
        ck_assert_msg(o.local_known, "%s", o.local_detail);
        ck_assert(o.local_exists && o.local_configured && o.local_credentials);
        ck_assert_str_eq(o.local_agent_name, "cm-website");
        ck_assert(o.local_agent_id == 42);
        ck_assert_str_eq(o.runner_version, "2.330.1");
}
END_TEST

START_TEST(test_local_unconfigured_fresh_unpack) {
        char p[600];

        ck_assert_int_eq(mkdir(lane_dir, 0750), 0);
        at(p, sizeof p, "bin");
        ck_assert_int_eq(mkdir(p, 0755), 0);   /* a fresh unpack: bin is a directory, version unknown */
        at(p, sizeof p, ".credentials");
        ck_assert_int_eq(symlink("/etc/passwd", p), 0);   /* a link is not credentials */
        observe_local(&no_sources, &d, &o);
        ck_assert(o.local_known && o.local_exists && !o.local_configured && !o.local_credentials);
        ck_assert_str_eq(o.runner_version, "");
}
END_TEST

START_TEST(test_local_symlinked_lane) {
        char other[600];

        snprintf(other, sizeof other, "%s/elsewhere", tmp);
        ck_assert_int_eq(mkdir(other, 0755), 0);
        ck_assert_int_eq(symlink(other, lane_dir), 0);
        observe_local(&no_sources, &d, &o);
        ck_assert(!o.local_known);
        ck_assert_reason_has(o.local_detail, "symbolic link");
}
END_TEST

START_TEST(test_local_corrupt_runner_file) {
        char p[600];

        ck_assert_int_eq(mkdir(lane_dir, 0750), 0);
        at(p, sizeof p, ".runner");
        write_file(p, "{\"agentId\":", 0644);
        observe_local(&no_sources, &d, &o);
        ck_assert(!o.local_known);
        ck_assert_reason_has(o.local_detail, ".runner");
}
END_TEST

/* ---- versions ---- */

static const struct {
        const char *policy, *version;
        int want;
} versions[] = {
        { "any", "2.300.0", 1 },
        { "minimum:2.330.0", "2.330.0", 1 },
        { "minimum:2.330.0", "2.331.0", 1 },
        { "minimum:2.330.0", "3.0.0", 1 },
        { "minimum:2.330.0", "2.329.9", 0 },
        { "minimum:2.330.1", "2.330.0", 0 },
        { "minimum:2.330.0", "1.999.999", 0 },
        { "pinned:2.330.0", "2.330.0", 1 },
        { "pinned:2.330.0", "2.330.1", 0 },
        { "any", "2.330", -EINVAL },
        { "any", "2.330.0-beta", -EINVAL },
        { "any", "", -EINVAL },
};

START_TEST(test_version_satisfies) {
        struct version_policy p;

        ck_assert_int_eq(version_policy_parse(versions[_i].policy, &p), 0);
        ck_assert_int_eq(version_satisfies(&p, versions[_i].version), versions[_i].want);
}
END_TEST

/* ---- baseline checks ---- */

static struct baseline_config cfg;
static const char *const present[] = { "sh" }, *const absent[] = { "sh", "lanekeeper-no-such-command" };

static void baseline(void) {
        const char *roots[] = { root };
        struct observe_env env = { .baseline = &cfg };

        cfg.roots = roots;
        cfg.n_roots = 1;
        o.n_checks = 0;
        observe_local(&env, &d, &o);
        observe_baseline(&env, &d, &o);
        o.baseline = baseline_overall(o.checks, o.n_checks);
}

static void cfg_default(void) {
        cfg = (struct baseline_config) { .min_free_bytes = 1, .commands = present, .n_commands = 1,
                                         .cgroup_root = "/sys/fs/cgroup" };
}

START_TEST(test_baseline_disk_and_clock) {
        cfg_default();
        baseline();
        ck_assert_int_eq(find("disk_space")->state, BASELINE_READY);
        ck_assert_int_eq(find("clock_offset")->state, BASELINE_UNKNOWN);
        cfg.min_free_bytes = 1ULL << 62;
        cfg.have_clock_offset = true;
        cfg.clock_offset_s = -61;
        baseline();
        ck_assert_int_eq(find("disk_space")->state, BASELINE_NOT_READY);
        ck_assert_reason_has(find("disk_space")->detail, "below the");
        ck_assert_int_eq(find("clock_offset")->state, BASELINE_NOT_READY);
        ck_assert_reason_has(find("clock_offset")->detail, "61s ahead of");
        ck_assert_int_eq(o.baseline, BASELINE_NOT_READY);
        cfg.clock_offset_s = 60;
        baseline();
        ck_assert_int_eq(find("clock_offset")->state, BASELINE_READY);
        strcpy(d.root, "/nonexistent-lanekeeper-root");
        baseline();
        ck_assert_int_eq(find("disk_space")->state, BASELINE_NOT_READY);
}
END_TEST

START_TEST(test_baseline_cgroup) {
        cfg_default();
        cfg.cgroup_root = tmp;   /* a plain directory is no cgroup2 */
        baseline();
        ck_assert_int_eq(find("cgroup_v2")->state, BASELINE_NOT_READY);
        cfg.cgroup_root = "/nonexistent-lanekeeper-cgroup";
        baseline();
        ck_assert_int_eq(find("cgroup_v2")->state, BASELINE_UNKNOWN);
}
END_TEST

START_TEST(test_baseline_commands) {
        cfg_default();
        baseline();
        ck_assert_int_eq(find("commands")->state, BASELINE_READY);
        cfg.commands = absent;
        cfg.n_commands = 2;
        baseline();
        ck_assert_int_eq(find("commands")->state, BASELINE_NOT_READY);
        ck_assert_reason_has(find("commands")->detail, "missing: lanekeeper-no-such-command");
        ck_assert_ptr_null(strstr(find("commands")->detail, "sh,"));
}
END_TEST

START_TEST(test_baseline_version) {
        char p[600];

        cfg_default();
        ck_assert_int_eq(version_policy_parse("minimum:2.330.0", &d.version), 0);
        baseline();
        ck_assert_int_eq(find("runner_version")->state, BASELINE_UNKNOWN);   /* no runner directory yet */
        ck_assert_int_eq(mkdir(lane_dir, 0750), 0);
        ck_assert_int_eq(mkdir(strcat(strcpy(p, lane_dir), "/bin.2.329.0"), 0755), 0);
        at(p, sizeof p, "bin");
        ck_assert_int_eq(symlink("bin.2.329.0", p), 0);
        baseline();
        ck_assert_int_eq(find("runner_version")->state, BASELINE_NOT_READY);
        ck_assert_reason_has(find("runner_version")->detail, "installed 2.329.0");
        ck_assert_int_eq(version_policy_parse("any", &d.version), 0);
        baseline();
        ck_assert_int_eq(find("runner_version")->state, BASELINE_READY);
}
END_TEST

START_TEST(test_baseline_docker) {
        char p[600], q[600];

        cfg_default();
        baseline();
        ck_assert_int_eq(find("docker_credentials")->state, BASELINE_READY);   /* no lane directory */
        ck_assert_int_eq(mkdir(lane_dir, 0750), 0);
        baseline();
        ck_assert_int_eq(find("docker_credentials")->state, BASELINE_READY);   /* no .docker */

        /* a link to a shared directory */
        snprintf(q, sizeof q, "%s/shared-docker", tmp);
        ck_assert_int_eq(mkdir(q, 0700), 0);
        at(p, sizeof p, ".docker");
        ck_assert_int_eq(symlink(q, p), 0);
        baseline();
        ck_assert_int_eq(find("docker_credentials")->state, BASELINE_NOT_READY);
        ck_assert_reason_has(find("docker_credentials")->detail, "symbolic link");
        ck_assert_int_eq(unlink(p), 0);

        /* writable by others */
        ck_assert_int_eq(mkdir(p, 0700), 0);
        ck_assert_int_eq(chmod(p, 0777), 0);
        baseline();
        ck_assert_int_eq(find("docker_credentials")->state, BASELINE_NOT_READY);
        ck_assert_reason_has(find("docker_credentials")->detail, "writable by others");
        ck_assert_int_eq(chmod(p, 0700), 0);

        /* private, with a private config.json */
        at(p, sizeof p, ".docker/config.json");
        write_file(p, "{\"auths\":{}}", 0600);
        baseline();
        ck_assert_msg(find("docker_credentials")->state == BASELINE_READY, "%s", find("docker_credentials")->detail);

        /* readable by others */
        ck_assert_int_eq(chmod(p, 0644), 0);
        baseline();
        ck_assert_int_eq(find("docker_credentials")->state, BASELINE_NOT_READY);
        ck_assert_int_eq(chmod(p, 0600), 0);

        /* the maintainer's own file */
        cfg.maintainer_docker_config = p;
        baseline();
        ck_assert_int_eq(find("docker_credentials")->state, BASELINE_NOT_READY);
        ck_assert_reason_has(find("docker_credentials")->detail, "maintainer's own");
        cfg.maintainer_docker_config = NULL;

        /* hard-linked with another lane's */
        snprintf(q, sizeof q, "%s/other-lane-config.json", tmp);
        ck_assert_int_eq(link(p, q), 0);
        baseline();
        ck_assert_int_eq(find("docker_credentials")->state, BASELINE_NOT_READY);
        ck_assert_reason_has(find("docker_credentials")->detail, "hard-linked");

        /* the maintainer's credentials open to everyone */
        ck_assert_int_eq(unlink(q), 0);
        write_file(q, "{}", 0644);
        cfg.maintainer_docker_config = q;
        baseline();
        ck_assert_int_eq(find("docker_credentials")->state, BASELINE_NOT_READY);
        ck_assert_reason_has(find("docker_credentials")->detail, "readable by others");
}
END_TEST

/* A user whose home exists, its name and home copied (getpw* share one
 * buffer): this test's own when it has one, else root's (a Debian build
 * runs as a user whose home is /nonexistent). */
static void user_with_home(char *name, size_t name_size, char *home, size_t home_size) {
        const struct passwd *pw = getpwuid(getuid());
        struct stat st;

        if (!pw || stat(pw->pw_dir, &st) < 0)
                pw = getpwnam("root");
        ck_assert_msg(pw && stat(pw->pw_dir, &st) == 0, "neither this test's user nor root has a home");
        snprintf(name, name_size, "%s", pw->pw_name);
        snprintf(home, home_size, "%s", pw->pw_dir);
}

START_TEST(test_baseline_home) {
        const struct passwd *nobody = getpwnam("nobody");
        char link[600], home[600];
        struct stat st;

        cfg_default();
        strcpy(d.user, "lanekeeper-no-such-user");
        baseline();
        ck_assert_int_eq(find("home_under_roots")->state, BASELINE_NOT_READY);
        ck_assert_reason_has(find("home_under_roots")->detail, "no user");
        /* a user whose home does not exist (Debian's nobody: /nonexistent) */
        if (nobody && stat(nobody->pw_dir, &st) < 0) {
                strcpy(d.user, "nobody");
                baseline();
                ck_assert_int_eq(find("home_under_roots")->state, BASELINE_NOT_READY);
                ck_assert_reason_has(find("home_under_roots")->detail, "No such file or directory");
        }
        /* a home outside this test's root */
        user_with_home(d.user, sizeof d.user, home, sizeof home);
        baseline();
        ck_assert_int_eq(find("home_under_roots")->state, BASELINE_NOT_READY);
        ck_assert_reason_has(find("home_under_roots")->detail, "outside the registration roots");
        /* a root that is a link to the home's parent counts once resolved */
        snprintf(link, sizeof link, "%s/link-root", tmp);
        *strrchr(home, '/') = '\0';
        if (home[0]) {
                const char *roots[] = { link };
                struct observe_env env = { .baseline = &cfg };

                ck_assert_int_eq(symlink(home, link), 0);
                cfg.roots = roots;
                cfg.n_roots = 1;
                o.n_checks = 0;
                observe_baseline(&env, &d, &o);
                ck_assert_msg(find("home_under_roots")->state == BASELINE_READY, "%s", find("home_under_roots")->detail);
        }
}
END_TEST

/* ---- the ops table ---- */

static int order[4], n_order;
static void f_github(const struct observe_env *e, const struct lane_desired *l, struct observation *ob) {
        (void) e, (void) l, (void) ob;
        order[n_order++] = 1;
}
static void f_local(const struct observe_env *e, const struct lane_desired *l, struct observation *ob) {
        (void) e, (void) l;
        strcpy(ob->runner_version, "2.330.0");
        order[n_order++] = 2;
}
static void f_unit(const struct observe_env *e, const struct lane_desired *l, struct observation *ob) {
        (void) e, (void) l, (void) ob;
        order[n_order++] = 3;
}
static void f_baseline(const struct observe_env *e, const struct lane_desired *l, struct observation *ob) {
        (void) e, (void) l;
        ck_assert_str_eq(ob->runner_version, "2.330.0");   /* local ran first */
        ob->n_checks = 2;
        ob->checks[0] = (struct baseline_check) { .name = "a", .state = BASELINE_READY };
        ob->checks[1] = (struct baseline_check) { .name = "b", .state = BASELINE_UNKNOWN };
        order[n_order++] = 4;
}

START_TEST(test_ops_order) {
        static const struct observe_ops fake = { f_github, f_local, f_unit, f_baseline };

        n_order = 0;
        o.baseline = BASELINE_NOT_READY;
        observe_lane(&fake, &no_sources, &d, &o);
        ck_assert_int_eq(n_order, 4);
        for (int i = 0; i < 4; i++)
                ck_assert_int_eq(order[i], i + 1);
        ck_assert_int_eq(o.baseline, BASELINE_READY);
        ck_assert(o.main_uid == -1);
}
END_TEST

START_TEST(test_no_sources) {
        observe_github(&no_sources, &d, &o);
        ck_assert(!o.github_known && o.github_detail[0]);
        observe_unit(&no_sources, &d, &o);
        ck_assert(!o.unit_known && o.unit_detail[0]);
        observe_baseline(&no_sources, &d, &o);
        ck_assert_uint_eq(o.n_checks, 0);
        ck_assert_int_eq(baseline_overall(o.checks, o.n_checks), BASELINE_UNKNOWN);
}
END_TEST

int main(void) {
        Suite *s = suite_create("observe");
        TCase *tc = tcase_create("observe");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_local_absent);
        tcase_add_test(tc, test_local_configured);
        tcase_add_test(tc, test_local_unconfigured_fresh_unpack);
        tcase_add_test(tc, test_local_symlinked_lane);
        tcase_add_test(tc, test_local_corrupt_runner_file);
        tcase_add_loop_test(tc, test_version_satisfies, 0, (int) ELEMENTSOF(versions));
        tcase_add_test(tc, test_baseline_disk_and_clock);
        tcase_add_test(tc, test_baseline_cgroup);
        tcase_add_test(tc, test_baseline_commands);
        tcase_add_test(tc, test_baseline_version);
        tcase_add_test(tc, test_baseline_docker);
        tcase_add_test(tc, test_baseline_home);
        tcase_add_test(tc, test_ops_order);
        tcase_add_test(tc, test_no_sources);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
