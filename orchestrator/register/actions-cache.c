/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lane's actions cache, as lanekeeper-register sees it from the lane's
 * directory (its working directory), as the lane's user: measured at every
 * start, cleared when lanectl health asks (proto-register.h). The runner
 * keeps one entry per downloaded action: _work/_actions/OWNER/REPO/REF/
 * and the marker OWNER/REPO/REF.completed beside it; with the marker it
 * uses the directory as it is, so a damaged entry fails every job that
 * uses the action until it is removed. Nothing here follows a symlink. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actions-cache.h"
#include "macro.h"

#define ACTIONS_DIR "_work/_actions"
#define MARKER ".completed"

/* A DIR of its own on the directory DFD (DFD stays the caller's), or NULL. */
static DIR *dup_dir(int dfd) {
        int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);

        if (!d && fd >= 0)
                close(fd);
        return d;
}

static bool dots(const char *n) {
        return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

int cache_remove_entry(int dfd, const char *name, unsigned depth, size_t *count) {
        int sub, r;

        if (unlinkat(dfd, name, 0) == 0)
                return (*count)++, 0;
        if (errno != EISDIR && errno != EPERM)
                return -errno;
        /* a subdirectory a job made unwritable (0555) is ours: made writable first */
        sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0 && errno == EACCES && fchmodat(dfd, name, 0700, 0) == 0)
                sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0 || fchmod(sub, 0700) < 0) {
                r = -errno;
                if (sub >= 0)
                        close(sub);
                return r;
        }
        r = cache_empty_dir(sub, depth + 1, count);
        close(sub);
        if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
                r = -errno;
        else if (r == 0)
                (*count)++;
        return r;
}

int cache_empty_dir(int dfd, unsigned depth, size_t *count) {
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (depth > 512)
                return -ELOOP;
        if (!(d = dup_dir(dfd)))
                return -errno;
        while (r == 0 && (errno = 0, de = readdir(d)))
                if (!dots(de->d_name))
                        r = cache_remove_entry(dfd, de->d_name, depth, count);
        if (r == 0 && errno != 0)
                r = -errno;
        closedir(d);
        return r;
}

