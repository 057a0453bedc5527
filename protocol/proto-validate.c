/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "proto-validate.h"

#define CS_LOWER  0x01u
#define CS_UPPER  0x02u
#define CS_DIGIT  0x04u
#define CS_DASH   0x08u
#define CS_DOT    0x10u
#define CS_UNDER  0x20u
#define CS_SLASH  0x40u
#define CS_PLUS_AT 0x80u

static unsigned char_class(unsigned char c) {
        if (c >= 'a' && c <= 'z')
                return CS_LOWER;
        if (c >= 'A' && c <= 'Z')
                return CS_UPPER;
        if (c >= '0' && c <= '9')
                return CS_DIGIT;
        switch (c) {
        case '-': return CS_DASH;
        case '.': return CS_DOT;
        case '_': return CS_UNDER;
        case '/': return CS_SLASH;
        case '+': case '@': return CS_PLUS_AT;
        default: return 0;
        }
}

/* Why byte c is refused, as specifically as we can say it. */
static const char *bad_char_reason(unsigned char c, unsigned allowed) {
        if (c >= 0x80)
                return "contains a non-ASCII byte (invalid UTF-8 and Unicode look-alikes are refused; names are ASCII)";
        if (c == '\n')
                return "contains a newline";
        if (c == '\r')
                return "contains a carriage return";
        if (c < 0x20 || c == 0x7f)
                return "contains a control character";
        if (c == ' ')
                return "contains a space";
        if (c == '=')
                return "contains '='";
        if (c == '/')
                return "contains '/'";
        if (c == '\\')
                return "contains a backslash";
        if (c == '%')
                return "contains '%' (a systemd specifier)";
        if (c == '$')
                return "contains '$'";
        if (c == '"' || c == '\'' || c == '`')
                return "contains a quote character";
        if (c == '[' || c == ']')
                return "contains '[' or ']' (unit file section syntax)";
        if (c == ';' || c == '&' || c == '|')
                return "contains a shell metacharacter";
        if (char_class(c) == CS_UPPER && (allowed & CS_LOWER))
                return "contains an upper-case letter (this name is lower case only)";
        return "contains a character outside the allowed set";
}

/* Length and charset check common to every name. */
static int check_chars(const char *s, size_t max, unsigned allowed, const char **ret_reason) {
        const char *reason = NULL;
        size_t n;

        if (!s)
                reason = "is missing";
        else if (s[0] == '\0')
                reason = "is empty";
        else if ((n = strnlen(s, max + 1)) > max)
                reason = "is too long";
        else
                for (size_t i = 0; i < n; i++)
                        if (!(char_class((unsigned char) s[i]) & allowed)) {
                                reason = bad_char_reason((unsigned char) s[i], allowed);
                                break;
                        }
        if (reason) {
                if (ret_reason)
                        *ret_reason = reason;
                return -EINVAL;
        }
        return 0;
}

static int fail_with(const char **ret_reason, const char *reason, int err) {
        if (ret_reason)
                *ret_reason = reason;
        return err;
}

static int fail(const char **ret_reason, const char *reason) {
        return fail_with(ret_reason, reason, -EINVAL);
}

static int check_edges(const char *s, const char **ret_reason) {
        size_t n = strlen(s);

        if (s[0] == '-')
                return fail(ret_reason, "starts with '-' (could be read as an option)");
        if (s[0] == '.')
                return fail(ret_reason, "starts with '.'");
        if (s[0] == '_')
                return fail(ret_reason, "starts with '_'");
        if (s[n - 1] == '.')
                return fail(ret_reason, "ends with '.'");
        if (s[n - 1] == '-')
                return fail(ret_reason, "ends with '-'");
        if (strstr(s, ".."))
                return fail(ret_reason, "contains '..'");
        return 0;
}

