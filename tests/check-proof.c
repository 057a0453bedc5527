/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Proof packs (orchestrator/kobs/kobs-proof.c, kobs-verify.c) on gate
 * directories made here: what a pack holds and its manifest says, the
 * same bytes when packed again, verification from the directory and from
 * the tarball alone, and every kind of tampering found and named: a
 * changed, missing or added file, a status the gate's own result
 * contradicts, an unsafe path, a damaged tarball. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kobs-proof.h"
#include "kobs-write.h"
#include "store-file.h"
#include "test-util.h"

static char root[64];
static int rootfd = -1;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f) {
        (void) st, (void) flag, (void) f;
        return remove(path);
}

static void setup(void) {
        strcpy(root, "/tmp/check-proof.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(root));
        rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(rootfd, 0);
}

static void teardown(void) {
        close(rootfd);
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *path, const char *text) {
        char full[300];
        FILE *f;

        snprintf(full, sizeof full, "%s/%s", root, path);
        f = fopen(full, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
}

static int opendir_at(const char *path) {
        int fd = openat(rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        ck_assert_int_ge(fd, 0);
        return fd;
}

/* DIR: a gate's directory as lanectl gate run leaves it, with STATUS. */
static void gate_dir(const char *dir, const char *name, const char *status, unsigned runs) {
        char p[200], t[600];

        snprintf(p, sizeof p, "%s/%s", root, dir);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        snprintf(p, sizeof p, "%s/gate.json", dir);
        snprintf(t, sizeof t, "{\"schema\":\"lanekeeper.gate-result/1\",\"gate\":\"%s\",\"status\":\"%s\","
                 "\"repository\":\"acme/site\",\"ref\":\"main\",\"workflow\":\"%s.yml\",\"inputs\":{\"a\":\"1\"},"
                 "\"runs_requested\":%u,\"runs_passed\":%u,\"determinism\":\"passed\",\"runs\":["
                 "{\"run\":1,\"run_id\":\"41-1\",\"workflow_run_id\":41,\"attempt\":1,\"job_id\":42,\"commit\":\"c0ffee\"}]}",
                 name, status, name, runs, runs);
        put(p, t);
        snprintf(p, sizeof p, "%s/gate.log", dir);
        snprintf(t, sizeof t, "gate %s\nPASS: %s acceptance\n  run 1: ...\nPASS: %s three-run determinism\n", name,
                 name, name);
        put(p, t);
        for (unsigned n = 1; n <= runs; n++) {
                static const char *const files[] = { "observation.tar.gz", "manifest.json", "observation-health.json",
                                                     "capability-surface.json", "correlation-report.json" };

                snprintf(p, sizeof p, "%s/%s/run-%u", root, dir, n);
                ck_assert_int_eq(mkdir(p, 0755), 0);
                for (size_t i = 0; i < 5; i++) {
                        snprintf(p, sizeof p, "%s/run-%u/%s", dir, n, files[i]);
                        snprintf(t, sizeof t, "{\"file\":\"%s\",\"run\":%u}\n", files[i], n);
                        put(p, t);
                }
        }
}

static struct json_object *pack_as(const char *src, const char *out, const char *const *expect, size_t n_expect) {
        struct kobs_pack_opts o = { .src_name = src, .expect = expect, .n_expect = n_expect, .retention_days = 365,
                                    .created = 1796000000 };
        char tar[100], err[600];
        struct json_object *m = NULL;
        int s = opendir_at(src), d, r;

        ck_assert_int_eq(mkdirat(rootfd, out, 0755), 0);
        d = opendir_at(out);
        snprintf(tar, sizeof tar, "%s.tar.gz", out);
        r = kobs_proof_pack(s, d, rootfd, tar, &o, &m, err, sizeof err);
        ck_assert_msg(r == 0, "pack: %s", err);
        close(s);
        close(d);
        return m;
}

/* Verify the pack OUT (its directory, or with TARBALL its tarball). */
static int verify(const char *out, bool tarball, struct kobs_verify *v) {
        struct kobs_pack_files f;
        char path[100], err[400];
        int fd, r;

        *v = (struct kobs_verify) {};
        snprintf(path, sizeof path, "%s%s", out, tarball ? ".tar.gz" : "");
        fd = openat(rootfd, path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        r = tarball ? kobs_pack_files_tarball(fd, &f, err, sizeof err) : kobs_pack_files_dir(fd, &f, err, sizeof err);
        if (r >= 0)
                r = kobs_proof_verify(&f, v);
        kobs_pack_files_free(&f);
        close(fd);
        return r;
}

static bool has_problem(const struct kobs_verify *v, const char *text) {
        for (size_t i = 0; i < v->n_problems && i < 16; i++)
                if (strstr(v->problems[i], text))
                        return true;
        return false;
}

static const char *jstr(struct json_object *o, const char *k) {
        return json_object_get_string(json_object_object_get(o, k));
}

START_TEST(test_pack_and_verify) {
        struct json_object *m, *subjects;
        struct kobs_verify v;
        char *a = NULL, *b = NULL, *sums = NULL;
        size_t la, lb, ls;

        gate_dir("g", "fixture", "passed", 3);
        m = pack_as("g", "p1", NULL, 0);
        ck_assert_str_eq(jstr(m, "schema"), "lanekeeper.proof-pack/1");
        ck_assert_str_eq(jstr(m, "status"), "passed");
        ck_assert_str_eq(jstr(m, "created_at"), "2026-11-30T00:53:20Z");
        ck_assert_str_eq(jstr(m, "repository"), "acme/site");
        ck_assert_str_eq(jstr(m, "commit"), "c0ffee");
        ck_assert_int_eq(json_object_get_int(json_object_object_get(m, "retention_days")), 365);
        ck_assert_ptr_nonnull(json_object_object_get(json_object_object_get(m, "verification"), "current_state"));
        subjects = json_object_object_get(m, "subjects");
        ck_assert_uint_eq(json_object_array_length(subjects), 2 + 3 * 5);
        ck_assert_str_eq(jstr(json_object_array_get_idx(subjects, 0), "path"), "gates/fixture/gate.json");
        ck_assert_str_eq(jstr(json_object_array_get_idx(subjects, 6), "path"), "gates/fixture/run-1/observation.tar.gz");
        ck_assert_str_eq(jstr(json_object_array_get_idx(subjects, 6), "role"), "archive");
        ck_assert_uint_eq(json_object_array_length(json_object_object_get(
                json_object_array_get_idx(json_object_object_get(m, "gates"), 0), "pass_lines")), 2);
        json_object_put(m);
        ck_assert_int_eq(verify("p1", false, &v), 0);
        ck_assert_uint_eq(v.matched, 17);
        ck_assert(v.all_passed);
        json_object_put(v.manifest);
        ck_assert_int_eq(verify("p1", true, &v), 0);
        ck_assert_uint_eq(v.matched, 17);
        json_object_put(v.manifest);
        /* SHA256SUMS as sha256sum -c reads it */
        ck_assert_int_eq(store_read_file(opendir_at("p1"), "SHA256SUMS", 1 << 20, &sums, &ls), 0);
        ck_assert(strstr(sums, "  gates/fixture/gate.json\n"));
        ck_assert_int_eq((int) (strchr(sums, ' ') - sums), 64);
        /* packed again: the same tarball, byte for byte */
        json_object_put(pack_as("g", "p2", NULL, 0));
        ck_assert_int_eq(store_read_file(rootfd, "p1.tar.gz", 1 << 24, &a, &la), 0);
        ck_assert_int_eq(store_read_file(rootfd, "p2.tar.gz", 1 << 24, &b, &lb), 0);
        ck_assert_uint_eq(la, lb);
        ck_assert_mem_eq(a, b, la);
        free(a), free(b), free(sums);
}
END_TEST

START_TEST(test_tampering) {
        struct kobs_verify v;
        char *t = NULL;
        size_t l;
        int fd;

        gate_dir("g", "fixture", "passed", 1);
        json_object_put(pack_as("g", "p", NULL, 0));
        put("p/gates/fixture/run-1/capability-surface.json", "{\"file\":\"forged\"}\n");
        ck_assert_int_eq(verify("p", false, &v), 1);
        ck_assert(has_problem(&v, "gates/fixture/run-1/capability-surface.json: "));
        ck_assert(has_problem(&v, "the manifest says"));
        ck_assert(!v.all_passed || v.n_problems);
        json_object_put(v.manifest);
        put("p/extra.txt", "unlisted\n");
        ck_assert_int_eq(unlinkat(rootfd, "p/gates/fixture/gate.log", 0), 0);
        ck_assert_int_eq(verify("p", false, &v), 1);
        ck_assert(has_problem(&v, "extra.txt is in the pack but not in its manifest"));
        ck_assert(has_problem(&v, "gates/fixture/gate.log: missing"));
        json_object_put(v.manifest);
        /* the tarball: one byte of its compressed stream changed */
        ck_assert_int_eq(store_read_file(rootfd, "p.tar.gz", 1 << 24, &t, &l), 0);
        t[l / 2] ^= 0x55;
        fd = openat(rootfd, "p.tar.gz", O_WRONLY | O_TRUNC | O_CLOEXEC);
        ck_assert_int_eq(write(fd, t, l), (ssize_t) l);
        close(fd);
        free(t);
        ck_assert_int_ne(verify("p", true, &v), 0);
        json_object_put(v.manifest);
}
END_TEST

START_TEST(test_statuses) {
        const char *expect[] = { "fixture", "other" };
        struct json_object *m, *gates;
        struct kobs_verify v;
        char *t = NULL, *at;
        size_t l;
        int fd;

        /* several gates: one failed, one killed before its result, one expected and absent */
        ck_assert_int_eq(mkdirat(rootfd, "all", 0755), 0);
        gate_dir("all/a", "fixture", "failed", 1);
        gate_dir("all/killed", "killed", "passed", 1);
        ck_assert_int_eq(unlinkat(rootfd, "all/killed/gate.json", 0), 0);
        m = pack_as("all", "p", expect, 2);
        ck_assert_str_eq(jstr(m, "status"), "failed");
        gates = json_object_object_get(m, "gates");
        ck_assert_uint_eq(json_object_array_length(gates), 3);
        ck_assert_str_eq(jstr(json_object_array_get_idx(gates, 0), "status"), "failed");
        ck_assert_str_eq(jstr(json_object_array_get_idx(gates, 1), "name"), "killed");
        ck_assert_str_eq(jstr(json_object_array_get_idx(gates, 1), "status"), "incomplete");
        ck_assert_str_eq(jstr(json_object_array_get_idx(gates, 2), "name"), "other");
        ck_assert_str_eq(jstr(json_object_array_get_idx(gates, 2), "status"), "missing");
        json_object_put(m);
        ck_assert_int_eq(verify("p", false, &v), 0);   /* intact, but not all passed */
        ck_assert(!v.all_passed);
        json_object_put(v.manifest);
        /* the manifest says passed where the gate's own result says failed */
        ck_assert_int_eq(store_read_file(rootfd, "p/manifest.json", 1 << 24, &t, &l), 0);
        at = strstr(t, "\"status\":\"failed\"");
        ck_assert_ptr_nonnull(at);
        memcpy(at, "\"status\":\"passed\"", 17);
        fd = openat(rootfd, "p/manifest.json", O_WRONLY | O_TRUNC | O_CLOEXEC);
        ck_assert_int_eq(write(fd, t, l), (ssize_t) l);
        close(fd);
        free(t);
        ck_assert_int_eq(verify("p", false, &v), 1);
        ck_assert(has_problem(&v, "gate fixture is said to be passed, but its gate.json says failed"));
        json_object_put(v.manifest);
}
END_TEST

START_TEST(test_paths_and_not_a_pack) {
        struct kobs_verify v;

        ck_assert(kobs_pack_path_ok("gates/x/run-1/a.json"));
        ck_assert(!kobs_pack_path_ok("../x"));
        ck_assert(!kobs_pack_path_ok("gates/../../x"));
        ck_assert(!kobs_pack_path_ok("/etc/passwd"));
        ck_assert(!kobs_pack_path_ok("gates//x"));
        ck_assert(!kobs_pack_path_ok("gates/./x"));
        ck_assert(!kobs_pack_path_ok(""));
        ck_assert_int_eq(mkdirat(rootfd, "p", 0755), 0);
        put("p/manifest.json", "{\"schema\":\"lanekeeper.proof-pack/1\",\"status\":\"passed\",\"gates\":[],"
                               "\"subjects\":[{\"path\":\"../../etc/passwd\",\"bytes\":1,\"sha256\":\"sha256:0\"}]}");
        put("p/SHA256SUMS", "");
        ck_assert_int_eq(verify("p", false, &v), 1);
        ck_assert(has_problem(&v, "unsafe"));
        ck_assert(!v.all_passed);
        json_object_put(v.manifest);
        /* a forged manifest's long paths: named, never written past a buffer */
        {
                static char big[20000];
                char longpath[3001];

                memset(longpath, 'a', 3000);
                longpath[3000] = '\0';
                snprintf(big, sizeof big, "{\"schema\":\"lanekeeper.proof-pack/1\",\"status\":\"passed\",\"gates\":[],"
                         "\"subjects\":[{\"path\":\"%s\",\"bytes\":1,\"sha256\":\"sha256:%s\"},"
                         "{\"path\":\"%s/b\",\"bytes\":1,\"sha256\":\"0\"}]}", longpath, longpath, longpath);
                put("p/manifest.json", big);
                ck_assert_int_eq(verify("p", false, &v), 1);
                ck_assert(has_problem(&v, "unsafe"));
                ck_assert(has_problem(&v, "SHA256SUMS does not list the subjects"));
                json_object_put(v.manifest);
        }
        put("p/manifest.json", "{\"schema\":\"something/else\"}");
        ck_assert_int_eq(verify("p", false, &v), -EBADMSG);
        json_object_put(v.manifest);
}
END_TEST

int main(void) {
        Suite *s = suite_create("proof");
        TCase *tc = tcase_create("proof");
        SRunner *sr;
        int failed;

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_pack_and_verify);
        tcase_add_test(tc, test_tampering);
        tcase_add_test(tc, test_statuses);
        tcase_add_test(tc, test_paths_and_not_a_pack);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
