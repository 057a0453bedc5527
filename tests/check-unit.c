/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lane unit: golden rendering, recognition of our own units only, the
 * atomic writer that never replaces a unit it did not write, and the lane
 * directory checks on real directories. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "helper-unit.h"
#include "test-util.h"

static char buf[UNIT_MAX_SIZE];
static size_t len;
static const struct unit_params good = { "cm-website-chris-testing", "lkrunner", "/srv/lanekeeper/runners" };

START_TEST(test_render_golden) {
        char path[1024], golden[UNIT_MAX_SIZE];
        size_t n;
        FILE *f;

        ck_assert_int_eq(proto_unit_render(&good, buf, sizeof buf, &len, NULL), 0);
        snprintf(path, sizeof path, "%s/golden/lane-unit.service", TESTS_SRCDIR);
        f = fopen(path, "re");
        ck_assert_msg(f, "cannot open %s", path);
        n = fread(golden, 1, sizeof golden - 1, f);
        fclose(f);
        golden[n] = '\0';
        {       /* the golden file names lanekeeper-register by its install directory's variable */
                char want[UNIT_MAX_SIZE] = "", *from = golden, *at;
                unsigned uses = 0;

                for (; (at = strstr(from, "@pkglibexecdir@")); from = at + strlen("@pkglibexecdir@"), uses++)
                        snprintf(want + strlen(want), sizeof want - strlen(want), "%.*s%s", (int) (at - from), from,
                                 PKGLIBEXECDIR);
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s", from);
                ck_assert_uint_eq(uses, 2);   /* ExecStartPre= and ExecStart= */
                ck_assert_str_eq(buf, want);
                ck_assert_uint_eq(len, strlen(want));
        }
}
END_TEST

START_TEST(test_render_lines) {
        ck_assert_int_eq(proto_unit_render(&good, buf, sizeof buf, &len, NULL), 0);
        ck_assert_ptr_nonnull(strstr(buf, "\nUser=lkrunner\n"));
        ck_assert_ptr_nonnull(strstr(buf, "\nWorkingDirectory=/srv/lanekeeper/runners/cm-website-chris-testing\n"));
        ck_assert_ptr_nonnull(strstr(buf, "\nExecStart=" PKGLIBEXECDIR "/lanekeeper-register --run cm-website-chris-testing\n"));
        ck_assert_ptr_nonnull(strstr(buf, "\nInaccessiblePaths=-/run/lanekeeper\n"));
        ck_assert_ptr_null(strstr(buf, "@LANE@"));
        ck_assert_ptr_null(strstr(buf, "@USER@"));
        ck_assert_ptr_null(strstr(buf, "@ROOT@"));
        ck_assert(strncmp(buf, UNIT_MARKER, strlen(UNIT_MARKER)) == 0);
}
END_TEST

static const struct {
        struct unit_params p;
        const char *reason;
} bad_params[] = {
        { { "x\nExecStart=/bin/sh", "lkrunner", "/srv/r" }, "contains a newline" },
        { { "lane", "root\n", "/srv/r" }, "contains a newline" },
        { { "lane", "lkrunner", "/srv/r\n[Service]" }, "contains a newline" },
        { { "lane", "lkrunner", "/" }, "may not be '/'" },
        { { "lane", "lkrunner", "srv/r" }, "not an absolute path" },
        { { "lane", "lkrunner", "/srv/%h" }, "systemd specifier" },
        { { "", "lkrunner", "/srv/r" }, "is empty" },
};

START_TEST(test_render_refuses) {
        const char *reason = NULL;

        ck_assert_int_eq(proto_unit_render(&bad_params[_i].p, buf, sizeof buf, &len, &reason), -EINVAL);
        ck_assert_reason_has(reason, bad_params[_i].reason);
}
END_TEST

