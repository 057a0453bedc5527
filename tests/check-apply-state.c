/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executor's bookkeeping on real files and real processes: the lane
 * lock (a second holder is refused at once; a dead holder releases it) and
 * idempotency keys (the first result wins; a key used for another lane is
 * refused; a writer killed at random points leaves whole files or none). */
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply-state.h"
#include "lane-hold.h"
#include "test-util.h"

static char store[] = "/tmp/lanekeeper-check-apply-XXXXXX";

static void setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(store));
}

static void teardown(void) {
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", store);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(store, "/tmp/lanekeeper-check-apply-XXXXXX");
}

/* In a child: try the lock, exit 0 when taken, 1 when busy. */
static int try_in_child(const char *lane) {
        int status, fd;
        pid_t pid = fork();

        if (pid == 0)
                _exit(lane_lock(store, lane, &fd) == 0 ? 0 : 1);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        return WEXITSTATUS(status);
}

START_TEST(test_lock) {
        int fd = -1, fd2 = -1, status, ready[2];
        pid_t holder;
        char c;

        ck_assert_int_eq(lane_lock(store, "lane-a", &fd), 0);
        ck_assert_int_eq(try_in_child("lane-a"), 1);        /* busy */
        ck_assert_int_eq(try_in_child("lane-b"), 0);        /* another lane is free */
        ck_assert_int_eq(lane_lock(store, "lane-a", &fd2), -EBUSY);   /* flock: per open file, also here */
        close(fd);
        ck_assert_int_eq(try_in_child("lane-a"), 0);
        /* a holder killed holding it releases it */
        ck_assert_int_eq(pipe(ready), 0);
        holder = fork();
        if (holder == 0) {
                close(ready[0]);
                if (lane_lock(store, "lane-k", &fd) < 0)
                        _exit(2);
                if (write(ready[1], "L", 1) != 1)   /* it holds the lock now */
                        _exit(3);
                pause();
                _exit(0);
        }
        close(ready[1]);
        ck_assert_int_eq(read(ready[0], &c, 1), 1);   /* no polling: a slow (sanitized) child is waited for */
        close(ready[0]);
        ck_assert_int_eq(try_in_child("lane-k"), 1);
        ck_assert_int_eq(kill(holder, SIGKILL), 0);
        ck_assert_int_eq(waitpid(holder, &status, 0), holder);
        ck_assert_int_eq(try_in_child("lane-k"), 0);
        ck_assert_int_eq(lane_lock(store, "../escape", &fd), -EINVAL);
        ck_assert_int_eq(lane_lock(store, "a/b", &fd), -EINVAL);
}
END_TEST

static const struct {
        const char *key;
        bool ok;
} keys[] = {
        { "deploy-2026-11-23-01", true },
        { "../../etc/passwd", true },   /* any printable key: it names no path */
        { "a", true },
        { "", false },
        { "with space", false },
        { "new\nline", false },
        { "tab\tkey", false },
        { "caf\xc3\xa9", false },
};

START_TEST(test_key_validation) {
        const char *reason = NULL;
        int r = idempotency_key_validate(keys[_i].key, &reason);

        ck_assert_msg((r == 0) == keys[_i].ok, "key %d: %d %s", _i, r, reason ?: "");
        if (!keys[_i].ok)
                ck_assert_ptr_nonnull(reason);
}
END_TEST

START_TEST(test_key_length) {
        char k[IDEMPOTENCY_KEY_MAX + 2];
        const char *reason;

        memset(k, 'k', sizeof k - 1);
        k[sizeof k - 1] = '\0';
        ck_assert_int_lt(idempotency_key_validate(k, &reason), 0);
        k[IDEMPOTENCY_KEY_MAX] = '\0';
        ck_assert_int_eq(idempotency_key_validate(k, &reason), 0);
}
END_TEST

START_TEST(test_first_result_wins) {
        struct idempotency_result first = { .lane = "lane-a", .command = "apply", .status = "completed", .audit_seq = 7 },
                                  second = { .lane = "lane-a", .command = "apply", .status = "failed", .exit_status = 4 },
                                  got;
        struct stat st;
        char path[128];

        ck_assert_int_eq(idempotency_lookup(store, "k1", "lane-a", "apply", &got), -ENOENT);
        ck_assert_int_eq(idempotency_record(store, "k1", &first), 0);
        ck_assert_int_eq(idempotency_record(store, "k1", &second), -EEXIST);
        ck_assert_int_eq(idempotency_lookup(store, "k1", "lane-a", "apply", &got), 0);
        ck_assert_str_eq(got.status, "completed");
        ck_assert(got.audit_seq == 7 && got.exit_status == 0);
        /* the same key for another lane or command is a mistake, said so */
        ck_assert_int_eq(idempotency_lookup(store, "k1", "lane-b", "apply", &got), -EEXIST);
        ck_assert_str_eq(got.lane, "lane-a");
        ck_assert_int_eq(idempotency_lookup(store, "k1", "lane-a", "remove", &got), -EEXIST);
        /* a key with slashes stays a hash inside keys/ */
        ck_assert_int_eq(idempotency_record(store, "../../lanekeeper-escape-probe", &first), 0);
        snprintf(path, sizeof path, "%s/../lanekeeper-escape-probe", store);
        ck_assert_int_ne(stat(path, &st), 0);
        ck_assert_int_ne(stat("/tmp/lanekeeper-escape-probe", &st), 0);
        ck_assert_int_ne(stat("/lanekeeper-escape-probe", &st), 0);
        ck_assert_int_eq(idempotency_lookup(store, "../../lanekeeper-escape-probe", "lane-a", "apply", &got), 0);
        ck_assert_int_eq(idempotency_record(store, "bad key", &first), -EINVAL);
}
END_TEST

