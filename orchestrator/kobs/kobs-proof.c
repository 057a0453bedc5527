/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl proof pack: each gate's gate.json and gate.log, and of each of
 * its runs the observation tarball, its manifest and the selected JSON
 * (health, surface, correlation), copied into the pack beneath
 * gates/NAME/; a manifest naming every subject with its bytes, sha256 and
 * role; SHA256SUMS; and the tarball of all of it (kobs-proof.h). A gate
 * killed before its gate.json was written is packed with what it left,
 * as incomplete: a pack keeps what a failure produced. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kobs-proof.h"
#include "kobs-write.h"
#include "macro.h"
#include "proto-time.h"
#include "store-file.h"

static const struct {
        const char *name, *role;
} run_files[] = {
        { "observation.tar.gz", "archive" },
        { "manifest.json", "observation-manifest" },
        { "observation-health.json", "selected-json" },
        { "capability-surface.json", "selected-json" },
        { "correlation-report.json", "selected-json" },
};

struct pack {
        int src, dst;
        struct json_object *subjects, *gates;
        uint64_t bytes;
        bool missing_file;          /* of the gate being packed */
        char *err;
        size_t errlen;
};

bool kobs_pack_path_ok(const char *path) {
        const char *p = path;

        if (!*path || *path == '/' || strlen(path) > 255)
                return false;
        for (;;) {
                size_t n = strcspn(p, "/");

                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                if (!p[n])
                        return true;
                p += n + 1;
        }
}

/* DIR/PATH's directories made (all but the last component): an fd of the last. */
static int make_dirs(int dir, const char *path, const char **ret_base) {
        char buf[256];
        int fd = fcntl(dir, F_DUPFD_CLOEXEC, 3);

        snprintf(buf, sizeof buf, "%s", path);
        for (char *p = buf, *slash; fd >= 0 && (slash = strchr(p, '/')); p = slash + 1) {
                int sub;

                *slash = '\0';
                if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
                        close(fd);
                        return -errno;
                }
                sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                close(fd);
                fd = sub;
        }
        *ret_base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        return fd < 0 ? -errno : fd;
}

/* FROM (beneath the source) copied to the pack's TO, listed as a subject. */
static int copy(struct pack *k, int from_dir, const char *from, const char *to, const char *role) {
        _cleanup_(freep) char *data = NULL;
        _cleanup_(closep) int fd = -EBADF;
        const char *base = to;
        size_t len;
        int r;

        r = store_read_file(from_dir, from, KOBS_MAX_FILE, &data, &len);
        if (r == -ENOENT) {
                k->missing_file = true;
                return 0;
        }
        if (r < 0)
                return snprintf(k->err, k->errlen, "cannot read %s: %s", from, strerror(-r)), r;
        if (kobs_json_len(k->subjects) >= KOBS_PACK_MAX_SUBJECTS)
                return snprintf(k->err, k->errlen, "more than %d files", KOBS_PACK_MAX_SUBJECTS), -E2BIG;
        fd = make_dirs(k->dst, to, &base);
        if (fd < 0)
                return snprintf(k->err, k->errlen, "cannot make the directories of %s: %s", to, strerror(-fd)), fd;
        r = kobs_write_file(fd, base, data, len, k->err, k->errlen);
        if (r < 0)
                return r;
        json_object_array_add(k->subjects, kobs_manifest_entry_of(to, data, len, role));
        k->bytes += len;
        return 0;
}

/* The PASS lines of a gate's log. */
static struct json_object *pass_lines(int dir) {
        _cleanup_(freep) char *log = NULL;
        struct json_object *a = json_object_new_array();
        size_t len;

