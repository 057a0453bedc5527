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

#include "macro.h"
#include "observe.h"

/* Baseline readiness: one verdict a check, on this host (observe.h). */

static struct baseline_check *check(struct observation *o, const char *name) {
        struct baseline_check *c;

        if (o->n_checks >= BASELINE_MAX_CHECKS)
                return NULL;
        c = &o->checks[o->n_checks++];
        *c = (struct baseline_check) { .name = name, .state = BASELINE_UNKNOWN };
        return c;
}

_printf_(3, 4)
static void verdict(struct baseline_check *c, enum baseline_state s, const char *fmt, ...) {
        va_list ap;

        if (!c)
                return;
        c->state = s;
        va_start(ap, fmt);
        vsnprintf(c->detail, sizeof c->detail, fmt, ap);
        va_end(ap);
}

static void check_cgroup(const struct baseline_config *cfg, struct observation *o) {
        struct baseline_check *c = check(o, "cgroup_v2");
        const char *where = cfg->cgroup_root ?: "/sys/fs/cgroup";
        struct statfs sf;

        if (statfs(where, &sf) < 0)
                verdict(c, BASELINE_UNKNOWN, "%s: %s", where, strerror(errno));
        else if (sf.f_type == CGROUP2_SUPER_MAGIC)
                verdict(c, BASELINE_READY, "the unified hierarchy is mounted at %s", where);
        else
                verdict(c, BASELINE_NOT_READY, "%s is not cgroup2 (a v1 or hybrid hierarchy): boot with "
                        "systemd.unified_cgroup_hierarchy=1", where);
}

static void check_disk(const struct baseline_config *cfg, const struct lane_desired *d, struct observation *o) {
        struct baseline_check *c = check(o, "disk_space");
        unsigned long long free_b, need = cfg->min_free_bytes;
        struct statvfs sv;

        if (statvfs(d->root, &sv) < 0) {
                verdict(c, errno == ENOENT ? BASELINE_NOT_READY : BASELINE_UNKNOWN, "registration root %s: %s", d->root,
                        strerror(errno));
                return;
        }
        free_b = (unsigned long long) sv.f_bavail * sv.f_frsize;
        verdict(c, free_b >= need ? BASELINE_READY : BASELINE_NOT_READY, "%llu MiB free in %s, %s %llu MiB",
                free_b >> 20, d->root, free_b >= need ? "needs" : "below the", need >> 20);
}

static void check_clock(const struct baseline_config *cfg, struct observation *o) {
        struct baseline_check *c = check(o, "clock_offset");
        long long off = cfg->clock_offset_s;

        if (!cfg->have_clock_offset)
                verdict(c, BASELINE_UNKNOWN, "no response from GitHub to compare the clock with");
        else
                verdict(c, llabs(off) <= 60 ? BASELINE_READY : BASELINE_NOT_READY,
                        "this host is %llds %s GitHub's Date (limit 60 s)", llabs(off), off > 0 ? "behind" : "ahead of");
}

int version_satisfies(const struct version_policy *p, const char *version) {
        unsigned a, b, c;
        int end = 0;

        if (sscanf(version, "%u.%u.%u%n", &a, &b, &c, &end) != 3 || version[end] != '\0')
                return -EINVAL;
        switch (p->kind) {
        case VERSION_ANY:
                return 1;
        case VERSION_PINNED:
                return a == p->major && b == p->minor && c == p->patch;
        case VERSION_MINIMUM:
                return a != p->major ? a > p->major : b != p->minor ? b > p->minor : c >= p->patch;
        case _VERSION_POLICY_MAX:
        case _VERSION_POLICY_INVALID:
                break;
        }
        return -EINVAL;
}

