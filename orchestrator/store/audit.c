/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "audit.h"
#include "store-file.h"
#include "macro.h"
#include "proto-redact-json.h"

#define AUDIT_SCHEMA "lanekeeper.audit/1"
#define RECORD_MAX (4u << 20)
#define ZERO_DIGEST "0000000000000000000000000000000000000000000000000000000000000000"

int audit_open(const char *dir, struct audit_store *ret) {
        int fd;

        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                return -errno;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ret->dirfd = fd;
        return 0;
}

void audit_close(struct audit_store *s) {
        closep(&s->dirfd);
}

static void record_name(uint64_t seq, char *buf, size_t size) {
        snprintf(buf, size, "%020" PRIu64 ".json", seq);
}

static int read_file(int dirfd, const char *name, char **ret, size_t *ret_len) {
        return store_read_file(dirfd, name, RECORD_MAX, ret, ret_len);
}

static int write_atomic(int dirfd, const char *name, const char *data, size_t len) {
        return store_write_atomic(dirfd, name, data, len, true);
}

static int read_head(int dirfd, uint64_t *ret_seq, char digest[PROTO_SHA256_HEX_SIZE]) {
        _cleanup_(freep) char *text = NULL;
        size_t len;
        unsigned long long seq;
        int r = read_file(dirfd, "HEAD", &text, &len);

        if (r == -ENOENT) {
                *ret_seq = 0;
                strcpy(digest, ZERO_DIGEST);
                return 0;
        }
        if (r < 0)
                return r;
        if (sscanf(text, "%llu %64[0-9a-f]", &seq, digest) != 2 || strlen(digest) != 64)
                return -EBADMSG;
        *ret_seq = seq;
        return 0;
}

static int write_head(int dirfd, uint64_t seq, const char *digest) {
        char buf[128];
        int n = snprintf(buf, sizeof buf, "%" PRIu64 " %s\n", seq, digest);

        return write_atomic(dirfd, "HEAD", buf, (size_t) n);
}

/* A writer killed between renaming its record and updating HEAD leaves a
 * record one past HEAD whose prev is HEAD's digest: take it as the head. */
static int head_roll_forward(int dirfd, uint64_t *seq, char digest[PROTO_SHA256_HEX_SIZE]) {
        for (;;) {
                _cleanup_(freep) char *text = NULL;
                struct json_object *o, *prev;
                char name[64];
                size_t len;
                bool linked;
                int r;

                record_name(*seq + 1, name, sizeof name);
                r = read_file(dirfd, name, &text, &len);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return r;
                o = json_tokener_parse(text);
                linked = o && json_object_object_get_ex(o, "prev", &prev) &&
                         strcmp(json_object_get_string(prev), digest) == 0;
                json_object_put(o);
                if (!linked)
                        return -EBADMSG;
                proto_sha256_hex(text, len, digest);
                (*seq)++;
        }
}

int audit_append(struct audit_store *s, struct json_object *record, uint64_t *ret_seq) {
        _cleanup_(closep) int lock = -EBADF;
        char digest[PROTO_SHA256_HEX_SIZE], name[64];
        const char *text;
        uint64_t seq;
        int r;

        if (!json_object_is_type(record, json_type_object))
                return -EINVAL;
        lock = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return -errno;
        r = read_head(s->dirfd, &seq, digest);
        if (r >= 0)
                r = head_roll_forward(s->dirfd, &seq, digest);
        if (r < 0)
                return r;
        r = proto_redact_json(record);
        if (r < 0)
                return r;
        json_object_object_add(record, "schema", json_object_new_string(AUDIT_SCHEMA));
        json_object_object_add(record, "seq", json_object_new_uint64(seq + 1));
        json_object_object_add(record, "prev", json_object_new_string(digest));
        text = json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        record_name(seq + 1, name, sizeof name);
        r = write_atomic(s->dirfd, name, text, strlen(text));
        if (r < 0)
                return r;
        proto_sha256_hex(text, strlen(text), digest);
        r = write_head(s->dirfd, seq + 1, digest);
        if (r < 0)
                return r;
        if (ret_seq)
                *ret_seq = seq + 1;
        return 0;
}

