/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "actions-cache.h"
#include "macro.h"
#include "proto-register.h"
#include "slot-run.h"

#define RULES_TIMEOUT_MS (30 * 1000)
#define VERDICT_TIMEOUT_MS (60 * 1000)
#define WALK_MAX_DEPTH 64
#define WALK_MAX_ENTRIES 4096      /* in one directory */

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void free_names(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* The names in DFD but "." and "..", sorted: *RET (caller frees), count. */
static int list_sorted(int dfd, char ***ret, size_t *ret_n) {
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        int r = 0;

        if (!d) {
                r = -errno;
                if (fd >= 0)
                        close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                char **more;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n >= WALK_MAX_ENTRIES || !(more = realloc(names, (n + 1) * sizeof *names)) ||
                    !(more[n] = strdup(de->d_name))) {
                        r = n >= WALK_MAX_ENTRIES ? -E2BIG : -ENOMEM;
                        if (more)
                                names = more;
                        break;
                }
                names = more;
                n++;
        }
        if (r == 0 && errno)
                r = -errno;
        closedir(d);
        if (r < 0) {
                free_names(names, n);
                return r;
        }
        qsort(names, n, sizeof *names, cmp_names);
        *ret = names;
        *ret_n = n;
        return 0;
}

int slot_clean(int dfd, const char *keep, char ret_keep[PROTO_SLOT_KEEP_BUF], size_t *ret_removed, char *err,
               size_t errlen) {
        char **names = NULL;
        size_t n = 0, len = 0;
        int r = list_sorted(dfd, &names, &n);

        *ret_removed = 0;
        ret_keep[0] = '\0';
        if (r < 0)
                return snprintf(err, errlen, "cannot list the slot directory: %s", strerror(-r)), r;
        for (size_t i = 0; i < n && r == 0; i++) {
                const char *reason;

                if (proto_slot_is_run_entry(names[i]) || (keep[0] && !proto_slot_keep_has(keep, names[i])) ||
                    proto_slot_validate_entry(names[i], &reason) < 0) {
                        r = cache_remove_entry(dfd, names[i], 0, ret_removed);
                        r = r == -ENOENT ? 0 : r;   /* gone already */
                        if (r < 0)
                                snprintf(err, errlen, "cannot remove %s (what a job left): %s", names[i], strerror(-r));
                        continue;
                }
                if (len + strlen(names[i]) + 2 > PROTO_SLOT_KEEP_BUF) {
                        r = -E2BIG;
                        snprintf(err, errlen, "the slot directory holds too many entries");
                        break;
                }
                len += (size_t) sprintf(ret_keep + len, "%s%s", len ? "," : "", names[i]);
        }
        free_names(names, n);
        return r;
}

/* Feed DFD's entry NAME at RELPATH, and what is beneath it. */
static int walk(struct proto_sha256 *c, int dfd, const char *name, const char *relpath, unsigned depth) {
        char target[PROTO_PATH_MAX + 1], sub[PROTO_PATH_MAX + 1];
        char **names = NULL;
        size_t n = 0;
        struct stat st;
        ssize_t tl;
        int fd, r = 0;

        if (depth > WALK_MAX_DEPTH)
                return -ELOOP;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (S_ISLNK(st.st_mode)) {
                tl = readlinkat(dfd, name, target, sizeof target - 1);
                if (tl < 0)
                        return -errno;
                target[tl] = '\0';
        }
        proto_slot_fingerprint_entry(c, relpath, &st, S_ISLNK(st.st_mode) ? target : NULL);
        if (!S_ISDIR(st.st_mode))
                return 0;
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = list_sorted(fd, &names, &n);
        for (size_t i = 0; i < n && r == 0; i++) {
                if (snprintf(sub, sizeof sub, "%s/%s", relpath, names[i]) >= (int) sizeof sub)
                        r = -ENAMETOOLONG;
                else
                        r = walk(c, fd, names[i], sub, depth + 1);
        }
        free_names(names, n);
        close(fd);
        return r;
}

