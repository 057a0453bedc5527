/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The executor's real view of processes and files: /proc (status and
 * cgroup are readable by anyone), the lane directory, svc.sh's unit. */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exec-real.h"
#include "proto-register.h"

/* Whether /proc/PID/cgroup names the lane unit UNIT or a cgroup beneath it
 * (CGROUP_IN_UNIT), or another lane's unit (CGROUP_IN_OTHER_LANE). */
enum cgroup_test { CGROUP_IN_UNIT, CGROUP_IN_OTHER_LANE };

static bool cgroup_is(const char *pid, const char *unit, enum cgroup_test test) {
        char path[300], line[4096], needle[160];
        size_t nl = (size_t) snprintf(needle, sizeof needle, "/%s", unit);
        bool yes = false;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%s/cgroup", pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (fgets(line, sizeof line, f)) {
                const char *m;

                if (test == CGROUP_IN_UNIT)
                        yes |= (m = strstr(line, needle)) && (m[nl] == '\n' || m[nl] == '/' || m[nl] == '\0');
                else
                        yes |= (m = strstr(line, "/lanekeeper-lane@")) && strncmp(m + 1, unit, strlen(unit)) != 0;
        }
        fclose(f);
        return yes;
}

/* The name and real uid of process PID, from /proc/PID/status. */
static bool proc_status(const char *pid, char *comm, size_t size, unsigned long *ret_uid, bool *ret_zombie) {
        char path[300], line[256];
        FILE *f;

        snprintf(path, sizeof path, "/proc/%s/status", pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        *ret_uid = (unsigned long) -1;
        *ret_zombie = false;
        while (fgets(line, sizeof line, f)) {
                if (strncmp(line, "Name:", 5) == 0 && size > 1)
                        sscanf(line + 5, " %63s", comm);
                else if (strncmp(line, "State:", 6) == 0)
                        *ret_zombie = line[6 + strspn(line + 6, " \t")] == 'Z';
                else if (strncmp(line, "Uid:", 4) == 0)
                        *ret_uid = strtoul(line + 4, NULL, 10);
        }
        fclose(f);
        return true;
}

/* Every process PICK(pid, real uid, data) selects: their number, the first
 * few as "PID (comm)" into BUF. */
static size_t proc_select(bool (*pick)(const char *pid, unsigned long uid, const char *comm, const void *data),
                          const void *data, char *buf, size_t size) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        size_t n = 0, len = 0;

        buf[0] = '\0';
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                char comm[64] = "?";
                unsigned long ruid;
                bool zombie;

                if (de->d_name[0] < '1' || de->d_name[0] > '9' || !proc_status(de->d_name, comm, sizeof comm, &ruid, &zombie))
                        continue;
                if (!pick(de->d_name, ruid, zombie ? "" : comm, data))
                        continue;
                if (n < 4 && len < size)
                        len += (size_t) snprintf(buf + len, size - len, "%s%s (%s)", n ? ", " : "", de->d_name, comm);
                n++;
        }
        closedir(d);
        return n;
}

static bool pick_in_unit(const char *pid, unsigned long uid, const char *comm, const void *unit) {
        (void) uid, (void) comm;
        return cgroup_is(pid, unit, CGROUP_IN_UNIT);
}

struct user_pick {
        uid_t uid;
        const char *unit;
};

/* A process of the lane's user that could hold files in the lane directory:
 * all but those in another lane's unit, which see only their own lane
 * directory (the template's TemporaryFileSystem= and BindPaths=). */
static bool pick_user(const char *pid, unsigned long uid, const char *comm, const void *data) {
        const struct user_pick *u = data;

        (void) comm;

        return uid == (unsigned long) u->uid && !cgroup_is(pid, u->unit, CGROUP_IN_OTHER_LANE);
}

size_t exec_real_unit_processes(void *data, const char *unit, char *buf, size_t size) {
        (void) data;
        return proc_select(pick_in_unit, unit, buf, size);
}

size_t exec_real_user_processes(void *data, uid_t uid, const char *unit, char *buf, size_t size) {
        (void) data;
        return proc_select(pick_user, &(struct user_pick) { .uid = uid, .unit = unit }, buf, size);
}

/* A job's process: the runner's worker (actions/runner names it
 * Runner.Worker; one per job, a child of the listener, in the unit); a
 * worker that exited and waits to be reaped (a zombie) runs nothing. */
static bool pick_worker(const char *pid, unsigned long uid, const char *comm, const void *unit) {
        (void) uid;
        return strcmp(comm, "Runner.Worker") == 0 && cgroup_is(pid, unit, CGROUP_IN_UNIT);
}

size_t exec_real_unit_workers(void *data, const char *unit) {
        char buf[200];

        (void) data;
        return proc_select(pick_worker, unit, buf, sizeof buf);
}

/* The actions cache measurement the lane's unit left in its directory
 * (the maintainer reads it through the lane user's group). */
int exec_real_cache_stats(void *data, const struct lane_desired *d, struct proto_cache_stats *ret) {
        char path[PROTO_PATH_MAX + PROTO_LANE_NAME_MAX + 32], buf[PROTO_CACHE_STATS_MAX + 1];
        const char *reason;
        size_t n;
        FILE *f;

        (void) data;
        snprintf(path, sizeof path, "%s/%s/" PROTO_CACHE_STATS_FILE, d->root, d->name);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        return proto_cache_stats_decode(buf, n, ret, &reason);
}

/* Entries in the lane directory (the maintainer reads it through the lane
 * user's group): their number, or -errno. */
long exec_real_lane_dir_entries(void *data, const struct lane_desired *d) {
        char path[PROTO_PATH_MAX + PROTO_LANE_NAME_MAX + 2];
        struct dirent *de;
        long n = 0;
        DIR *dir;

        (void) data;
        snprintf(path, sizeof path, "%s/%s", d->root, d->name);
        dir = opendir(path);
        if (!dir)
                return -errno;
        while ((de = readdir(dir)))
                n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(dir);
        return n;
}

/* svc.sh's own unit for the lane's runner, when one is installed: svc.sh
 * names it actions.runner.<owner>-<repo>.<name>.service (or
 * actions.runner.<org>.<name>.service). The helper never touches it; the
 * operator is told exactly what to do with it. */
void exec_real_legacy_unit(void *data, const char *lane, char *buf, size_t size, bool *ret_enabled) {
        char pat[PROTO_LANE_NAME_MAX + 64], wants[PROTO_LANE_NAME_MAX + 300];
        glob_t g = {};
        struct stat st;

        (void) data;
        buf[0] = '\0';
        *ret_enabled = false;
        snprintf(pat, sizeof pat, "/etc/systemd/system/actions.runner.*.%s.service", lane);
        if (glob(pat, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0) {
                const char *base = strrchr(g.gl_pathv[0], '/') + 1;

                snprintf(buf, size, "%s", base);
                snprintf(wants, sizeof wants, "/etc/systemd/system/multi-user.target.wants/%s", base);
                *ret_enabled = lstat(wants, &st) == 0;
        }
        globfree(&g);
}
