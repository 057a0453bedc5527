/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "proto-policy.h"
#include "macro.h"

struct parse_ctx {
        struct helper_policy *p;
        FILE *f;
        int line;       /* lines read so far: the handler's line */
        int err_line;   /* line of the first error the handler found */
        char *err;
        size_t errlen;
};

/* inih's reader: count lines, so that messages carry their own line. */
static char *read_line(char *buf, int size, void *user) {
        struct parse_ctx *c = user;
        char *r = fgets(buf, size, c->f);

        if (r)
                c->line++;
        return r;
}

/* A directory or file is trusted when its owner is OWNER or root and no one
 * else may write it (OpenNTPD's check, done on the opened fd). */
static int check_trusted(int fd, uid_t owner, bool want_dir, off_t max, char *why, size_t size) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return snprintf(why, size, "cannot be examined"), -errno;
        if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
                return snprintf(why, size, want_dir ? "is not a directory" : "is not a regular file"), -EBADFD;
        if (st.st_uid != owner && st.st_uid != 0)
                return snprintf(why, size, "is not owned by root (owner uid %u)", (unsigned) st.st_uid), -EPERM;
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return snprintf(why, size, "is writable by group or others (mode %04o)",
                                (unsigned) st.st_mode & 07777), -EPERM;
        if (!want_dir && st.st_size > max)
                return snprintf(why, size, "is larger than %lld KiB", (long long) max / 1024), -EFBIG;
        return 0;
}