int proto_validate_lane_name(const char *s, const char **ret_reason) {
        int r = check_chars(s, PROTO_LANE_NAME_MAX,
                            CS_LOWER | CS_DIGIT | CS_DASH | CS_DOT | CS_UNDER, ret_reason);
        if (r < 0)
                return r;
        return check_edges(s, ret_reason);
}

static int validate_owner(const char *s, const char **ret_reason) {
        int r = check_chars(s, PROTO_OWNER_MAX, CS_LOWER | CS_UPPER | CS_DIGIT | CS_DASH, ret_reason);
        if (r < 0)
                return r;
        if (s[0] == '-')
                return fail(ret_reason, "starts with '-' (could be read as an option)");
        if (s[strlen(s) - 1] == '-')
                return fail(ret_reason, "ends with '-' (GitHub logins cannot)");
        return 0;
}

int proto_validate_organisation(const char *s, const char **ret_reason) {
        return validate_owner(s, ret_reason);
}

int proto_validate_repository(const char *s, const char **ret_reason) {
        char owner[PROTO_OWNER_MAX + 2];
        const char *slash, *name, *reason;
        size_t n;

        if (!s || !*s)
                return fail(ret_reason, "is empty");
        slash = strchr(s, '/');
        if (!slash)
                return fail(ret_reason, "is not of the form owner/name");
        n = (size_t) (slash - s);
        if (n == 0)
                return fail(ret_reason, "has an empty owner");
        if (n > PROTO_OWNER_MAX)
                return fail(ret_reason, "has an owner longer than 39 characters");
        memcpy(owner, s, n);
        owner[n] = '\0';
        if (validate_owner(owner, &reason) < 0)
                return fail(ret_reason, reason);
        name = slash + 1;
        if (!*name)
                return fail(ret_reason, "has an empty repository name");
        if (strchr(name, '/'))
                return fail(ret_reason, "has more than one '/'");
        if (check_chars(name, PROTO_REPO_NAME_MAX,
                        CS_LOWER | CS_UPPER | CS_DIGIT | CS_DASH | CS_DOT | CS_UNDER, &reason) < 0)
                return fail(ret_reason, reason);
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return fail(ret_reason, "has '.' or '..' as repository name");
        if (name[0] == '-')
                return fail(ret_reason, "has a repository name starting with '-'");
        return 0;
}

static int validate_simple_name(const char *s, size_t max, const char **ret_reason) {
        int r = check_chars(s, max, CS_LOWER | CS_UPPER | CS_DIGIT | CS_DASH | CS_DOT | CS_UNDER, ret_reason);
        if (r < 0)
                return r;
        return check_edges(s, ret_reason);
}

int proto_validate_label(const char *s, const char **ret_reason) {
        return validate_simple_name(s, PROTO_LABEL_MAX, ret_reason);
}

int proto_validate_runner_name(const char *s, const char **ret_reason) {
        return validate_simple_name(s, PROTO_RUNNER_NAME_MAX, ret_reason);
}

int proto_validate_bpf_object_name(const char *s, const char **ret_reason) {
        int r = check_chars(s, PROTO_BPF_OBJECT_MAX, CS_LOWER | CS_DIGIT | CS_DASH | CS_UNDER, ret_reason);
        if (r < 0)
                return r;
        return check_edges(s, ret_reason);
}

int proto_validate_user_name(const char *s, const char **ret_reason) {
        int r = check_chars(s, PROTO_USER_NAME_MAX, CS_LOWER | CS_DIGIT | CS_DASH | CS_UNDER, ret_reason);
        if (r < 0)
                return r;
        if (s[0] == '-')
                return fail(ret_reason, "starts with '-' (could be read as an option)");
        if (s[0] >= '0' && s[0] <= '9')
                return fail(ret_reason, "starts with a digit (would be read as a uid)");
        return 0;
}