/* Bytes of regular files beneath DFD; whether it holds anything. */
static unsigned long long tree_bytes(int dfd, unsigned depth, bool *ret_any) {
        unsigned long long sum = 0;
        struct dirent *de;
        DIR *d;

        if (depth > 64 || !(d = dup_dir(dfd)))
                return 0;
        while ((de = readdir(d))) {
                struct stat st;

                if (dots(de->d_name) || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                *ret_any = true;
                if (S_ISREG(st.st_mode))
                        sum += (unsigned long long) st.st_size;
                else if (S_ISDIR(st.st_mode)) {
                        _cleanup_(closep) int sub = openat(dirfd(d), de->d_name,
                                                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        if (sub >= 0)
                                sum += tree_bytes(sub, depth + 1, ret_any);
                }
        }
        closedir(d);
        return sum;
}

struct walk {
        time_t now;
        unsigned max_age_days;       /* clearing: 0 every entry */
        bool clear;
        struct proto_cache_stats *stats;
        size_t removed;              /* entries removed */
        int error;                   /* the first failure to remove */
};

/* Remove the entry NAME of the repository directory RFD: its directory
 * and its marker. */
static void remove_entry(struct walk *w, int rfd, const char *name, bool have_dir) {
        char marker[NAME_MAX + sizeof MARKER];
        size_t n = 0;
        int r = 0;

        if (have_dir)
                r = cache_remove_entry(rfd, name, 0, &n);   /* made writable first where a job made it read-only */
        snprintf(marker, sizeof marker, "%s" MARKER, name);
        if (r == 0 && unlinkat(rfd, marker, 0) < 0 && errno != ENOENT)
                r = -errno;
        if (r < 0 && !w->error)
                w->error = r;
        w->removed += r == 0;
}

/* One entry: NAME in the repository directory RFD (a directory, or a
 * marker whose directory is gone). */
static void visit_entry(struct walk *w, int rfd, const char *name, bool have_dir) {
        char marker[NAME_MAX + sizeof MARKER];
        struct stat ms, ds;
        bool have_marker, any = false, damaged;
        unsigned long long bytes = 0;
        time_t when;

        snprintf(marker, sizeof marker, "%s" MARKER, name);
        have_marker = fstatat(rfd, marker, &ms, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(ms.st_mode);
        if (have_dir) {
                _cleanup_(closep) int fd = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                if (fd >= 0)
                        bytes = tree_bytes(fd, 0, &any);
        }
        damaged = have_marker && (!have_dir || !any);
        when = have_marker ? ms.st_mtime : fstatat(rfd, name, &ds, AT_SYMLINK_NOFOLLOW) == 0 ? ds.st_mtime : w->now;
        if (w->clear && (w->max_age_days == 0 || damaged || w->now - when > (time_t) w->max_age_days * 86400)) {
                remove_entry(w, rfd, name, have_dir);
                return;
        }
        w->stats->entries++;
        w->stats->bytes += bytes;
        w->stats->damaged += damaged;
        if (!w->stats->oldest || when < w->stats->oldest)
                w->stats->oldest = when;
}

static bool is_marker(const char *name, char *base, size_t size) {
        size_t n = strlen(name), m = strlen(MARKER);

        if (n <= m || strcmp(name + n - m, MARKER) != 0 || n - m >= size)
                return false;
        snprintf(base, size, "%.*s", (int) (n - m), name);
        return true;
}

/* The repository directory RFD: its entries (directories, and markers
 * left without theirs). */
static void visit_repo(struct walk *w, int rfd) {
        struct dirent *de;
        DIR *d = dup_dir(rfd);

        while (d && (de = readdir(d))) {
                char base[NAME_MAX + 1];
                struct stat st;

                if (dots(de->d_name) || fstatat(rfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode))
                        visit_entry(w, rfd, de->d_name, true);
                else if (is_marker(de->d_name, base, sizeof base) &&
                         (fstatat(rfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)))
                        visit_entry(w, rfd, base, false);
        }
        if (d)
                closedir(d);
}

/* A directory of the lane user's that a job made read-only (0555): its
 * owner may still add u+wx, so that its entries can be removed. */
static int make_writable(int fd) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if ((st.st_mode & (S_IWUSR | S_IXUSR)) == (S_IWUSR | S_IXUSR))
                return 0;
        return fchmod(fd, (st.st_mode & 07777) | S_IWUSR | S_IXUSR) < 0 ? -errno : 0;
}

/* Each subdirectory of DFD, at LEVEL (0 owners, 1 repositories); empty
 * ones are removed when clearing. */
static void visit_level(struct walk *w, int dfd, unsigned level) {
        struct dirent *de;
        DIR *d = dup_dir(dfd);

        while (d && (de = readdir(d))) {
                _cleanup_(closep) int sub = -EBADF;

                if (dots(de->d_name))
                        continue;
                sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        continue;
                if (level == 0 && de->d_name[0] == '_') {
                        /* the runner's download area (_temp_*): nothing to count; gone when clearing */
                        if (w->clear && w->max_age_days == 0) {
                                size_t n = 0;

                                (void) cache_remove_entry(dfd, de->d_name, 0, &n);
                        }
                        continue;
                }
                if (w->clear)
                        (void) make_writable(sub);   /* its emptied entries are removed from it */
                if (level == 0)
                        visit_level(w, sub, 1);
                else
                        visit_repo(w, sub);
                if (w->clear)
                        (void) unlinkat(dfd, de->d_name, AT_REMOVEDIR);   /* only when empty */
        }
        if (d)
                closedir(d);
}

static int walk(int lane_fd, struct walk *w) {
        _cleanup_(closep) int fd = openat(lane_fd, ACTIONS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        *w->stats = (struct proto_cache_stats) { .measured = w->now };
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        visit_level(w, fd, 0);
        return w->error;
}

int cache_measure(int lane_fd, time_t now, struct proto_cache_stats *ret) {
        struct walk w = { .now = now, .stats = ret };

        return walk(lane_fd, &w);
}

int cache_clear(int lane_fd, time_t now, unsigned max_age_days, size_t *ret_removed, struct proto_cache_stats *ret) {
        struct walk w = { .now = now, .clear = true, .max_age_days = max_age_days, .stats = ret };
        int r = walk(lane_fd, &w);

        *ret_removed = w.removed;
        return r;
}

int cache_write_stats(int lane_fd, const struct proto_cache_stats *s) {
        char buf[PROTO_CACHE_STATS_MAX], tmp[64];
        _cleanup_(closep) int fd = -EBADF;
        int n = proto_cache_stats_encode(s, buf, sizeof buf);

        if (n < 0)
                return n;
        snprintf(tmp, sizeof tmp, PROTO_CACHE_STATS_FILE ".%d", (int) getpid());
        fd = openat(lane_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd < 0)
                return -errno;
        /* 0640 whatever the umask: the maintainer reads it through the group */
        if (fchmod(fd, 0640) < 0 || write(fd, buf, (size_t) n) != n || renameat(lane_fd, tmp, lane_fd,
                                                                                PROTO_CACHE_STATS_FILE) < 0) {
                int e = errno;

                (void) unlinkat(lane_fd, tmp, 0);
                return -e;
        }
        return 0;
}
