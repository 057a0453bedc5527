/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel observation's pure parts (orchestrator/kobs/): which records are
 * the job's, the surface, health and correlation built from them, path
 * normalisation, the gate's comparison and diff, deterministic tarballs
 * and manifests. The ring buffer itself is exercised by test-kobs. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kobs-gate.h"
#include "kobs-report.h"
#include "kobs-ring.h"
#include "kobs-write.h"
#include "store-file.h"
#include "test-util.h"

static struct lk_obs_event ev(uint32_t kind, uint32_t pid, const char *path) {
        struct lk_obs_event e = { .abi = LK_OBS_ABI, .kind = kind, .pid = pid, .tid = pid, .cgroup_id = 77 };

        snprintf(e.path, sizeof e.path, "%s", path ?: "");
        snprintf(e.comm, sizeof e.comm, "t%u", pid);
        return e;
}

static struct lk_obs_event ev_fork(uint32_t parent, uint32_t child) {
        struct lk_obs_event e = ev(LK_EV_FORK, parent, NULL);

        e.child = child;
        return e;
}

static struct lk_obs_event ev_open(uint32_t pid, const char *path, uint32_t flags, int32_t result) {
        struct lk_obs_event e = ev(LK_EV_OPEN, pid, path);

        e.flags = flags;
        e.result = result;
        return e;
}

static struct lk_obs_event ev_connect(uint32_t pid, uint16_t port) {
        struct lk_obs_event e = ev(LK_EV_CONNECT, pid, NULL);

        e.family = 2;
        e.port = port;
        e.addr[0] = 127, e.addr[3] = 1;
        return e;
}

