/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy file: real files in a private directory, refused when any
 * step is not trusted, and every syntax and value error named. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "proto-policy.h"
#include "test-util.h"

static char dir[] = "/tmp/lanekeeper-check-policy-XXXXXX";
static int anchor = -1;
static struct helper_policy pol;
static char err[512];

static const char good[] =
        "# lanekeeper policy\n"
        "[helper]\n"
        "maintainers = lanekeeper\n"
        "host = ci-host-1.example\n"
        "[lanes]\n"
        "users = lkrunner, lkrunner2\n"
        "roots = /srv/lanekeeper/runners /home/runners\n"
        "repositories = acme/odoo-tenant-cm-website\n"
        "organisations = acme\n"
        "[bpf]\n"
        "exec-observer = /usr/lib/lanekeeper/bpf/exec.bpf.o sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n";

static void write_file(const char *rel, const char *content, mode_t mode) {
        int fd = openat(anchor, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        ck_assert_int_eq(fchmod(fd, mode), 0);
        close(fd);
}

static void setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(dir));
        anchor = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(anchor, 0);
        ck_assert_int_eq(mkdirat(anchor, "etc", 0755), 0);
        write_file("etc/policy.conf", good, 0644);
}

static int load(const char *rel) {
        return policy_load_at(anchor, rel, geteuid(), &pol, err, sizeof err);
}

START_TEST(test_good_policy) {
        ck_assert_msg(load("etc/policy.conf") == 0, "%s", err);
        ck_assert_str_eq(pol.host, "ci-host-1.example");
        ck_assert_uint_eq(pol.n_maintainers, 1);
        ck_assert(policy_has_maintainer(&pol, "lanekeeper"));
        ck_assert(!policy_has_maintainer(&pol, "lkrunner"));
        ck_assert(policy_has_user(&pol, "lkrunner2"));
        ck_assert(!policy_has_user(&pol, "root"));
        ck_assert(!policy_has_user(&pol, NULL));
        ck_assert_str_eq(policy_find_root(&pol, "/home/runners"), "/home/runners");
        ck_assert_ptr_null(policy_find_root(&pol, "/home"));
        ck_assert_str_eq(pol.repositories[0], "acme/odoo-tenant-cm-website");
        ck_assert_str_eq(pol.organisations[0], "acme");
        ck_assert_ptr_nonnull(policy_find_bpf(&pol, "exec-observer"));
        ck_assert_str_eq(policy_find_bpf(&pol, "exec-observer")->path, "/usr/lib/lanekeeper/bpf/exec.bpf.o");
        ck_assert_ptr_null(policy_find_bpf(&pol, "other"));
        ck_assert_str_eq(policy_managed_label(&pol), "lanekeeper-managed");   /* not set: the default */
}
END_TEST

START_TEST(test_managed_label) {
        write_file("etc/policy.conf", "[helper]\nmaintainers = lanekeeper\n[lanes]\nmanaged_label = launchplane-managed\n", 0644);
        ck_assert_msg(load("etc/policy.conf") == 0, "%s", err);
        ck_assert_str_eq(policy_managed_label(&pol), "launchplane-managed");
}
END_TEST

static const struct {
        const char *content, *reason;
} bad_content[] = {
        { "[helper]\nmaintainers = lanekeeper\nfrobnicate = yes\n", "line 3: unknown key 'frobnicate' in section [helper]" },
        { "[helper]\nmaintainers = lanekeeper\n[extra]\nx = 1\n", "line 4: unknown section [extra]" },
        { "maintainers = lanekeeper\n", "unknown section []" },
        { "[helper]\nmaintainers = Lanekeeper\n", "line 2: 'maintainers': an entry contains an upper-case letter" },
        { "[helper]\nmaintainers = lanekeeper\n[lanes]\nusers = a, a\n", "line 4: 'users': 'a' is listed twice" },
        { "[helper]\nmaintainers = lanekeeper\n[lanes]\nroots = /srv/../etc\n", "'..' component" },
        { "[helper]\nmaintainers = lanekeeper\n[lanes]\nroots = srv\n", "not an absolute path" },
        { "[helper]\nmaintainers = lanekeeper\n[lanes]\nrepositories = acme\n", "owner/name" },
        { "[helper]\nhost = a\n", "no maintainers" },
        { "[helper]\nmaintainers = lanekeeper\nhost = a b\n", "'host' is not a host name" },
        { "[helper]\nmaintainers = lanekeeper\nhost = a\nhost = b\n", "'host' is set twice" },
        { "[helper]\nmaintainers = lanekeeper\n[bpf]\nx = /a.o sha256:abc\n", "expected 'PATH sha256:" },
        { "[helper]\nmaintainers = lanekeeper\n[bpf]\nx = a.o sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
          "not an absolute path" },
        { "[helper]\nmaintainers = lanekeeper\n[bpf]\nX = /a.o sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
          "upper-case" },
        { "[helper]\nmaintainers = lanekeeper\n[lanes]\nmanaged_label = a b\n", "line 4: 'managed_label'" },
        { "[helper]\nmaintainers = lanekeeper\n[lanes]\nmanaged_label = Self-Hosted\n", "cannot be 'Self-Hosted'" },
        { "[helper]\nmaintainers = lanekeeper\n[lanes]\nmanaged_label = x\nmanaged_label = y\n", "set twice" },
        { "[helper\nmaintainers = lanekeeper\n", "line 1: syntax error" },
        { "[helper]\nmaintainers lanekeeper\n", "line 2: syntax error" },
};

