/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lane files: the good file's fields, and every error reported with its
 * line, several per file. */
#include <stdio.h>
#include <string.h>

#include "lane-file.h"
#include "test-util.h"

static const char good[] =
        "# cm-website lane\n"
        "[lane]\n"
        "name = cm-website-chris-testing\n"
        "repository = acme/odoo-tenant-cm-website\n"
        "host = ci-host-1.example\n"
        "root = /srv/lanekeeper/runners\n"
        "user = ghrunner\n"
        "labels = self-hosted, X64, lanekeeper-managed, cm-website\n"
        "group = Default Larger Runners\n"
        "version = pinned:2.330.0\n"
        "managed = true\n"
        "dedicated = true\n";

static int parse(const char *text, struct lane_desired *l, struct ini_diags *d) {
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        int r;

        ck_assert_ptr_nonnull(f);
        *d = (struct ini_diags) {};
        r = lane_file_parse(f, l, d);
        fclose(f);
        return r;
}

START_TEST(test_good) {
        struct lane_desired l;
        struct ini_diags d;
        char v[64];

        ck_assert_msg(parse(good, &l, &d) == 0, "%s", d.n ? d.d[0].message : "");
        ck_assert_str_eq(l.name, "cm-website-chris-testing");
        ck_assert_str_eq(l.repository, "acme/odoo-tenant-cm-website");
        ck_assert_str_eq(l.organisation, "");
        ck_assert_str_eq(l.host, "ci-host-1.example");
        ck_assert_str_eq(l.root, "/srv/lanekeeper/runners");
        ck_assert_str_eq(l.user, "ghrunner");
        ck_assert_str_eq(l.group, "Default Larger Runners");
        ck_assert_uint_eq(l.n_labels, 4);
        ck_assert(lane_has_label(&l, "x64"));
        ck_assert(lane_has_label(&l, LANE_MANAGED_LABEL));
        ck_assert(!lane_has_label(&l, "linux"));
        ck_assert_str_eq(version_policy_format(&l.version, v, sizeof v), "pinned:2.330.0");
        ck_assert(l.managed);
        ck_assert(l.dedicated);
}
END_TEST

START_TEST(test_defaults) {
        struct lane_desired l;
        struct ini_diags d;

        ck_assert_int_eq(parse("[lane]\nname=a\norganisation=acme\nhost=h\nroot=/r\nuser=u\n"
                               "labels=self-hosted\nmanaged=false\n", &l, &d), 0);
        ck_assert_str_eq(l.group, "Default");
        ck_assert_int_eq(l.version.kind, VERSION_ANY);
        ck_assert(!l.managed);
        ck_assert(!l.dedicated);
        ck_assert_str_eq(l.organisation, "acme");
}
END_TEST

static const struct {
        const char *text;
        int line;
        const char *message;
} bad[] = {
        { "[lane]\nname = Bad\n", 2, "'name' contains an upper-case letter" },
        { "[lane]\nname = x\nname = y\n", 3, "'name' is set twice" },
        { "[lane]\nfrobnicate = 1\n", 2, "unknown key 'frobnicate'" },
        { "[other]\nname = x\n", 2, "unknown section [other]" },
        { "[lane]\nrepository = acme\n", 2, "not of the form owner/name" },
        { "[lane]\nroot = relative\n", 2, "not an absolute path" },
        { "[lane]\nroot = /\n", 2, "may not be '/'" },
        { "[lane]\nroot = /srv/x\\nExecStart=/bin/sh\n", 2, "'root' contains a backslash" },
        { "[lane]\nuser = 0day\n", 2, "starts with a digit" },
        { "[lane]\nhost = -h\n", 2, "is not a host name" },
        { "[lane]\nlabels = self-hosted, -x\n", 2, "label '-x' starts with '-'" },
        { "[lane]\nlabels = self-hosted, X64, x64\n", 2, "label 'x64' is listed twice" },
        { "[lane]\nversion = 2.330.0\n", 2, "'version' must be any" },
        { "[lane]\nversion = minimum:2.330\n", 2, "'version' must be any" },
        { "[lane]\nversion = pinned:2.330.0x\n", 2, "'version' must be any" },
        { "[lane]\nmanaged = yes\n", 2, "'managed' must be true or false" },
        { "[lane]\ndedicated = 1\n", 2, "'dedicated' must be true or false" },
        { "[lane]\ndedicated = false\ndedicated = true\n", 3, "'dedicated' is set twice" },
        { "[lane]\n[other]\ndedicated = true\n", 3, "unknown section [other]" },
        { "[lane]\ngroup = \x01x\n", 2, "is not a runner group name" },
        { "[lane]\nthis is not ini\n", 2, "syntax error" },
        { "[lane]\n", 0, "required key 'name' is missing" },
        { "[lane]\nrepository = a/b\norganisation = a\n", 0, "exactly one of 'repository' and 'organisation'" },
        { "[lane]\nlabels = lanekeeper-managed\n", 0, "labels must include 'self-hosted'" },
};

