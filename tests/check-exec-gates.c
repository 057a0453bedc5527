/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How the gates wait: woken by an event (the runner saying it listens),
 * polled without a watch, polled as a fallback when the event never comes,
 * the watch released on every path (the executor with the fake world); and
 * the real watch (exec-watch.c) on real files with inotify: only lines
 * written after it began wake it, a symlink never does, a line split over
 * two writes does, and a _diag made after it began is followed. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec-real.h"
#include "exec-world.h"

/* ---- the executor's waiting, with the fake world ---- */

static long long listen_at;     /* the runner is online from then on (0: never) */
static bool says_it;            /* ... and says so where the watch sees it */
static unsigned watch_flags;    /* what the fake watch watches (0: no watch) */
static int watch_starts, watch_ends;
static struct exec_watch *const the_watch = (struct exec_watch *) &watch_flags;
static struct exec_ops gate_ops;

static void maybe_online(void) {
        if (listen_at && w.now >= listen_at)
                for (size_t i = 0; i < w.n_runners; i++)
                        w.r[i].online = true;
}

static void f_sleep_listen(void *d, long long ms) {
        (void) d;
        w.now += ms;
        maybe_online();
}

static unsigned f_watch_start(void *d, const struct lane_desired *l, struct exec_watch **ret, char *why, size_t size) {
        (void) d;
        ck_assert_str_eq(l->name, "lane-a");
        watch_starts++;
        *ret = watch_flags ? the_watch : NULL;
        snprintf(why, size, watch_flags ? "watched: the fake's" : "polled: the fake cannot");
        return watch_flags;
}

static int f_watch_wait(void *d, struct exec_watch *x, long long ms, char *why, size_t size) {
        (void) d;
        ck_assert_ptr_eq(x, the_watch);
        ck_assert(ms > 0 && ms <= 1000);
        if (says_it && listen_at && w.now + ms >= listen_at) {
                w.now = listen_at > w.now ? listen_at : w.now;
                maybe_online();
                snprintf(why, size, "the runner said it listens");
                return 1;
        }
        w.now += ms;
        maybe_online();
        return 0;
}

static void f_watch_end(void *d, struct exec_watch *x) {
        (void) d;
        ck_assert_ptr_eq(x, the_watch);
        watch_ends++;
}

static void gates_setup(void) {
        setup();
        gate_ops = ops;
        gate_ops.sleep_ms = f_sleep_listen;
        gate_ops.watch_start = f_watch_start;
        gate_ops.watch_wait = f_watch_wait;
        gate_ops.watch_end = f_watch_end;
        world_ops = &gate_ops;
        w.runner_stays_offline = true;   /* registered offline; online at listen_at */
        listen_at = 0;
        says_it = true;
        watch_flags = EXEC_WATCH_UNIT | EXEC_WATCH_RUNNER;
        watch_starts = watch_ends = 0;
}

/* The runner says it listens 1.7 s in: the gates pass then, not at the
 * next poll, after one wait. */
START_TEST(test_woken_when_it_listens) {
        listen_at = w.now + 1700;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_int_eq(w.now, listen_at);
        ck_assert_str_eq(step_detail("gates"), "all gates passed at observation 3 (1 woken by an event, the last: the runner "
                                         "said it listens; watched: the fake's)");
        ck_assert_int_eq(watch_starts, 1);
        ck_assert_int_eq(watch_ends, 1);
}
END_TEST

/* No watch: polled every 250 ms, seen at the first poll after 1.7 s. */
START_TEST(test_polled_without_a_watch) {
        watch_flags = 0;
        listen_at = w.now + 1700;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_int_eq(w.now, listen_at + 50);
        ck_assert_str_eq(step_detail("gates"), "all gates passed at observation 8 (0 woken by an event; polled: the fake cannot)");
        ck_assert_int_eq(watch_ends, 0);
}
END_TEST

/* Watched, but the runner comes online without saying so where it is
 * watched: the gates still pass, at the 1 s fallback poll. */
START_TEST(test_fallback_poll) {
        says_it = false;
        listen_at = w.now + 1700;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_int_eq(w.now, listen_at + 300);
        ck_assert_str_eq(step_detail("gates"), "all gates passed at observation 3 (0 woken by an event; watched: the fake's)");
        ck_assert_int_eq(watch_ends, 1);
}
END_TEST

/* Online at once: one observation, no wait. */
START_TEST(test_first_observation) {
        w.runner_stays_offline = false;
        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_COMPLETED);
        ck_assert_str_eq(step_detail("gates"), "all gates passed at the first observation");
        ck_assert_int_eq(watch_ends, 1);
}
END_TEST

/* Never online: the deadline (5 s) fails the gate, the watch released. */
START_TEST(test_deadline_releases_the_watch) {
        long long t0 = w.now;

        (void) run(EXEC_APPLY, false, false);
        ck_outcome(EXEC_FAILED);
        ck_assert_str_eq(res.failed, "github_online");
        ck_assert(w.now - t0 >= 5000 && w.now - t0 < 6000);
        ck_assert_int_eq(watch_starts, 1);
        ck_assert_int_eq(watch_ends, 1);
}
END_TEST

/* ---- the real watch, on files ---- */

static char dir[64];
static struct lane_desired wl;
static struct exec_real xr;   /* no bus: only the runner's _diag */

