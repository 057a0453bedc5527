/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The supervisor's side of the slot hand-off (proto-slot.h): one
 * listening socket per slot, PROTO_REGISTER_DIR/SLOT.sock, that answers
 * the slot's own unit only (its user, its cgroup), one connection at a
 * time, without blocking: the event loop calls slot_server_accept() when
 * the socket is readable and slot_server_step() when the connection is.
 * The install a slot proved at its first run is kept in the store
 * (STORE/slot-SLOT.install, "keep=LIST\nfingerprint=HEX\n"): a later run
 * whose install differs is refused, and gets no JIT configuration. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto-slot.h"
#include "proto-validate.h"

struct slot_server {
        int fd;                         /* listening */
        int conn;                       /* the connection being served, -1: none */
        bool want_report;               /* the rules were sent */
        long long conn_since_ms;
        uid_t uid;
        char path[128];
        char slot[PROTO_LANE_NAME_MAX + 1];
        unsigned refused;               /* connections from elsewhere */
};

/* What serving needs from the supervisor. */
struct slot_hooks {
        /* A JIT configuration for SLOT (a secret, base64): 0 with *RET
         * (caller frees after wiping), or <0 with ERR. */
        int (*jit)(void *data, const char *slot, char **ret, char *err, size_t errlen);
        /* The install of SLOT was refused (REASON) or proved. */
        void (*verdict)(void *data, const char *slot, bool refused, const char *reason);
        /* The JIT configuration jit() made for SLOT could not be sent (the
         * slot's unit went away): what it registered must go. May be NULL. */
        void (*lost)(void *data, const char *slot);
        int store_fd;                   /* where the installs are kept */
        void *data;
};

enum slot_step {
        SLOT_STEP_WAIT,                 /* more to come on this connection */
        SLOT_STEP_DONE,                 /* answered (a registration, or a JIT configuration); ended */
        SLOT_STEP_REFUSED,              /* refused (the install, or a protocol error); ended */
};

int slot_server_open(struct slot_server *s, const char *dir, const char *slot, uid_t uid, char *err, size_t errlen);
void slot_server_close(struct slot_server *s);

/* Accept one connection: kept when it comes from the slot's own unit and
 * none is being served, else closed (logged to stderr). 1 kept, 0 not. */
int slot_server_accept(struct slot_server *s);

/* Serve the connection one message further. Anything but SLOT_STEP_WAIT
 * ends it: shut down (its peer sees the end at once) with its fd still
 * open, for the caller to remove the fd's event source first and then
 * slot_server_drop(). */
enum slot_step slot_server_step(struct slot_server *s, const struct slot_hooks *h, char *err, size_t errlen);

/* Drop the connection (ended, or a deadline passed): shut down and closed.
 * Its event source, if any, is removed before. */
void slot_server_drop(struct slot_server *s);

/* The install kept for SLOT: KEEP "" when none is (the first run). */
int slot_install_load(int store_fd, const char *slot, char keep[PROTO_SLOT_KEEP_BUF], char fp[PROTO_SHA256_HEX_SIZE]);
int slot_install_save(int store_fd, const char *slot, const char *keep, const char *fp);
/* Forget it (the install is pristine again: its next run is a first one). */
int slot_install_forget(int store_fd, const char *slot);