int proto_validate_unit_name(const char *s, const char **ret_reason) {
        const size_t lp = strlen(PROTO_UNIT_PREFIX), ls = strlen(PROTO_UNIT_SUFFIX);
        char lane[PROTO_LANE_NAME_MAX + 1];
        const char *reason;
        size_t n;

        if (!s || !*s)
                return fail(ret_reason, "is empty");
        n = strnlen(s, lp + PROTO_LANE_NAME_MAX + ls + 1);
        if (n > lp + PROTO_LANE_NAME_MAX + ls)
                return fail(ret_reason, "is too long");
        if (strncmp(s, PROTO_UNIT_PREFIX, lp) != 0)
                return fail(ret_reason, "does not start with 'lanekeeper-lane@'");
        if (n < lp + ls || strcmp(s + n - ls, PROTO_UNIT_SUFFIX) != 0)
                return fail(ret_reason, "does not end with '.service'");
        if (n == lp + ls)
                return fail(ret_reason, "has an empty lane name");
        memcpy(lane, s + lp, n - lp - ls);
        lane[n - lp - ls] = '\0';
        if (proto_validate_lane_name(lane, &reason) < 0)
                return fail(ret_reason, reason);
        return 0;
}

int proto_unit_name_for_lane(const char *lane, char *buf, size_t size) {
        int n;

        if (proto_validate_lane_name(lane, NULL) < 0)
                return -EINVAL;
        n = snprintf(buf, size, PROTO_UNIT_PREFIX "%s" PROTO_UNIT_SUFFIX, lane);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return 0;
}

int proto_validate_abs_path(const char *s, const char **ret_reason) {
        const char *p;
        int r;

        r = check_chars(s, PROTO_PATH_MAX,
                        CS_LOWER | CS_UPPER | CS_DIGIT | CS_DASH | CS_DOT | CS_UNDER | CS_SLASH | CS_PLUS_AT,
                        ret_reason);
        if (r < 0)
                return r;
        if (s[0] != '/')
                return fail(ret_reason, "is not an absolute path");
        if (strcmp(s, "/") == 0)
                return 0;
        if (s[strlen(s) - 1] == '/')
                return fail(ret_reason, "ends with '/'");
        for (p = s; p; p = strchr(p + 1, '/')) {
                const char *c = p + 1;
                size_t len = strcspn(c, "/");

                if (len == 0)
                        return fail(ret_reason, "contains an empty component ('//')");
                if (len == 1 && c[0] == '.')
                        return fail(ret_reason, "contains a '.' component");
                if (len == 2 && c[0] == '.' && c[1] == '.')
                        return fail(ret_reason, "contains a '..' component");
                if (c[0] == '-')
                        return fail(ret_reason, "has a component starting with '-'");
        }
        return 0;
}

int proto_validate_abs_subpath(const char *s, const char **ret_reason) {
        if (s && strcmp(s, "/") == 0)
                return fail(ret_reason, "may not be '/'");
        return proto_validate_abs_path(s, ret_reason);
}

int proto_validate_host_name(const char *s, const char **ret_reason) {
        if (check_chars(s, PROTO_HOST_NAME_MAX, CS_LOWER | CS_UPPER | CS_DIGIT | CS_DASH | CS_DOT, NULL) < 0 ||
            s[0] == '-' || s[0] == '.')
                return fail(ret_reason, "is not a host name");
        return 0;
}

int proto_path_beneath(const char *root, const char *path, const char **ret_rel, const char **ret_reason) {
        const char *reason;
        size_t n;

        if (proto_validate_abs_path(root, &reason) < 0)
                return fail(ret_reason, "root is not a valid absolute path");
        if (proto_validate_abs_path(path, &reason) < 0)
                return fail(ret_reason, reason);
        if (strcmp(root, path) == 0)
                return fail(ret_reason, "is the root itself, not beneath it");
        n = strcmp(root, "/") == 0 ? 0 : strlen(root);
        if (strncmp(root, path, n) != 0 || path[n] != '/')
                return fail(ret_reason, "lies outside the allowed root");
        if (path[n + 1] == '\0')
                return fail(ret_reason, "is the root itself, not beneath it");
        if (ret_rel)
                *ret_rel = path + n + 1;
        return 0;
}

