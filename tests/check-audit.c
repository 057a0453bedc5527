/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit store on real files: the chain, every kind of damage found by
 * verify, redaction before writing, concurrent writers, and a writer
 * SIGKILLed at random points 200 times without a torn or lost record. */
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "test-util.h"

static char dir[] = "/tmp/lanekeeper-check-audit-XXXXXX";
static struct audit_store st;
static struct audit_verify_result v;

static void setup(void) {
        char path[128];

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/audit", dir);
        ck_assert_int_eq(audit_open(path, &st), 0);
}

static uint64_t append(const char *lane, const char *status) {
        struct json_object *o = json_object_new_object();
        uint64_t seq = 0;

        json_object_object_add(o, "lane", json_object_new_string(lane));
        json_object_object_add(o, "status", json_object_new_string(status));
        ck_assert_int_eq(audit_append(&st, o, &seq), 0);
        json_object_put(o);
        return seq;
}

static void three(void) {
        ck_assert_uint_eq(append("a", "planned"), 1);
        ck_assert_uint_eq(append("b", "completed"), 2);
        ck_assert_uint_eq(append("c", "failed"), 3);
}

static void expect_problem(const char *what) {
        ck_assert_int_eq(audit_verify(&st, &v), -EBADMSG);
        ck_assert_reason_has(v.problem, what);
}

static void rewrite(const char *name, const char *from, const char *to) {
        char path[256], buf[4096], *p;
        FILE *f;
        size_t n;

        snprintf(path, sizeof path, "%s/audit/%s", dir, name);
        f = fopen(path, "r+");
        ck_assert_ptr_nonnull(f);
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        p = strstr(buf, from);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(strlen(from), strlen(to));
        memcpy(p, to, strlen(to));
        rewind(f);
        ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
        fclose(f);
}

#define REC(n) "0000000000000000000" #n ".json"   /* 20 digits */

START_TEST(test_chain) {
        char *text = NULL, d1[PROTO_SHA256_HEX_SIZE];
        struct stat sb;

        three();
        ck_assert_int_eq(audit_verify(&st, &v), 0);
        ck_assert_uint_eq(v.records, 3);
        ck_assert_uint_eq(v.head_seq, 3);
        ck_assert_str_eq(v.problem, "");
        ck_assert_int_eq(audit_read(&st, 1, &text), 0);
        ck_assert_ptr_nonnull(strstr(text, "\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\""));
        ck_assert_ptr_nonnull(strstr(text, "\"schema\":\"lanekeeper.audit/1\""));
        proto_sha256_hex(text, strlen(text), d1);
        free(text);
        ck_assert_int_eq(audit_read(&st, 2, &text), 0);
        ck_assert_ptr_nonnull(strstr(text, d1));
        free(text);
        ck_assert_int_eq(fstatat(st.dirfd, REC(1), &sb, 0), 0);
        ck_assert_uint_eq(sb.st_mode & 0777, 0640);
}
END_TEST

START_TEST(test_redacted) {
        struct json_object *o = json_object_new_object();
        char *text = NULL, secret[80];

        snprintf(secret, sizeof secret, "ghs_%s", "Zk9qT3pXbVlQa1d6Sm5ZcXR6Q2FiCd3.eF9g");
        json_object_object_add(o, "token", json_object_new_string(secret));
        json_object_object_add(o, "log", json_object_new_string(secret));
        ck_assert_int_eq(audit_append(&st, o, NULL), 0);
        json_object_put(o);
        ck_assert_int_eq(audit_read(&st, 1, &text), 0);
        ck_assert_ptr_null(strstr(text, "Zk9qT3pX"));
        ck_assert_ptr_nonnull(strstr(text, "[REDACTED]"));
        free(text);
}
END_TEST

/* A command's record: its four fields first, the caller's after them,
 * redacted like any record; the caller's object taken. */
START_TEST(test_command_record) {
        struct json_object *o = json_object_new_object();
        char *text = NULL, secret[80];
        const char *p, *q;
        uint64_t seq = 0;

        snprintf(secret, sizeof secret, "ghp_%s", "Zk9qT3pXbVlQa1d6Sm5ZcXR6Q2FiCd3eF9g");
        json_object_object_add(o, "lane", json_object_new_string("lane-a"));
        json_object_object_add(o, "detail", json_object_new_string(secret));
        ck_assert_int_eq(audit_append_command(&st, "planned", "host-1", "smoke", o, &seq), 0);
        ck_assert_uint_eq(seq, 1);
        ck_assert_int_eq(audit_append_command(&st, "completed", "host-1", "smoke", NULL, &seq), 0);
        ck_assert_uint_eq(seq, 2);
        ck_assert_int_eq(audit_read(&st, 1, &text), 0);
        p = strstr(text, "\"status\":\"planned\"");
        q = strstr(text, "\"lane\":\"lane-a\"");
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_nonnull(q);
        ck_assert(p < strstr(text, "\"time\"") && strstr(text, "\"host\":\"host-1\"") < strstr(text, "\"command\":\"smoke\""));
        ck_assert(strstr(text, "\"command\":\"smoke\"") < q);
        ck_assert_ptr_null(strstr(text, "Zk9qT3pX"));
        free(text);
}
END_TEST