static void check_version(const struct lane_desired *d, struct observation *o) {
        struct baseline_check *c = check(o, "runner_version");
        char want[48];
        int r;

        version_policy_format(&d->version, want, sizeof want);
        if (d->version.kind == VERSION_ANY)
                verdict(c, BASELINE_READY, "the lane accepts any runner version%s%s",
                        o->runner_version[0] ? "; installed " : "", o->runner_version);
        else if (!o->runner_version[0])
                verdict(c, BASELINE_UNKNOWN, "%s; the installed version cannot be told%s", want,
                        o->local_exists ? "" : " (no runner directory yet)");
        else if ((r = version_satisfies(&d->version, o->runner_version)) < 0)
                verdict(c, BASELINE_UNKNOWN, "cannot read version '%s'", o->runner_version);
        else
                verdict(c, r ? BASELINE_READY : BASELINE_NOT_READY, "installed %s, the lane wants %s", o->runner_version, want);
}

static bool same_file(const struct stat *a, const char *path) {
        struct stat st;

        return path && stat(path, &st) == 0 && st.st_dev == a->st_dev && st.st_ino == a->st_ino;
}

/* The lane's DOCKER_CONFIG (ROOT/LANE/.docker, set by the lane unit) must be
 * the lane's own: not a link to somewhere shared, not open to others, and
 * its config.json no file the maintainer or another lane also uses. */
