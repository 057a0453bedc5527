/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A hand-off answer (a registration or a purge) offered on the lane's
 * one-shot socket by a child, while the parent has the helper start the
 * unit: enable-now returns only once the unit is up (or failed), and its
 * ExecStartPre= asks only as it starts. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-real.h"
#include "proto-register.h"
#include "register-offer.h"

struct exec_offer {
        struct reg_offer offer;
        pid_t child;
        int report;          /* the child's error, if any */
};

/* The offer server's socket path, for its SIGTERM handler (the child's
 * own copy of this variable: set only there). */
static const char *offer_child_path;

static void offer_child_term(int sig) {
        (void) sig;
        if (offer_child_path)
                (void) unlink(offer_child_path);
        _exit(1);
}

/* Nothing that outlives lanectl may hold the lane lock, the hand-off
 * socket or a token: the server drops every inherited fd but KEEP (its
 * report pipe; the lane lock is among those dropped), and dies, removing
 * its socket, when the lanectl that forked it dies. */
static void offer_child_confine(pid_t parent, const char *path, int keep) {
        offer_child_path = path;   /* first: a SIGTERM from here on removes the socket */
        (void) signal(SIGTERM, offer_child_term);
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                offer_child_term(0);   /* the parent died before we could ask to follow it */
        if (keep > 3)
                (void) close_range(3, (unsigned) keep - 1, 0);
        (void) close_range((unsigned) keep + 1, ~0U, 0);
}

/* The child: confined first, then it opens the socket itself (so that no
 * moment exists in which the socket is ours and no process would remove
 * it), says 'R' (ready) or 'E' and why on REPORT, and serves the offer. */
static _Noreturn void serve_child(struct exec_offer *o, const char *dir, const char *lane, int report, pid_t parent,
                                  uid_t uid, struct proto_register *reg) {
        char err[512];
        int r;

        offer_child_confine(parent, o->offer.path, report);
        r = reg_offer_open(&o->offer, dir, lane, err + 1, sizeof err - 1);
        if (r < 0) {
                proto_register_wipe(reg);
                err[0] = 'E';
                (void) !write(report, err, strlen(err));
                _exit(1);
        }
        if (write(report, "R", 1) != 1)
                offer_child_term(0);
        r = reg_offer_serve(&o->offer, uid, reg, EXEC_REGISTER_WAIT_S * 1000, err, sizeof err);
        proto_register_wipe(reg);
        (void) unlink(o->offer.path);   /* one-shot: gone once served, whether or not lanectl lives on */
        if (r < 0 && write(report, err, strlen(err)) < 0)
                _exit(2);
        _exit(r == 0 ? 0 : 1);
}

/* Wait for the child to say it listens; 0, or -errno with its reason. */
static int wait_ready(struct exec_offer *o, char *err, size_t errlen) {
        struct pollfd p = { .fd = o->report, .events = POLLIN };
        char c = 0;
        ssize_t n;

        if (poll(&p, 1, 10000) <= 0 || read(o->report, &c, 1) != 1 || c != 'R') {
                n = c == 'E' ? read(o->report, err, errlen - 1) : -1;
                if (n <= 0)
                        snprintf(err, errlen, "the offer's server did not start");
                else
                        err[n] = '\0';
                (void) kill(o->child, SIGTERM);
                while (waitpid(o->child, NULL, 0) < 0 && errno == EINTR)
                        ;
                return -EIO;
        }
        return 0;
}

int exec_real_offer_start(void *data, const struct lane_desired *d, uid_t uid, struct proto_register *reg,
                          struct exec_offer **ret, char *err, size_t errlen) {
        struct exec_real *x = data;
        struct exec_offer *o = calloc(1, sizeof *o);
        pid_t parent = getpid();
        int report[2], r;

        if (!o) {
                proto_register_wipe(reg);
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        }
        *o = (struct exec_offer) { .offer = { .fd = -EBADF }, .report = -EBADF };
        snprintf(o->offer.path, sizeof o->offer.path, "%s/%s.sock", x->register_dir, d->name);
        if (pipe2(report, O_CLOEXEC) < 0 || (o->child = fork()) < 0) {
                r = -errno;
                proto_register_wipe(reg);
                free(o);
                return snprintf(err, errlen, "cannot serve the offer: %s", strerror(-r)), r;
        }
        if (o->child == 0) {
                close(report[0]);
                serve_child(o, x->register_dir, d->name, report[1], parent, uid, reg);
        }
        close(report[1]);
        o->report = report[0];
        proto_register_wipe(reg);   /* the child holds the only copy */
        r = wait_ready(o, err, errlen);
        if (r < 0) {
                close(o->report);
                free(o);
                return r;
        }
        snprintf(err, errlen, "%s", o->offer.path);
        *ret = o;
        return 0;
}

/* Wait for the offer's server (WITHDRAW: nothing will ask, end it) and
 * remove the socket. Whether the answer was taken; ERR holds the server's
 * error otherwise ("" when it said nothing). */
bool exec_real_offer_end(void *data, struct exec_offer *o, bool withdraw, char *err, size_t errlen) {
        int status = 0;
        ssize_t n;

        (void) data;
        if (withdraw)
                (void) kill(o->child, SIGTERM);
        while (waitpid(o->child, &status, 0) < 0 && errno == EINTR)
                ;
        n = read(o->report, err, errlen - 1);
        err[n > 0 ? n : 0] = '\0';
        close(o->report);
        reg_offer_close(&o->offer);
        free(o);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