START_TEST(test_missing) {
        three();
        ck_assert_int_eq(unlinkat(st.dirfd, REC(2), 0), 0);
        expect_problem("record 2 is missing");
}
END_TEST

START_TEST(test_altered_middle) {
        three();
        rewrite(REC(1), "\"planned\"", "\"PLANNED\"");
        expect_problem("record 2 does not follow record 1");
}
END_TEST

START_TEST(test_altered_last) {
        three();
        rewrite(REC(3), "\"failed\"", "\"passed\"");
        expect_problem("record 3 was altered");
}
END_TEST

START_TEST(test_reordered) {
        three();
        ck_assert_int_eq(renameat(st.dirfd, REC(1), st.dirfd, "x"), 0);
        ck_assert_int_eq(renameat(st.dirfd, REC(2), st.dirfd, REC(1)), 0);
        ck_assert_int_eq(renameat(st.dirfd, "x", st.dirfd, REC(2)), 0);
        expect_problem("record 1 carries another number");
}
END_TEST

START_TEST(test_torn) {
        three();
        ck_assert_int_eq(truncate(strcat(strcat(strcpy((char[256]) {}, dir), "/audit/"), REC(2)), 20), 0);
        expect_problem("record 2 is not JSON");
}
END_TEST

START_TEST(test_head_ahead) {
        three();
        ck_assert_int_eq(unlinkat(st.dirfd, REC(3), 0), 0);
        expect_problem("HEAD names record 3 but the last is 2");
}
END_TEST

/* Killed after a record's rename, before HEAD (twice): the chain still
 * holds, and the next append continues after the last record. */
START_TEST(test_crash_tail) {
        char *text = NULL, head[128];
        int fd;

        three();
        /* HEAD two records back: two writers were killed in turn */
        ck_assert_int_eq(audit_read(&st, 1, &text), 0);
        snprintf(head, sizeof head, "1 ");
        proto_sha256_hex(text, strlen(text), head + 2);
        strcat(head, "\n");
        free(text);
        fd = openat(st.dirfd, "HEAD", O_WRONLY | O_TRUNC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, head, strlen(head)), (ssize_t) strlen(head));
        close(fd);
        ck_assert_int_eq(audit_verify(&st, &v), 0);
        ck_assert_uint_eq(v.head_seq, 3);
        ck_assert_uint_eq(append("d", "planned"), 4);
        ck_assert_int_eq(audit_verify(&st, &v), 0);
        ck_assert_uint_eq(v.records, 4);
}
END_TEST

START_TEST(test_leftover_temp_and_bad_input) {
        int fd = openat(st.dirfd, ".tmp-" REC(1), O_WRONLY | O_CREAT, 0640);
        struct json_object *arr = json_object_new_array();

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "{\"torn", 6), 6);
        close(fd);
        ck_assert_int_eq(audit_verify(&st, &v), 0);
        ck_assert_uint_eq(append("a", "planned"), 1);
        ck_assert_int_eq(audit_verify(&st, &v), 0);
        ck_assert_int_eq(audit_append(&st, arr, NULL), -EINVAL);
        json_object_put(arr);
}
END_TEST