static void real_setup(void) {
        char p[128];

        snprintf(dir, sizeof dir, "/tmp/check-exec-gates.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        memset(&wl, 0, sizeof wl);
        snprintf(wl.name, sizeof wl.name, "lane-a");
        snprintf(wl.root, sizeof wl.root, "%s", dir);
        snprintf(p, sizeof p, "%s/lane-a", dir);
        ck_assert_int_eq(mkdir(p, 0750), 0);
}

static void real_teardown(void) {
        test_remove_tree(dir);
}

static void append(const char *name, const char *text) {
        char p[192];
        int fd;

        snprintf(p, sizeof p, "%s/lane-a/%s", dir, name);
        fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

static void mkdiag(void) {
        char p[128];

        snprintf(p, sizeof p, "%s/lane-a/_diag", dir);
        ck_assert_int_eq(mkdir(p, 0750), 0);
}

static int wait_ms(struct exec_watch *x, long long ms, char *why, size_t size) {
        return exec_real_watch_wait(&xr, x, ms, why, size);
}

#define LINE "[2026-11-28 12:00:00Z INFO Terminal] WRITE LINE: 2026-11-28 12:00:00Z: Listening for Jobs\n"

START_TEST(test_real_only_new_lines) {
        struct exec_watch *x;
        char why[200];

        mkdiag();
        append("_diag/Runner_20261128-115900-utc.log", LINE);   /* an earlier listener's */
        ck_assert_uint_eq(exec_real_watch_start(&xr, &wl, &x, why, sizeof why), EXEC_WATCH_RUNNER);
        ck_assert_ptr_nonnull(x);
        ck_assert_str_eq(why, "watched: the runner's _diag");
        ck_assert_int_eq(wait_ms(x, 50, why, sizeof why), 0);
        append("_diag/Runner_20261128-120000-utc.log", "[2026-11-28 12:00:00Z INFO Terminal] WRITE LINE: √ Connected\n");
        append("_diag/Worker_20261128-120000-utc.log", LINE);   /* not the listener's */
        ck_assert_int_eq(wait_ms(x, 50, why, sizeof why), 0);
        append("_diag/Runner_20261128-120000-utc.log", LINE);
        ck_assert_int_eq(wait_ms(x, 2000, why, sizeof why), 1);
        ck_assert_str_eq(why, "the runner said it listens");
        ck_assert_int_eq(wait_ms(x, 50, why, sizeof why), 0);   /* said once, woken once */
        exec_real_watch_end(&xr, x);
}
END_TEST

START_TEST(test_real_split_line_and_symlink) {
        struct exec_watch *x;
        char why[200], target[192], link[192];

        mkdiag();
        append("elsewhere.log", LINE);
        snprintf(target, sizeof target, "%s/lane-a/elsewhere.log", dir);
        snprintf(link, sizeof link, "%s/lane-a/_diag/Runner_20261128-120100-utc.log", dir);
        ck_assert_uint_eq(exec_real_watch_start(&xr, &wl, &x, why, sizeof why), EXEC_WATCH_RUNNER);
        ck_assert_int_eq(symlink(target, link), 0);
        append("elsewhere.log", LINE);
        ck_assert_int_eq(wait_ms(x, 100, why, sizeof why), 0);   /* never followed */
        append("_diag/Runner_20261128-120200-utc.log", "[2026-11-28 12:02:00Z INFO Terminal] WRITE LINE: 2026-11-28 Listening f");
        ck_assert_int_eq(wait_ms(x, 50, why, sizeof why), 0);
        append("_diag/Runner_20261128-120200-utc.log", "or Jobs\n");
        ck_assert_int_eq(wait_ms(x, 2000, why, sizeof why), 1);
        exec_real_watch_end(&xr, x);
}
END_TEST

START_TEST(test_real_diag_made_later) {
        struct exec_watch *x;
        char why[200];

        ck_assert_uint_eq(exec_real_watch_start(&xr, &wl, &x, why, sizeof why), EXEC_WATCH_RUNNER);
        ck_assert_int_eq(wait_ms(x, 50, why, sizeof why), 0);
        mkdiag();
        append("_diag/Runner_20261128-120300-utc.log", LINE);
        ck_assert_int_eq(wait_ms(x, 2000, why, sizeof why), 1);
        exec_real_watch_end(&xr, x);
}
END_TEST

/* Nothing to watch (no lane directory, no bus): no watch, and why. */
START_TEST(test_real_nothing_to_watch) {
        struct exec_watch *x = (struct exec_watch *) &xr;
        char why[200];

        snprintf(wl.name, sizeof wl.name, "lane-missing");
        ck_assert_uint_eq(exec_real_watch_start(&xr, &wl, &x, why, sizeof why), 0);
        ck_assert_ptr_null(x);
        ck_assert_reason_has(why, "polled: ");
        ck_assert_reason_has(why, "lane-missing/_diag");
}
END_TEST

int main(void) {
        Suite *s = suite_create("exec-gates");
        TCase *fake = tcase_create("waiting"), *real = tcase_create("watch");

        tcase_add_checked_fixture(fake, gates_setup, NULL);
        tcase_add_test(fake, test_woken_when_it_listens);
        tcase_add_test(fake, test_polled_without_a_watch);
        tcase_add_test(fake, test_fallback_poll);
        tcase_add_test(fake, test_first_observation);
        tcase_add_test(fake, test_deadline_releases_the_watch);
        suite_add_tcase(s, fake);

        tcase_add_checked_fixture(real, real_setup, real_teardown);
        tcase_add_test(real, test_real_only_new_lines);
        tcase_add_test(real, test_real_split_line_and_symlink);
        tcase_add_test(real, test_real_diag_made_later);
        tcase_add_test(real, test_real_nothing_to_watch);
        suite_add_tcase(s, real);
        return run_suite(s);
}
