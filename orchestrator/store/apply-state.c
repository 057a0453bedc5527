/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply-state.h"
#include "macro.h"
#include "proto-sha256.h"
#include "proto-validate.h"
#include "store-file.h"

static int open_subdir(const char *store_dir, const char *sub) {
        _cleanup_(closep) int top = -EBADF;
        int fd;

        if (mkdir(store_dir, 0750) < 0 && errno != EEXIST)
                return -errno;
        top = open(store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (top < 0)
                return -errno;
        if (mkdirat(top, sub, 0750) < 0 && errno != EEXIST)
                return -errno;
        fd = openat(top, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int lane_lock(const char *store_dir, const char *lane, int *ret_fd) {
        _cleanup_(closep) int dir = -EBADF;
        const char *reason;
        char name[PROTO_LANE_NAME_MAX + 8];
        int fd;

        if (proto_validate_lane_name(lane, &reason) < 0)
                return -EINVAL;   /* lane names are safe file names: validated, never escaped */
        dir = open_subdir(store_dir, "locks");
        if (dir < 0)
                return dir;
        snprintf(name, sizeof name, "%s.lock", lane);
        fd = openat(dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int e = errno;

                close(fd);
                return e == EWOULDBLOCK ? -EBUSY : -e;
        }
        *ret_fd = fd;
        return 0;
}

int idempotency_key_validate(const char *key, const char **ret_reason) {
        size_t n = key ? strlen(key) : 0;

        if (n == 0)
                return *ret_reason = "is empty", -EINVAL;
        if (n > IDEMPOTENCY_KEY_MAX)
                return *ret_reason = "is longer than 128 characters", -EINVAL;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) key[i] <= ' ' || (unsigned char) key[i] >= 0x7f)
                        return *ret_reason = "holds a space, control or non-ASCII character", -EINVAL;
        return 0;
}

static void key_name(const char *key, char *buf, size_t size) {
        char hex[PROTO_SHA256_HEX_SIZE];

        proto_sha256_hex(key, strlen(key), hex);
        snprintf(buf, size, "%s.json", hex);
}

static int copy(struct json_object *o, const char *k, char *dst, size_t size) {
        struct json_object *m;

        if (!json_object_object_get_ex(o, k, &m) || !json_object_is_type(m, json_type_string) ||
            (size_t) json_object_get_string_len(m) >= size)
                return -EBADMSG;
        snprintf(dst, size, "%s", json_object_get_string(m));
        return 0;
}

/* The keys directory and KEY's file name in it. */
static int open_key(const char *store_dir, const char *key, char *name, size_t size) {
        const char *reason;

        if (idempotency_key_validate(key, &reason) < 0)
                return -EINVAL;
        key_name(key, name, size);
        return open_subdir(store_dir, "keys");
}

int idempotency_lookup(const char *store_dir, const char *key, const char *lane, const char *command,
                       struct idempotency_result *ret) {
        _cleanup_(closep) int dir = -EBADF;
        _cleanup_(freep) char *text = NULL;
        struct json_object *o, *m;
        char name[PROTO_SHA256_HEX_SIZE + 8];
        size_t len;
        int r;

        dir = open_key(store_dir, key, name, sizeof name);
        if (dir < 0)
                return dir;
        r = store_read_file(dir, name, 64 * 1024, &text, &len);
        if (r < 0)
                return r;
        o = json_tokener_parse(text);
        *ret = (struct idempotency_result) {};
        r = !o || copy(o, "lane", ret->lane, sizeof ret->lane) < 0 ||
                    copy(o, "command", ret->command, sizeof ret->command) < 0 ||
                    copy(o, "status", ret->status, sizeof ret->status) < 0 ? -EBADMSG : 0;
        if (r == 0 && json_object_object_get_ex(o, "exit_status", &m))
                ret->exit_status = json_object_get_int(m);
        if (r == 0 && json_object_object_get_ex(o, "audit_seq", &m))
                ret->audit_seq = (uint64_t) json_object_get_int64(m);
        json_object_put(o);
        if (r == 0 && (strcmp(ret->lane, lane) != 0 || strcmp(ret->command, command) != 0))
                r = -EEXIST;
        return r;
}

int idempotency_record(const char *store_dir, const char *key, const struct idempotency_result *res) {
        _cleanup_(closep) int dir = -EBADF;
        struct json_object *o;
        char name[PROTO_SHA256_HEX_SIZE + 8];
        int r;

        dir = open_key(store_dir, key, name, sizeof name);
        if (dir < 0)
                return dir;
        o = json_object_new_object();
        json_object_object_add(o, "lane", json_object_new_string(res->lane));
        json_object_object_add(o, "command", json_object_new_string(res->command));
        json_object_object_add(o, "status", json_object_new_string(res->status));
        json_object_object_add(o, "exit_status", json_object_new_int(res->exit_status));
        json_object_object_add(o, "audit_seq", json_object_new_int64((int64_t) res->audit_seq));
        r = store_write_atomic(dir, name, json_object_to_json_string(o), strlen(json_object_to_json_string(o)), false);
        json_object_put(o);
        return r;
}
