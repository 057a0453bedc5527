/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanekeeper-register LANE: the lane unit's ExecStartPre= (see
 * lanekeeper-register(8)). Runs as the lane's user in the lane's directory,
 * with the lane's sandbox and no privilege. When nothing is offered and the
 * runner is registered (.runner present) it does nothing. If lanectl apply
 * offers a registration on PROTO_REGISTER_DIR/LANE.sock, it takes it once
 * (replacing a stale local registration: lanectl offers only when GitHub
 * lists no runner of the lane's name) and becomes ./config.sh --unattended with the URL, name, labels and group
 * as arguments and the token in ACTIONS_RUNNER_INPUT_TOKEN only (never in
 * argv, a file, or this program's output). No offer: it says so and exits
 * 0, and run.sh reports the runner unconfigured.
 *
 * lanekeeper-register --run LANE is the unit's ExecStart=: it becomes
 * ./run.sh, for a pool slot with one JIT configuration (slot-run.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <sys/acl.h>

#include "actions-cache.h"
#include "macro.h"
#include "proto-register.h"
#include "slot-run.h"

#define ANSWER_TIMEOUT_MS (30 * 1000)
#define EXIT_PURGED 3


/* lanectl remove --purge: the lane's directory emptied as the lane's user
 * (it is the only one who owns what is in it); the directory itself stays,
 * its parent being root's. Exits EXIT_PURGED so that the runner does not
 * start. */
static int purge(const char *lane) {
        _cleanup_(closep) int dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        size_t count = 0;
        int r = dfd < 0 ? -errno : cache_empty_dir(dfd, 0, &count);

        if (r < 0) {
                fprintf(stderr, "lanekeeper-register: %s: purge stopped after %zu entries: %s\n", lane, count, strerror(-r));
                return 1;
        }
        printf("lanekeeper-register: %s: purged the lane directory (%zu entries removed); the runner is not started\n",
               lane, count);
        return EXIT_PURGED;
}

/* The actions cache measured for lanectl (status, health): at every start,
 * never failing it. */
static void measure(const char *lane) {
        _cleanup_(closep) int dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct proto_cache_stats st;

        if (dfd < 0 || cache_measure(dfd, time(NULL), &st) < 0 || cache_write_stats(dfd, &st) < 0)
                fprintf(stderr, "lanekeeper-register: %s: cannot measure the actions cache: %m\n", lane);
}

/* lanectl health: the actions cache cleared (every entry, or those older
 * than MAX_AGE_DAYS and the damaged ones), measured again; then the start
 * goes on as any other. 0, or 1 when something could not be removed. */
static int clear_actions(const char *lane, unsigned max_age_days) {
        _cleanup_(closep) int dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct proto_cache_stats st = {};
        size_t removed = 0;
        int r = dfd < 0 ? -errno : cache_clear(dfd, time(NULL), max_age_days, &removed, &st);

        if (dfd >= 0 && cache_write_stats(dfd, &st) < 0)
                fprintf(stderr, "lanekeeper-register: %s: cannot record the actions cache: %m\n", lane);
        if (r < 0) {
                fprintf(stderr, "lanekeeper-register: %s: clearing the actions cache stopped after %zu entries: %s\n",
                        lane, removed, strerror(-r));
                return 1;
        }
        if (max_age_days)
                printf("lanekeeper-register: %s: removed %zu actions cache entries (older than %u days, or damaged); "
                       "%llu left\n", lane, removed, max_age_days, st.entries);
        else
                printf("lanekeeper-register: %s: cleared the actions cache (%zu entries removed)\n", lane, removed);
        return 0;
}

/* lanectl gate run: the runner's work directory _work (its checkouts,
 * temporary files, tools and actions cache) emptied as the lane's user,
 * never following a symlink, so that each gated run starts from the same
 * state; measured again; then the runner starts as it would. 0, or 1 when
 * something could not be removed (the start fails: no run on a dirty
 * directory). */
static int reset_work(const char *lane) {
        _cleanup_(closep) int work = openat(AT_FDCWD, "_work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        size_t count = 0;
        int r = work >= 0 ? cache_empty_dir(work, 0, &count) : errno == ENOENT ? 0 : -errno;

        measure(lane);
        if (r < 0) {
                fprintf(stderr, "lanekeeper-register: %s: the work reset stopped after %zu entries: %s\n", lane, count,
                        strerror(-r));
                return 1;
        }
        printf("lanekeeper-register: %s: reset the work directory _work (%zu entries removed)\n", lane, count);
        return 0;
}

/* The runner's _diag, made (where a runner is installed) or kept so that
 * the lane user's group, the maintainer, can read what the runner traces
 * there: mode 0750 and a default ACL that gives new files and directories
 * group read, which the unit's UMask=0077 would take away. lanectl's gates
 * watch it for the runner saying it listens (lanekeeper-register(8)).
 * Never fatal: without it they poll. */
static void open_diag(const char *lane) {
        _cleanup_(closep) int fd = -EBADF;
        char path[64];
        acl_t acl;
        struct stat st;
        int r;

        if (fstatat(AT_FDCWD, "config.sh", &st, AT_SYMLINK_NOFOLLOW) < 0)
                return;   /* no runner here (yet): nothing traces */
        if (mkdirat(AT_FDCWD, "_diag", 0750) < 0 && errno != EEXIST)
                goto fail;
        fd = openat(AT_FDCWD, "_diag", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchmod(fd, 0750) < 0 || !(acl = acl_from_text("u::rwx,g::r-x,o::---")))
                goto fail;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);   /* the directory opened, not a name a job could swap */
        r = acl_set_file(path, ACL_TYPE_DEFAULT, acl) < 0 ? errno : 0;
        acl_free(acl);
        if (r == 0)
                return;
        errno = r;
fail:
        fprintf(stderr, "lanekeeper-register: %s: _diag: %m (lanectl polls instead of watching the runner)\n", lane);
}

static int fail(const char *lane, const char *what) {
        fprintf(stderr, "lanekeeper-register: %s: %s\n", lane, what);
        return 1;
}

static void wipe_bufp(char **p) {
        if (*p) {
                explicit_bzero(*p, PROTO_REGISTER_MAX + 1);
                free(*p);
        }
}

static void wipe_regp(struct proto_register **p) {
        if (*p) {
                proto_register_wipe(*p);
                free(*p);
        }
}

/* Connect to the lane's offer: the socket's fd, or -1 when nothing is
 * offered (then the caller says so). */
static int connect_offer(const char *lane) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_(closep) int fd = -EBADF;
        struct stat st;

        /* The offer's directory must be root's and not writable by others,
         * or anybody could pose as lanectl and collect nothing, or worse,
         * hand us a registration of their choosing. */
        if (lstat(PROTO_REGISTER_DIR, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & S_IWOTH))
                return -1;
        if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s.sock", PROTO_REGISTER_DIR, lane) >= (int) sizeof sa.sun_path)
                return -1;
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -1;
        return TAKE_FD(fd);
}

/* Ask the offer on FD for LANE's answer into *REG (both buffers that hold
 * the token are wiped here or by the caller). 0, or 1 with a message. */
static int ask(int fd, const char *lane, struct proto_register *reg) {
        _cleanup_(wipe_bufp) char *buf = malloc(PROTO_REGISTER_MAX + 1);
        const char *reason = NULL;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        size_t len;
        ssize_t n;

        if (!buf)
                return fail(lane, "out of memory");
        if (proto_register_encode_request(lane, buf, PROTO_REGISTER_MAX + 1, &len) < 0 ||
            send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t) len)
                return fail(lane, "cannot ask for the registration");
        if (poll(&p, 1, ANSWER_TIMEOUT_MS) <= 0)
                return fail(lane, "no answer from lanectl within 30 s");
        n = recv(fd, buf, PROTO_REGISTER_MAX, MSG_TRUNC);
        if (n <= 0 || (size_t) n >= PROTO_REGISTER_MAX + 1)
                return fail(lane, n == 0 ? "lanectl refused this process (not the lane's user or unit)"
                                         : "unreadable answer from lanectl");
        if (proto_register_decode(buf, (size_t) n, reg, &reason) < 0) {
                fprintf(stderr, "lanekeeper-register: %s: the registration offered is invalid: %s\n", lane, reason);
                return 1;
        }
        if (strcmp(reg->name, lane) != 0)
                return fail(lane, "the registration offered names another runner");
        return 0;
}

/* lanectl offers a registration only when GitHub lists no runner of this
 * name: a .runner here is then a registration GitHub deleted (lanectl
 * remove, or 14 days offline). Forget it as 'config.sh remove --local'
 * would, so that config.sh can register afresh. */
static int forget_stale(const char *lane) {
        static const char *const stale[] = { ".runner", ".credentials", ".credentials_rsaparams" };

        printf("lanekeeper-register: %s: GitHub lists no runner named %s; forgetting the stale local registration\n",
               lane, lane);
        for (size_t i = 0; i < ELEMENTSOF(stale); i++)
                if (unlinkat(AT_FDCWD, stale[i], 0) < 0 && errno != ENOENT)
                        return fail(lane, "cannot remove the stale local registration");
        return 0;
}

/* lanectl revoke: the registration and the credentials removed, as the
 * lane's user (the runner install and the work directory stay); exits
 * EXIT_PURGED so that the runner does not start. */
static int forget_revoked(const char *lane) {
        static const char *const creds[] = { ".runner", ".credentials", ".credentials_rsaparams" };
        size_t removed = 0;

        for (size_t i = 0; i < ELEMENTSOF(creds); i++) {
                if (unlinkat(AT_FDCWD, creds[i], 0) == 0)
                        removed++;
                else if (errno != ENOENT) {
                        fprintf(stderr, "lanekeeper-register: %s: cannot remove %s: %m\n", lane, creds[i]);
                        return 1;
                }
        }
        printf("lanekeeper-register: %s: revoked: removed the registration and credentials (%zu files); the runner is "
               "not started\n", lane, removed);
        return EXIT_PURGED;
}

/* Become ./config.sh with REG: the token in the environment only. Returns
 * only on failure. */
static int become_config_sh(const char *lane, struct proto_register *reg) {
        char *args[16];
        struct stat st;
        int a = 0;

        /* config.sh: ours, a regular file, reached without a symlink. */
        if (fstatat(AT_FDCWD, "config.sh", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
                return fail(lane, "config.sh is missing, not a regular file, not the lane user's, or writable by others");
        if (setenv("ACTIONS_RUNNER_INPUT_TOKEN", reg->token, 1) < 0)
                return fail(lane, "cannot pass the token");
        args[a++] = (char *) "./config.sh";
        args[a++] = (char *) "--unattended";
        args[a++] = (char *) "--url";
        args[a++] = reg->url;
        args[a++] = (char *) "--name";
        args[a++] = reg->name;
        args[a++] = (char *) "--labels";
        args[a++] = reg->labels;
        args[a++] = (char *) "--no-default-labels";
        if (reg->group[0]) {
                args[a++] = (char *) "--runnergroup";
                args[a++] = reg->group;
        }
        args[a++] = (char *) "--work";
        args[a++] = (char *) "_work";
        args[a] = NULL;
        explicit_bzero(reg->token, sizeof reg->token);   /* the environment holds the only copy now */
        printf("lanekeeper-register: %s: registering with %s as %s (labels %s)\n", lane, reg->url, reg->name, reg->labels);
        fflush(stdout);
        execv("./config.sh", args);
        unsetenv("ACTIONS_RUNNER_INPUT_TOKEN");
        return fail(lane, "cannot run ./config.sh");
}

int main(int argc, char **argv) {
        _cleanup_(wipe_regp) struct proto_register *reg = calloc(1, sizeof *reg);
        _cleanup_(closep) int fd = -EBADF;
        const char *lane, *reason = NULL;
        struct stat st;
        bool registered, run_phase = false;
        int r;

        if (argc == 3 && strcmp(argv[1], "--run") == 0)
                run_phase = true;
        else if (argc != 2) {
                fprintf(stderr, "usage: lanekeeper-register [--run] LANE (run by the lane unit, see lanekeeper-register(8))\n");
                return 2;
        }
        lane = argv[argc - 1];
        if (!reg)
                return fail(lane, "out of memory");
        if (proto_validate_lane_name(lane, &reason) < 0)
                return fail(lane, "not a lane name");
        if (geteuid() == 0)
                return fail(lane, "refusing to run as root: the lane unit runs it as the lane's user");
        fd = connect_offer(lane);
        if (run_phase)
                return slot_run(lane, TAKE_FD(fd));
        registered = fstatat(AT_FDCWD, ".runner", &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (fd < 0) {
                open_diag(lane);
                measure(lane);
                if (!registered)   /* registered, nothing offered: the common case, every start */
                        printf("lanekeeper-register: %s: not registered (no .runner) and no registration offered; "
                               "run: lanectl apply %s\n", lane, lane);
                return 0;
        }
        r = ask(fd, lane, reg);
        if (r != 0)
                return r;
        closep(&fd);
        if (reg->purge)
                return purge(lane);
        if (reg->forget)
                return forget_revoked(lane);
        if (reg->slot) {   /* the run phase takes a JIT configuration */
                printf("lanekeeper-register: %s: a pool slot: nothing to register\n", lane);
                return 0;
        }
        open_diag(lane);   /* the runner starts after what follows */
        if (reg->clear_actions || reg->reset_work) {
                r = reg->reset_work ? reset_work(lane) : clear_actions(lane, reg->max_age_days);
                if (r == 0 && !registered)
                        printf("lanekeeper-register: %s: not registered (no .runner); run: lanectl apply %s\n", lane, lane);
                return r;
        }
        if (registered && forget_stale(lane) != 0)
                return 1;
        return become_config_sh(lane, reg);
}
