/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cleanup-stale's verdicts (pure) and its sightings file (real files):
 * only a managed runner of this host, offline at least the limit by
 * lanekeeper's own sightings, idle and without a lane is deleted; an
 * online sighting restarts the count; a damaged file is refused. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sightings.h"
#include "stale.h"
#include "store-file.h"
#include "test-util.h"

static const char *const lanes[] = { "lane-a", "Lane-B" };
static const struct stale_rules rules = { .managed_label = "launchplane-managed", .host_label = "ci-host-1",
                                          .older_than_s = 3600, .lanes = lanes, .n_lanes = 2, .now = 100000 };

static struct stale_runner runner(const char *name, bool online, bool busy, time_t since, const char *l1,
                                  const char *l2) {
        struct stale_runner r = { .scope = "repos/acme/site", .offline_since = since };

        r.r = (struct gh_runner) { .id = 7, .online = online, .busy = busy };
        snprintf(r.r.name, sizeof r.r.name, "%s", name);
        snprintf(r.r.labels[r.r.n_labels++], sizeof r.r.labels[0], "self-hosted");
        if (l1)
                snprintf(r.r.labels[r.r.n_labels++], sizeof r.r.labels[0], "%s", l1);
        if (l2)
                snprintf(r.r.labels[r.r.n_labels++], sizeof r.r.labels[0], "%s", l2);
        return r;
}

static const struct {
        const char *name;
        bool online, busy;
        time_t since;
        const char *l1, *l2;
        enum stale_verdict want;
        const char *why;
} cases[] = {
        { "old-lane", false, false, 90000, "LAUNCHPLANE-managed", "ci-host-1", STALE_DELETE, "offline 10000s" },
        { "old-lane", false, false, 96400, "launchplane-managed", "ci-host-1", STALE_DELETE, "limit 3600s" },   /* exactly the limit */
        { "old-lane", false, false, 96401, "launchplane-managed", "ci-host-1", STALE_KEEP_RECENT, "under the limit" },
        { "old-lane", false, false, 90000, "lanekeeper-managed", "ci-host-1", STALE_KEEP_UNMANAGED, "never touched" },
        { "old-lane", false, false, 90000, NULL, NULL, STALE_KEEP_UNMANAGED, "no 'launchplane-managed' label" },
        { "old-lane", false, false, 90000, "launchplane-managed", "ci-host-2", STALE_KEEP_OTHER_HOST, "another host's" },
        { "lane-b", false, false, 90000, "launchplane-managed", "ci-host-1", STALE_KEEP_LANE, "lane 'Lane-B'" },
        { "old-lane", true, false, 0, "launchplane-managed", "ci-host-1", STALE_KEEP_ONLINE, "online" },
        { "old-lane", false, true, 90000, "launchplane-managed", "ci-host-1", STALE_KEEP_BUSY, "busy" },
};

START_TEST(test_classify) {
        struct stale_runner r = runner(cases[_i].name, cases[_i].online, cases[_i].busy, cases[_i].since, cases[_i].l1,
                                       cases[_i].l2);

        stale_classify(&r, &rules);
        ck_assert_msg(r.verdict == cases[_i].want, "case %d: %s (%s)", _i, stale_verdict_to_string(r.verdict), r.why);
        ck_assert_reason_has(r.why, cases[_i].why);
}
END_TEST

START_TEST(test_no_host_label_keeps_all) {
        struct stale_rules no_host = rules;
        struct stale_runner r = runner("old-lane", false, false, 1, "launchplane-managed", "ci-host-1");

        no_host.host_label = NULL;
        stale_classify(&r, &no_host);
        ck_assert_int_eq(r.verdict, STALE_KEEP_OTHER_HOST);
}
END_TEST

static char store[] = "/tmp/lanekeeper-check-stale-XXXXXX";
static int dirfd = -1;

static void setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(store));
        dirfd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dirfd, 0);
}

static void teardown(void) {
        close(dirfd);
        test_remove_tree(store);
        strcpy(store, "/tmp/lanekeeper-check-stale-XXXXXX");
}

START_TEST(test_sightings_count_from_first_offline) {
        struct sightings s;

        ck_assert_int_eq(sightings_load(dirfd, &s), 0);   /* no file: empty */
        ck_assert_uint_eq(s.n, 0);
        ck_assert_int_eq(sightings_note(&s, "repos/acme/site", 7, false, 1000), 1000);
        ck_assert_int_eq(sightings_note(&s, "repos/acme/site", 8, false, 1000), 1000);
        ck_assert_int_eq(sightings_note(&s, "orgs/acme", 7, false, 1100), 1100);   /* same id, other scope */
        ck_assert_int_eq(sightings_save(dirfd, &s), 0);
        sightings_free(&s);

        ck_assert_int_eq(sightings_load(dirfd, &s), 0);
        ck_assert_uint_eq(s.n, 3);
        ck_assert_int_eq(sightings_note(&s, "repos/acme/site", 7, false, 5000), 1000);   /* still the first */
        ck_assert_int_eq(sightings_note(&s, "repos/acme/site", 8, true, 5000), 0);       /* seen online: forgotten */
        sightings_forget_unseen(&s, "repos/acme/site");
        ck_assert_uint_eq(s.n, 2);
        sightings_forget_unseen(&s, "orgs/acme");   /* 7 of orgs/acme not listed this time: deleted */
        ck_assert_uint_eq(s.n, 1);
        ck_assert_int_eq(sightings_note(&s, "repos/acme/site", 8, false, 6000), 6000);   /* offline again: afresh */
        sightings_free(&s);
}
END_TEST

static const char *const damaged[] = {
        "lanekeeper.sightings/1\nrepos/acme/site\t7\n",
        "lanekeeper.sightings/1\nrepos/acme/site\tx\t100\n",
        "lanekeeper.sightings/1\nrepos/acme/site\t7\t-5\n",
        "lanekeeper.sightings/1\nrepos/acme site\t7\t100\n",
        "lanekeeper.sightings/1\nrepos/a\t7\t100\nrepos/a\t7\t200\n",
        "lanekeeper.sightings/2\n",
        "lanekeeper.sightings/1\nrepos/a\t7\t100",
};

START_TEST(test_sightings_damaged) {
        struct sightings s;

        ck_assert_int_eq(store_write_atomic(dirfd, SIGHTINGS_FILE, damaged[_i], strlen(damaged[_i]), true), 0);
        ck_assert_int_eq(sightings_load(dirfd, &s), -EBADMSG);
        ck_assert_uint_eq(s.n, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("stale");
        TCase *tc = tcase_create("verdicts");

        tcase_add_loop_test(tc, test_classify, 0, (int) ELEMENTSOF(cases));
        tcase_add_test(tc, test_no_host_label_keeps_all);
        suite_add_tcase(s, tc);
        tc = tcase_create("sightings");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_sightings_count_from_first_offline);
        tcase_add_loop_test(tc, test_sightings_damaged, 0, (int) ELEMENTSOF(damaged));
        suite_add_tcase(s, tc);
        return run_suite(s);
}