START_TEST(test_managed_recognition) {
        struct unit_params p;
        char copy[UNIT_MAX_SIZE];

        ck_assert_int_eq(proto_unit_render(&good, buf, sizeof buf, &len, NULL), 0);
        ck_assert(proto_unit_is_managed(buf, len, &p));
        ck_assert_str_eq(p.lane, good.lane);
        ck_assert_str_eq(p.user, good.user);
        ck_assert_str_eq(p.root, good.root);
        /* any change of one byte, anywhere */
        for (size_t i = 0; i < len; i += 7) {
                memcpy(copy, buf, len);
                copy[i] = copy[i] == 'x' ? 'y' : 'x';
                ck_assert_msg(!proto_unit_is_managed(copy, len, NULL), "byte %zu changed, still managed", i);
        }
        ck_assert(!proto_unit_is_managed(buf, len - 1, NULL));
        ck_assert(!proto_unit_is_managed("[Service]\nExecStart=/bin/true\n", 29, NULL));
        /* a marker naming other parameters than the body */
        memcpy(copy, buf, len);
        memcpy(strstr(copy, "user=lkrunner") + 5, "lkrunnex", 8);
        ck_assert(!proto_unit_is_managed(copy, len, NULL));
}
END_TEST

/* ---- writing ---- */

static char dir[] = "/tmp/lanekeeper-check-unit-XXXXXX";
static int dfd = -1;

static void dir_setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(dir));
        dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dfd, 0);
}

static void put(const char *name, const char *content) {
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        close(fd);
}

START_TEST(test_write_new_then_same) {
        static char back[UNIT_MAX_SIZE];
        size_t n;
        bool changed = false;
        struct stat st;

        ck_assert_int_eq(proto_unit_render(&good, buf, sizeof buf, &len, NULL), 0);
        ck_assert_int_eq(unit_write_at(dfd, "lanekeeper-lane@a.service", buf, len, &changed), 0);
        ck_assert(changed);
        ck_assert_int_eq(unit_read_at(dfd, "lanekeeper-lane@a.service", back, sizeof back, &n), 0);
        ck_assert_uint_eq(n, len);
        ck_assert_mem_eq(back, buf, len);
        ck_assert_int_eq(fstatat(dfd, "lanekeeper-lane@a.service", &st, 0), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0644);
        ck_assert_int_eq(unit_write_at(dfd, "lanekeeper-lane@a.service", buf, len, &changed), 0);
        ck_assert(!changed);
        /* no temporary file left behind */
        ck_assert_int_eq(faccessat(dfd, ".#lanekeeper-lane@a.service.lanekeeper-tmp", F_OK, 0), -1);
}
END_TEST

START_TEST(test_write_replaces_managed) {
        struct unit_params other = good;
        static char first[UNIT_MAX_SIZE];
        size_t first_len;
        bool changed = false;

        strcpy(other.user, "lkother");
        ck_assert_int_eq(proto_unit_render(&other, first, sizeof first, &first_len, NULL), 0);
        ck_assert_int_eq(unit_write_at(dfd, "u.service", first, first_len, &changed), 0);
        ck_assert_int_eq(proto_unit_render(&good, buf, sizeof buf, &len, NULL), 0);
        ck_assert_int_eq(unit_write_at(dfd, "u.service", buf, len, &changed), 0);
        ck_assert(changed);
}
END_TEST

START_TEST(test_write_refuses_unmanaged) {
        static char back[UNIT_MAX_SIZE];
        size_t n;
        bool changed = false;

        put("u.service", "[Service]\nExecStart=/bin/sh -c 'hand written'\n");
        ck_assert_int_eq(proto_unit_render(&good, buf, sizeof buf, &len, NULL), 0);
        ck_assert_int_eq(unit_write_at(dfd, "u.service", buf, len, &changed), -EEXIST);
        ck_assert_int_eq(unit_read_at(dfd, "u.service", back, sizeof back, &n), 0);
        ck_assert_str_eq(back, "[Service]\nExecStart=/bin/sh -c 'hand written'\n");
        /* a symlink in the unit's place is not ours either, and stays */
        ck_assert_int_eq(symlinkat("/dev/null", dfd, "l.service"), 0);
        ck_assert_int_eq(unit_write_at(dfd, "l.service", buf, len, &changed), -EEXIST);
        ck_assert_int_eq(unit_read_at(dfd, "l.service", back, sizeof back, &n), -ELOOP);
}
END_TEST

/* ---- lane directories (need root to arrange owners: CI runs as root) ----
 * The temporary directory is the anchor ("/" in production); "srv/root"
 * beneath it is the registration root. */