int slot_fingerprint(int dfd, const char *keep, char hex[PROTO_SHA256_HEX_SIZE], char *err, size_t errlen) {
        char list[PROTO_SLOT_KEEP_BUF], *save = NULL;
        uint8_t digest[PROTO_SHA256_SIZE];
        struct proto_sha256 c;

        proto_sha256_init(&c);
        snprintf(list, sizeof list, "%s", keep);
        for (char *e = strtok_r(list, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
                int r = walk(&c, dfd, e, e, 0);

                if (r < 0)
                        return snprintf(err, errlen, "cannot read the install's %s: %s", e, strerror(-r)), r;
        }
        proto_sha256_final(&c, digest);
        for (size_t i = 0; i < PROTO_SHA256_SIZE; i++)
                sprintf(hex + 2 * i, "%02x", digest[i]);
        return 0;
}

static void wipe_bufp(char **p) {
        if (*p) {
                explicit_bzero(*p, PROTO_SLOT_MAX + 1);
                free(*p);
        }
}

static int fail(const char *lane, const char *what, const char *detail) {
        fprintf(stderr, "lanekeeper-register: %s: %s%s%s\n", lane, what, detail ? ": " : "", detail ?: "");
        return 1;
}

/* Become ./run.sh, with JIT (NULL: none) in ACTIONS_RUNNER_INPUT_JITCONFIG
 * only. Returns only on failure. */
static int become_run_sh(const char *lane, char *jit) {
        char *args[] = { (char *) "./run.sh", NULL };
        struct stat st;

        /* run.sh: ours, a regular file, reached without a symlink */
        if (fstatat(AT_FDCWD, "run.sh", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
                return fail(lane, "run.sh is missing, not a regular file, not the lane user's, or writable by others", NULL);
        if (jit && setenv("ACTIONS_RUNNER_INPUT_JITCONFIG", jit, 1) < 0)
                return fail(lane, "cannot pass the JIT configuration", NULL);
        if (jit)
                explicit_bzero(jit, strlen(jit));   /* the environment holds the only copy now */
        fflush(stdout);
        execv("./run.sh", args);
        unsetenv("ACTIONS_RUNNER_INPUT_JITCONFIG");
        return fail(lane, "cannot run ./run.sh", strerror(errno));
}

/* One message from FD within TIMEOUT_MS into BUF (PROTO_SLOT_MAX + 1):
 * its length, or -1. */
static ssize_t receive(int fd, char *buf, int timeout_ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&p, 1, timeout_ms) <= 0)
                return -1;
        n = recv(fd, buf, PROTO_SLOT_MAX, MSG_TRUNC);
        return n <= 0 || n > PROTO_SLOT_MAX ? -1 : n;
}

/* The slot's directory cleaned and fingerprinted after RULES; the report
 * into BUF. 0 or an exit status. */
static int prepare(const char *lane, const char *keep, char *buf, size_t *ret_len) {
        char got[PROTO_SLOT_KEEP_BUF], fp[PROTO_SHA256_HEX_SIZE], err[512];
        _cleanup_(closep) int dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        size_t removed = 0;

        if (dfd < 0)
                return fail(lane, "cannot open the slot directory", strerror(errno));
        if (slot_clean(dfd, keep, got, &removed, err, sizeof err) < 0)
                return fail(lane, "cannot clean the slot directory", err);
        if (!got[0])
                return fail(lane, "the slot directory holds no runner install", NULL);
        if (slot_fingerprint(dfd, got, fp, err, sizeof err) < 0)
                return fail(lane, "cannot fingerprint the runner install", err);
        if (proto_slot_encode_report(fp, got, buf, PROTO_SLOT_MAX + 1, ret_len) < 0)
                return fail(lane, "cannot report the runner install", NULL);
        printf("lanekeeper-register: %s: pool slot: removed %zu entries a run left; install %s (%.12s)\n", lane,
               removed, got, fp);
        return 0;
}

int slot_run(const char *lane, int fd) {
        _cleanup_(wipe_bufp) char *buf = malloc(PROTO_SLOT_MAX + 1);
        _cleanup_(wipe_bufp) char *jit = malloc(PROTO_SLOT_MAX + 1);
        char slot[PROTO_LANE_NAME_MAX + 1], keep[PROTO_SLOT_KEEP_BUF], reason[PROTO_SLOT_REASON_MAX + 1];
        const char *why = NULL;
        size_t len;
        ssize_t n;
        int r;

        if (!buf || !jit)
                return fail(lane, "out of memory", NULL);
        if (fd < 0)
                return become_run_sh(lane, NULL);   /* not a slot, or nobody serves it */
        if (proto_slot_encode_request(lane, buf, PROTO_SLOT_MAX + 1, &len) < 0 ||
            send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t) len)
                return fail(lane, "cannot ask for a JIT configuration", NULL);
        n = receive(fd, buf, RULES_TIMEOUT_MS);
        if (n < 0) {
                /* lanectl apply's one-shot offer answers registrations only */
                printf("lanekeeper-register: %s: the hand-off socket serves no pool slot; starting run.sh\n", lane);
                return become_run_sh(lane, NULL);
        }
        if (proto_slot_decode_rules(buf, (size_t) n, slot, keep, &why) < 0)
                return fail(lane, "the slot's rules are invalid", why);
        if (strcmp(slot, lane) != 0)
                return fail(lane, "the rules offered name another slot", NULL);
        r = prepare(lane, keep, buf, &len);
        if (r != 0)
                return r;
        if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t) len || (n = receive(fd, buf, VERDICT_TIMEOUT_MS)) < 0)
                return fail(lane, "no JIT configuration from lanectl pool supervise within 60 s", NULL);
        if (proto_slot_decode_verdict(buf, (size_t) n, jit, reason, &why) < 0)
                return fail(lane, "the JIT configuration offered is invalid", why);
        if (reason[0])
                return fail(lane, "lanectl pool supervise refused to start a runner here", reason);
        printf("lanekeeper-register: %s: starting the just-in-time runner (one job)\n", lane);
        closep(&fd);
        return become_run_sh(lane, jit);
}
