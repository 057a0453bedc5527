/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lane-hold.h"
#include "macro.h"
#include "proto-validate.h"
#include "store-file.h"

#define HOLD_FILE_MAX 4096

static const char *const state_names[_HOLD_STATE_MAX] = { "none", "draining", "drained", "revoked" };

const char *lane_hold_state_to_string(enum lane_hold_state s) {
        return s >= 0 && s < _HOLD_STATE_MAX ? state_names[s] : NULL;
}

enum lane_hold_state lane_hold_state_from_string(const char *s) {
        for (int i = 0; s && i < _HOLD_STATE_MAX; i++)
                if (strcmp(s, state_names[i]) == 0)
                        return (enum lane_hold_state) i;
        return _HOLD_STATE_INVALID;
}

static bool printable_line(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < ' ' || *s == 0x7f)
                        return false;
        return true;
}

int lane_hold_reason_validate(const char *reason, const char **ret_reason) {
        size_t n = reason ? strlen(reason) : 0;

        if (n == 0)
                return *ret_reason = "is empty: say why", -EINVAL;
        if (n > 200)
                return *ret_reason = "is longer than 200 bytes", -EINVAL;
        if (!printable_line(reason))
                return *ret_reason = "holds a control character (one line of text)", -EINVAL;
        return 0;
}

/* STORE/holds, created when CREATE. */
static int holds_dir(const char *store_dir, bool create) {
        _cleanup_(closep) int top = -EBADF;
        int fd;

        if (create && mkdir(store_dir, 0750) < 0 && errno != EEXIST)
                return -errno;
        top = open(store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (top < 0)
                return -errno;
        if (create && mkdirat(top, "holds", 0750) < 0 && errno != EEXIST)
                return -errno;
        fd = openat(top, "holds", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int field(struct lane_hold *h, const char *key, const char *value) {
        static const struct {
                const char *key;
                size_t off, size;
        } fields[] = {
                { "since", offsetof(struct lane_hold, since), sizeof h->since },
                { "reason", offsetof(struct lane_hold, reason), sizeof h->reason },
                { "labels", offsetof(struct lane_hold, labels), sizeof h->labels },
                { "job", offsetof(struct lane_hold, job), sizeof h->job },
                { "credential", offsetof(struct lane_hold, credential), sizeof h->credential },
        };

        if (strcmp(key, "state") == 0) {
                h->state = lane_hold_state_from_string(value);
                return h->state > HOLD_NONE ? 0 : -EBADMSG;
        }
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (strcmp(key, fields[i].key) == 0) {
                        if (strlen(value) >= fields[i].size)
                                return -EBADMSG;
                        memcpy((char *) h + fields[i].off, value, strlen(value) + 1);
                        return 0;
                }
        return -EBADMSG;
}

static int parse(char *text, struct lane_hold *ret) {
        struct lane_hold h = {};
        char *save = NULL;

        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');

                if (!eq || !printable_line(line))
                        return -EBADMSG;
                *eq = '\0';
                if (field(&h, line, eq + 1) < 0)
                        return -EBADMSG;
        }
        if (h.state <= HOLD_NONE)
                return -EBADMSG;
        *ret = h;
        return 0;
}

int lane_hold_load(const char *store_dir, const char *lane, struct lane_hold *ret) {
        _cleanup_(closep) int dir = -EBADF;
        _cleanup_(freep) char *text = NULL;
        const char *reason;
        size_t len;
        int r;

        *ret = (struct lane_hold) { .state = HOLD_NONE };
        if (proto_validate_lane_name(lane, &reason) < 0)
                return -EINVAL;
        dir = holds_dir(store_dir, false);
        if (dir == -ENOENT)
                return 0;
        if (dir < 0)
                return dir;
        r = store_read_file(dir, lane, HOLD_FILE_MAX, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return parse(text, ret);
}

int lane_hold_save(const char *store_dir, const char *lane, const struct lane_hold *h) {
        _cleanup_(closep) int dir = -EBADF;
        const char *reason;
        char text[HOLD_FILE_MAX];
        int n;

        if (proto_validate_lane_name(lane, &reason) < 0 || h->state < HOLD_NONE || h->state >= _HOLD_STATE_MAX)
                return -EINVAL;
        dir = holds_dir(store_dir, h->state != HOLD_NONE);
        if (h->state == HOLD_NONE) {
                if (dir == -ENOENT)
                        return 0;
                if (dir < 0)
                        return dir;
                if (unlinkat(dir, lane, 0) < 0 && errno != ENOENT)
                        return -errno;
                return fsync(dir) < 0 ? -errno : 0;
        }
        if (dir < 0)
                return dir;
        if (!printable_line(h->since) || !printable_line(h->reason) || !printable_line(h->labels) ||
            !printable_line(h->job) || !printable_line(h->credential))
                return -EINVAL;
        n = snprintf(text, sizeof text, "state=%s\nsince=%s\nreason=%s\nlabels=%s\njob=%s\ncredential=%s\n",
                     state_names[h->state], h->since, h->reason, h->labels, h->job, h->credential);
        if (n < 0 || (size_t) n >= sizeof text)
                return -E2BIG;
        return store_write_atomic(dir, lane, text, (size_t) n, true);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int lane_hold_list(const char *store_dir, char ***ret, size_t *ret_n) {
        _cleanup_(closep) int dir = holds_dir(store_dir, false);
        DIR *d;
        struct dirent *e;
        char **v = NULL;
        size_t n = 0;
        const char *reason;

        *ret = NULL;
        *ret_n = 0;
        if (dir == -ENOENT)
                return 0;
        if (dir < 0)
                return dir;
        d = fdopendir(dir);
        if (!d)
                return -errno;
        dir = -EBADF;   /* the DIR owns it */
        while ((e = readdir(d))) {
                char **nv;

                if (proto_validate_lane_name(e->d_name, &reason) < 0)
                        continue;   /* ., .., temporary files */
                nv = realloc(v, (n + 1) * sizeof *v);
                if (!nv || !(nv[n] = strdup(e->d_name))) {
                        v = nv ?: v;
                        for (size_t i = 0; i < n; i++)
                                free(v[i]);
                        free(v);
                        closedir(d);
                        return -ENOMEM;
                }
                v = nv;
                n++;
        }
        closedir(d);
        if (n)
                qsort(v, n, sizeof *v, cmp_str);
        *ret = v;
        *ret_n = n;
        return 0;
}