/* A listener (pid 10) that starts a worker (11) that runs a step (12) and its child (13). */
static size_t job_records(struct lk_obs_event *v) {
        size_t n = 0;

        v[n++] = ev_open(10, "/srv/r/lane-a/_diag/Runner_x.log", O_WRONLY | O_APPEND, 3);
        v[n++] = ev_fork(10, 11);
        v[n++] = ev(LK_EV_EXEC, 11, "/srv/r/lane-a/bin/Runner.Worker");
        v[n++] = ev_open(11, "/srv/r/lane-a/_diag/Worker_x.log", O_WRONLY | O_CREAT, 4);
        v[n++] = ev_fork(11, 12);
        v[n++] = ev(LK_EV_EXEC, 12, "/usr/bin/bash");
        v[n++] = ev_open(12, "/usr/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY, 3);
        v[n++] = ev_open(12, "/srv/r/lane-a/_work/_temp/0f8fad5b-d9cb-469f-a165-70867728950e.sh", O_RDONLY, 3);
        v[n++] = ev_open(12, "out/a.txt", O_WRONLY | O_CREAT | O_TRUNC, 3);
        v[n++] = ev_open(12, "missing.txt", O_RDONLY, -2);
        v[n++] = ev_fork(12, 13);
        v[n++] = ev(LK_EV_EXEC, 13, "/usr/bin/cat");
        v[n++] = ev_open(13, "/etc/hostname", O_RDONLY, 3);
        v[n++] = ev_connect(13, 8080);
        v[n++] = ev(LK_EV_EXIT, 13, NULL);
        v[n++] = ev(LK_EV_EXIT, 12, NULL);
        v[n++] = ev(LK_EV_EXIT, 11, NULL);
        v[n++] = ev_open(10, "/srv/r/lane-a/_diag/Runner_x.log", O_WRONLY | O_APPEND, 3);
        return n;
}

static const char *str_at(struct json_object *o, const char *key, size_t i) {
        return json_object_get_string(json_object_array_get_idx(json_object_object_get(o, key), i));
}

static size_t len_of(struct json_object *o, const char *key) {
        return json_object_array_length(json_object_object_get(o, key));
}

static const char *get(struct json_object *o, const char *key) {
        return json_object_get_string(json_object_object_get(o, key));
}

static struct kobs_job job = { .id = 5, .run_id = 4, .attempt = 1, .name = "fixture", .status = "completed",
                               .conclusion = "success", .runner_name = "lane-a" };

START_TEST(test_job_scope) {
        struct lk_obs_event v[32];
        struct kobs_input in = { .lane = "lane-a", .run_id = "4-1", .ev = v, .n_ev = job_records(v), .cgroup_id = 77,
                                 .cgroup_path = "/system.slice/x.service", .cgroup_verified = true, .job = &job };
        struct kobs_report r;
        struct json_object *s, *e0, *e5;

        ck_assert_int_eq(kobs_report_build(&in, &r), 0);
        /* the step (12) and its child (13): not the listener, not the worker */
        ck_assert_uint_eq(r.job_events, 11);
        ck_assert(r.complete && r.clean);
        s = r.obj[KOBS_SURFACE];
        ck_assert_uint_eq(len_of(s, "process_execs"), 2);
        ck_assert_str_eq(str_at(s, "process_execs", 0), "/usr/bin/bash");
        ck_assert_str_eq(str_at(s, "process_execs", 1), "/usr/bin/cat");
        ck_assert_uint_eq(len_of(s, "files_written"), 1);
        ck_assert_str_eq(str_at(s, "files_written", 0), "out/a.txt");
        ck_assert_str_eq(str_at(s, "files_created", 0), "out/a.txt");
        /* read: the step script (its UUID normalised) and /etc/hostname; not libc, not the failed open */
        ck_assert_uint_eq(len_of(s, "files_read"), 2);
        ck_assert_str_eq(str_at(s, "files_read", 0), "/etc/hostname");
        ck_assert_str_eq(str_at(s, "files_read", 1), "/srv/r/lane-a/_work/_temp/<uuid>.sh");
        ck_assert_str_eq(str_at(s, "network_endpoints", 0), "inet:127.0.0.1:8080");
        ck_assert_str_eq(get(r.obj[KOBS_HEALTH], "kernel_layer"), "complete");
        ck_assert_str_eq(get(r.obj[KOBS_HEALTH], "cgroup_correlation"), "clean");
        ck_assert_str_eq(get(r.obj[KOBS_CORRELATION], "status"), "clean");
        ck_assert_ptr_null(r.obj[KOBS_EVENTS]);
        e0 = kobs_event_json(&in, &r, 0);
        e5 = kobs_event_json(&in, &r, 5);
        ck_assert_str_eq(get(e0, "scope"), "runner");
        ck_assert_str_eq(get(e5, "scope"), "job");
        json_object_put(e0);
        json_object_put(e5);
        kobs_report_free(&r);
}
END_TEST

/* Drops, a missing or doubled worker, another runner: each said, specifically. */
START_TEST(test_not_clean) {
        struct lk_obs_event v[40];
        size_t n = job_records(v);
        struct kobs_input in = { .lane = "lane-a", .run_id = "4-1", .ev = v, .n_ev = n, .cgroup_verified = true,
                                 .cgroup_path = "/x", .job = &job };
        struct kobs_job other = job;
        struct kobs_report r;

        in.drops[LK_HOOK_OPEN] = 3;
        ck_assert_int_eq(kobs_report_build(&in, &r), 0);
        ck_assert(!r.complete);
        ck_assert_str_eq(get(r.obj[KOBS_HEALTH], "kernel_layer"), "partial_ringbuf_drops");
        ck_assert_int_eq(json_object_get_int(json_object_object_get(r.obj[KOBS_HEALTH], "ringbuf_drops")), 3);
        kobs_report_free(&r);
        in.drops[LK_HOOK_OPEN] = 0;
        /* no worker in the window: the job's processes are unknown */
        in.ev = v + 3;
        in.n_ev = n - 3;
        ck_assert_int_eq(kobs_report_build(&in, &r), 0);
        ck_assert(!r.clean);
        ck_assert_str_eq(get(r.obj[KOBS_CORRELATION], "status"), "failed");
        ck_assert_uint_eq(r.job_events, 0);
        kobs_report_free(&r);
        /* a second worker: partial */
        in.ev = v;
        in.n_ev = n;
        v[n] = ev(LK_EV_EXEC, 20, "/srv/r/lane-a/bin/Runner.Worker");
        in.n_ev = n + 1;
        ck_assert_int_eq(kobs_report_build(&in, &r), 0);
        ck_assert_str_eq(get(r.obj[KOBS_CORRELATION], "status"), "partial");
        kobs_report_free(&r);
        /* GitHub says another runner ran it: failed */
        in.n_ev = n;
        snprintf(other.runner_name, sizeof other.runner_name, "lane-b");
        in.job = &other;
        ck_assert_int_eq(kobs_report_build(&in, &r), 0);
        ck_assert_str_eq(get(r.obj[KOBS_CORRELATION], "status"), "failed");
        kobs_report_free(&r);
        /* no job (a duration): every record is the lane's */
        in.job = NULL;
        ck_assert_int_eq(kobs_report_build(&in, &r), 0);
        ck_assert_uint_eq(r.job_events, n);
        ck_assert(r.clean);
        kobs_report_free(&r);
        /* the cgroup not confirmed by lanectl: partial */
        in.cgroup_verified = false;
        ck_assert_int_eq(kobs_report_build(&in, &r), 0);
        ck_assert_str_eq(get(r.obj[KOBS_CORRELATION], "status"), "partial");
        kobs_report_free(&r);
}
END_TEST

START_TEST(test_paths) {
        char buf[300];

        kobs_normalise_path("/a/0F8FAD5B-D9CB-469F-A165-70867728950E/b/123e4567-e89b-12d3-a456-426614174000.sh", buf,
                            sizeof buf);
        ck_assert_str_eq(buf, "/a/<uuid>/b/<uuid>.sh");
        kobs_normalise_path("/proc/4711/status", buf, sizeof buf);
        ck_assert_str_eq(buf, "/proc/<pid>/status");
        kobs_normalise_path("/proc/self/x-0f8fad5b", buf, sizeof buf);
        ck_assert_str_eq(buf, "/proc/self/x-0f8fad5b");
        kobs_normalise_path("/a/very/long/path", buf, 8);
        ck_assert_str_eq(buf, "/a/very");
        ck_assert(kobs_noise_path("/usr/lib/python3.11/os.py"));
        ck_assert(kobs_noise_path("/opt/tool/libfoo.so.1"));
        ck_assert(kobs_noise_path("/proc/self/maps"));
        ck_assert(!kobs_noise_path("/etc/hostname"));
        ck_assert(!kobs_noise_path("/srv/lanekeeper/runners/lane-a/_work/site/out.txt"));
}
END_TEST

static int tmpdir(char *path) {
        strcpy(path, "/tmp/check-kobs.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(path));
        return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void put(int dir, const char *name, const char *text) {
        char err[200];

        ck_assert_int_eq(kobs_write_file(dir, name, text, strlen(text), err, sizeof err), 0);
}

START_TEST(test_gate_compare) {
        char p1[64], p2[64], err[300], *out = NULL;
        size_t len = 0;
        int d1 = tmpdir(p1), d2 = tmpdir(p2);
        FILE *f;

        put(d1, "capability-surface.json", "{\"schema\":\"s/1\",\"run_id\":\"1-1\",\"files_written\":[\"a\",\"b\"]}\n");
        put(d2, "capability-surface.json", "{\"files_written\":[\"a\",\"b\"],\"run_id\":\"2-1\",\"schema\":\"s/1\"}\n");
        put(d1, "correlation-report.json", "{\"status\":\"clean\",\"measurements\":{\"cgroup_id\":1}}");
        put(d2, "correlation-report.json", "{\"status\":\"clean\",\"measurements\":{\"cgroup_id\":2}}");
        put(d1, "observation-health.json", "{\"kernel_layer\":\"complete\",\"ringbuf_drops\":0}");
        put(d2, "observation-health.json", "{\"kernel_layer\":\"complete\",\"ringbuf_drops\":0}");
        /* key order, run ids and measurements are no difference */
        f = open_memstream(&out, &len);
        ck_assert_int_eq(kobs_gate_compare(d1, d2, "run-1", "run-2", f, err, sizeof err), 0);
        fclose(f);
        ck_assert_uint_eq(len, 0);
        free(out);
        /* one more file written: FAIL and a unified diff naming it */
        put(d2, "capability-surface.json", "{\"schema\":\"s/1\",\"files_written\":[\"a\",\"b\",\"c\"]}");
        f = open_memstream(&out, &len);
        ck_assert_int_eq(kobs_gate_compare(d1, d2, "run-1", "run-3", f, err, sizeof err), 1);
        fclose(f);
        ck_assert_str_eq(out, "FAIL: capability-surface.json changed between run-1 and run-3\n"
                              "--- run-1/capability-surface.json\n"
                              "+++ run-3/capability-surface.json\n"
                              "@@ -1,7 +1,8 @@\n"
                              " {\n"
                              "   \"files_written\": [\n"
                              "     \"a\",\n"
                              "-    \"b\"\n"
                              "+    \"b\",\n"
                              "+    \"c\"\n"
                              "   ],\n"
                              "   \"schema\": \"s/1\"\n"
                              " }\n");
        free(out);
        /* a missing file is an error, not a pass */
        ck_assert_int_eq(unlinkat(d2, "observation-health.json", 0), 0);
        f = open_memstream(&out, &len);
        ck_assert_int_lt(kobs_gate_compare(d1, d2, "run-1", "run-3", f, err, sizeof err), 0);
        fclose(f);
        free(out);
        ck_assert_ptr_nonnull(strstr(err, "observation-health.json is missing"));
        close(d1), close(d2);
}
END_TEST

static char *slurp(int dir, const char *name, size_t *len) {
        char *t = NULL;

        ck_assert_int_eq(store_read_file(dir, name, KOBS_MAX_FILE, &t, len), 0);
        return t;
}

/* The tarball's bytes depend on the files alone; a manifest entry catches a changed byte. */
START_TEST(test_tarball_manifest) {
        const char *names[] = { "a.json", "b.ndjson" };
        char p[64], err[300], why[300], *t1, *t2;
        size_t l1, l2;
        int d = tmpdir(p);
        struct json_object *e;

        put(d, "a.json", "{\"x\":1}\n");
        put(d, "b.ndjson", "{\"seq\":0}\n{\"seq\":1}\n");
        ck_assert_int_eq(kobs_write_tarball(d, "t1.tar.gz", names, 2, err, sizeof err), 0);
        sleep(1);
        ck_assert_int_eq(utimensat(d, "a.json", NULL, 0), 0);   /* a new mtime changes nothing */
        ck_assert_int_eq(kobs_write_tarball(d, "t2.tar.gz", names, 2, err, sizeof err), 0);
        t1 = slurp(d, "t1.tar.gz", &l1);
        t2 = slurp(d, "t2.tar.gz", &l2);
        ck_assert_uint_eq(l1, l2);
        ck_assert(memcmp(t1, t2, l1) == 0);
        ck_assert(l1 > 20 && (unsigned char) t1[0] == 0x1f && (unsigned char) t1[1] == 0x8b);
        ck_assert(t1[4] == 0 && t1[5] == 0 && t1[6] == 0 && t1[7] == 0);   /* gzip mtime 0 */
        free(t1), free(t2);
        e = kobs_manifest_entry(d, "a.json", "artifact");
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(json_object_get_int(json_object_object_get(e, "bytes")), 8);
        ck_assert_str_eq(get(e, "sha256"), "sha256:bb157861a164e35cdde9d726b0af9ce2765a8f530c35d9e45732b94ee65e9557");
        ck_assert_int_eq(kobs_check_entry(d, e, why, sizeof why), 0);
        put(d, "a.json", "{\"x\":2}\n");
        ck_assert_int_eq(kobs_check_entry(d, e, why, sizeof why), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(why, "a.json: sha256:"));
        ck_assert_int_eq(unlinkat(d, "a.json", 0), 0);
        ck_assert_int_eq(kobs_check_entry(d, e, why, sizeof why), -ENOENT);
        json_object_put(e);
        close(d);
}
END_TEST

START_TEST(test_not_a_map) {
        struct kobs_map_info info;
        struct kobs_ring r;
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        ck_assert_int_eq(kobs_map_info(fd, &info), -ENOTTY);
        ck_assert_int_eq(kobs_ring_open(&r, fd), -ENOTTY);
        close(fd);
}
END_TEST

int main(void) {
        Suite *s = suite_create("kobs");
        TCase *tc = tcase_create("kobs");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_job_scope);
        tcase_add_test(tc, test_not_clean);
        tcase_add_test(tc, test_paths);
        tcase_add_test(tc, test_gate_compare);
        tcase_add_test(tc, test_tarball_manifest);
        tcase_add_test(tc, test_not_a_map);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