static int open_trusted(int anchor_fd, const char *rel, uid_t owner, bool want_dir, off_t max, const char *what,
                        char *err, size_t errlen) {
        char buf[PROTO_PATH_MAX + 1], why[96], *save = NULL, *comp, *next;
        _cleanup_(closep) int dir = -EBADF;
        int r;

        if (strlen(rel) > PROTO_PATH_MAX || !*rel || rel[0] == '/')
                return snprintf(err, errlen, "%s path is not a relative path beneath its anchor", what), -EINVAL;
        strcpy(buf, rel);
        dir = fcntl(anchor_fd, F_DUPFD_CLOEXEC, 3);
        if (dir < 0)
                return -errno;
        r = check_trusted(dir, owner, true, max, why, sizeof why);
        if (r < 0)
                return snprintf(err, errlen, "directory '/' (anchor) %s", why), r;
        for (comp = strtok_r(buf, "/", &save); comp; comp = next) {
                int fd;

                next = strtok_r(NULL, "/", &save);
                if (strcmp(comp, "..") == 0 || strcmp(comp, ".") == 0)
                        return snprintf(err, errlen, "%s path contains '%s'", what, comp), -EINVAL;
                fd = openat(dir, comp, (next || want_dir ? O_PATH | O_DIRECTORY : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        struct stat st;

                        r = -errno;
                        if (r == -ENOTDIR && fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                                r = -ELOOP;
                        snprintf(err, errlen, "cannot open '%s': %s", comp,
                                 r == -ELOOP ? "it is a symbolic link" : strerror(-r));
                        return r;
                }
                closep(&dir);
                dir = fd;
                r = check_trusted(dir, owner, next || want_dir, max, why, sizeof why);
                if (r < 0)
                        return snprintf(err, errlen, "%s '%s' %s", next ? "directory" : what, comp, why), r;
        }
        return TAKE_FD(dir);
}

int policy_open_trusted(int anchor_fd, const char *rel, uid_t owner, bool want_dir, const char *what,
                        char *err, size_t errlen) {
        return open_trusted(anchor_fd, rel, owner, want_dir, POLICY_MAX_SIZE, what, err, errlen);
}

int policy_read_object(const char *path, void **ret_buf, size_t *ret_size, char hex[PROTO_SHA256_HEX_SIZE],
                       char *err, size_t errlen) {
        _cleanup_(closep) int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -EBADF;
        _cleanup_(freep) uint8_t *buf = NULL;
        struct stat st;
        size_t got = 0;

        if (root < 0 || path[0] != '/')
                return snprintf(err, errlen, "'%s' is not an absolute path", path), -EINVAL;
        fd = open_trusted(root, path + 1, 0, false, POLICY_MAX_OBJECT, "BPF object", err, errlen);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0 || st.st_size <= 0)
                return snprintf(err, errlen, "%s is empty or cannot be examined", path), -EINVAL;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        /* One read of the whole file: these bytes are digested, and loaded. */
        for (ssize_t n = 1; n > 0 && got <= (size_t) st.st_size; got += (size_t) n) {
                n = read(fd, buf + got, (size_t) st.st_size + 1 - got);
                if (n < 0)
                        return snprintf(err, errlen, "cannot read %s: %m", path), -errno;
        }
        if (got != (size_t) st.st_size)
                return snprintf(err, errlen, "%s changed size while it was read", path), -EIO;
        proto_sha256_hex(buf, got, hex);
        *ret_buf = TAKE_PTR(buf);
        *ret_size = got;
        return 0;
}

_printf_(2, 3)
static int fail(struct parse_ctx *c, const char *fmt, ...) {
        va_list ap;

        if (c->err_line == 0) {
                c->err_line = c->line;
                va_start(ap, fmt);
                vsnprintf(c->err, c->errlen, fmt, ap);
                va_end(ap);
        }
        return 0;   /* inih: an error on this line */
}

typedef int (*validate_fn)(const char *, const char **);

/* Split VALUE on spaces and commas into TABLE (width W), validating each. */
static int add_list(struct parse_ctx *c, const char *key, const char *value, char *table, size_t w,
                    size_t *n, validate_fn validate) {
        char buf[4096], *save = NULL;
        const char *reason;

        if (strlen(value) >= sizeof buf)
                return fail(c, "value of '%s' is too long", key);
        strcpy(buf, value);
        for (char *item = strtok_r(buf, " ,\t", &save); item; item = strtok_r(NULL, " ,\t", &save)) {
                if (validate(item, &reason) < 0)
                        return fail(c, "'%s': an entry %s", key, reason);
                if (strlen(item) >= w)
                        return fail(c, "'%s': an entry is too long", key);
                for (size_t i = 0; i < *n; i++)
                        if (strcmp(table + i * w, item) == 0)
                                return fail(c, "'%s': '%s' is listed twice", key, item);
                if (*n >= POLICY_MAX_ITEMS)
                        return fail(c, "'%s': more than %d entries", key, POLICY_MAX_ITEMS);
                strcpy(table + (*n)++ * w, item);
        }
        return 1;
}

static int add_bpf(struct parse_ctx *c, const char *name, const char *value) {
        struct policy_bpf_object *o;
        char path[PROTO_PATH_MAX + 1], digest[80];
        const char *reason;

        if (proto_validate_bpf_object_name(name, &reason) < 0)
                return fail(c, "BPF object name %s", reason);
        if (policy_find_bpf(c->p, name))
                return fail(c, "BPF object '%s' is listed twice", name);
        if (c->p->n_bpf >= POLICY_MAX_ITEMS)
                return fail(c, "more than %d BPF objects", POLICY_MAX_ITEMS);
        if (sscanf(value, "%1024s sha256:%79s", path, digest) != 2 || strlen(digest) != 64 ||
            strspn(digest, "0123456789abcdef") != 64)
                return fail(c, "BPF object '%s': expected 'PATH sha256:<64 lower-case hex digits>'", name);
        if (proto_validate_abs_path(path, &reason) < 0)
                return fail(c, "BPF object '%s': path %s", name, reason);
        o = &c->p->bpf[c->p->n_bpf++];
        snprintf(o->name, sizeof o->name, "%s", name);
        snprintf(o->path, sizeof o->path, "%s", path);
        snprintf(o->sha256, sizeof o->sha256, "%s", digest);
        return 1;
}

/* One label; the runner's default labels would mark every runner managed. */
static int set_managed_label(struct parse_ctx *c, const char *value) {
        static const char *const defaults[] = { "self-hosted", "linux", "windows", "macos", "x64", "arm", "arm64" };
        const char *reason;

        if (c->p->managed_label[0])
                return fail(c, "'managed_label' is set twice");
        if (proto_validate_label(value, &reason) < 0)
                return fail(c, "'managed_label' %s", reason);
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++)
                if (strcasecmp(value, defaults[i]) == 0)
                        return fail(c, "'managed_label' cannot be '%s': GitHub gives that label to runners "
                                    "lanekeeper does not manage", value);
        snprintf(c->p->managed_label, sizeof c->p->managed_label, "%s", value);
        return 1;
}