START_TEST(test_bad_content) {
        write_file("etc/policy.conf", bad_content[_i].content, 0644);
        ck_assert_int_eq(load("etc/policy.conf"), -EINVAL);
        ck_assert_reason_has(err, bad_content[_i].reason);
}
END_TEST

START_TEST(test_group_writable_file) {
        ck_assert_int_eq(fchmodat(anchor, "etc/policy.conf", 0664, 0), 0);
        ck_assert_int_eq(load("etc/policy.conf"), -EPERM);
        ck_assert_reason_has(err, "policy file 'policy.conf' is writable by group or others");
}
END_TEST

START_TEST(test_world_writable_dir) {
        ck_assert_int_eq(fchmodat(anchor, "etc", 0777, 0), 0);
        ck_assert_int_eq(load("etc/policy.conf"), -EPERM);
        ck_assert_reason_has(err, "directory 'etc' is writable by group or others");
}
END_TEST

START_TEST(test_symlinked_file) {
        ck_assert_int_eq(symlinkat("policy.conf", anchor, "etc/link.conf"), 0);
        ck_assert_int_eq(load("etc/link.conf"), -ELOOP);
        ck_assert_reason_has(err, "symbolic link");
}
END_TEST

START_TEST(test_symlinked_dir) {
        ck_assert_int_eq(symlinkat("etc", anchor, "etc2"), 0);
        ck_assert_int_eq(load("etc2/policy.conf"), -ELOOP);
        ck_assert_reason_has(err, "symbolic link");
}
END_TEST

START_TEST(test_dotdot_and_absolute) {
        ck_assert_int_eq(load("etc/../etc/policy.conf"), -EINVAL);
        ck_assert_reason_has(err, "contains '..'");
        ck_assert_int_eq(load("/etc/policy.conf"), -EINVAL);
}
END_TEST

START_TEST(test_not_regular) {
        ck_assert_int_eq(load("etc"), -EBADFD);
        ck_assert_reason_has(err, "is not a regular file");
        ck_assert_int_eq(load("etc/missing.conf"), -ENOENT);
}
END_TEST

START_TEST(test_too_large) {
        static char big[POLICY_MAX_SIZE + 100];

        memset(big, '#', sizeof big - 1);
        write_file("etc/policy.conf", big, 0644);
        ck_assert_int_eq(load("etc/policy.conf"), -EFBIG);
        ck_assert_reason_has(err, "larger than 64 KiB");
}
END_TEST

/* Ownership needs root to arrange: CI runs as root. */
START_TEST(test_foreign_owner) {
        ck_assert_int_eq(fchownat(anchor, "etc/policy.conf", 12345, 12345, 0), 0);
        ck_assert_int_eq(load("etc/policy.conf"), -EPERM);
        ck_assert_reason_has(err, "is not owned by root");
        ck_assert_int_eq(fchownat(anchor, "etc/policy.conf", 0, 0, 0), 0);
        ck_assert_int_eq(fchownat(anchor, "etc", 12345, 12345, AT_SYMLINK_NOFOLLOW), 0);
        ck_assert_int_eq(load("etc/policy.conf"), -EPERM);
        ck_assert_reason_has(err, "directory 'etc' is not owned by root");
}
END_TEST

START_TEST(test_absolute_loader) {
        /* policy_load() insists on an absolute path and checks from '/'. */
        ck_assert_int_eq(policy_load("relative/policy.conf", &pol, err, sizeof err), -EINVAL);
        ck_assert_int_eq(policy_load("/", &pol, err, sizeof err), -EINVAL);
        ck_assert_reason_has(err, "policy path is '/'");
        /* /tmp is world-writable: a policy beneath it is never trusted. */
        ck_assert_int_lt(policy_load("/tmp/x/policy.conf", &pol, err, sizeof err), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("policy");
        TCase *tc = tcase_create("policy");

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, test_good_policy);
        tcase_add_test(tc, test_managed_label);
        tcase_add_loop_test(tc, test_bad_content, 0, (int) ELEMENTSOF(bad_content));
        tcase_add_test(tc, test_group_writable_file);
        tcase_add_test(tc, test_world_writable_dir);
        tcase_add_test(tc, test_symlinked_file);
        tcase_add_test(tc, test_symlinked_dir);
        tcase_add_test(tc, test_dotdot_and_absolute);
        tcase_add_test(tc, test_not_regular);
        tcase_add_test(tc, test_too_large);
        tcase_add_test(tc, test_absolute_loader);
        if (geteuid() == 0)
                tcase_add_test(tc, test_foreign_owner);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
