/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl proof verify: a pack read from its directory (walked without
 * following a symlink) or from its tarball alone (gunzipped, its ustar
 * members read into memory), then every claim of its manifest checked
 * (kobs-proof.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "kobs-proof.h"
#include "kobs-write.h"
#include "macro.h"
#include "proto-sha256.h"
#include "store-file.h"

#define PACK_MAX_BYTES (512ull << 20)

struct tar_files {
        char **names;
        char **data;
        size_t *len;
        size_t n;
        int dir;
};

static int add_name(struct tar_files *t, const char *name, const char *data, size_t len) {
        size_t cap = t->n + 1;
        char **names = realloc(t->names, cap * sizeof *names), **d;
        size_t *l;

        if (!names)
                return -ENOMEM;
        t->names = names;
        if (!(d = realloc(t->data, cap * sizeof *d)))
                return -ENOMEM;
        t->data = d;
        if (!(l = realloc(t->len, cap * sizeof *l)))
                return -ENOMEM;
        t->len = l;
        t->names[t->n] = strdup(name);
        t->data[t->n] = data ? malloc(len + 1) : NULL;
        if (!t->names[t->n] || (data && !t->data[t->n]))
                return free(t->names[t->n]), free(t->data[t->n]), -ENOMEM;
        if (data) {
                memcpy(t->data[t->n], data, len);
                t->data[t->n][len] = '\0';
        }
        t->len[t->n++] = len;
        return 0;
}

/* Every regular file beneath DIR (PREFIX its path); anything else is named
 * too, so that verify refuses it. */
static int walk(struct tar_files *t, int dir, const char *prefix, unsigned depth) {
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (depth > 8 || !(d = fdopendir(fcntl(dir, F_DUPFD_CLOEXEC, 3))))
                return depth > 8 ? -ELOOP : -errno;
        while (r >= 0 && (de = readdir(d))) {
                char path[512];
                struct stat st;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name);
                if (fstatat(dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                else if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dir, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        r = sub < 0 ? -errno : walk(t, sub, path, depth + 1);
                        if (sub >= 0)
                                close(sub);
                } else
                        r = add_name(t, S_ISREG(st.st_mode) ? path : strcat(path, " (not a regular file)"), NULL, 0);
        }
        closedir(d);
        return r;
}

static int dir_read(void *data, const char *path, char **ret, size_t *ret_len) {
        struct tar_files *t = data;
        char buf[300], *slash;
        int fd = fcntl(t->dir, F_DUPFD_CLOEXEC, 3), r;

        if (!kobs_pack_path_ok(path))
                return close(fd), -EINVAL;
        snprintf(buf, sizeof buf, "%s", path);
        /* each directory opened without following a symlink */
        for (char *p = buf; fd >= 0 && (slash = strchr(p, '/')); p = slash + 1) {
                int sub;

                *slash = '\0';
                sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                close(fd);
                fd = sub;
        }
        if (fd < 0)
                return -errno;
        r = store_read_file(fd, strrchr(path, '/') ? strrchr(path, '/') + 1 : path, KOBS_MAX_FILE, ret, ret_len);
        close(fd);
        return r;
}

static int tar_read(void *data, const char *path, char **ret, size_t *ret_len) {
        struct tar_files *t = data;

        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->names[i], path) == 0 && t->data[i]) {
                        if (!(*ret = malloc(t->len[i] + 1)))
                                return -ENOMEM;
                        memcpy(*ret, t->data[i], t->len[i] + 1);
                        *ret_len = t->len[i];
                        return 0;
                }
        return -ENOENT;
}

int kobs_pack_files_dir(int dir, struct kobs_pack_files *f, char *err, size_t errlen) {
        struct tar_files *t = calloc(1, sizeof *t);
        int r;

        *f = (struct kobs_pack_files) {};
        if (!t)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        t->dir = dir;
        *f = (struct kobs_pack_files) { .read = dir_read, .data = t };
        r = walk(t, dir, "", 0);
        f->names = (const char *const *) t->names;
        f->n_names = t->n;
        if (r < 0)
                snprintf(err, errlen, "cannot read the pack's directory: %s", strerror(-r));
        return r;
}

static unsigned long long tar_octal(const unsigned char *p, size_t n) {
        unsigned long long v = 0;

        for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++)
                v = v * 8 + (p[i] - '0');
        return v;
}

/* The ustar members of BUF: regular files only (anything else is named so
 * that verify refuses it). */