int proto_open_beneath(int dirfd, const char *rel, int flags, mode_t mode, const char **ret_reason) {
        struct open_how how = {
                .flags = (unsigned) flags | O_CLOEXEC | O_NOFOLLOW,
                /* O_TMPFILE contains O_DIRECTORY's bit: test it whole. */
                .mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd;

        if (dirfd < 0)
                return fail_with(ret_reason, "no directory to resolve beneath", -EBADF);
        if (!rel || !*rel)
                return fail(ret_reason, "empty relative path");
        if (rel[0] == '/')
                return fail(ret_reason, "is absolute; a path beneath a directory is relative");
        fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
        if (fd >= 0) {
                struct stat st;

                /* O_PATH|O_NOFOLLOW opens a trailing symlink itself: never hand one out. */
                if (fstat((int) fd, &st) < 0 || S_ISLNK(st.st_mode)) {
                        close((int) fd);
                        return fail_with(ret_reason, "a component is a symbolic link", -ELOOP);
                }
                return (int) fd;
        }
        if (errno == ENOTDIR && (flags & O_DIRECTORY)) {
                struct stat st;

                /* O_DIRECTORY|O_NOFOLLOW on a trailing symlink says ENOTDIR: say what it is. */
                if (fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                        errno = ELOOP;
        }
        switch (errno) {
        case EXDEV:
                return fail_with(ret_reason, "escapes the directory it must lie beneath", -EXDEV);
        case ELOOP:
                return fail_with(ret_reason, "a component is a symbolic link", -ELOOP);
        case ENOENT:
                return fail_with(ret_reason, "does not exist", -ENOENT);
        case ENOTDIR:
                return fail_with(ret_reason, "a component is not a directory", -ENOTDIR);
        case ENOSYS:
                return fail_with(ret_reason, "the kernel lacks openat2() (Linux 5.6 or newer is needed)", -ENOSYS);
        case EACCES:
                return fail_with(ret_reason, "permission denied", -EACCES);
        default:
                return fail_with(ret_reason, "cannot be opened", -errno);
        }
}

bool proto_is_printable_ascii(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e)
                        return false;
        return true;
}

/* The length of the valid UTF-8 sequence at S (at most N bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
        size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
        uint32_t cp;

        if (len == 0 || len > n)
                return 0;
        cp = len == 1 ? s[0] : len == 2 ? s[0] & 0x1fu : len == 3 ? s[0] & 0x0fu : s[0] & 0x07u;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3fu);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;   /* overlong, out of range, or a surrogate */
        return len;
}

int proto_keep_foreign_name(const char *s, size_t len, char *buf, size_t size) {
        const unsigned char *p = (const unsigned char *) s;
        size_t o = 0;
        int changed = 0;

        for (size_t i = 0; i < len;) {
                size_t n = utf8_seq(p + i, len - i);

                /* C0 and C1 controls (U+0080..U+009F) are never printed as they are */
                if (n == 0 || p[i] < 0x20 || p[i] == 0x7f || (p[i] == 0xc2 && p[i + 1] < 0xa0)) {
                        if (o + 4 >= size)
                                return buf[o] = '\0', 1;
                        o += (size_t) snprintf(buf + o, size - o, "\\x%02x", p[i]);
                        i++;
                        changed = 1;
                        continue;
                }
                if (o + n >= size)
                        return buf[o] = '\0', 1;
                memcpy(buf + o, p + i, n);
                o += n, i += n;
        }
        buf[o] = '\0';
        return changed;
}

int proto_validate_ringbuf_size(uint32_t size, const char **ret_reason) {
        if (size < PROTO_RINGBUF_MIN || size > PROTO_RINGBUF_MAX || (size & (size - 1)) != 0)
                return *ret_reason = "is not a power of two from 4096 to 268435456 (bytes)", -EINVAL;
        return 0;
}