/* A writer recording keys in a loop is SIGKILLed 100 times at random
 * points; every key is then whole or absent, never torn. The kill comes
 * after the writer says it finished ROUND % 3 keys (and a random delay),
 * so how many keys exist does not depend on how fast the disk is. */
START_TEST(test_killed_writer) {
        unsigned seed = 42;
        int written = 0, least = 0;

        for (int round = 0; round < 100; round++) {
                int done[2];
                pid_t pid;
                int status;
                char c;

                ck_assert_int_eq(pipe(done), 0);
                pid = fork();
                if (pid == 0) {
                        close(done[0]);
                        for (int i = 0;; i++) {
                                struct idempotency_result r = { .lane = "lane-a", .command = "apply", .status = "completed",
                                                                .audit_seq = (uint64_t) i };
                                char k[32];

                                snprintf(k, sizeof k, "r%d-%d", round, i);
                                (void) idempotency_record(store, k, &r);
                                (void) !write(done[1], "k", 1);
                        }
                }
                close(done[1]);
                for (int n = 0; n < round % 3; n++)
                        ck_assert_int_eq(read(done[0], &c, 1), 1);
                least += round % 3;
                usleep(rand_r(&seed) % 3000);
                ck_assert_int_eq(kill(pid, SIGKILL), 0);
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                close(done[0]);
                for (int i = 0;; i++) {
                        struct idempotency_result got;
                        char k[32];
                        int r;

                        snprintf(k, sizeof k, "r%d-%d", round, i);
                        r = idempotency_lookup(store, k, "lane-a", "apply", &got);
                        if (r == -ENOENT)
                                break;
                        ck_assert_msg(r == 0, "key %s torn: %d", k, r);
                        ck_assert(got.audit_seq == (uint64_t) i);
                        written++;
                }
        }
        ck_assert_int_ge(written, least);   /* every key the writer said it finished is there */
        fprintf(stderr, "check-apply-state: 100 SIGKILLs, %d keys, none torn\n", written);
}
END_TEST

/* A hold survives as a file: written, read back, listed, lifted; a file
 * that does not parse is an error, never "not held". */
START_TEST(test_hold) {
        struct lane_hold h = { .state = HOLD_DRAINED }, got;
        char path[PATH_MAX], **names;
        size_t n;
        const char *reason;
        FILE *f;

        ck_assert_int_eq(lane_hold_load(store, "lane-a", &got), 0);
        ck_assert_int_eq(got.state, HOLD_NONE);
        strcpy(h.since, "2026-11-27T10:00:00Z");
        strcpy(h.reason, "kernel update, back at 12:00");
        strcpy(h.labels, "self-hosted,lanekeeper-managed");
        ck_assert_int_eq(lane_hold_save(store, "lane-a", &h), 0);
        ck_assert_int_eq(lane_hold_save(store, "lane-b", &h), 0);
        ck_assert_int_eq(lane_hold_load(store, "lane-a", &got), 0);
        ck_assert_int_eq(got.state, HOLD_DRAINED);
        ck_assert_str_eq(got.reason, "kernel update, back at 12:00");
        ck_assert_str_eq(got.labels, "self-hosted,lanekeeper-managed");
        ck_assert_int_eq(lane_hold_list(store, &names, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(names[0], "lane-a");
        ck_assert_str_eq(names[1], "lane-b");
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        /* a reason with a newline would forge a field: refused */
        ck_assert_int_eq(lane_hold_reason_validate("a\nstate=none", &reason), -EINVAL);
        strcpy(h.reason, "a\nstate=none");
        ck_assert_int_eq(lane_hold_save(store, "lane-a", &h), -EINVAL);
        ck_assert_int_eq(lane_hold_reason_validate("", &reason), -EINVAL);
        ck_assert_int_eq(lane_hold_reason_validate("why not", &reason), 0);
        /* lifted */
        h.state = HOLD_NONE;
        ck_assert_int_eq(lane_hold_save(store, "lane-b", &h), 0);
        ck_assert_int_eq(lane_hold_load(store, "lane-b", &got), 0);
        ck_assert_int_eq(got.state, HOLD_NONE);
        /* damaged: an error */
        snprintf(path, sizeof path, "%s/holds/lane-a", store);
        ck_assert_ptr_nonnull(f = fopen(path, "we"));
        fputs("state=paused\n", f);
        fclose(f);
        ck_assert_int_eq(lane_hold_load(store, "lane-a", &got), -EBADMSG);
        ck_assert_int_eq(lane_hold_load(store, "../x", &got), -EINVAL);
}
END_TEST

int main(void) {
        Suite *s = suite_create("apply-state");
        TCase *tc = tcase_create("apply-state");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_lock);
        tcase_add_loop_test(tc, test_key_validation, 0, (int) ELEMENTSOF(keys));
        tcase_add_test(tc, test_key_length);
        tcase_add_test(tc, test_first_result_wins);
        tcase_add_test(tc, test_killed_writer);
        tcase_add_test(tc, test_hold);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