START_TEST(test_bad) {
        struct lane_desired l;
        struct ini_diags d;
        bool found = false;

        ck_assert_int_eq(parse(bad[_i].text, &l, &d), -EINVAL);
        for (size_t i = 0; i < d.n; i++)
                found |= d.d[i].line == bad[_i].line && strstr(d.d[i].message, bad[_i].message);
        if (!found)
                for (size_t i = 0; i < d.n; i++)
                        fprintf(stderr, "  got %d: %s\n", d.d[i].line, d.d[i].message);
        ck_assert_msg(found, "case %d: no error '%s' on line %d", _i, bad[_i].message, bad[_i].line);
}
END_TEST

/* Every error of a file, not just the first, in line order. */
START_TEST(test_every_error_in_order) {
        struct lane_desired l;
        struct ini_diags d;

        ck_assert_int_eq(parse("[lane]\nname = Bad\nfoo = 1\nmanaged = maybe\n", &l, &d), -EINVAL);
        ck_assert_uint_ge(d.n, 5);   /* 3 on lines, missing keys after */
        ck_assert_int_eq(d.d[0].line, 2);
        ck_assert_int_eq(d.d[1].line, 3);
        ck_assert_int_eq(d.d[2].line, 4);
        for (size_t i = 3; i < d.n; i++)
                ck_assert_int_eq(d.d[i].line, 0);
}
END_TEST

START_TEST(test_too_many_errors) {
        static char text[16384];
        struct lane_desired l;
        struct ini_diags d;
        size_t n = (size_t) snprintf(text, sizeof text, "[lane]\n");

        for (int i = 0; i < 100; i++)
                n += (size_t) snprintf(text + n, sizeof text - n, "bogus%d = 1\n", i);
        ck_assert_int_eq(parse(text, &l, &d), -EINVAL);
        ck_assert_uint_eq(d.n, INI_MAX_DIAGS);
        ck_assert_uint_gt(d.dropped, 0);
}
END_TEST

static const struct {
        const char *in;
        int ok;
} versions[] = {
        { "any", 1 }, { "minimum:2.330.0", 1 }, { "pinned:0.0.0", 1 }, { "minimum:99999.0.1", 1 },
        { "minimum:100000.0.0", 0 }, { "pinned:", 0 }, { "pinned:1.2", 0 }, { "pinned:1.2.3.4", 0 },
        { "latest", 0 }, { "minimum: 2.3.4", 0 }, { "pinned:-1.2.3", 0 }, { "", 0 },
};

START_TEST(test_versions) {
        struct version_policy v;
        char buf[64];
        int r = version_policy_parse(versions[_i].in, &v);

        ck_assert_msg((r == 0) == versions[_i].ok, "'%s'", versions[_i].in);
        if (r == 0)
                ck_assert_str_eq(version_policy_format(&v, buf, sizeof buf), versions[_i].in);
}
END_TEST

/* A repository lane serves its repository (case aside); an organisation's
 * lane every repository of the organisation, and no other. */
START_TEST(test_serves_repository) {
        struct lane_desired r = {}, o = {};

        strcpy(r.repository, "acme/site");
        ck_assert(lane_serves_repository(&r, "acme/site"));
        ck_assert(lane_serves_repository(&r, "ACME/Site"));
        ck_assert(!lane_serves_repository(&r, "acme/docs"));
        ck_assert(!lane_serves_repository(&r, "acme/site2"));
        strcpy(o.organisation, "acme");
        ck_assert(lane_serves_repository(&o, "acme/docs"));
        ck_assert(lane_serves_repository(&o, "Acme/site"));
        ck_assert(!lane_serves_repository(&o, "acmecorp/site"));   /* a prefix of the owner is not the owner */
        ck_assert(!lane_serves_repository(&o, "other/site"));
        ck_assert(!lane_serves_repository(&o, "acme"));
}
END_TEST

int main(void) {
        Suite *s = suite_create("lane-file");
        TCase *tc = tcase_create("lane-file");

        tcase_add_test(tc, test_good);
        tcase_add_test(tc, test_defaults);
        tcase_add_loop_test(tc, test_bad, 0, (int) ELEMENTSOF(bad));
        tcase_add_test(tc, test_every_error_in_order);
        tcase_add_test(tc, test_too_many_errors);
        tcase_add_test(tc, test_serves_repository);
        tcase_add_loop_test(tc, test_versions, 0, (int) ELEMENTSOF(versions));
        suite_add_tcase(s, tc);
        return run_suite(s);
}
