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
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "store-file.h"
#include "macro.h"
#include "proto-redact-json.h"
#include "proto-time.h"

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

/* BASE, once records were pruned: "SEQ DIGEST CHECKPOINT": the last pruned
 * record, its digest (the next record's prev) and the record that says so. */
static int read_base(int dirfd, struct audit_base *ret) {
        _cleanup_(freep) char *text = NULL;
        unsigned long long seq, cp;
        size_t len;
        int r = read_file(dirfd, "BASE", &text, &len);

        *ret = (struct audit_base) { .digest = ZERO_DIGEST };
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (sscanf(text, "%llu %64[0-9a-f] %llu", &seq, ret->digest, &cp) != 3 || strlen(ret->digest) != 64 ||
            seq == 0 || cp <= seq)
                return -EBADMSG;
        ret->seq = seq;
        ret->checkpoint = cp;
        return 0;
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

static int lock_store(struct audit_store *s) {
        int lock = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);

        if (lock < 0)
                return -errno;
        if (flock(lock, LOCK_EX) < 0) {
                int r = -errno;

                close(lock);
                return r;
        }
        return lock;
}

/* audit_append() with the lock held. */
static int append_locked(struct audit_store *s, struct json_object *record, uint64_t *ret_seq) {
        char digest[PROTO_SHA256_HEX_SIZE], name[64];
        const char *text;
        uint64_t seq;
        int r;

        if (!json_object_is_type(record, json_type_object))
                return -EINVAL;
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

int audit_append(struct audit_store *s, struct json_object *record, uint64_t *ret_seq) {
        _cleanup_(closep) int lock = -EBADF;

        if (!json_object_is_type(record, json_type_object))
                return -EINVAL;
        lock = lock_store(s);
        if (lock < 0)
                return lock;
        return append_locked(s, record, ret_seq);
}

int audit_head(struct audit_store *s, uint64_t *ret_seq) {
        char digest[PROTO_SHA256_HEX_SIZE];
        int r = read_head(s->dirfd, ret_seq, digest);

        return r < 0 ? r : head_roll_forward(s->dirfd, ret_seq, digest);
}

int audit_read(struct audit_store *s, uint64_t seq, char **ret_text) {
        char name[64];
        size_t len;

        record_name(seq, name, sizeof name);
        return read_file(s->dirfd, name, ret_text, &len);
}

static int count_records(int dirfd, uint64_t base, uint64_t *ret_max, uint64_t *ret_n) {
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
                    strlen(e->d_name) == 25 && v > base) {   /* at or below BASE: a prune's leftovers */
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

/* The checkpoint record CP must say it pruned up to B's record with B's digest. */
static bool checkpoint_matches(struct json_object *o, const struct audit_base *b) {
        struct json_object *f;

        return json_object_object_get_ex(o, "command", &f) && strcmp(json_object_get_string(f), "audit-prune") == 0 &&
               json_object_object_get_ex(o, "pruned_to", &f) && (uint64_t) json_object_get_uint64(f) == b->seq &&
               json_object_object_get_ex(o, "pruned_last_digest", &f) && strcmp(json_object_get_string(f), b->digest) == 0;
}

static int verify_locked(struct audit_store *s, struct audit_verify_result *v) {
        char head_digest[PROTO_SHA256_HEX_SIZE], digest[PROTO_SHA256_HEX_SIZE];
        uint64_t max = 0, n = 0, head_seq = 0;
        struct audit_base b;
        int r;

        *v = (struct audit_verify_result) {};
        if (read_base(s->dirfd, &b) < 0)
                return problem(v, "BASE is unreadable or malformed");
        strcpy(digest, b.digest);
        r = count_records(s->dirfd, b.seq, &max, &n);
        if (r < 0)
                return r;
        if (read_head(s->dirfd, &head_seq, head_digest) < 0)
                return problem(v, "HEAD is unreadable or malformed");
        if (b.seq && b.checkpoint > max)
                return problem(v, "BASE names checkpoint record %" PRIu64 ", which is missing", b.checkpoint);
        for (uint64_t seq = b.seq + 1; seq <= max; seq++) {
                _cleanup_(freep) char *text = NULL;
                struct json_object *o, *f;
                bool seq_ok, prev_ok, cp_ok;
                char name[64];
                size_t len;

                record_name(seq, name, sizeof name);
                r = read_file(s->dirfd, name, &text, &len);
                if (r == -ENOENT)
                        return problem(v, "record %" PRIu64 " is missing", seq);
                if (r < 0)
                        return problem(v, "record %" PRIu64 " is unreadable: %s", seq, strerror(-r));
                o = json_tokener_parse(text);
                if (!o)
                        return problem(v, "record %" PRIu64 " is not JSON (torn or altered)", seq);
                seq_ok = json_object_object_get_ex(o, "seq", &f) && (uint64_t) json_object_get_uint64(f) == seq;
                prev_ok = json_object_object_get_ex(o, "prev", &f) && strcmp(json_object_get_string(f), digest) == 0;
                cp_ok = seq != b.checkpoint || checkpoint_matches(o, &b);
                json_object_put(o);
                if (!seq_ok)
                        return problem(v, "record %" PRIu64 " carries another number (reordered or altered)", seq);
                if (!prev_ok)
                        return problem(v, seq == b.seq + 1 && b.seq ? "record %" PRIu64 " does not follow the pruned "
                                          "record %" PRIu64 " (BASE or the record was altered)"
                                          : "record %" PRIu64 " does not follow record %" PRIu64
                                          " (one of them was altered or replaced)", seq, seq - 1);
                if (!cp_ok)
                        return problem(v, "record %" PRIu64 " is not the checkpoint BASE names (BASE was altered)", seq);
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
        v->first_seq = b.seq + 1;
        v->head_seq = max;
        strcpy(v->head_digest, digest);
        return n == max - b.seq ? 0 : problem(v, "%" PRIu64 " record files for %" PRIu64 " numbers", n, max - b.seq);
}

int audit_verify(struct audit_store *s, struct audit_verify_result *v) {
        return verify_locked(s, v);   /* records are renamed into place whole: no lock needed to read */
}

/* Record SEQ's "time" (ISO 8601 UTC), or -1. */
static time_t record_time(int dirfd, uint64_t seq, char digest[PROTO_SHA256_HEX_SIZE]) {
        _cleanup_(freep) char *text = NULL;
        struct json_object *o, *f;
        struct tm tm = {};
        const char *end = NULL;
        char name[64];
        size_t len;
        bool whole;

        record_name(seq, name, sizeof name);
        if (read_file(dirfd, name, &text, &len) < 0 || !(o = json_tokener_parse(text)))
                return -1;
        if (json_object_object_get_ex(o, "time", &f) && json_object_is_type(f, json_type_string))
                end = strptime(json_object_get_string(f), "%Y-%m-%dT%H:%M:%SZ", &tm);
        whole = end && !*end;   /* END points into O's string: read before O goes */
        json_object_put(o);
        proto_sha256_hex(text, len, digest);
        return whole ? timegm(&tm) : -1;
}

int audit_prune(struct audit_store *s, time_t before, struct json_object *record, struct audit_prune_result *ret) {
        _cleanup_(closep) int lock = -EBADF;
        struct audit_verify_result v;
        char digest[PROTO_SHA256_HEX_SIZE], base[128], name[64];
        uint64_t last = 0;
        int r;

        *ret = (struct audit_prune_result) {};
        lock = lock_store(s);
        if (lock < 0)
                return json_object_put(record), lock;
        r = verify_locked(s, &v);
        if (r < 0) {
                snprintf(ret->problem, sizeof ret->problem, "%s", v.problem[0] ? v.problem : strerror(-r));
                return json_object_put(record), r;
        }
        /* a prune killed while unlinking left the top of its range: gone now */
        for (uint64_t seq = v.first_seq - 1; seq > 0; seq--) {
                record_name(seq, name, sizeof name);
                if (unlinkat(s->dirfd, name, 0) < 0)
                        break;
        }
        /* the oldest run of records older than BEFORE; never the newest */
        for (uint64_t seq = v.first_seq; seq < v.head_seq; seq++) {
                time_t t = record_time(s->dirfd, seq, digest);

                if (t < 0 || t >= before)
                        break;
                last = seq;
                strcpy(ret->last_digest, digest);
        }
        if (!last)
                return json_object_put(record), 0;
        if (!json_object_object_get_ex(record, "time", NULL)) {
                char now[32];
                struct tm tm;
                time_t t = time(NULL);

                strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
                json_object_object_add(record, "time", json_object_new_string(now));
        }
        json_object_object_add(record, "command", json_object_new_string("audit-prune"));
        json_object_object_add(record, "status", json_object_new_string("completed"));
        json_object_object_add(record, "pruned_from", json_object_new_uint64(v.first_seq));
        json_object_object_add(record, "pruned_to", json_object_new_uint64(last));
        json_object_object_add(record, "pruned_last_digest", json_object_new_string(ret->last_digest));
        json_object_object_add(record, "head_before", json_object_new_string(v.head_digest));
        r = append_locked(s, record, &ret->checkpoint);
        json_object_put(record);
        if (r < 0)
                return r;
        snprintf(base, sizeof base, "%" PRIu64 " %s %" PRIu64 "\n", last, ret->last_digest, ret->checkpoint);
        r = write_atomic(s->dirfd, "BASE", base, strlen(base));
        if (r < 0)
                return r;
        ret->first = v.first_seq;
        ret->last = last;
        for (uint64_t seq = v.first_seq; seq <= last; seq++) {
                record_name(seq, name, sizeof name);
                if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
                        return -errno;   /* BASE stands: the rest goes next time */
        }
        return fsync(s->dirfd) < 0 ? -errno : 0;
}

int audit_append_command(struct audit_store *s, const char *status, const char *host, const char *command,
                         struct json_object *record, uint64_t *ret_seq) {
        struct json_object *rec = json_object_new_object();
        char now[32];
        int r;

        proto_utc_iso(time(NULL), now, sizeof now);
        json_object_object_add(rec, "status", json_object_new_string(status));
        json_object_object_add(rec, "time", json_object_new_string(now));
        json_object_object_add(rec, "host", json_object_new_string(host));
        json_object_object_add(rec, "command", json_object_new_string(command));
        if (record) {
                json_object_object_foreach(record, k, v)
                        json_object_object_add(rec, k, json_object_get(v));
                json_object_put(record);
        }
        r = audit_append(s, rec, ret_seq);
        json_object_put(rec);
        return r;
}
