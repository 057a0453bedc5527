/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pool slot hand-off (proto-slot.h): its codec refuses malformed and
 * hostile messages with a reason; and, on a real directory tree, what
 * lanekeeper-register --run leaves of a slot before a run (the runner
 * install, nothing a job left) and the install's fingerprint, which every
 * change a job can make to the install moves. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto-register.h"
#include "proto-slot.h"
#include "slot-run.h"
#include "test-util.h"

static char dir[64];
static int dfd = -1;
static char buf[PROTO_SLOT_MAX + 1];
static size_t len;

static void sh(const char *script) {
        char cmd[1024];

        snprintf(cmd, sizeof cmd, "cd '%s' && %s", dir, script);
        ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

static bool exists(const char *rel) {
        struct stat st;

        return fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The kit's layout, then what a job leaves: its workspace, the runner's
 * registration and diagnostics, files in HOME, a directory it made
 * unwritable, a symlink out of the slot. */
static void setup(void) {
        snprintf(dir, sizeof dir, "/tmp/check-slot.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        sh("mkdir -p bin.2.330.0 && ln -s bin.2.330.0 bin && echo '#!/bin/sh' > run.sh && echo x > config.sh && "
           "echo listener > bin.2.330.0/Runner.Listener");
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dfd, 0);
}

static void job_leftovers(void) {
        sh("mkdir -p _work/site/src .config/evil _diag && echo s > _work/site/src/a && echo r > .runner && "
           "echo c > .credentials && echo 'alias ls=evil' > .bashrc && echo e > .config/evil/x && "
           "mkdir -p locked/inner && echo l > locked/inner/f && chmod 555 locked/inner locked && "
           "ln -s /etc outside && echo h > run-helper.sh");
}

static void teardown(void) {
        close(dfd);
        sh("chmod -R u+w . 2>/dev/null || true");
        test_remove_tree(dir);
}

START_TEST(test_codec_request) {
        char slot[PROTO_LANE_NAME_MAX + 1];
        const char *reason = NULL;

        ck_assert_int_eq(proto_slot_encode_request("web-3", buf, sizeof buf, &len), 0);
        ck_assert_str_eq(buf, "LKJIT1 web-3\n");
        ck_assert_int_eq(proto_slot_decode_request(buf, len, slot, &reason), 0);
        ck_assert_str_eq(slot, "web-3");
        ck_assert_int_eq(proto_slot_decode_request("LKREG1 web-3\n", 13, slot, &reason), -EINVAL);
        ck_assert_int_eq(proto_slot_decode_request("LKJIT1 ../x\n", 12, slot, &reason), -EINVAL);
        ck_assert_int_eq(proto_slot_decode_request("LKJIT1 web\0x\n", 13, slot, &reason), -EINVAL);
        ck_assert_int_eq(proto_slot_encode_request("a b", buf, sizeof buf, &len), -EINVAL);
}
END_TEST

static const struct {
        const char *keep;
        const char *reason;   /* NULL: valid */
} keeps[] = {
        { "", NULL },
        { "bin,bin.2.330.0,config.sh,run.sh", NULL },
        { ".env,.path,externals", NULL },
        { "bin,,run.sh", "empty entry" },
        { "bin,", "empty entry" },
        { "bin,bin", "twice" },
        { "_work", "a run leaves" },
        { "run.sh,.credentials", "a run leaves" },
        { "..", "'.' or '..'" },
        { "a/b", "'/'" },
        { "run.sh\nExecStart=x", "printable" },
        { "caf\xc3\xa9", "printable" },
};

START_TEST(test_codec_keep) {
        const char *reason = NULL;
        int r = proto_slot_validate_keep(keeps[_i].keep, &reason);

        if (!keeps[_i].reason)
                ck_assert_msg(r == 0, "%s refused: %s", keeps[_i].keep, reason_or_null(reason));
        else {
                ck_assert_int_eq(r, -EINVAL);
                ck_assert_reason_has(reason, keeps[_i].reason);
        }
}
END_TEST

START_TEST(test_codec_keep_limit) {
        char list[PROTO_SLOT_KEEP_BUF] = "";
        const char *reason = NULL;

        for (int i = 0; i < PROTO_SLOT_KEEP_MAX + 1; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%se%d", i ? "," : "", i);
        ck_assert_int_eq(proto_slot_validate_keep(list, &reason), -EINVAL);
        ck_assert_reason_has(reason, "more than 64");
        *strrchr(list, ',') = '\0';
        ck_assert_int_eq(proto_slot_validate_keep(list, &reason), 0);
        ck_assert(proto_slot_keep_has(list, "e63"));
        ck_assert(!proto_slot_keep_has(list, "e64") && !proto_slot_keep_has(list, "e"));
        ck_assert(!proto_slot_keep_has("", "e6"));
}
END_TEST

START_TEST(test_codec_rules_report_verdict) {
        char slot[PROTO_LANE_NAME_MAX + 1], keep[PROTO_SLOT_KEEP_BUF], fp[PROTO_SHA256_HEX_SIZE];
        char jit[PROTO_SLOT_JIT_MAX + 1], refusal[PROTO_SLOT_REASON_MAX + 1];
        const char *reason = NULL, *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

        ck_assert_int_eq(proto_slot_encode_rules("web-1", "bin,run.sh", buf, sizeof buf, &len), 0);
        ck_assert_str_eq(buf, "slot=web-1\nkeep=bin,run.sh\n");
        ck_assert_int_eq(proto_slot_decode_rules(buf, len, slot, keep, &reason), 0);
        ck_assert_str_eq(keep, "bin,run.sh");
        ck_assert_int_eq(proto_slot_decode_rules("slot=web-1\nkeep=\n", 17, slot, keep, &reason), 0);
        ck_assert_str_eq(keep, "");
        ck_assert_int_eq(proto_slot_decode_rules("keep=\nslot=web-1\n", 17, slot, keep, &reason), -EINVAL);
        ck_assert_int_eq(proto_slot_decode_rules("slot=web-1\nkeep=\nx=1\n", 21, slot, keep, &reason), -EINVAL);
        ck_assert_reason_has(reason, "after the last key");
        ck_assert_int_eq(proto_slot_decode_rules("slot=web-1\nkeep=_work\n", 22, slot, keep, &reason), -EINVAL);

        ck_assert_int_eq(proto_slot_encode_report(hex, "bin", buf, sizeof buf, &len), 0);
        ck_assert_int_eq(proto_slot_decode_report(buf, len, fp, keep, &reason), 0);
        ck_assert_str_eq(fp, hex);
        ck_assert_int_eq(proto_slot_encode_report(hex, "", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(proto_slot_encode_report("ABCD", "bin", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(proto_slot_decode_report("fingerprint=x\nkeep=bin\n", 23, fp, keep, &reason), -EINVAL);
        ck_assert_reason_has(reason, "64 lowercase hex");

        ck_assert_int_eq(proto_slot_encode_verdict("eyJhIjoxfQ==", NULL, buf, sizeof buf, &len), 0);
        ck_assert_int_eq(proto_slot_decode_verdict(buf, len, jit, refusal, &reason), 0);
        ck_assert_str_eq(jit, "eyJhIjoxfQ==");
        ck_assert_str_eq(refusal, "");
        ck_assert_int_eq(proto_slot_encode_verdict(NULL, "the install changed", buf, sizeof buf, &len), 0);
        ck_assert_int_eq(proto_slot_decode_verdict(buf, len, jit, refusal, &reason), 0);
        ck_assert_str_eq(refusal, "the install changed");
        ck_assert_str_eq(jit, "");
        ck_assert_int_eq(proto_slot_encode_verdict("a b", NULL, buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(proto_slot_encode_verdict("a", "b", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(proto_slot_decode_verdict("jitconfig=a\nrefuse=b\n", 21, jit, refusal, &reason), -EINVAL);
        ck_assert_int_eq(proto_slot_decode_verdict("jitconfig=a b\n", 14, jit, refusal, &reason), -EINVAL);
        ck_assert_reason_has(reason, "base64");
        ck_assert_int_eq(proto_slot_decode_verdict("token=abc\n", 10, jit, refusal, &reason), -EINVAL);
        ck_assert_int_eq(proto_slot_decode_verdict("jitconfig=\n", 11, jit, refusal, &reason), -EINVAL);
}
END_TEST

START_TEST(test_register_slot_answer) {
        struct proto_register r = { .slot = true }, got;
        const char *reason = NULL;

        snprintf(r.name, sizeof r.name, "web-2");
        ck_assert_int_eq(proto_register_encode(&r, buf, sizeof buf, &len, &reason), 0);
        ck_assert_str_eq(buf, "slot=web-2\n");
        ck_assert_int_eq(proto_register_decode(buf, len, &got, &reason), 0);
        ck_assert(got.slot && !got.purge && !got.forget);
        ck_assert_str_eq(got.name, "web-2");
        ck_assert_int_eq(proto_register_decode("slot=web-2\ntoken=x\n", 19, &got, &reason), -EINVAL);
        r.purge = true;
        ck_assert_int_eq(proto_register_encode(&r, buf, sizeof buf, &len, &reason), -EINVAL);
}
END_TEST

START_TEST(test_clean_first_use) {
        char keep[PROTO_SLOT_KEEP_BUF], err[512];
        size_t removed;

        job_leftovers();
        /* the first use: only what a run leaves goes; the rest is the install */
        ck_assert_int_eq(slot_clean(dfd, "", keep, &removed, err, sizeof err), 0);
        ck_assert_str_eq(keep, ".bashrc,.config,bin,bin.2.330.0,config.sh,locked,outside,run.sh");
        ck_assert(!exists("_work") && !exists(".runner") && !exists(".credentials") && !exists("_diag"));
        ck_assert(!exists("run-helper.sh"));
}
END_TEST

START_TEST(test_clean_to_install) {
        char keep[PROTO_SLOT_KEEP_BUF], err[512];
        struct stat st;
        size_t removed;

        job_leftovers();
        ck_assert_int_eq(slot_clean(dfd, "bin,bin.2.330.0,config.sh,run.sh", keep, &removed, err, sizeof err), 0);
        ck_assert_str_eq(keep, "bin,bin.2.330.0,config.sh,run.sh");
        ck_assert(!exists(".bashrc") && !exists(".config") && !exists("locked") && !exists("outside"));
        ck_assert(!exists("_work") && !exists(".runner"));
        ck_assert_uint_ge(removed, 12);
        ck_assert_int_eq(stat("/etc/passwd", &st), 0);   /* the symlink went, not what it pointed to */
        ck_assert(exists("bin.2.330.0/Runner.Listener"));
        /* an entry of the install missing: the list says so, the supervisor compares */
        sh("rm config.sh");
        ck_assert_int_eq(slot_clean(dfd, "bin,bin.2.330.0,config.sh,run.sh", keep, &removed, err, sizeof err), 0);
        ck_assert_str_eq(keep, "bin,bin.2.330.0,run.sh");
}
END_TEST

START_TEST(test_fingerprint) {
        const char *keep = "bin,bin.2.330.0,config.sh,run.sh";
        char a[PROTO_SHA256_HEX_SIZE], b[PROTO_SHA256_HEX_SIZE], err[512];
        static const char *const changes[] = {
                "echo more >> bin.2.330.0/Runner.Listener",   /* the runner's code */
                "chmod 777 run.sh",                           /* its mode */
                "touch -d 2020-01-01 config.sh",              /* a time set back: the change time moves */
                "echo x > bin.2.330.0/extra",                 /* a file added inside */
                "ln -sfn /tmp bin",                           /* a symlink re-pointed */
                "cp -p config.sh c && mv c config.sh",        /* replaced by a copy with the same bytes and times */
        };

        ck_assert_int_eq(slot_fingerprint(dfd, keep, a, err, sizeof err), 0);
        ck_assert_uint_eq(strlen(a), 64);
        job_leftovers();   /* what a run leaves outside the install does not count */
        ck_assert_int_eq(slot_fingerprint(dfd, keep, b, err, sizeof err), 0);
        ck_assert_str_eq(a, b);
        for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
                usleep(10 * 1000);
                sh(changes[i]);
                ck_assert_int_eq(slot_fingerprint(dfd, keep, b, err, sizeof err), 0);
                ck_assert_msg(strcmp(a, b) != 0, "the fingerprint did not move after: %s", changes[i]);
                memcpy(a, b, sizeof a);
        }
        ck_assert_int_eq(slot_fingerprint(dfd, "bin,missing", b, err, sizeof err), -ENOENT);
        ck_assert_reason_has(err, "missing");
}
END_TEST

int main(void) {
        Suite *s = suite_create("slot");
        TCase *codec = tcase_create("codec"), *dir_tc = tcase_create("directory");

        tcase_add_test(codec, test_codec_request);
        tcase_add_loop_test(codec, test_codec_keep, 0, sizeof keeps / sizeof keeps[0]);
        tcase_add_test(codec, test_codec_keep_limit);
        tcase_add_test(codec, test_codec_rules_report_verdict);
        tcase_add_test(codec, test_register_slot_answer);
        suite_add_tcase(s, codec);
        tcase_add_checked_fixture(dir_tc, setup, teardown);
        tcase_add_test(dir_tc, test_clean_first_use);
        tcase_add_test(dir_tc, test_clean_to_install);
        tcase_add_test(dir_tc, test_fingerprint);
        suite_add_tcase(s, dir_tc);
        return run_suite(s);
}