START_TEST(test_concurrent_writers) {
        pid_t pids[4];

        for (int i = 0; i < 4; i++) {
                pids[i] = fork();
                ck_assert_int_ge(pids[i], 0);
                if (pids[i] == 0) {
                        struct audit_store mine;
                        char path[128];

                        snprintf(path, sizeof path, "%s/audit", dir);
                        if (audit_open(path, &mine) < 0)
                                _exit(1);
                        for (int k = 0; k < 25; k++) {
                                struct json_object *o = json_object_new_object();
                                json_object_object_add(o, "writer", json_object_new_int(i));
                                if (audit_append(&mine, o, NULL) < 0)
                                        _exit(2);
                                json_object_put(o);
                        }
                        _exit(0);
                }
        }
        for (int i = 0; i < 4; i++) {
                int status;
                ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
                ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        ck_assert_int_eq(audit_verify(&st, &v), 0);
        ck_assert_uint_eq(v.records, 100);
}
END_TEST

/* A writer appending in a loop is SIGKILLed at a random point, 200 times;
 * after each kill the chain verifies, and records only ever grow. */
START_TEST(test_sigkill) {
        uint64_t last = 0, kills = 0;
        unsigned seed = (unsigned) time(NULL);

        for (int i = 0; i < 200; i++) {
                int status, ready[2];
                char byte;
                pid_t pid;

                ck_assert_int_eq(pipe(ready), 0);
                pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                        struct audit_store mine;
                        char path[128];
                        bool told = false;

                        snprintf(path, sizeof path, "%s/audit", dir);
                        if (audit_open(path, &mine) < 0)
                                _exit(1);
                        for (;;) {
                                struct json_object *o = json_object_new_object();
                                json_object_object_add(o, "round", json_object_new_int(i));
                                json_object_object_add(o, "padding", json_object_new_string(
                                        "lanekeeper audit record padding to make writes take a little longer"));
                                if (audit_append(&mine, o, NULL) < 0)
                                        _exit(2);
                                json_object_put(o);
                                if (!told)   /* one record written: from now on any moment is fair */
                                        told = write(ready[1], "x", 1) == 1;
                        }
                }
                close(ready[1]);
                ck_assert_int_eq(read(ready[0], &byte, 1), 1);
                close(ready[0]);
                usleep(rand_r(&seed) % 2000);
                ck_assert_int_eq(kill(pid, SIGKILL), 0);
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                ck_assert_msg(WIFSIGNALED(status), "writer %d ended on its own: 0x%x", i, status);
                kills++;
                ck_assert_msg(audit_verify(&st, &v) == 0, "after kill %d: %s", i, v.problem);
                ck_assert_uint_ge(v.records, last);
                last = v.records;
        }
        ck_assert_uint_eq(kills, 200);
        ck_assert_uint_ge(last, 200);   /* every writer wrote at least once before its kill */
        fprintf(stderr, "check-audit: 200 SIGKILLs, %llu records, chain intact\n", (unsigned long long) last);
}
END_TEST

/* A record written at T (its "time"). */
static uint64_t append_at(const char *lane, time_t t) {
        struct json_object *o = json_object_new_object();
        char when[32];
        struct tm tm;
        uint64_t seq = 0;

        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_object_add(o, "lane", json_object_new_string(lane));
        json_object_object_add(o, "time", json_object_new_string(when));
        ck_assert_int_eq(audit_append(&st, o, &seq), 0);
        json_object_put(o);
        return seq;
}

static int prune(time_t before, struct audit_prune_result *pr) {
        return audit_prune(&st, before, json_object_new_object(), pr);
}

static bool exists(const char *name) {
        char path[256];

        snprintf(path, sizeof path, "%s/audit/%s", dir, name);
        return access(path, F_OK) == 0;
}

/* Five records, the first three old: pruned behind a checkpoint (6). */
static void pruned_five(struct audit_prune_result *pr) {
        for (int i = 0; i < 3; i++)
                append_at("old", 1000000 + i);
        append_at("new", 5000000);
        append_at("new", 5000001);
        ck_assert_int_eq(prune(2000000, pr), 0);
}

START_TEST(test_prune) {
        struct audit_prune_result pr;
        char *text = NULL;

        pruned_five(&pr);
        ck_assert_uint_eq(pr.first, 1);
        ck_assert_uint_eq(pr.last, 3);
        ck_assert_uint_eq(pr.checkpoint, 6);
        ck_assert(!exists(REC(1)) && !exists(REC(3)) && exists(REC(4)) && exists(REC(6)));
        ck_assert_int_eq(audit_verify(&st, &v), 0);
        ck_assert_uint_eq(v.first_seq, 4);
        ck_assert_uint_eq(v.records, 3);
        ck_assert_int_eq(audit_read(&st, 6, &text), 0);
        ck_assert_reason_has(text, "\"command\":\"audit-prune\"");
        ck_assert_reason_has(text, pr.last_digest);
        free(text);
        /* nothing older: no checkpoint, nothing removed */
        ck_assert_int_eq(prune(2000000, &pr), 0);
        ck_assert_uint_eq(pr.last, 0);
        ck_assert_uint_eq(append_at("later", 9000000), 7);
        ck_assert_int_eq(audit_verify(&st, &v), 0);
        /* a second prune: up to the checkpoint's own time and beyond, never the newest */
        ck_assert_int_eq(prune(time(NULL) + 86400, &pr), 0);
        ck_assert_uint_eq(pr.first, 4);
        ck_assert_uint_eq(pr.last, 6);   /* 7 was the newest */
        ck_assert_uint_eq(pr.checkpoint, 8);
        ck_assert_int_eq(audit_verify(&st, &v), 0);
        ck_assert_uint_eq(v.records, 2);
        ck_assert_uint_eq(v.first_seq, 7);
}
END_TEST

