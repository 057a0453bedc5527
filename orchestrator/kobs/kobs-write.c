/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Canonical bytes: JSON with sorted keys, compact, one object a file (a
 * record a line for events.ndjson); a manifest of every file's bytes and
 * sha256; a tarball whose bytes depend on the files alone (ustar, names
 * sorted, mtime 0, mode 0644, owner 0, gzip header mtime 0). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "kobs-write.h"
#include "macro.h"
#include "proto-sha256.h"
#include "store-file.h"

static int cmp_key(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

struct json_object *kobs_canonical(struct json_object *o) {
        if (json_object_is_type(o, json_type_object)) {
                struct json_object *out = json_object_new_object();
                size_t n = (size_t) json_object_object_length(o), i = 0;
                const char **keys = calloc(n ? n : 1, sizeof *keys);

                if (!keys)
                        return out;
                json_object_object_foreach(o, k, v) {
                        (void) v;
                        keys[i++] = k;
                }
                qsort(keys, n, sizeof *keys, cmp_key);
                for (i = 0; i < n; i++)
                        json_object_object_add(out, keys[i], kobs_canonical(json_object_object_get(o, keys[i])));
                free(keys);
                return out;
        }
        if (json_object_is_type(o, json_type_array)) {
                struct json_object *out = json_object_new_array();

                for (size_t i = 0; i < json_object_array_length(o); i++)
                        json_object_array_add(out, kobs_canonical(json_object_array_get_idx(o, i)));
                return out;
        }
        return json_object_get(o);
}

const char *kobs_json_text(struct json_object *o, bool pretty, struct json_object **keep) {
        *keep = kobs_canonical(o);
        return json_object_to_json_string_ext(*keep, (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                             : JSON_C_TO_STRING_PLAIN) | JSON_C_TO_STRING_NOSLASHESCAPE);
}

int kobs_write_file(int dir, const char *name, const void *data, size_t len, char *err, size_t errlen) {
        char tmp[300];
        _cleanup_(closep) int fd = -EBADF;
        size_t done = 0;

        snprintf(tmp, sizeof tmp, ".%s.tmp", name);
        fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return snprintf(err, errlen, "cannot create %s: %m", name), -errno;
        while (done < len) {
                ssize_t n = write(fd, (const char *) data + done, len - done);

                if (n < 0)
                        return snprintf(err, errlen, "cannot write %s: %m", name), -errno;
                done += (size_t) n;
        }
        if (fsync(fd) < 0 || renameat(dir, tmp, dir, name) < 0)
                return snprintf(err, errlen, "cannot write %s: %m", name), -errno;
        return 0;
}

static void octal(char *field, size_t width, unsigned long long v) {
        snprintf(field, width, "%0*llo", (int) width - 1, v);
}

/* One ustar member: header and data padded to 512. */
static int tar_member(gzFile gz, const char *name, const void *data, size_t len) {
        unsigned char h[512] = {};
        static const unsigned char zero[512];
        unsigned sum = 0;

        if (strlen(name) >= 100)
                return -ENAMETOOLONG;
        memcpy(h, name, strlen(name));
        octal((char *) h + 100, 8, 0644);
        octal((char *) h + 108, 8, 0);
        octal((char *) h + 116, 8, 0);
        octal((char *) h + 124, 12, len);
        octal((char *) h + 136, 12, 0);          /* mtime */
        memset(h + 148, ' ', 8);
        h[156] = '0';
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        for (size_t i = 0; i < sizeof h; i++)
                sum += h[i];
        snprintf((char *) h + 148, 8, "%06o", sum);
        if (gzwrite(gz, h, sizeof h) != (int) sizeof h || (len && gzwrite(gz, data, (unsigned) len) != (int) len))
                return -EIO;
        if (len % 512 && gzwrite(gz, zero, (unsigned) (512 - len % 512)) != (int) (512 - len % 512))
                return -EIO;
        return 0;
}

int kobs_write_tarball(int dir, const char *tarball, const char *const *names, size_t n, char *err, size_t errlen) {
        return kobs_write_tarball_at(dir, dir, tarball, names, n, err, errlen);
}

int kobs_write_tarball_at(int dir, int to, const char *tarball, const char *const *names, size_t n, char *err,
                          size_t errlen) {
        static const unsigned char zero[1024];
        char tmp[300];
        gzFile gz;
        int fd, r = 0;

        snprintf(tmp, sizeof tmp, ".%s.tmp", tarball);
        fd = openat(to, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return snprintf(err, errlen, "cannot create %s: %m", tarball), -errno;
        gz = gzdopen(fd, "wb9");
        if (!gz) {
                close(fd);
                return snprintf(err, errlen, "cannot compress %s", tarball), -ENOMEM;
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_(freep) char *data = NULL;
                size_t len;

                r = store_read_file(dir, names[i], KOBS_MAX_FILE, &data, &len);
                if (r >= 0)
                        r = tar_member(gz, names[i], data, len);
        }
        if (r >= 0 && gzwrite(gz, zero, sizeof zero) != (int) sizeof zero)
                r = -EIO;
        if (gzclose(gz) != Z_OK && r >= 0)
                r = -EIO;
        if (r >= 0 && renameat(to, tmp, to, tarball) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(to, tmp, 0);
                snprintf(err, errlen, "cannot write %s: %s", tarball, strerror(-r));
        }
        return r;
}

struct json_object *kobs_manifest_entry_of(const char *path, const void *data, size_t len, const char *role) {
        char hex[PROTO_SHA256_HEX_SIZE], sha[PROTO_SHA256_HEX_SIZE + 8];
        struct json_object *o;

        proto_sha256_hex(data, len, hex);
        snprintf(sha, sizeof sha, "sha256:%s", hex);
        o = json_object_new_object();
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_object_add(o, "bytes", json_object_new_int64((int64_t) len));
        json_object_object_add(o, "sha256", json_object_new_string(sha));
        if (role)
                json_object_object_add(o, "role", json_object_new_string(role));
        return o;
}

struct json_object *kobs_manifest_entry(int dir, const char *name, const char *role) {
        _cleanup_(freep) char *data = NULL;
        size_t len;

        if (store_read_file(dir, name, KOBS_MAX_FILE, &data, &len) < 0)
                return NULL;
        return kobs_manifest_entry_of(name, data, len, role);
}

int kobs_check_entry(int dir, struct json_object *entry, char *why, size_t size) {
        const char *name = json_object_get_string(json_object_object_get(entry, "path"));
        const char *want = json_object_get_string(json_object_object_get(entry, "sha256"));
        int64_t bytes = json_object_get_int64(json_object_object_get(entry, "bytes"));
        struct json_object *now;
        int r = 0;

        if (!name || !want || strchr(name, '/') || name[0] == '.')
                return snprintf(why, size, "an entry without a plain file name and digest"), -EBADMSG;
        now = kobs_manifest_entry(dir, name, NULL);
        if (!now)
                return snprintf(why, size, "%s: missing", name), -ENOENT;
        if (json_object_get_int64(json_object_object_get(now, "bytes")) != bytes) {
                snprintf(why, size, "%s: %lld bytes, the manifest says %lld", name,
                         (long long) json_object_get_int64(json_object_object_get(now, "bytes")), (long long) bytes);
                r = -EBADMSG;
        } else if (strcmp(json_object_get_string(json_object_object_get(now, "sha256")), want) != 0) {
                snprintf(why, size, "%s: %s, the manifest says %s", name,
                         json_object_get_string(json_object_object_get(now, "sha256")), want);
                r = -EBADMSG;
        }
        json_object_put(now);
        return r;
}
