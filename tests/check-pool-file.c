/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pool files: the good file's fields and its slots as lanes, the defaults,
 * and every error with its line. */
#include <stdio.h>
#include <string.h>

#include "pool-file.h"
#include "test-util.h"

static const char good[] =
        "# the site's ephemeral pool\n"
        "[pool]\n"
        "name = eph\n"
        "organisation = acme\n"
        "host = ci-host-1.example\n"
        "root = /srv/lanekeeper/runners\n"
        "user = ghrunner\n"
        "labels = self-hosted, linux, lanekeeper-managed, ephemeral\n"
        "group = Pool Runners\n"
        "version = minimum:2.330.0\n"
        "min = 1\n"
        "max = 8\n"
        "spare = 2\n";

static int parse(const char *text, struct pool_desired *p, struct ini_diags *d) {
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        int r;

        ck_assert_ptr_nonnull(f);
        *d = (struct ini_diags) {};
        r = pool_file_parse(f, p, d);
        fclose(f);
        return r;
}

START_TEST(test_good) {
        struct pool_desired p;
        struct lane_desired slot;
        struct ini_diags d;
        char v[64];

        ck_assert_msg(parse(good, &p, &d) == 0, "%s", d.n ? d.d[0].message : "");
        ck_assert_str_eq(p.lane.name, "eph");
        ck_assert_str_eq(p.lane.organisation, "acme");
        ck_assert_str_eq(p.lane.repository, "");
        ck_assert_str_eq(p.lane.group, "Pool Runners");
        ck_assert_uint_eq(p.lane.n_labels, 4);
        ck_assert_uint_eq(p.min, 1);
        ck_assert_uint_eq(p.max, 8);
        ck_assert_uint_eq(p.spare, 2);
        pool_slot_lane(&p, 8, &slot);
        ck_assert_str_eq(slot.name, "eph-8");
        ck_assert_str_eq(slot.organisation, "acme");
        ck_assert_str_eq(slot.root, "/srv/lanekeeper/runners");
        ck_assert_str_eq(slot.user, "ghrunner");
        ck_assert_str_eq(slot.group, "Pool Runners");
        ck_assert(slot.managed && lane_has_label(&slot, "EPHEMERAL") && slot.n_labels == 4);
        ck_assert_str_eq(version_policy_format(&slot.version, v, sizeof v), "minimum:2.330.0");
}
END_TEST

START_TEST(test_defaults) {
        struct pool_desired p;
        struct ini_diags d;

        ck_assert_int_eq(parse("[pool]\nname=p\nrepository=acme/site\nhost=h\nroot=/r\nuser=u\nlabels=self-hosted\nmax=3\n",
                               &p, &d), 0);
        ck_assert_uint_eq(p.min, 0);
        ck_assert_uint_eq(p.spare, 0);
        ck_assert_str_eq(p.lane.group, "Default");
        ck_assert_int_eq(p.lane.version.kind, VERSION_ANY);
        ck_assert(p.lane.managed);
}
END_TEST

#define BASE "[pool]\nname=p\nrepository=acme/site\nhost=h\nroot=/r\nuser=u\nlabels=self-hosted\n"
#define SS "[pool]\nname=web\nrepository=acme/site\nhost=h\nroot=/r\nuser=u\nmax=4\nmode=scale-set\n"

START_TEST(test_scale_set) {
        struct pool_desired p;
        struct lane_desired slot;
        struct ini_diags d;

        ck_assert_int_eq(parse(SS, &p, &d), 0);
        ck_assert_int_eq(p.mode, POOL_MODE_SCALE_SET);
        ck_assert_str_eq(p.scale_set, "web");   /* the pool's name by default */
        ck_assert_int_eq(parse(SS "scale_set = lk-web-x64\n", &p, &d), 0);
        ck_assert_str_eq(p.scale_set, "lk-web-x64");
        pool_slot_lane(&p, 2, &slot);
        ck_assert(lane_has_label(&slot, "lk-web-x64") && lane_has_label(&slot, "self-hosted") && slot.n_labels == 2);
        ck_assert_int_eq(parse(BASE "max=2\nmode=labels\n", &p, &d), 0);
        ck_assert_int_eq(p.mode, POOL_MODE_LABELS);
        ck_assert_str_eq(p.scale_set, "");
}
END_TEST


static const struct {
        const char *text;
        int line;
        const char *message;
} bad[] = {
        { BASE "max=3\nmin=4\n", 0, "'min' (4) and 'spare' (0) cannot exceed 'max' (3)" },
        { BASE "max=3\nspare=5\n", 0, "cannot exceed 'max'" },
        { BASE "max=0\n", 0, "'max' must be at least 1" },
        { BASE "max=101\n", 8, "'max' must be a number from 0 to 100" },
        { BASE "max=-1\n", 8, "'max' must be a number" },
        { BASE "max=2\nmin=one\n", 9, "'min' must be a number" },
        { BASE, 0, "required key 'max' is missing" },
        { BASE "max=2\nmax=3\n", 9, "'max' is set twice" },
        { BASE "max=2\nmanaged=true\n", 9, "unknown key 'managed'" },
        { BASE "max=2\n[lane]\nname=x\n", 10, "unknown section [lane]" },
        { "[pool]\nname=p\norganisation=acme\nrepository=acme/site\nhost=h\nroot=/r\nuser=u\nlabels=self-hosted\nmax=1\n", 0,
          "exactly one of 'repository' and 'organisation'" },
        { "[pool]\nname=p\nrepository=acme/site\nhost=h\nroot=/r\nuser=u\nlabels=linux\nmax=1\n", 0, "must include 'self-hosted'" },
        { BASE "max=2\nversion=latest\n", 9, "'version' must be any" },
        { "[pool]\nname=a23456789012345678901234567890123456789012345678901234567890123\nrepository=acme/site\nhost=h\n"
          "root=/r\nuser=u\nlabels=self-hosted\nmax=12\n", 0, "slot name 'a234" },
        { BASE "max=2\nmode=k8s\n", 9, "'mode' is 'labels' or 'scale-set', not 'k8s'" },
        { BASE "max=2\nmode=labels\nmode=labels\n", 10, "'mode' is set twice" },
        { BASE "max=2\nscale_set=web\n", 9, "'scale_set' needs 'mode = scale-set'" },
        { SS "labels=self-hosted, linux\n", 9, "'labels' is not a key of a scale-set pool" },
        { SS "scale_set=a b\n", 9, "'scale_set' 'a b'" },
        { SS "scale_set=x\nscale_set=y\n", 10, "'scale_set' is set twice" },
};

START_TEST(test_bad) {
        struct pool_desired p;
        struct ini_diags d;
        bool seen = false;

        ck_assert_int_eq(parse(bad[_i].text, &p, &d), -EINVAL);
        for (size_t k = 0; k < d.n; k++)
                seen = seen || (d.d[k].line == bad[_i].line && strstr(d.d[k].message, bad[_i].message));
        ck_assert_msg(seen, "case %d: no '%s' at line %d (first: %d: %s)", _i, bad[_i].message, bad[_i].line,
                      d.n ? d.d[0].line : -1, d.n ? d.d[0].message : "");
}
END_TEST

int main(void) {
        Suite *s = suite_create("pool-file");
        TCase *tc = tcase_create("pool-file");

        tcase_add_test(tc, test_good);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_scale_set);
        tcase_add_loop_test(tc, test_bad, 0, (int) ELEMENTSOF(bad));
        suite_add_tcase(s, tc);
        return run_suite(s);
}