START_TEST(test_prune_stops_at_untimed) {
        struct audit_prune_result pr;

        append_at("old", 1000000);
        append("untimed", "planned");
        append_at("old", 1000001);
        append_at("new", 5000000);
        ck_assert_int_eq(prune(2000000, &pr), 0);
        ck_assert_uint_eq(pr.last, 1);   /* the untimed record and all after it kept */
        ck_assert_int_eq(audit_verify(&st, &v), 0);
}
END_TEST

START_TEST(test_prune_refuses_broken_chain) {
        struct audit_prune_result pr;

        append_at("old", 1000000);
        append_at("old", 1000001);
        append_at("new", 5000000);
        rewrite(REC(2), "\"old\"", "\"odd\"");
        ck_assert_int_eq(prune(2000000, &pr), -EBADMSG);
        ck_assert_reason_has(pr.problem, "does not follow");
        ck_assert(exists(REC(1)));   /* evidence of tampering is never pruned */
}
END_TEST

START_TEST(test_prune_base_altered) {
        struct audit_prune_result pr;

        char from[4] = "3 x", to[4] = "3 x";

        pruned_five(&pr);
        from[2] = pr.last_digest[0];
        to[2] = pr.last_digest[0] == 'a' ? 'b' : 'a';
        rewrite("BASE", from, to);
        expect_problem("does not follow the pruned record");
        rewrite("BASE", to, from);
        rewrite("BASE", "3 ", "2 ");   /* hiding one more record */
        expect_problem("record 3 is missing");
}
END_TEST

START_TEST(test_prune_checkpoint_altered) {
        struct audit_prune_result pr;

        pruned_five(&pr);
        rewrite(REC(6), "\"pruned_to\":3", "\"pruned_to\":2");
        expect_problem("record 6");
}
END_TEST

START_TEST(test_prune_record_after_base_removed) {
        struct audit_prune_result pr;
        char path[256];

        pruned_five(&pr);
        snprintf(path, sizeof path, "%s/audit/%s", dir, REC(4));
        ck_assert_int_eq(unlink(path), 0);
        expect_problem("record 4 is missing");
}
END_TEST

START_TEST(test_prune_killed_midway) {
        struct audit_prune_result pr;
        char path[256];
        int fd;

        pruned_five(&pr);
        /* as if killed before unlinking record 3: a leftover at or below BASE */
        snprintf(path, sizeof path, "%s/audit/%s", dir, REC(3));
        fd = open(path, O_WRONLY | O_CREAT, 0640);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "{}", 2), 2);
        close(fd);
        ck_assert_int_eq(audit_verify(&st, &v), 0);
        ck_assert_uint_eq(v.records, 3);
        ck_assert_int_eq(prune(2000000, &pr), 0);   /* nothing new to prune; the leftover goes */
        ck_assert(!exists(REC(3)));
        ck_assert_int_eq(audit_verify(&st, &v), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("audit");
        TCase *tc = tcase_create("audit");

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_chain);
        tcase_add_test(tc, test_redacted);
        tcase_add_test(tc, test_command_record);
        tcase_add_test(tc, test_missing);
        tcase_add_test(tc, test_altered_middle);
        tcase_add_test(tc, test_altered_last);
        tcase_add_test(tc, test_reordered);
        tcase_add_test(tc, test_torn);
        tcase_add_test(tc, test_head_ahead);
        tcase_add_test(tc, test_crash_tail);
        tcase_add_test(tc, test_leftover_temp_and_bad_input);
        tcase_add_test(tc, test_concurrent_writers);
        tcase_add_test(tc, test_sigkill);
        tcase_add_test(tc, test_prune);
        tcase_add_test(tc, test_prune_stops_at_untimed);
        tcase_add_test(tc, test_prune_refuses_broken_chain);
        tcase_add_test(tc, test_prune_base_altered);
        tcase_add_test(tc, test_prune_checkpoint_altered);
        tcase_add_test(tc, test_prune_record_after_base_removed);
        tcase_add_test(tc, test_prune_killed_midway);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