int audit_read(struct audit_store *s, uint64_t seq, char **ret_text) {
        char name[64];
        size_t len;

        record_name(seq, name, sizeof name);
        return read_file(s->dirfd, name, ret_text, &len);
}

static int count_records(int dirfd, uint64_t *ret_max, uint64_t *ret_n) {
        _cleanup_(closep) int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *e;
        uint64_t n = 0, max = 0;

        if (!d)
                return -errno;
        fd = -EBADF;   /* owned by d now */
        while ((e = readdir(d))) {
                unsigned long long v;
                char tail[8];

                if (sscanf(e->d_name, "%20llu%7s", &v, tail) == 2 && strcmp(tail, ".json") == 0 &&
                    strlen(e->d_name) == 25) {
                        n++;
                        if (v > max)
                                max = v;
                }
        }
        closedir(d);
        *ret_max = max;
        *ret_n = n;
        return 0;
}

_printf_(2, 3)
static int problem(struct audit_verify_result *v, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(v->problem, sizeof v->problem, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

int audit_verify(struct audit_store *s, struct audit_verify_result *v) {
        char digest[PROTO_SHA256_HEX_SIZE] = ZERO_DIGEST, head_digest[PROTO_SHA256_HEX_SIZE];
        uint64_t max = 0, n = 0, head_seq = 0;
        int r;

        *v = (struct audit_verify_result) {};
        r = count_records(s->dirfd, &max, &n);
        if (r < 0)
                return r;
        if (read_head(s->dirfd, &head_seq, head_digest) < 0)
                return problem(v, "HEAD is unreadable or malformed");
        for (uint64_t seq = 1; seq <= max; seq++) {
                _cleanup_(freep) char *text = NULL;
                struct json_object *o, *f;
                bool seq_ok, prev_ok;
                char name[64];
                size_t len;

                record_name(seq, name, sizeof name);
                r = read_file(s->dirfd, name, &text, &len);
                if (r == -ENOENT)
                        return problem(v, "record %" PRIu64 " is missing", seq);
                if (r < 0)
                        return problem(v, "record %" PRIu64 " is unreadable: %s", seq, strerror(-r));
                o = json_tokener_parse(text);
                if (!o) {
                        return problem(v, "record %" PRIu64 " is not JSON (torn or altered)", seq);
                }
                seq_ok = json_object_object_get_ex(o, "seq", &f) && (uint64_t) json_object_get_uint64(f) == seq;
                prev_ok = json_object_object_get_ex(o, "prev", &f) && strcmp(json_object_get_string(f), digest) == 0;
                json_object_put(o);
                if (!seq_ok)
                        return problem(v, "record %" PRIu64 " carries another number (reordered or altered)", seq);
                if (!prev_ok)
                        return problem(v, "record %" PRIu64 " does not follow record %" PRIu64
                                          " (one of them was altered or replaced)", seq, seq - 1);
                proto_sha256_hex(text, len, digest);
                if (seq == head_seq && strcmp(digest, head_digest) != 0)
                        return problem(v, "record %" PRIu64 " was altered (HEAD's digest differs)", seq);
        }
        if (head_seq > max)
                return problem(v, "HEAD names record %" PRIu64 " but the last is %" PRIu64, head_seq, max);
        /* Records beyond HEAD: writers killed after renaming a record and
         * before updating HEAD. Each still links to the one before (checked
         * above), and the next append takes them as they are. */
        v->records = n;
        v->head_seq = max;
        strcpy(v->head_digest, digest);
        return n == max ? 0 : problem(v, "%" PRIu64 " record files for %" PRIu64 " numbers", n, max);
}