#define LIST(k, field, fn) \
        if (strcmp(key, k) == 0) \
                return add_list(c, key, value, (char *) p->field, sizeof p->field[0], &p->n_##field, fn)

static int handler(void *user, const char *section, const char *key, const char *value) {
        struct parse_ctx *c = user;
        struct helper_policy *p = c->p;
        const char *reason;

        if (strcmp(section, "helper") == 0) {
                LIST("maintainers", maintainers, proto_validate_user_name);
                if (strcmp(key, "host") == 0) {
                        if (p->host[0])
                                return fail(c, "'host' is set twice");
                        if (proto_validate_host_name(value, &reason) < 0)
                                return fail(c, "'host' %s", reason);
                        snprintf(p->host, sizeof p->host, "%s", value);
                        return 1;
                }
        } else if (strcmp(section, "lanes") == 0) {
                LIST("users", users, proto_validate_user_name);
                LIST("roots", roots, proto_validate_abs_path);
                LIST("repositories", repositories, proto_validate_repository);
                LIST("organisations", organisations, proto_validate_organisation);
                if (strcmp(key, "managed_label") == 0)
                        return set_managed_label(c, value);
        } else if (strcmp(section, "bpf") == 0)
                return add_bpf(c, key, value);
        else
                return fail(c, "unknown section [%s]", section);
        return fail(c, "unknown key '%s' in section [%s]", key, section[0] ? section : "(none)");
}

int policy_load_at(int anchor_fd, const char *rel, uid_t owner, struct helper_policy *ret,
                   char *err, size_t errlen) {
        _cleanup_(fclosep) FILE *f = NULL;
        struct parse_ctx c = { .p = ret, .err = err, .errlen = errlen };
        int fd, r;

        *ret = (struct helper_policy) {};
        err[0] = '\0';
        fd = policy_open_trusted(anchor_fd, rel, owner, false, "policy file", err, errlen);
        if (fd < 0)
                return fd;
        f = fdopen(fd, "re");
        if (!f) {
                close(fd);
                return -errno;
        }
        c.f = f;
        r = ini_parse_stream(read_line, &c, handler, &c);
        if (r != 0) {
                char first[256];

                /* inih returns the first bad line, its own syntax errors included. */
                snprintf(first, sizeof first, "%s",
                         r == c.err_line ? err : "syntax error (expected [section] or key = value)");
                if (r > 0)
                        snprintf(err, errlen, "line %d: %s", r, first);
                else
                        snprintf(err, errlen, "%s", r == -2 ? "out of memory" : "cannot read the policy file");
                return -EINVAL;
        }
        if (ret->n_maintainers == 0)
                return snprintf(err, errlen, "no maintainers: [helper] maintainers= is required"), -EINVAL;
        return 0;
}

int policy_load(const char *path, struct helper_policy *ret, char *err, size_t errlen) {
        _cleanup_(closep) int root = -EBADF;
        const char *reason = "is '/', not a file";

        if (strcmp(path, "/") == 0 || proto_validate_abs_path(path, &reason) < 0)
                return snprintf(err, errlen, "policy path %s", reason), -EINVAL;
        root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -errno;
        return policy_load_at(root, path + 1, 0, ret, err, errlen);
}

static bool in_table(const char *table, size_t w, size_t n, const char *s) {
        for (size_t i = 0; s && i < n; i++)
                if (strcmp(table + i * w, s) == 0)
                        return true;
        return false;
}

const char *policy_managed_label(const struct helper_policy *p) {
        return p && p->managed_label[0] ? p->managed_label : POLICY_DEFAULT_MANAGED_LABEL;
}

bool policy_has_user(const struct helper_policy *p, const char *user) {
        return in_table((const char *) p->users, sizeof p->users[0], p->n_users, user);
}

bool policy_has_maintainer(const struct helper_policy *p, const char *user) {
        return in_table((const char *) p->maintainers, sizeof p->maintainers[0], p->n_maintainers, user);
}

const char *policy_find_root(const struct helper_policy *p, const char *root) {
        for (size_t i = 0; root && i < p->n_roots; i++)
                if (strcmp(p->roots[i], root) == 0)
                        return p->roots[i];
        return NULL;
}

const struct policy_bpf_object *policy_find_bpf(const struct helper_policy *p, const char *name) {
        for (size_t i = 0; name && i < p->n_bpf; i++)
                if (strcmp(p->bpf[i].name, name) == 0)
                        return &p->bpf[i];
        return NULL;
}