static int tar_parse(struct tar_files *t, const unsigned char *buf, size_t len, char *err, size_t errlen) {
        static const unsigned char zero[512];

        for (size_t off = 0; off + 512 <= len;) {
                const unsigned char *h = buf + off;
                unsigned long long size = tar_octal(h + 124, 12);
                unsigned sum = 0;
                char name[256];
                int r;

                if (memcmp(h, zero, 512) == 0)
                        return 0;
                for (size_t i = 0; i < 512; i++)
                        sum += i >= 148 && i < 156 ? ' ' : h[i];
                if (sum != tar_octal(h + 148, 8) || size > len - off - 512)
                        return snprintf(err, errlen, "the tarball is damaged at byte %zu", off), -EBADMSG;
                snprintf(name, sizeof name, "%.*s%s%.*s", (int) strnlen((const char *) h + 345, 155), h + 345,
                         h[345] ? "/" : "", (int) strnlen((const char *) h, 100), h);
                if (h[156] != '0' && h[156] != '\0')
                        strncat(name, " (not a regular file)", sizeof name - strlen(name) - 1);
                r = add_name(t, name, (const char *) h + 512, (size_t) size);
                if (r < 0)
                        return snprintf(err, errlen, "out of memory"), r;
                off += 512 + (size + 511) / 512 * 512;
        }
        return snprintf(err, errlen, "the tarball ends without its end marker"), -EBADMSG;
}

int kobs_pack_files_tarball(int fd, struct kobs_pack_files *f, char *err, size_t errlen) {
        struct tar_files *t = calloc(1, sizeof *t);
        _cleanup_(freep) unsigned char *buf = NULL;
        size_t len = 0, cap = 1 << 20;
        gzFile gz;
        int n, r;

        *f = (struct kobs_pack_files) {};
        if (!t || !(buf = malloc(cap)))
                return free(t), snprintf(err, errlen, "out of memory"), -ENOMEM;
        t->dir = -EBADF;
        *f = (struct kobs_pack_files) { .read = tar_read, .data = t };
        if (!(gz = gzdopen(fcntl(fd, F_DUPFD_CLOEXEC, 3), "rb")))
                return snprintf(err, errlen, "cannot read the tarball"), -EIO;
        while ((n = gzread(gz, buf + len, (unsigned) (cap - len))) > 0) {
                len += (size_t) n;
                if (len == cap) {
                        unsigned char *b = cap < PACK_MAX_BYTES ? realloc(buf, cap * 2) : NULL;

                        if (!b) {
                                gzclose(gz);
                                return snprintf(err, errlen, "the tarball is larger than %llu MiB unpacked",
                                                PACK_MAX_BYTES >> 20), -EFBIG;
                        }
                        buf = b;
                        cap *= 2;
                }
        }
        r = n < 0 ? -EBADMSG : 0;
        gzclose(gz);
        if (r < 0)
                return snprintf(err, errlen, "the tarball is not gzip-compressed, or damaged"), r;
        r = tar_parse(t, buf, len, err, errlen);
        f->names = (const char *const *) t->names;
        f->n_names = t->n;
        return r;
}

void kobs_pack_files_free(struct kobs_pack_files *f) {
        struct tar_files *t = f->data;

        if (!t)
                return;
        for (size_t i = 0; i < t->n; i++) {
                free(t->names[i]);
                free(t->data[i]);
        }
        free(t->names);
        free(t->data);
        free(t->len);
        free(t);
        *f = (struct kobs_pack_files) {};
}

static void problem(struct kobs_verify *v, const char *fmt, ...) _printf_(2, 3);
static void problem(struct kobs_verify *v, const char *fmt, ...) {
        va_list ap;

        if (v->n_problems < ELEMENTSOF(v->problems)) {
                va_start(ap, fmt);
                vsnprintf(v->problems[v->n_problems], sizeof v->problems[0], fmt, ap);
                va_end(ap);
        }
        v->n_problems++;
}

static const char *jstr(struct json_object *o, const char *key) {
        return json_object_get_string(json_object_object_get(o, key)) ?: "";
}

/* One subject: its bytes and digest as the manifest says. */
static void check_subject(const struct kobs_pack_files *f, struct kobs_verify *v, struct json_object *s) {
        _cleanup_(freep) char *data = NULL;
        char hex[PROTO_SHA256_HEX_SIZE], sha[PROTO_SHA256_HEX_SIZE + 8];
        const char *path = jstr(s, "path");
        size_t len;
        int r;

        if (!kobs_pack_path_ok(path))
                return problem(v, "a subject's path is unsafe or empty: '%.200s'", path);
        r = f->read(f->data, path, &data, &len);
        if (r < 0)
                return problem(v, "%s: %s", path, r == -ENOENT ? "missing" : strerror(-r));
        proto_sha256_hex(data, len, hex);
        snprintf(sha, sizeof sha, "sha256:%s", hex);
        v->bytes += len;
        if ((int64_t) len != json_object_get_int64(json_object_object_get(s, "bytes")))
                return problem(v, "%s: %zu bytes, the manifest says %lld", path, len,
                               (long long) json_object_get_int64(json_object_object_get(s, "bytes")));
        if (strcmp(sha, jstr(s, "sha256")) != 0)
                return problem(v, "%s: %s, the manifest says %s", path, sha, jstr(s, "sha256"));
        v->matched++;
}

