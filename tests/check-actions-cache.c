/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lane's actions cache as lanekeeper-register measures and clears it,
 * on a real directory tree: entries, damaged ones, ages, what a clear
 * removes and what it leaves; and the measurement file's format. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "actions-cache.h"
#include "test-util.h"

static char lane[64];
static int lane_fd = -1;
static time_t now;

static void put(const char *rel, const char *text, time_t mtime) {
        char path[512], cmd[600];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", lane, rel);
        snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
        ck_assert_int_eq(system(cmd), 0);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
        if (mtime) {
                struct timeval tv[2] = { { .tv_sec = mtime }, { .tv_sec = mtime } };

                ck_assert_int_eq(utimes(path, tv), 0);
        }
}

static bool exists(const char *rel) {
        char path[512];
        struct stat st;

        snprintf(path, sizeof path, "%s/%s", lane, rel);
        return lstat(path, &st) == 0;
}

/* Four entries: a good one (12 bytes), one ten days old (5 bytes), a
 * damaged one (its directory empty), a marker without its directory; and
 * the runner's download area. */
static void setup(void) {
        snprintf(lane, sizeof lane, "/tmp/check-actions-cache.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(lane));
        now = time(NULL);
        put("_work/_actions/acme/hello/v1/action.yml", "runs: {}\n", 0);
        put("_work/_actions/acme/hello/v1/x.sh", "ab\n", 0);
        put("_work/_actions/acme/hello/v1.completed", "", now - 3600);
        put("_work/_actions/acme/old/v2/action.yml", "12345", 0);
        put("_work/_actions/acme/old/v2.completed", "", now - 10 * 86400);
        put("_work/_actions/other/broken/v3/.keep-dir", "", 0);
        {
                char p[512];

                snprintf(p, sizeof p, "%s/_work/_actions/other/broken/v3/.keep-dir", lane);
                ck_assert_int_eq(unlink(p), 0);
        }
        put("_work/_actions/other/broken/v3.completed", "", now - 7200);
        put("_work/_actions/other/gone/v4.completed", "", now - 60);
        put("_work/_actions/_temp_1234/partial.tar.gz", "xxxxxxxx", 0);
        put("run.sh", "#!/bin/sh\n", 0);
        lane_fd = open(lane, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(lane_fd, 0);
}

static void teardown(void) {
        close(lane_fd);
        test_remove_tree(lane);
}

START_TEST(test_measure) {
        struct proto_cache_stats st;

        ck_assert_int_eq(cache_measure(lane_fd, now, &st), 0);
        ck_assert_uint_eq(st.entries, 4);
        ck_assert_uint_eq(st.damaged, 2);
        ck_assert_uint_eq(st.bytes, 9 + 3 + 5);
        ck_assert_int_eq(st.oldest, now - 10 * 86400);
        ck_assert_int_eq(st.measured, now);
        ck_assert(exists("_work/_actions/acme/hello/v1/action.yml"));   /* measuring changes nothing */
}
END_TEST

START_TEST(test_prune) {
        struct proto_cache_stats st;
        size_t removed = 0;

        ck_assert_int_eq(cache_clear(lane_fd, now, 7, &removed, &st), 0);
        ck_assert_uint_eq(removed, 3);   /* the old one and both damaged */
        ck_assert_uint_eq(st.entries, 1);
        ck_assert_uint_eq(st.damaged, 0);
        ck_assert(exists("_work/_actions/acme/hello/v1/action.yml"));
        ck_assert(exists("_work/_actions/acme/hello/v1.completed"));
        ck_assert(!exists("_work/_actions/acme/old"));
        ck_assert(!exists("_work/_actions/other"));   /* emptied owner directories go too */
        ck_assert(exists("_work/_actions/_temp_1234/partial.tar.gz"));   /* a download may be under way */
}
END_TEST

/* lanekeeper-register clears as the lane's user, who owns the tree: under
 * root (CI), the tree is given to nobody and this test's process becomes
 * nobody, so that a directory's mode is not bypassed (CAP_DAC_OVERRIDE). */
static void become_lane_user(void) {
        char cmd[128];

        if (geteuid() != 0)
                return;
        snprintf(cmd, sizeof cmd, "chown -R 65534:65534 '%s'", lane);
        ck_assert_int_eq(system(cmd), 0);
        ck_assert_int_eq(setgroups(0, NULL), 0);
        ck_assert_int_eq(setresgid(65534, 65534, 65534), 0);
        ck_assert_int_eq(setresuid(65534, 65534, 65534), 0);
}

START_TEST(test_clear_all) {
        static const char *const readonly[] = { "_work/_actions/acme/hello/v1", "_work/_actions/acme",
                                                "_work/_actions/_temp_1234" };
        struct proto_cache_stats st;
        size_t removed = 0;
        char p[512];

        /* directories a job made read-only are the lane user's: still removed */
        become_lane_user();
        for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
                snprintf(p, sizeof p, "%s/%s", lane, readonly[i]);
                ck_assert_int_eq(chmod(p, 0555), 0);
        }
        ck_assert_int_eq(cache_clear(lane_fd, now, 0, &removed, &st), 0);
        ck_assert_uint_eq(removed, 4);
        ck_assert_uint_eq(st.entries, 0);
        ck_assert_int_eq(st.oldest, 0);
        ck_assert(exists("_work/_actions"));
        ck_assert(!exists("_work/_actions/acme"));
        ck_assert(!exists("_work/_actions/_temp_1234"));
        ck_assert(exists("run.sh"));   /* nothing outside the cache */
}
END_TEST

START_TEST(test_symlink_not_followed) {
        struct proto_cache_stats st;
        size_t removed = 0;
        char p[512], t[512];

        /* an entry that is a symlink to the runner's own files: neither
         * counted as a directory nor followed by a clear */
        snprintf(t, sizeof t, "%s", lane);
        snprintf(p, sizeof p, "%s/_work/_actions/acme/hello/v9", lane);
        ck_assert_int_eq(symlink(t, p), 0);
        ck_assert_int_eq(cache_clear(lane_fd, now, 0, &removed, &st), 0);
        ck_assert(exists("run.sh"));
}
END_TEST

START_TEST(test_stats_file) {
        struct proto_cache_stats in = { .entries = 3, .bytes = 123456789012ULL, .oldest = 1700000000, .damaged = 1,
                                        .measured = 1800000000 }, out;
        char p[512], buf[512];
        const char *reason;
        struct stat st;
        ssize_t n;
        int fd;

        umask(0077);
        ck_assert_int_eq(cache_write_stats(lane_fd, &in), 0);
        snprintf(p, sizeof p, "%s/%s", lane, PROTO_CACHE_STATS_FILE);
        ck_assert_int_eq(stat(p, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0640);
        fd = open(p, O_RDONLY);
        n = read(fd, buf, sizeof buf);
        close(fd);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(proto_cache_stats_decode(buf, (size_t) n, &out, &reason), 0);
        ck_assert_mem_eq(&in, &out, sizeof in);
        ck_assert_int_eq(proto_cache_stats_decode("entries=1\nbytes=2\n", 18, &out, &reason), -EINVAL);
        ck_assert_int_eq(proto_cache_stats_decode("bytes=2\nentries=1\noldest=0\ndamaged=0\nmeasured=1\n", 48, &out,
                                                  &reason), -EINVAL);
        ck_assert_int_eq(proto_cache_stats_decode("entries=-1\nbytes=2\noldest=0\ndamaged=0\nmeasured=1\n", 49, &out,
                                                  &reason), -EINVAL);
        ck_assert_int_eq(proto_cache_stats_decode("entries=1\nbytes=2\noldest=0\ndamaged=0\nmeasured=1\nx", 49, &out,
                                                  &reason), -EINVAL);
}
END_TEST

int main(void) {
        Suite *s = suite_create("actions-cache");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_measure);
        tcase_add_test(tc, test_prune);
        tcase_add_test(tc, test_clear_all);
        tcase_add_test(tc, test_symlink_not_followed);
        tcase_add_test(tc, test_stats_file);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
