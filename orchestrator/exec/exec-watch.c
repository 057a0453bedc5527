/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What wakes the gates (exec_ops.watch_*): the lane unit's state changing
 * (systemd's PropertiesChanged on the unit, after Subscribe), and the
 * runner saying it listens. actions/runner creates its session with GitHub
 * and then writes "Listening for Jobs" to the console and, through its
 * trace, to _diag/Runner_*.log; GitHub lists it online from the session
 * on. The log is watched with inotify and only what is appended after the
 * watch began is read (O_NOFOLLOW, regular files only, a bounded amount),
 * so an earlier listener's line wakes nothing. lanekeeper-register gives
 * _diag a default ACL that lets the lane user's group (the maintainer)
 * read the runner's trace; without it the runner is not watched and the
 * gates poll as before. A wake-up is only a hint: the gates decide on a
 * new observation. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "exec-real.h"
#include "macro.h"
#include "proto-time.h"
#include "proto-validate.h"

#define LISTENING "Listening for Jobs"
#define LOG_GLOB "Runner_*.log"
#define MAX_FILES 16
#define READ_MAX (1024 * 1024)        /* at most this much of a log is searched per wake-up */
#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MGR "org.freedesktop.systemd1.Manager"

struct exec_watch {
        int ino, lane_wd, diag_wd, diag_fd;
        char lane_dir[PATH_MAX];
        struct {
                char name[NAME_MAX + 1];
                off_t off;
        } files[MAX_FILES];
        size_t n_files;
        sd_bus *bus;
        sd_bus_slot *slot;
        bool subscribed, unit_changed;
};

static off_t *file_offset(struct exec_watch *w, const char *name, bool add) {
        for (size_t i = 0; i < w->n_files; i++)
                if (strcmp(w->files[i].name, name) == 0)
                        return &w->files[i].off;
        if (!add || w->n_files == MAX_FILES)
                return NULL;
        snprintf(w->files[w->n_files].name, sizeof w->files[0].name, "%s", name);
        w->files[w->n_files].off = 0;
        return &w->files[w->n_files++].off;
}

/* Whether NAME, appended to since its offset, now holds the listening
 * line; the offset moves on. Each read starts a needle's length less one
 * before where the last ended, so a line split over two writes is found. */
static bool log_says_listening(struct exec_watch *w, const char *name) {
        _cleanup_(closep) int fd = -EBADF;
        static char buf[64 * 1024];
        const off_t keep = sizeof LISTENING - 2;
        off_t *off = file_offset(w, name, true), at;
        size_t done = 0;
        struct stat st;

        if (!off || (fd = openat(w->diag_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0 ||
            fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        if (st.st_size < *off)
                *off = 0;   /* truncated: a new log under the same name */
        at = *off > keep ? *off - keep : 0;
        while (done < READ_MAX) {
                ssize_t n = pread(fd, buf, sizeof buf, at);

                if (n <= 0)
                        break;
                *off = at + n;
                if (memmem(buf, (size_t) n, LISTENING, sizeof LISTENING - 1))
                        return true;
                done += (size_t) n;
                if ((size_t) n < sizeof buf)
                        break;
                at = *off - keep;
        }
        if (done >= READ_MAX)
                *off = st.st_size;   /* a flood: skip it rather than read on */
        return false;
}

/* Every runner log in _diag: REMEMBER, what they hold now is old (the
 * watch began); else, whether one of them says the runner listens (_diag
 * appeared after the watch began: all of it is new). */
static bool scan_logs(struct exec_watch *w, bool remember) {
        int fd = openat(w->diag_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *e;
        struct stat st;
        bool found = false;

        if (!d) {
                if (fd >= 0)
                        close(fd);
                return false;
        }
        while ((e = readdir(d)))
                if (fnmatch(LOG_GLOB, e->d_name, 0) == 0 &&
                    fstatat(w->diag_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
                        off_t *off;

                        if (!remember)
                                found |= log_says_listening(w, e->d_name);
                        else if ((off = file_offset(w, e->d_name, true)))
                                *off = st.st_size;
                }
        closedir(d);
        return found;
}

/* Watch LANE_DIR/_diag; 0, or -errno (WHY says why). */
static int watch_diag(struct exec_watch *w, char *why, size_t size) {
        char diag[PATH_MAX + 8];

        int r;

        snprintf(diag, sizeof diag, "%s/_diag", w->lane_dir);
        w->diag_fd = open(diag, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (w->diag_fd >= 0)
                w->diag_wd = inotify_add_watch(w->ino, diag,
                                               IN_CREATE | IN_MODIFY | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW);
        if (w->diag_fd >= 0 && w->diag_wd >= 0)
                return 0;
        r = -errno;
        snprintf(why, size, "%s: %s", diag, strerror(-r));
        if (w->diag_fd >= 0)
                close(w->diag_fd);
        w->diag_fd = -EBADF;
        return r;
}

static int on_unit_changed(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        (void) m;
        (void) e;
        ((struct exec_watch *) userdata)->unit_changed = true;
        return 0;
}

/* PropertiesChanged of the unit's Unit interface; systemd emits them once a
 * client subscribed. 0, or -errno. */
static int watch_unit(struct exec_watch *w, const char *lane) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(freep) char *path = NULL;
        char unit[256], match[1024];
        int r;

        if (!w->bus || proto_unit_name_for_lane(lane, unit, sizeof unit) < 0)
                return -EINVAL;
        r = sd_bus_path_encode(SD_PATH "/unit", unit, &path);
        if (r < 0)
                return r;
        snprintf(match, sizeof match,
                 "type='signal',sender='" SD_DEST "',path='%s',interface='org.freedesktop.DBus.Properties',"
                 "member='PropertiesChanged',arg0='org.freedesktop.systemd1.Unit'", path);
        r = sd_bus_add_match(w->bus, &w->slot, match, on_unit_changed, w);
        if (r < 0)
                return r;
        r = sd_bus_call_method(w->bus, SD_DEST, SD_PATH, SD_MGR, "Subscribe", &e, NULL, NULL);
        w->subscribed = r >= 0;
        if (r < 0 && sd_bus_error_has_name(&e, "org.freedesktop.systemd1.AlreadySubscribed"))
                r = 0;   /* this connection subscribed before: the signals come */
        return r < 0 ? r : 0;
}

void exec_real_watch_end(void *data, struct exec_watch *w) {
        (void) data;
        if (!w)
                return;
        if (w->subscribed)
                (void) sd_bus_call_method(w->bus, SD_DEST, SD_PATH, SD_MGR, "Unsubscribe", NULL, NULL, NULL);
        sd_bus_slot_unref(w->slot);
        if (w->diag_fd >= 0)
                close(w->diag_fd);
        if (w->ino >= 0)
                close(w->ino);
        free(w);
}

unsigned exec_real_watch_start(void *data, const struct lane_desired *d, struct exec_watch **ret, char *why,
                               size_t size) {
        struct exec_real *x = data;
        struct exec_watch *w = calloc(1, sizeof *w);
        unsigned flags = 0;
        char problem[PATH_MAX + 64] = "";
        int r;

        *ret = NULL;
        if (!w)
                return snprintf(why, size, "polled: out of memory"), 0;
        *w = (struct exec_watch) { .ino = -EBADF, .lane_wd = -1, .diag_wd = -1, .diag_fd = -EBADF, .bus = x->bus };
        snprintf(w->lane_dir, sizeof w->lane_dir, "%s/%s", d->root, d->name);
        if (watch_unit(w, d->name) == 0)
                flags |= EXEC_WATCH_UNIT;
        else
                w->slot = sd_bus_slot_unref(w->slot);
        w->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->ino < 0)
                snprintf(problem, sizeof problem, "inotify: %m");
        else if ((r = watch_diag(w, problem, sizeof problem)) == 0) {
                (void) scan_logs(w, true);
                flags |= EXEC_WATCH_RUNNER;
        } else if (r == -ENOENT)   /* not there yet: it is made in the lane directory */
                w->lane_wd = inotify_add_watch(w->ino, w->lane_dir, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW);
        if (w->lane_wd >= 0)
                flags |= EXEC_WATCH_RUNNER;
        if (!flags) {
                exec_real_watch_end(data, w);
                return snprintf(why, size, "polled: %s", problem), 0;
        }
        snprintf(why, size, "watched: %s%s%s%.150s", flags & EXEC_WATCH_UNIT ? "the unit" : "",
                 flags == (EXEC_WATCH_UNIT | EXEC_WATCH_RUNNER) ? " and " : "",
                 flags & EXEC_WATCH_RUNNER ? "the runner's _diag" : ", not the runner's _diag: ",
                 flags & EXEC_WATCH_RUNNER ? "" : problem);
        *ret = w;
        return flags;
}

/* The inotify events queued: 1 when the runner said it listens. */
static int read_events(struct exec_watch *w) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        char ignored[64];
        int found = 0;
        ssize_t n;

        while ((n = read(w->ino, buf, sizeof buf)) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *) p;

                        p += sizeof *ev + ev->len;
                        if (ev->len == 0)
                                continue;
                        if (ev->wd == w->lane_wd && strcmp(ev->name, "_diag") == 0 && w->diag_wd < 0 &&
                            watch_diag(w, ignored, sizeof ignored) == 0)
                                found |= scan_logs(w, false);
                        else if (ev->wd == w->diag_wd && fnmatch(LOG_GLOB, ev->name, 0) == 0)
                                found |= log_says_listening(w, ev->name);
                }
        return found;
}

int exec_real_watch_wait(void *data, struct exec_watch *w, long long ms, char *why, size_t size) {
        long long deadline = proto_now_ms() + ms;

        (void) data;
        for (;;) {
                struct pollfd p[2];
                nfds_t n = 0;
                long long left;

                if (w->slot) {
                        while (sd_bus_process(w->bus, NULL) > 0)
                                ;
                        if (w->unit_changed) {
                                w->unit_changed = false;
                                return snprintf(why, size, "the unit's state changed"), 1;
                        }
                }
                if (w->ino >= 0 && read_events(w))
                        return snprintf(why, size, "the runner said it listens"), 1;
                left = deadline - proto_now_ms();
                if (left <= 0)
                        return 0;
                if (w->ino >= 0)
                        p[n++] = (struct pollfd) { .fd = w->ino, .events = POLLIN };
                if (w->slot && sd_bus_get_fd(w->bus) >= 0)
                        p[n++] = (struct pollfd) { .fd = sd_bus_get_fd(w->bus), .events = (short) sd_bus_get_events(w->bus) };
                if (poll(p, n, (int) left) < 0 && errno != EINTR)
                        return 0;
        }
}