/* SHA256SUMS as the subjects say it should read. */
static void check_sums(const struct kobs_pack_files *f, struct kobs_verify *v, struct json_object *subjects) {
        _cleanup_(freep) char *data = NULL, *want = NULL;
        size_t len, wl;

        if (f->read(f->data, KOBS_PACK_SUMS, &data, &len) < 0)
                return problem(v, "%s is missing", KOBS_PACK_SUMS);
        if (!(want = kobs_pack_sums(subjects, &wl)))
                return problem(v, "out of memory");
        if (len != wl || memcmp(data, want, wl) != 0)
                problem(v, "%s does not list the subjects as the manifest does", KOBS_PACK_SUMS);
}

/* Each gate's status as its own gate.json says. */
static void check_gates(const struct kobs_pack_files *f, struct kobs_verify *v, struct json_object *gates) {
        v->all_passed = kobs_json_len(gates) > 0;
        for (size_t i = 0; i < kobs_json_len(gates); i++) {
                struct json_object *g = json_object_array_get_idx(gates, i), *res = NULL;
                _cleanup_(freep) char *data = NULL;
                const char *status = jstr(g, "status");
                char path[300];
                size_t len;

                v->all_passed &= strcmp(status, "passed") == 0;
                if (strcmp(status, "missing") == 0)
                        continue;
                snprintf(path, sizeof path, "%s/%s", jstr(g, "dir"), KOBS_GATE_RESULT_FILE);
                if (f->read(f->data, path, &data, &len) == 0)
                        res = json_tokener_parse(data);
                if (!res && strcmp(status, "incomplete") != 0)
                        problem(v, "gate %s is said to be %s, but the pack holds no result of it", jstr(g, "name"),
                                status);
                else if (res && strcmp(jstr(res, "status"), status) != 0 &&
                         !(strcmp(status, "incomplete") == 0 && strcmp(jstr(res, "status"), "passed") == 0))
                        problem(v, "gate %s is said to be %s, but its %s says %s", jstr(g, "name"), status,
                                KOBS_GATE_RESULT_FILE, jstr(res, "status"));
                json_object_put(res);
        }
}

int kobs_proof_verify(const struct kobs_pack_files *f, struct kobs_verify *v) {
        _cleanup_(freep) char *data = NULL;
        struct json_object *subjects;
        size_t len;

        *v = (struct kobs_verify) {};
        if (f->read(f->data, KOBS_PACK_MANIFEST, &data, &len) < 0 || !(v->manifest = json_tokener_parse(data)) ||
            strcmp(jstr(v->manifest, "schema"), KOBS_PACK_SCHEMA) != 0)
                return -EBADMSG;
        subjects = json_object_object_get(v->manifest, "subjects");
        if (!json_object_is_type(subjects, json_type_array))
                return -EBADMSG;
        v->subjects = kobs_json_len(subjects);
        for (size_t i = 0; i < v->subjects; i++) {
                const char *p = jstr(json_object_array_get_idx(subjects, i), "path");

                for (size_t j = 0; j < i; j++)
                        if (strcmp(p, jstr(json_object_array_get_idx(subjects, j), "path")) == 0)
                                problem(v, "%s is listed twice", p);
                check_subject(f, v, json_object_array_get_idx(subjects, i));
        }
        check_sums(f, v, subjects);
        /* nothing in the pack that its manifest does not vouch for */
        for (size_t i = 0; i < f->n_names; i++) {
                bool listed = strcmp(f->names[i], KOBS_PACK_MANIFEST) == 0 || strcmp(f->names[i], KOBS_PACK_SUMS) == 0;

                for (size_t j = 0; j < v->subjects && !listed; j++)
                        listed = strcmp(f->names[i], jstr(json_object_array_get_idx(subjects, j), "path")) == 0;
                if (!listed)
                        problem(v, "%s is in the pack but not in its manifest", f->names[i]);
        }
        check_gates(f, v, json_object_object_get(v->manifest, "gates"));
        v->all_passed &= strcmp(jstr(v->manifest, "status"), "passed") == 0;
        return v->n_problems ? 1 : 0;
}
