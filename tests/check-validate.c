/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Table-driven tests of every validator: each bad value must be refused with
 * its specific reason, each good value accepted. */
#include <string.h>

#include "proto-validate.h"
#include "test-util.h"

typedef int (*validator_fn)(const char *, const char **);

struct vcase {
        validator_fn fn;
        const char *fn_name;
        const char *value;
        const char *reason;   /* NULL: must be accepted */
};

#define GOOD(f, v)    { proto_validate_##f, #f, v, NULL }
#define BAD(f, v, r)  { proto_validate_##f, #f, v, r }

static const struct vcase cases[] = {
        /* lane names */
        GOOD(lane_name, "cm-website-chris-testing"),
        GOOD(lane_name, "a"),
        GOOD(lane_name, "lane.01_x"),
        GOOD(lane_name, "0day"),
        BAD(lane_name, "", "is empty"),
        BAD(lane_name, "Lane", "upper-case"),
        BAD(lane_name, "-lane", "starts with '-'"),
        BAD(lane_name, ".lane", "starts with '.'"),
        BAD(lane_name, "lane-", "ends with '-'"),
        BAD(lane_name, "lane.", "ends with '.'"),
        BAD(lane_name, "a..b", "contains '..'"),
        BAD(lane_name, "a/b", "contains '/'"),
        BAD(lane_name, "a b", "contains a space"),
        BAD(lane_name, "a%ib", "systemd specifier"),
        BAD(lane_name, "x\nExecStart=/bin/sh", "contains a newline"),
        BAD(lane_name, "a=b", "contains '='"),
        BAD(lane_name, "a\\b", "backslash"),
        BAD(lane_name, "caf\xc3\xa9", "non-ASCII"),
        BAD(lane_name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "too long"),
        GOOD(lane_name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        /* repositories */
        GOOD(repository, "acme/odoo-tenant-cm-website"),
        GOOD(repository, "octo-org/.github"),
        GOOD(repository, "A1/b_c.d"),
        BAD(repository, "acme", "owner/name"),
        BAD(repository, "/repo", "empty owner"),
        BAD(repository, "acme/", "empty repository name"),
        BAD(repository, "acme/a/b", "more than one '/'"),
        BAD(repository, "acme/..", "'.' or '..'"),
        BAD(repository, "-acme/x", "starts with '-'"),
        BAD(repository, "acme-/x", "ends with '-'"),
        BAD(repository, "acme/-x", "starting with '-'"),
        BAD(repository, "ac_me/x", "outside the allowed set"),
        BAD(repository, "acme/x y", "contains a space"),
        BAD(repository, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/x", "longer than 39"),
        /* organisations */
        GOOD(organisation, "acme"),
        GOOD(organisation, "Octo-Org"),
        BAD(organisation, "acme/x", "contains '/'"),
        BAD(organisation, "-acme", "starts with '-'"),
        /* labels */
        GOOD(label, "self-hosted"),
        GOOD(label, "launchplane-managed"),
        GOOD(label, "X64"),
        GOOD(label, "ubuntu-22.04"),
        BAD(label, "a,b", "outside the allowed set"),
        BAD(label, "-x", "starts with '-'"),
        BAD(label, "with space", "contains a space"),
        /* runner names */
        GOOD(runner_name, "cm-website-chris-testing"),
        GOOD(runner_name, "Runner_01.host"),
        BAD(runner_name, "runner\r", "carriage return"),
        BAD(runner_name, "r;rm", "shell metacharacter"),
        /* unit names */
        GOOD(unit_name, "lanekeeper-lane@cm-website-chris-testing.service"),
        BAD(unit_name, "lanekeeper-lane@.service", "empty lane name"),
        BAD(unit_name, "sshd.service", "does not start with"),
        BAD(unit_name, "lanekeeper-lane@x.socket", "does not end with '.service'"),
        BAD(unit_name, "lanekeeper-lane@../x.service", "contains '/'"),
        BAD(unit_name, "lanekeeper-lane@.x.service", "starts with '.'"),
        BAD(unit_name, "lanekeeper-lane@X.service", "upper-case"),
        /* user names */
        GOOD(user_name, "runner"),
        GOOD(user_name, "gh_runner-1"),
        GOOD(user_name, "_svc"),
        BAD(user_name, "Runner", "upper-case"),
        BAD(user_name, "1000", "starts with a digit"),
        BAD(user_name, "-u", "starts with '-'"),
        BAD(user_name, "run$", "contains '$'"),
        BAD(user_name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "too long"),
        /* absolute paths */
        GOOD(abs_path, "/"),
        GOOD(abs_path, "/srv/lanekeeper/runners"),
        GOOD(abs_path, "/home/runner/actions-runner_2.330.0"),
        BAD(abs_path, "srv/x", "not an absolute path"),
        BAD(abs_path, "/srv/../etc", "'..' component"),
        BAD(abs_path, "/srv/./x", "'.' component"),
        BAD(abs_path, "/srv//x", "empty component"),
        BAD(abs_path, "/srv/x/", "ends with '/'"),
        BAD(abs_path, "/srv/-x", "starting with '-'"),
        BAD(abs_path, "/srv/x\n", "contains a newline"),
        BAD(abs_path, "/srv/a b", "contains a space"),
        BAD(abs_path, "/srv/%h", "systemd specifier"),
        GOOD(abs_subpath, "/srv/lanekeeper/runners"),
        BAD(abs_subpath, "/", "may not be '/'"),
        BAD(abs_subpath, "srv", "not an absolute path"),
        /* host names */
        GOOD(host_name, "ci-runner-01.example.org"),
        GOOD(host_name, "CI-1"),
        BAD(host_name, "", "is not a host name"),
        BAD(host_name, "-h", "is not a host name"),
        BAD(host_name, ".h", "is not a host name"),
        BAD(host_name, "a b", "is not a host name"),
        BAD(host_name, "h_1", "is not a host name"),
        /* BPF object names */
        GOOD(bpf_object_name, "exec-observer"),
        BAD(bpf_object_name, "/tmp/x.o", "contains '/'"),
};

START_TEST(test_validator_table) {
        const struct vcase *c = &cases[_i];
        const char *reason = NULL;
        int r = c->fn(c->value, &reason);

        if (!c->reason)
                ck_assert_msg(r == 0, "%s(\"%s\") refused: %s", c->fn_name, c->value, reason);
        else {
                ck_assert_msg(r == -EINVAL, "%s(\"%s\") accepted, expected: %s", c->fn_name, c->value, c->reason);
                ck_assert_reason_has(reason, c->reason);
        }
}
END_TEST

START_TEST(test_validators_refuse_null) {
        static const validator_fn fns[] = {
                proto_validate_lane_name, proto_validate_repository, proto_validate_organisation,
                proto_validate_label, proto_validate_runner_name, proto_validate_unit_name,
                proto_validate_user_name, proto_validate_abs_path, proto_validate_bpf_object_name,
                proto_validate_abs_subpath, proto_validate_host_name,
        };
        const char *reason = NULL;

        ck_assert_int_eq(fns[_i](NULL, &reason), -EINVAL);
        ck_assert_ptr_nonnull(reason);
        /* A NULL reason pointer is allowed too. */
        ck_assert_int_eq(fns[_i]("", NULL), -EINVAL);
}
END_TEST

static const struct {
        const char *root, *path, *rel, *reason;
} beneath_cases[] = {
        { "/srv/runners", "/srv/runners/lane-a", "lane-a", NULL },
        { "/srv/runners", "/srv/runners/lane-a/run.sh", "lane-a/run.sh", NULL },
        { "/", "/srv", "srv", NULL },
        { "/srv/runners", "/srv/runners", NULL, "root itself" },
        { "/srv/runners", "/srv/runners2/x", NULL, "outside the allowed root" },
        { "/srv/runners", "/srv/x", NULL, "outside the allowed root" },
        { "/srv/runners", "/srv/runners/../etc", NULL, "'..' component" },
        { "/srv/runners", "relative/x", NULL, "not an absolute path" },
        { "srv", "/srv/x", NULL, "root is not a valid" },
};

START_TEST(test_path_beneath) {
        const char *rel = NULL, *reason = NULL;
        int r = proto_path_beneath(beneath_cases[_i].root, beneath_cases[_i].path, &rel, &reason);

        if (beneath_cases[_i].rel) {
                ck_assert_msg(r == 0, "%s under %s refused: %s", beneath_cases[_i].path, beneath_cases[_i].root, reason);
                ck_assert_str_eq(rel, beneath_cases[_i].rel);
        } else {
                ck_assert_int_eq(r, -EINVAL);
                ck_assert_reason_has(reason, beneath_cases[_i].reason);
        }
}
END_TEST

START_TEST(test_unit_name_for_lane) {
        char buf[128], tiny[8];

        ck_assert_int_eq(proto_unit_name_for_lane("cm-website", buf, sizeof buf), 0);
        ck_assert_str_eq(buf, "lanekeeper-lane@cm-website.service");
        ck_assert_int_eq(proto_validate_unit_name(buf, NULL), 0);
        ck_assert_int_eq(proto_unit_name_for_lane("x\nExecStart=/bin/sh", buf, sizeof buf), -EINVAL);
        ck_assert_int_eq(proto_unit_name_for_lane("cm-website", tiny, sizeof tiny), -ENOBUFS);
}
END_TEST

START_TEST(test_printable_ascii) {
        ck_assert(proto_is_printable_ascii("abc ~", 5));
        ck_assert(!proto_is_printable_ascii("a\tb", 3));
        ck_assert(!proto_is_printable_ascii("a\0b", 3));
        ck_assert(!proto_is_printable_ascii("\x7f", 1));
        ck_assert(!proto_is_printable_ascii("\xc3\xa9", 2));
}
END_TEST

int main(void) {
        Suite *s = suite_create("validate");
        TCase *tc = tcase_create("validate");

        tcase_add_loop_test(tc, test_validator_table, 0, (int) ELEMENTSOF(cases));
        tcase_add_loop_test(tc, test_validators_refuse_null, 0, 11);
        tcase_add_loop_test(tc, test_path_beneath, 0, (int) ELEMENTSOF(beneath_cases));
        tcase_add_test(tc, test_unit_name_for_lane);
        tcase_add_test(tc, test_printable_ascii);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