static void lanes_setup(void) {
        int fd;

        dir_setup();
        ck_assert_int_eq(mkdirat(dfd, "srv", 0755), 0);
        ck_assert_int_eq(mkdirat(dfd, "srv/root", 0755), 0);
        ck_assert_int_eq(mkdirat(dfd, "srv/root/good", 0750), 0);
        ck_assert_int_eq(fchownat(dfd, "srv/root/good", 4242, 4242, 0), 0);
        fd = openat(dfd, "srv/root/good/run.sh", O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fchown(fd, 4242, 4242), 0);
        close(fd);
        ck_assert_int_eq(symlinkat("good", dfd, "srv/root/linked"), 0);
        ck_assert_int_eq(fchmod(dfd, 0755), 0);
}

static int check_lane(const char *lane, uid_t uid, char *reason, size_t size) {
        return unit_check_lane_dir_at(dfd, "srv/root", 0, lane, uid, reason, size);
}

static const struct {
        const char *lane;
        int err;
        const char *reason;
} lane_cases[] = {
        { "good", 0, NULL },
        { "linked", -ELOOP, "lane directory '/srv/root/linked' is a symbolic link" },
        { "missing", -ENOENT, "lane directory '/srv/root/missing' does not exist" },
};

START_TEST(test_lane_dir) {
        char reason[512] = "";
        int r = check_lane(lane_cases[_i].lane, 4242, reason, sizeof reason);

        ck_assert_msg(r == lane_cases[_i].err, "%s: %d (%s)", lane_cases[_i].lane, r, reason);
        if (r < 0)
                ck_assert_reason_has(reason, lane_cases[_i].reason);
}
END_TEST

START_TEST(test_lane_dir_wrong_owner) {
        char reason[512];

        ck_assert_int_eq(check_lane("good", 4343, reason, sizeof reason), -EPERM);
        ck_assert_reason_has(reason, "lane directory '/srv/root/good' is not owned by the lane's user (owner uid 4242, expected 4343)");
}
END_TEST

/* Each mode refusal names the thing and its mode (issue 11, point 6). */
START_TEST(test_lane_dir_modes) {
        char reason[512];

        ck_assert_int_eq(fchmodat(dfd, "srv/root/good", 0770, 0), 0);
        ck_assert_int_eq(check_lane("good", 4242, reason, sizeof reason), -EPERM);
        ck_assert_reason_has(reason, "lane directory '/srv/root/good' is writable by group or others (mode 0770)");
        ck_assert_int_eq(fchmodat(dfd, "srv/root/good", 0750, 0), 0);
        ck_assert_int_eq(fchmodat(dfd, "srv/root/good/run.sh", 0757, 0), 0);
        ck_assert_int_eq(check_lane("good", 4242, reason, sizeof reason), -EPERM);
        ck_assert_reason_has(reason, "run.sh '/srv/root/good/run.sh' is writable by group or others (mode 0757)");
        ck_assert_int_eq(fchmodat(dfd, "srv/root/good/run.sh", 0644, 0), 0);
        ck_assert_int_eq(check_lane("good", 4242, reason, sizeof reason), -EACCES);
        ck_assert_reason_has(reason, "run.sh '/srv/root/good/run.sh' is not executable");
}
END_TEST

START_TEST(test_lane_dir_run_sh_symlink) {
        char reason[512];

        ck_assert_int_eq(unlinkat(dfd, "srv/root/good/run.sh", 0), 0);
        ck_assert_int_eq(symlinkat("/bin/sh", dfd, "srv/root/good/run.sh"), 0);
        ck_assert_int_eq(check_lane("good", 4242, reason, sizeof reason), -ELOOP);
        ck_assert_reason_has(reason, "run.sh '/srv/root/good/run.sh' is a symbolic link");
}
END_TEST

START_TEST(test_lane_dir_root_not_root_owned) {
        char reason[512];

        ck_assert_int_eq(fchownat(dfd, "srv/root", 4242, 4242, 0), 0);
        ck_assert_int_eq(check_lane("good", 4242, reason, sizeof reason), -EPERM);
        ck_assert_reason_has(reason, "registration root 'root' is not owned by root (owner uid 4242)");
}
END_TEST