static void check_docker(const struct baseline_config *cfg, const struct lane_desired *d, struct observation *o) {
        struct baseline_check *c = check(o, "docker_credentials");
        _cleanup_(closep) int lane = -EBADF, cfgfd = -EBADF;
        const char *reason = NULL;
        struct passwd pw, *res = NULL;
        char pwbuf[4096];
        struct stat st, mst;

        if (cfg->maintainer_docker_config && stat(cfg->maintainer_docker_config, &mst) == 0 &&
            (mst.st_mode & (S_IRGRP | S_IROTH))) {
                verdict(c, BASELINE_NOT_READY, "the maintainer's %s is readable by others (mode %04o)",
                        cfg->maintainer_docker_config, (unsigned) (mst.st_mode & 07777));
                return;
        }
        lane = observe_open_lane_dir(d, NULL, &reason);
        if (lane == -ENOENT) {
                verdict(c, BASELINE_READY, "no lane directory yet: no registry credentials stored");
                return;
        }
        if (lane < 0) {
                verdict(c, BASELINE_UNKNOWN, "%s/%s: %s", d->root, d->name, reason ?: strerror(-lane));
                return;
        }
        if (fstatat(lane, ".docker", &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        verdict(c, BASELINE_READY, "no .docker in the lane directory: no registry credentials stored");
                else
                        verdict(c, BASELINE_UNKNOWN, "%s/%s/.docker: %s", d->root, d->name, strerror(errno));
                return;
        }
        if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
                verdict(c, BASELINE_NOT_READY, "DOCKER_CONFIG %s/%s/.docker is %s, not a lane-private directory", d->root,
                        d->name, S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
                return;
        }
        if (getpwnam_r(d->user, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res && st.st_uid != res->pw_uid) {
                verdict(c, BASELINE_NOT_READY, "DOCKER_CONFIG %s/%s/.docker belongs to uid %u, not to %s", d->root, d->name,
                        (unsigned) st.st_uid, d->user);
                return;
        }
        if (st.st_mode & (S_IWGRP | S_IWOTH)) {
                verdict(c, BASELINE_NOT_READY, "DOCKER_CONFIG %s/%s/.docker is writable by others (mode %04o)", d->root,
                        d->name, (unsigned) (st.st_mode & 07777));
                return;
        }
        cfgfd = proto_open_beneath(lane, ".docker/config.json", O_PATH, 0, &reason);
        if (cfgfd == -ENOENT) {
                verdict(c, BASELINE_READY, "DOCKER_CONFIG is private to the lane; no config.json");
                return;
        }
        if (cfgfd == -EACCES) {
                verdict(c, BASELINE_READY, "DOCKER_CONFIG is private to the lane (mode %04o); its contents are closed to "
                        "everyone else", (unsigned) (st.st_mode & 07777));
                return;
        }
        if (cfgfd < 0 || fstat(cfgfd, &st) < 0) {
                verdict(c, BASELINE_NOT_READY, "%s/%s/.docker/config.json: %s", d->root, d->name,
                        cfgfd < 0 ? reason : strerror(errno));
                return;
        }
        if (!S_ISREG(st.st_mode) || st.st_nlink > 1)
                verdict(c, BASELINE_NOT_READY, ".docker/config.json is %s", !S_ISREG(st.st_mode) ? "not a regular file" :
                        "hard-linked: the same credentials live under another name");
        else if (same_file(&st, cfg->maintainer_docker_config))
                verdict(c, BASELINE_NOT_READY, ".docker/config.json is the maintainer's own %s", cfg->maintainer_docker_config);
        else if (st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH))
                verdict(c, BASELINE_NOT_READY, ".docker/config.json is open to group or others (mode %04o)",
                        (unsigned) (st.st_mode & 07777));
        else
                verdict(c, BASELINE_READY, "DOCKER_CONFIG and its config.json are private to the lane");
}

static void check_home(const struct baseline_config *cfg, const struct lane_desired *d, struct observation *o) {
        struct baseline_check *c = check(o, "home_under_roots");
        struct passwd pw, *res = NULL;
        char buf[4096], home[PATH_MAX], root[PATH_MAX];
        const char *rel, *reason;

        if (getpwnam_r(d->user, &pw, buf, sizeof buf, &res) != 0 || !res) {
                verdict(c, BASELINE_NOT_READY, "there is no user '%s'", d->user);
                return;
        }
        if (!realpath(res->pw_dir, home)) {
                verdict(c, errno == ENOENT ? BASELINE_NOT_READY : BASELINE_UNKNOWN, "home %s of %s: %s", res->pw_dir, d->user,
                        strerror(errno));
                return;
        }
        for (size_t i = 0; i < cfg->n_roots; i++)
                if (realpath(cfg->roots[i], root) && proto_path_beneath(root, home, &rel, &reason) == 0) {
                        verdict(c, BASELINE_READY, "home of %s is %s, beneath %s", d->user, home, cfg->roots[i]);
                        return;
                }
        verdict(c, BASELINE_NOT_READY, "home of %s is %s (symlinks resolved), outside the registration roots", d->user,
                home);
}

static bool command_present(const char *name) {
        char path[PATH_MAX];
        struct stat st;

        for (const char *p = OBSERVE_PATH, *end; *p; p = *end ? end + 1 : end) {
                end = p + strcspn(p, ":");
                snprintf(path, sizeof path, "%.*s/%s", (int) (end - p), p, name);
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
                        return true;
        }
        return false;
}

static void check_commands(const struct baseline_config *cfg, struct observation *o) {
        struct baseline_check *c;
        char missing[OBS_DETAIL_MAX] = "";
        size_t len = 0;

        if (cfg->n_commands == 0)
                return;
        c = check(o, "commands");
        for (size_t i = 0; i < cfg->n_commands; i++)
                if (!command_present(cfg->commands[i]) && len < sizeof missing)
                        len += (size_t) snprintf(missing + len, sizeof missing - len, "%s%s", len ? ", " : "",
                                                 cfg->commands[i]);
        if (len)
                verdict(c, BASELINE_NOT_READY, "missing: %s", missing);
        else
                verdict(c, BASELINE_READY, "%zu required command%s found", cfg->n_commands, cfg->n_commands == 1 ? "" : "s");
}

void observe_baseline(const struct observe_env *env, const struct lane_desired *d, struct observation *o) {
        const struct baseline_config *cfg = env->baseline;

        o->n_checks = 0;
        if (!cfg)
                return;   /* no check observed: unknown */
        check_cgroup(cfg, o);
        check_disk(cfg, d, o);
        check_clock(cfg, o);
        check_version(d, o);
        check_docker(cfg, d, o);
        check_home(cfg, d, o);
        check_commands(cfg, o);
}