        if (store_read_file(dir, KOBS_GATE_LOG_FILE, KOBS_MAX_FILE, &log, &len) < 0)
                return a;
        for (char *save = NULL, *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (strncmp(l, "PASS: ", 6) == 0)
                        json_object_array_add(a, json_object_new_string(l));
        return a;
}

static bool gate_name_ok(const char *name) {
        return name && *name && strlen(name) <= 60 && !strpbrk(name, "/\"\\ \t\n:") && strcmp(name, ".") &&
               strcmp(name, "..");
}

static bool streq_ptr(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

static const char *str(struct json_object *o, const char *key) {
        return json_object_get_string(json_object_object_get(o, key));
}

#define COPY_KEYS(to, from, ...)                                                                       \
        do {                                                                                           \
                static const char *const _keys[] = { __VA_ARGS__ };                                    \
                for (size_t _i = 0; _i < ELEMENTSOF(_keys); _i++) {                                    \
                        struct json_object *_v = json_object_object_get(from, _keys[_i]);             \
                        if (_v)                                                                        \
                                json_object_object_add(to, _keys[_i], json_object_get(_v));            \
                }                                                                                      \
        } while (0)

/* One gate's directory DIR (named DIRNAME) into the pack, beneath
 * gates/KEY/: its gate's name, or with BY_DIR (a directory of gates, which
 * may hold several runs of one gate) DIRNAME. */
static int pack_gate(struct pack *k, int dir, const char *dirname, bool by_dir) {
        _cleanup_(freep) char *text = NULL;
        struct json_object *res = NULL, *g = json_object_new_object(), *runs;
        const char *name = dirname, *status = "incomplete", *key;
        char to[300];
        size_t len;
        int r;

        if (store_read_file(dir, KOBS_GATE_RESULT_FILE, KOBS_MAX_FILE, &text, &len) == 0) {
                res = json_tokener_parse(text);
                if (!res || !streq_ptr(str(res, "schema"), KOBS_GATE_RESULT_SCHEMA) || !gate_name_ok(str(res, "gate")))
                        return json_object_put(res), json_object_put(g),
                               snprintf(k->err, k->errlen, "%s/%s is not a gate's result (%s)", dirname,
                                        KOBS_GATE_RESULT_FILE, KOBS_GATE_RESULT_SCHEMA), -EBADMSG;
                name = str(res, "gate");
                status = str(res, "status") ?: "incomplete";
        }
        if (!gate_name_ok(name))
                return json_object_put(res), json_object_put(g),
                       snprintf(k->err, k->errlen, "%s is not a gate name", name), -EINVAL;
        key = by_dir ? dirname : name;
        if (!gate_name_ok(key))
                return json_object_put(res), json_object_put(g),
                       snprintf(k->err, k->errlen, "%s is not a gate directory's name", key), -EINVAL;
        snprintf(to, sizeof to, "gates/%s", key);
        for (size_t i = 0; i < kobs_json_len(k->gates); i++)
                if (streq_ptr(str(json_object_array_get_idx(k->gates, i), "dir"), to))
                        return json_object_put(res), json_object_put(g),
                               snprintf(k->err, k->errlen, "two gates go to %s", to), -EEXIST;
        json_object_object_add(g, "dir", json_object_new_string(to));
        json_object_object_add(g, "name", json_object_new_string(name));
        k->missing_file = false;
        snprintf(to, sizeof to, "gates/%s/%s", key, KOBS_GATE_RESULT_FILE);
        r = res ? copy(k, dir, KOBS_GATE_RESULT_FILE, to, "gate-result") : 0;
        snprintf(to, sizeof to, "gates/%s/%s", key, KOBS_GATE_LOG_FILE);
        if (r >= 0)
                r = copy(k, dir, KOBS_GATE_LOG_FILE, to, "gate-log");
        runs = res ? json_object_object_get(res, "runs") : NULL;
        for (unsigned n = 1; r >= 0 && n <= 64; n++) {
                char run[32];
                struct stat st;

                snprintf(run, sizeof run, "run-%u", n);
                if (fstatat(dir, run, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        break;
                for (size_t i = 0; i < ELEMENTSOF(run_files) && r >= 0; i++) {
                        char from[64];

                        snprintf(from, sizeof from, "%s/%s", run, run_files[i].name);
                        snprintf(to, sizeof to, "gates/%s/%s", key, from);
                        r = copy(k, dir, from, to, run_files[i].role);
                }
        }
        if (r < 0)
                return json_object_put(res), json_object_put(g), r;
        /* a file a gate wrote gone missing: the gate's evidence is incomplete */
        if (k->missing_file && strcmp(status, "passed") == 0)
                status = "incomplete";
        json_object_object_add(g, "status", json_object_new_string(status));
        if (res)
                COPY_KEYS(g, res, "lane", "host", "repository", "workflow", "ref", "inputs", "bpf_object",
                          "runs_requested", "runs_passed", "determinism", "changed", "started_at", "finished_at");
        json_object_object_add(g, "runs", runs ? json_object_get(runs) : json_object_new_array());
        json_object_object_add(g, "pass_lines", pass_lines(dir));
        json_object_array_add(k->gates, g);
        json_object_put(res);
        return 0;
}

static int by_name(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* SRC's gates: SRC itself, or its subdirectories that a gate wrote. */
static int pack_gates(struct pack *k, const char *src_name) {
        char *names[KOBS_PACK_MAX_GATES];
        size_t n = 0;
        struct dirent *de;
        struct stat st;
        DIR *d;
        int r = 0;

        if (fstatat(k->src, KOBS_GATE_RESULT_FILE, &st, 0) == 0 || fstatat(k->src, KOBS_GATE_LOG_FILE, &st, 0) == 0)
                return pack_gate(k, k->src, src_name, false);
        if (!(d = fdopendir(fcntl(k->src, F_DUPFD_CLOEXEC, 3))))
                return snprintf(k->err, k->errlen, "cannot read the directory: %m"), -errno;
        while ((de = readdir(d)) && n < KOBS_PACK_MAX_GATES) {
                char p[300];

                snprintf(p, sizeof p, "%s/" KOBS_GATE_LOG_FILE, de->d_name);
                if (de->d_name[0] != '.' && fstatat(k->src, p, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    (names[n] = strdup(de->d_name)))
                        n++;
        }
        closedir(d);
        qsort(names, n, sizeof *names, by_name);
        for (size_t i = 0; i < n; i++) {
                _cleanup_(closep) int fd = openat(k->src, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                if (r >= 0)
                        r = fd < 0 ? (snprintf(k->err, k->errlen, "cannot open %s: %m", names[i]), -errno) :
                                     pack_gate(k, fd, names[i], true);
                free(names[i]);
        }
        if (r >= 0 && n == 0)
                return snprintf(k->err, k->errlen, "no gate's directory (%s, %s) here or beneath",
                                KOBS_GATE_RESULT_FILE, KOBS_GATE_LOG_FILE), -ENOENT;
        return r;
}

static const char claim_ceiling[] =
        "At most: on the recorded host and lane, the recorded workflow runs of the recorded commit and inputs "
        "executed, opened and connected to what their capability surfaces list, as seen by lanekeeper's BPF "
        "programs (the digest recorded) in the lane unit's cgroup, with the drops and correlation recorded; and "
        "the runs compared as the gate's log says. Not: anything outside that cgroup or those hooks, anything "
        "on another commit, host, kernel or dependency set, or who made the pack (it is not signed).";
static const char historical[] =
        "Historical: the pack suffices to review what happened in the recorded runs, for the recorded commit, "
        "inputs and host: lanectl proof verify checks that every subject is as the manifest says.";
static const char current_state[] =
        "Current state: the pack says nothing of a newer commit, another host, kernel or dependency set, or of "
        "the lane as it is now; that needs a fresh lanectl gate run.";

static int by_path(const void *a, const void *b) {
        return strcmp(str(*(struct json_object *const *) a, "path"), str(*(struct json_object *const *) b, "path"));
}

/* repository, commit, ref, the runs with their ids and attempts, inputs. */
static void source(struct json_object *m, struct json_object *gates) {
        struct json_object *runs = json_object_new_array(), *inputs = json_object_new_object();

        for (size_t i = 0; i < kobs_json_len(gates); i++) {
                struct json_object *g = json_object_array_get_idx(gates, i), *gr = json_object_object_get(g, "runs");

                if (i == 0 || !json_object_object_get(m, "repository")) {
                        COPY_KEYS(m, g, "repository", "ref");
                        if (kobs_json_len(gr) > 0)
                                COPY_KEYS(m, json_object_array_get_idx(gr, 0), "commit");
                }
                if (json_object_object_get(g, "inputs"))
                        json_object_object_add(inputs, str(g, "name"), json_object_get(json_object_object_get(g, "inputs")));
                for (size_t j = 0; j < kobs_json_len(gr); j++) {
                        struct json_object *r = json_object_new_object();

                        json_object_object_add(r, "gate", json_object_new_string(str(g, "name")));
                        COPY_KEYS(r, json_object_array_get_idx(gr, j), "run", "workflow_run_id", "attempt", "job_id",
                                  "commit");
                        json_object_array_add(runs, r);
                }
        }
        json_object_object_add(m, "runs", runs);
        json_object_object_add(m, "inputs", inputs);
}

static const char *overall(struct json_object *gates) {
        bool failed = false, incomplete = false;
        size_t n = kobs_json_len(gates);

        for (size_t i = 0; i < n; i++) {
                const char *s = str(json_object_array_get_idx(gates, i), "status");

                failed |= streq_ptr(s, "failed") || streq_ptr(s, "skipped");
                incomplete |= !streq_ptr(s, "passed");
        }
        return failed ? "failed" : incomplete || n == 0 ? "incomplete" : "passed";
}

static struct json_object *manifest(struct pack *k, const struct kobs_pack_opts *o) {
        struct json_object *m = json_object_new_object(), *size = json_object_new_object();
        struct json_object *ver = json_object_new_object();
        char when[32];

        for (size_t i = 0; i < o->n_expect; i++) {
                bool found = false;

                for (size_t j = 0; j < kobs_json_len(k->gates); j++)
                        found |= streq_ptr(str(json_object_array_get_idx(k->gates, j), "name"), o->expect[i]);
                if (!found) {
                        struct json_object *g = json_object_new_object();

                        json_object_object_add(g, "name", json_object_new_string(o->expect[i]));
                        json_object_object_add(g, "status", json_object_new_string("missing"));
                        json_object_array_add(k->gates, g);
                }
        }
        json_object_array_sort(k->subjects, by_path);
        proto_utc_iso(o->created, when, sizeof when);
        json_object_object_add(m, "schema", json_object_new_string(KOBS_PACK_SCHEMA));
        json_object_object_add(m, "created_at", json_object_new_string(when));
        source(m, k->gates);
        json_object_object_add(m, "gates", json_object_get(k->gates));
        json_object_object_add(m, "status", json_object_new_string(overall(k->gates)));
        json_object_object_add(m, "subjects", json_object_get(k->subjects));
        json_object_object_add(m, "retention_days", json_object_new_int((int) o->retention_days));
        json_object_object_add(size, "bytes", json_object_new_int64((int64_t) k->bytes));
        json_object_object_add(size, "soft_cap_bytes", json_object_new_int64((int64_t) KOBS_PACK_SOFT_CAP));
        json_object_object_add(size, "over_soft_cap", json_object_new_boolean(k->bytes > KOBS_PACK_SOFT_CAP));
        json_object_object_add(m, "size", size);
        json_object_object_add(m, "claim_ceiling", json_object_new_string(claim_ceiling));
        json_object_object_add(ver, "historical", json_object_new_string(historical));
        json_object_object_add(ver, "current_state", json_object_new_string(current_state));
        json_object_object_add(m, "verification", ver);
        return m;
}

char *kobs_pack_sums(struct json_object *subjects, size_t *ret_len) {
        char *text = NULL;
        FILE *f = open_memstream(&text, ret_len);

        if (!f)
                return NULL;
        for (size_t i = 0; i < kobs_json_len(subjects); i++) {
                struct json_object *s = json_object_array_get_idx(subjects, i);
                const char *sha = str(s, "sha256") ?: "";

                fprintf(f, "%s  %s\n", strncmp(sha, "sha256:", 7) == 0 ? sha + 7 : sha, str(s, "path") ?: "");
        }
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

/* SHA256SUMS, the subjects sorted by path. */
static int write_sums(struct pack *k) {
        size_t len;
        _cleanup_(freep) char *text = kobs_pack_sums(k->subjects, &len);

        if (!text)
                return snprintf(k->err, k->errlen, "out of memory"), -ENOMEM;
        return kobs_write_file(k->dst, KOBS_PACK_SUMS, text, len, k->err, k->errlen);
}

int kobs_proof_pack(int src, int dst, int tar_dir, const char *tarball, const struct kobs_pack_opts *o,
                    struct json_object **ret, char *err, size_t errlen) {
        struct pack k = { .src = src, .dst = dst, .subjects = json_object_new_array(), .gates = json_object_new_array(),
                          .err = err, .errlen = errlen };
        struct json_object *m = NULL, *keep = NULL;
        const char **names = NULL;
        const char *text;
        size_t n = 0;
        int r;

        r = pack_gates(&k, o->src_name);
        if (r >= 0) {
                m = manifest(&k, o);
                text = kobs_json_text(m, false, &keep);
                r = text ? kobs_write_file(dst, KOBS_PACK_MANIFEST, text, strlen(text), err, errlen) : -ENOMEM;
        }
        if (r >= 0)
                r = write_sums(&k);
        if (r >= 0) {
                n = kobs_json_len(k.subjects);
                names = calloc(n + 2, sizeof *names);
                r = names ? 0 : -ENOMEM;
        }
        if (r >= 0) {   /* byte order: "SHA256SUMS" < "gates/..." < "manifest.json" */
                names[0] = KOBS_PACK_SUMS;
                for (size_t i = 0; i < n; i++)
                        names[i + 1] = str(json_object_array_get_idx(k.subjects, i), "path");
                names[n + 1] = KOBS_PACK_MANIFEST;
                r = kobs_write_tarball_at(dst, tar_dir, tarball, names, n + 2, err, errlen);
        }
        free(names);
        json_object_put(keep);
        json_object_put(k.subjects);
        json_object_put(k.gates);
        if (r < 0) {
                json_object_put(m);
                return r;
        }
        *ret = m;
        return 0;
}
