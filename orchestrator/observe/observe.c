/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "proto-unit.h"
#include "macro.h"
#include "observe.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"

_printf_(3, 4)
static void say(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

/* ROOT/LANE as an O_PATH directory fd, every component resolved without
 * symlinks. Returns the fd, or a negative errno with a reason. */
int observe_open_lane_dir(const struct lane_desired *d, int *ret_root_fd, const char **ret_reason) {
        _cleanup_(closep) int top = -EBADF, root = -EBADF;
        int fd;

        if (proto_validate_abs_subpath(d->root, ret_reason) < 0 || proto_validate_lane_name(d->name, ret_reason) < 0)
                return -EINVAL;
        top = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (top < 0)
                return *ret_reason = "cannot open /", -errno;
        root = proto_open_beneath(top, d->root + 1, O_PATH | O_DIRECTORY, 0, ret_reason);
        if (root < 0)
                return root;
        fd = proto_open_beneath(root, d->name, O_PATH | O_DIRECTORY, 0, ret_reason);
        if (ret_root_fd && fd >= 0)
                *ret_root_fd = TAKE_FD(root);
        return fd;
}

/* ---- GitHub ---- */

void observe_github(const struct observe_env *env, const struct lane_desired *d, struct observation *o) {
        if (!env->inventory) {
                o->github_known = false;
                say(o->github_detail, sizeof o->github_detail, "%s",
                    env->inventory_problem ?: "no inventory was given and no GitHub client is configured");
                return;
        }
        inventory_observe(env->inventory, d->name, o);
}

/* ---- the runner directory ---- */

int observe_runner_version(int lane_fd, char *buf, size_t size) {
        char link[64];
        ssize_t n;
        unsigned a, b, c;
        int end = 0;

        n = readlinkat(lane_fd, "bin", link, sizeof link - 1);
        if (n < 0)
                return errno == EINVAL ? -EINVAL : -errno;   /* EINVAL: bin is no link (a fresh unpack) */
        link[n] = '\0';
        if (sscanf(link, "bin.%u.%u.%u%n", &a, &b, &c, &end) != 3 || link[end] != '\0')
                return -EINVAL;
        snprintf(buf, size, "%u.%u.%u", a, b, c);
        return 0;
}

static int read_small(int dirfd, const char *name, char *buf, size_t size, size_t *ret_len, const char **ret_reason) {
        _cleanup_(closep) int fd = proto_open_beneath(dirfd, name, O_RDONLY | O_NOCTTY, 0, ret_reason);
        size_t len = 0;
        ssize_t n;

        if (fd < 0)
                return fd;
        while (len < size && (n = read(fd, buf + len, size - len)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return *ret_reason = "read failed", -errno;
                }
                len += (size_t) n;
        }
        *ret_len = len;
        return 0;
}

void observe_local(const struct observe_env *env, const struct lane_desired *d, struct observation *o) {
        _cleanup_(closep) int lane = -EBADF;
        _cleanup_(freep) char *text = malloc(RUNNER_FILE_MAX + 1);
        struct runner_file rf;
        const char *reason = NULL;
        struct stat st;
        char err[160];
        size_t len = 0;
        int r;

        (void) env;
        o->local_known = false;
        if (!text) {
                say(o->local_detail, sizeof o->local_detail, "out of memory");
                return;
        }
        lane = observe_open_lane_dir(d, NULL, &reason);
        if (lane == -ENOENT) {   /* no root or no lane directory: nothing here */
                o->local_known = true;
                return;
        }
        if (lane < 0) {
                say(o->local_detail, sizeof o->local_detail, "%s/%s: %s", d->root, d->name, reason ?: strerror(-lane));
                return;
        }
        o->local_exists = true;
        r = read_small(lane, ".runner", text, RUNNER_FILE_MAX + 1, &len, &reason);
        if (r == 0) {
                if (runner_file_parse(text, len, &rf, err, sizeof err) < 0) {
                        say(o->local_detail, sizeof o->local_detail, "%s/%s/.runner: %s", d->root, d->name, err);
                        return;
                }
                o->local_configured = true;
                o->local_agent_id = rf.agent_id;
                snprintf(o->local_agent_name, sizeof o->local_agent_name, "%s", rf.agent_name);
        } else if (r == -EACCES && fstatat(lane, ".runner", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
                /* The runner writes .runner under the lane unit's UMask=0077:
                 * present, configured, its content the lane user's alone. */
                o->local_configured = true;
                say(o->local_detail, sizeof o->local_detail, "%s/%s/.runner is present but readable only by %s",
                    d->root, d->name, d->user);
        } else if (r != -ENOENT) {
                say(o->local_detail, sizeof o->local_detail, "%s/%s/.runner: %s", d->root, d->name, reason);
                return;
        }
        /* The credentials' presence only: never opened, never read. */
        if (fstatat(lane, ".credentials", &st, AT_SYMLINK_NOFOLLOW) == 0) {
                o->local_credentials = S_ISREG(st.st_mode);
                /* which file: a rotation must leave another one */
                o->local_credentials_stamp = ((unsigned long long) st.st_ino * 0x9E3779B97F4A7C15ull) ^
                                             ((unsigned long long) st.st_ctim.tv_sec * 1000000000ull +
                                              (unsigned long long) st.st_ctim.tv_nsec);
        } else if (errno != ENOENT) {
                say(o->local_detail, sizeof o->local_detail, "%s/%s/.credentials: %s", d->root, d->name, strerror(errno));
                return;
        }
        if (fstatat(lane, ".credentials_rsaparams", &st, AT_SYMLINK_NOFOLLOW) == 0)
                o->local_rsaparams = true;
        else if (errno != ENOENT) {
                say(o->local_detail, sizeof o->local_detail, "%s/%s/.credentials_rsaparams: %s", d->root, d->name,
                    strerror(errno));
                return;
        }
        if (observe_runner_version(lane, o->runner_version, sizeof o->runner_version) < 0)
                o->runner_version[0] = '\0';
        o->local_known = true;
}

/* ---- the unit, over D-Bus, without privilege ---- */

static int get_string(sd_bus *bus, const char *path, const char *iface, const char *prop, char *buf, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        char *s = NULL;
        int r;

        r = sd_bus_get_property_string(bus, SYSTEMD_DEST, path, iface, prop, &e, &s);
        if (r < 0)
                return r;
        snprintf(buf, size, "%s", s);
        free(s);
        return 0;
}

/* The real uid of PID; -1 when unknown, or while PID is still systemd's
 * child before exec (named "(binary)", running as root). */
static long long pid_uid(unsigned pid) {
        char path[64], line[256];
        long long uid = -1;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%u/comm", pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        if (!fgets(line, sizeof line, f) || line[0] == '(') {
                fclose(f);
                return -1;
        }
        fclose(f);

        snprintf(path, sizeof path, "/proc/%u/status", pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (strncmp(line, "Uid:", 4) == 0) {
                        uid = strtoll(line + 4, NULL, 10);
                        break;
                }
        fclose(f);
        return uid;
}

/* Read the unit file at PATH and decide whether it is the helper's. */
static void observe_fragment(const struct lane_desired *d, const char *path, struct observation *o) {
        char text[UNIT_MAX_SIZE + 1];
        _cleanup_(closep) int fd = -EBADF;
        struct unit_params params;
        struct stat st;
        size_t len = 0;
        ssize_t n;

        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return;   /* not managed; the unit may still be loaded from elsewhere */
        while (len < sizeof text && (n = read(fd, text + len, sizeof text - len)) > 0)
                len += (size_t) n;
        if (len > UNIT_MAX_SIZE || !proto_unit_is_managed(text, len, &params))
                return;
        o->unit_managed = true;
        /* What the marker says the unit runs: the planner compares it. */
        (void) proto_unit_name_for_lane(params.lane, o->unit_name, sizeof o->unit_name);
        snprintf(o->unit_root, sizeof o->unit_root, "%s", params.root);
        if (!o->unit_user[0])
                snprintf(o->unit_user, sizeof o->unit_user, "%s", params.user);
        (void) d;
}

/* A drop-in in a distribution's "service.d" applies to every service (e.g.
 * a default timeout): it does not make one lane's unit somebody else's. */
static bool dropin_for_every_service(const char *p) {
        const char *slash = strrchr(p, '/');
        size_t n;

        if (!slash || slash == p)
                return false;
        n = (size_t) (slash - p);
        return n >= 10 && memcmp(slash - 10, "/service.d", 10) == 0;
}

void observe_unit(const struct observe_env *env, const struct lane_desired *d, struct observation *o) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char unit[128], fragment[PROTO_PATH_MAX + 1] = "", **dropins = NULL;
        const char *path;
        unsigned pid = 0, pid_again = 0;
        int r;

        o->unit_known = false;
        o->main_uid = -1;
        if (!env->bus) {
                say(o->unit_detail, sizeof o->unit_detail, "%s", env->bus_problem ?: "no connection to systemd");
                return;
        }
        if (proto_unit_name_for_lane(d->name, unit, sizeof unit) < 0) {
                say(o->unit_detail, sizeof o->unit_detail, "the lane name gives no unit name");
                return;
        }
        r = sd_bus_call_method(env->bus, SYSTEMD_DEST, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                               "LoadUnit", &e, &reply, "s", unit);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0) {
                say(o->unit_detail, sizeof o->unit_detail, "LoadUnit(%s): %s", unit, e.message ?: strerror(-r));
                return;
        }
        if (get_string(env->bus, path, "org.freedesktop.systemd1.Unit", "LoadState", o->unit_load, sizeof o->unit_load) < 0 ||
            get_string(env->bus, path, "org.freedesktop.systemd1.Unit", "ActiveState", o->unit_active,
                       sizeof o->unit_active) < 0 ||
            get_string(env->bus, path, "org.freedesktop.systemd1.Unit", "SubState", o->unit_sub, sizeof o->unit_sub) < 0 ||
            get_string(env->bus, path, "org.freedesktop.systemd1.Unit", "UnitFileState", o->unit_file_state,
                       sizeof o->unit_file_state) < 0 ||
            get_string(env->bus, path, "org.freedesktop.systemd1.Unit", "FragmentPath", fragment, sizeof fragment) < 0) {
                say(o->unit_detail, sizeof o->unit_detail, "cannot read the properties of %s", unit);
                return;
        }
        o->unit_known = true;
        /* "not-found" with no fragment: nothing there. Anything else loaded
         * (or failing to load: a broken file is still a file) exists. */
        o->unit_exists = !(strcmp(o->unit_load, "not-found") == 0 && !fragment[0]);
        if (!o->unit_exists)
                return;
        snprintf(o->unit_name, sizeof o->unit_name, "%s", unit);
        (void) sd_bus_get_property_trivial(env->bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Service", "NRestarts",
                                           NULL, 'u', &o->n_restarts);
        (void) sd_bus_get_property_trivial(env->bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Unit",
                                           "StateChangeTimestamp", NULL, 't', &o->state_since_us);
        if (strcmp(o->unit_active, "inactive") != 0 &&
            sd_bus_get_property_trivial(env->bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Service", "MainPID", NULL,
                                        'u', &pid) >= 0 && pid > 0) {
                long long uid = pid_uid(pid);

                /* The same process still, or the uid belongs to another one. */
                if (uid >= 0 &&
                    sd_bus_get_property_trivial(env->bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Service",
                                                "MainPID", NULL, 'u', &pid_again) >= 0 && pid_again == pid) {
                        struct passwd pw, *res = NULL;
                        char buf[4096];

                        o->main_pid = pid;
                        o->main_uid = uid;
                        if (getpwuid_r((uid_t) uid, &pw, buf, sizeof buf, &res) == 0 && res)
                                snprintf(o->unit_user, sizeof o->unit_user, "%s", pw.pw_name);
                        else
                                snprintf(o->unit_user, sizeof o->unit_user, "%lld", uid);
                }
        }
        if (fragment[0])
                observe_fragment(d, fragment, o);
        /* A drop-in can change anything the helper rendered (User=, ExecStart=):
         * the unit is then no longer the helper's alone. */
        if (sd_bus_get_property_strv(env->bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Unit", "DropInPaths", NULL,
                                     &dropins) >= 0 && dropins)
                for (char **dp = dropins; *dp && o->unit_managed; dp++)
                        if (!dropin_for_every_service(*dp)) {
                                say(o->unit_detail, sizeof o->unit_detail, "drop-in %s changes the unit", *dp);
                                o->unit_managed = false;
                        }
        if (dropins)
                for (char **s = dropins; *s; s++)
                        free(*s);
        free(dropins);
}