/* Every directory from the anchor down to the root is checked too. */
START_TEST(test_lane_dir_parents) {
        char reason[512];

        ck_assert_int_eq(fchmodat(dfd, "srv", 01777, 0), 0);
        ck_assert_int_eq(check_lane("good", 4242, reason, sizeof reason), -EPERM);
        ck_assert_reason_has(reason, "directory 'srv' is writable by group or others (mode 1777)");
        ck_assert_int_eq(fchmodat(dfd, "srv", 0755, 0), 0);
        ck_assert_int_eq(fchownat(dfd, "srv", 4242, 4242, 0), 0);
        ck_assert_int_eq(check_lane("good", 4242, reason, sizeof reason), -EPERM);
        ck_assert_reason_has(reason, "directory 'srv' is not owned by root");
        ck_assert_int_eq(fchownat(dfd, "srv", 0, 0, 0), 0);
        ck_assert_int_eq(fchmod(dfd, 0775), 0);
        ck_assert_int_eq(check_lane("good", 4242, reason, sizeof reason), -EPERM);
        ck_assert_reason_has(reason, "(anchor) is writable by group or others");
        ck_assert_int_eq(fchmod(dfd, 0755), 0);
        ck_assert_int_eq(renameat(dfd, "srv", dfd, "real"), 0);
        ck_assert_int_eq(symlinkat("real", dfd, "srv"), 0);
        ck_assert_int_eq(check_lane("good", 4242, reason, sizeof reason), -ELOOP);
        ck_assert_reason_has(reason, "cannot open 'srv': it is a symbolic link");
}
END_TEST

/* What the unit verbs refuse to read as theirs, each for a named reason. */
START_TEST(test_read_refusals) {
        static char big[20480], back[UNIT_MAX_SIZE];
        size_t n;
        int fd;

        ck_assert_int_eq(proto_unit_render(&good, buf, sizeof buf, &len, NULL), 0);
        put("a.service", buf);
        ck_assert_int_eq(unit_read_at(dfd, "a.service", back, sizeof back, &n), 0);
        ck_assert_int_eq(linkat(dfd, "a.service", dfd, "b.service", 0), 0);
        ck_assert_int_eq(unit_read_at(dfd, "a.service", back, sizeof back, &n), -EMLINK);
        ck_assert_int_eq(unit_read_at(dfd, "b.service", back, sizeof back, &n), -EMLINK);
        memset(big, '#', sizeof big - 1);
        fd = openat(dfd, "big.service", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, big, sizeof big), (ssize_t) sizeof big);
        close(fd);
        ck_assert_int_eq(unit_read_at(dfd, "big.service", back, sizeof back, &n), -EFBIG);
        ck_assert_int_eq(mkdirat(dfd, "d.service", 0755), 0);
        ck_assert_int_eq(unit_read_at(dfd, "d.service", back, sizeof back, &n), -EBADFD);
        /* ...and never overwrites one of them */
        {
                bool changed;

                ck_assert_int_eq(unit_write_at(dfd, "b.service", buf, len, &changed), -EEXIST);
                ck_assert_int_eq(unit_write_at(dfd, "big.service", buf, len, &changed), -EEXIST);
        }
}
END_TEST

int main(void) {
        Suite *s = suite_create("unit");
        TCase *render = tcase_create("render"), *write = tcase_create("write"), *lanes = tcase_create("lanes");

        tcase_add_test(render, test_render_golden);
        tcase_add_test(render, test_render_lines);
        tcase_add_loop_test(render, test_render_refuses, 0, (int) ELEMENTSOF(bad_params));
        tcase_add_test(render, test_managed_recognition);
        suite_add_tcase(s, render);

        tcase_add_checked_fixture(write, dir_setup, NULL);
        tcase_add_test(write, test_write_new_then_same);
        tcase_add_test(write, test_write_replaces_managed);
        tcase_add_test(write, test_write_refuses_unmanaged);
        tcase_add_test(write, test_read_refusals);
        suite_add_tcase(s, write);

        if (geteuid() == 0) {
                tcase_add_checked_fixture(lanes, lanes_setup, NULL);
                tcase_add_loop_test(lanes, test_lane_dir, 0, (int) ELEMENTSOF(lane_cases));
                tcase_add_test(lanes, test_lane_dir_wrong_owner);
                tcase_add_test(lanes, test_lane_dir_modes);
                tcase_add_test(lanes, test_lane_dir_run_sh_symlink);
                tcase_add_test(lanes, test_lane_dir_root_not_root_owned);
                tcase_add_test(lanes, test_lane_dir_parents);
                suite_add_tcase(s, lanes);
        }
        return run_suite(s);
}