const struct observe_ops observe_real = {
        .github = observe_github,
        .local = observe_local,
        .unit = observe_unit,
        .baseline = observe_baseline,
};

void observe_lane(const struct observe_ops *ops, const struct observe_env *env, const struct lane_desired *d,
                  struct observation *o) {
        *o = (struct observation) { .main_uid = -1 };
        ops->github(env, d, o);
        ops->local(env, d, o);
        ops->unit(env, d, o);
        ops->baseline(env, d, o);   /* after local: it reads the runner version */
        o->baseline = baseline_overall(o->checks, o->n_checks);
}

/* Whether systemd must reload to see UNIT's file as it is now on disk
 * (GetUnit loads nothing): 1 when it holds the unit loaded and
 * NeedDaemonReload says its file or drop-ins changed, or when that cannot
 * be told; 0 when it holds no such unit, or only a not-found stub, which
 * it loads again from disk once the unit directory changed. */
int observe_unit_needs_reload(sd_bus *bus, const char *unit, char *why, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char load[32];
        const char *path;
        int need = 1, r;

        if (!bus)
                return say(why, size, "no connection to systemd"), 1;
        r = sd_bus_call_method(bus, SYSTEMD_DEST, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                               "GetUnit", &e, &reply, "s", unit);
        if (r < 0 && sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit"))
                return say(why, size, "systemd has not loaded %s; it reads the file when the unit starts", unit), 0;
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return say(why, size, "GetUnit(%s): %s", unit, e.message ?: strerror(-r)), 1;
        if (get_string(bus, path, "org.freedesktop.systemd1.Unit", "LoadState", load, sizeof load) < 0)
                return say(why, size, "cannot read the load state of %s", unit), 1;
        if (strcmp(load, "not-found") == 0)
                return say(why, size, "systemd knows %s only as not found; it reads the file when the unit starts",
                           unit), 0;
        r = sd_bus_get_property_trivial(bus, SYSTEMD_DEST, path, "org.freedesktop.systemd1.Unit", "NeedDaemonReload",
                                        NULL, 'b', &need);
        if (r < 0)
                return say(why, size, "cannot read NeedDaemonReload of %s", unit), 1;
        say(why, size, need ? "%s is loaded and its file changed" : "%s is loaded and systemd has its file as written",
            unit);
        return need ? 1 : 0;
}
