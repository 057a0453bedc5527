/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"
#include "proto-peer.h"
#include "proto-register.h"
#include "register-offer.h"
#include "slot-serve.h"
#include "store-file.h"

int slot_server_open(struct slot_server *s, const char *dir, const char *slot, uid_t uid, char *err, size_t errlen) {
        struct reg_offer o;
        int r = reg_offer_open(&o, dir, slot, err, errlen);   /* the same socket, made the same way */

        *s = (struct slot_server) { .fd = -EBADF, .conn = -EBADF, .uid = uid };
        snprintf(s->slot, sizeof s->slot, "%s", slot);
        if (r < 0)
                return r;
        s->fd = o.fd;
        snprintf(s->path, sizeof s->path, "%s", o.path);
        return 0;
}

/* The connection ended for its peer (shut down: it reads its end at once,
 * whatever child process holds a copy of the fd) but its fd left open:
 * the caller removes the fd's event source before slot_server_drop()
 * closes it. An fd closed first would leave its epoll registration behind
 * while a forked child (the long poll's) holds the same file, and the
 * loop would later be woken for a source already freed. */
static void finish(struct slot_server *s) {
        if (s->conn >= 0)
                (void) shutdown(s->conn, SHUT_RDWR);
        s->want_report = false;
}

void slot_server_drop(struct slot_server *s) {
        finish(s);
        if (s->conn >= 0)
                close(s->conn);
        s->conn = -EBADF;
}

void slot_server_close(struct slot_server *s) {
        slot_server_drop(s);
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -EBADF;
        if (s->path[0])
                (void) unlink(s->path);
        s->path[0] = '\0';
}

int slot_server_accept(struct slot_server *s) {
        _cleanup_(closep) int cfd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        struct ucred cred = { .pid = 0, .uid = (uid_t) -1 };
        const char *reason = NULL;
        char cgroup[512];

        if (cfd < 0)
                return 0;
        if (proto_peer_cgroup(cfd, &cred, cgroup, sizeof cgroup, &reason) < 0)
                ;
        else if (cred.uid != s->uid)
                reason = "not the slot's user";
        else if (!reg_cgroup_is_lane_unit(cgroup, s->slot))
                reason = "not inside the slot's own unit";
        else if (s->conn >= 0)
                reason = "another request of the slot is being served";
        else {
                s->conn = TAKE_FD(cfd);
                s->want_report = false;
                return 1;
        }
        s->refused++;
        fprintf(stderr, "lanectl: %s: refused a request from uid %ld pid %ld: %s\n", s->slot, (long) (int) cred.uid,
                (long) cred.pid, reason ?: "?");
        return 0;
}

static void wipe_bufp(char **p) {
        if (*p) {
                explicit_bzero(*p, PROTO_SLOT_MAX + 1);
                free(*p);
        }
}

static enum slot_step answer(struct slot_server *s, const char *buf, size_t len, enum slot_step how, char *err,
                             size_t errlen) {
        if (send(s->conn, buf, len, MSG_NOSIGNAL) != (ssize_t) len) {
                snprintf(err, errlen, "%s: cannot answer: %s", s->slot, strerror(errno));
                how = SLOT_STEP_REFUSED;
        }
        finish(s);
        return how;
}

static enum slot_step refuse(struct slot_server *s, const struct slot_hooks *h, const char *why, char *buf, char *err,
                             size_t errlen) {
        size_t len;

        snprintf(err, errlen, "%s: %s", s->slot, why);
        if (h->verdict)
                h->verdict(h->data, s->slot, true, why);
        if (proto_slot_encode_verdict(NULL, why, buf, PROTO_SLOT_MAX + 1, &len) < 0) {
                finish(s);
                return SLOT_STEP_REFUSED;
        }
        return answer(s, buf, len, SLOT_STEP_REFUSED, err, errlen);
}

/* The report: the install proved (or kept, the first time), then a JIT
 * configuration handed over. */
static enum slot_step on_report(struct slot_server *s, const struct slot_hooks *h, char *buf, size_t n, char *err,
                                size_t errlen) {
        char fp[PROTO_SHA256_HEX_SIZE], keep[PROTO_SLOT_KEEP_BUF], had_fp[PROTO_SHA256_HEX_SIZE], had_keep[PROTO_SLOT_KEEP_BUF];
        _cleanup_(freep) char *jit = NULL;
        const char *reason = NULL;
        size_t len;
        int r;

        if (proto_slot_decode_report(buf, n, fp, keep, &reason) < 0)
                return refuse(s, h, reason, buf, err, errlen);
        if (slot_install_load(h->store_fd, s->slot, had_keep, had_fp) < 0)
                return refuse(s, h, "the install kept for this slot cannot be read", buf, err, errlen);
        if (!had_keep[0]) {
                if (slot_install_save(h->store_fd, s->slot, keep, fp) < 0)
                        return refuse(s, h, "the install cannot be kept in the store", buf, err, errlen);
        } else if (strcmp(had_keep, keep) != 0)
                return refuse(s, h, "the runner install lost entries since its first run (remove the slot's kept install "
                              "once it is pristine again)", buf, err, errlen);
        else if (strcmp(had_fp, fp) != 0)
                return refuse(s, h, "the runner install changed since its first run (remove the slot's kept install "
                              "once it is pristine again)", buf, err, errlen);
        r = h->jit(h->data, s->slot, &jit, err, errlen);
        if (r < 0) {
                finish(s);   /* the unit's run phase fails; systemd restarts it */
                return SLOT_STEP_REFUSED;
        }
        r = proto_slot_encode_verdict(jit, NULL, buf, PROTO_SLOT_MAX + 1, &len);
        explicit_bzero(jit, strlen(jit));
        if (r < 0) {
                snprintf(err, errlen, "%s: GitHub's JIT configuration is not one line of base64", s->slot);
                finish(s);
                return SLOT_STEP_REFUSED;
        }
        if (h->verdict)
                h->verdict(h->data, s->slot, false, NULL);
        if (answer(s, buf, len, SLOT_STEP_DONE, err, errlen) == SLOT_STEP_DONE)
                return SLOT_STEP_DONE;
        if (h->lost)
                h->lost(h->data, s->slot);
        return SLOT_STEP_REFUSED;
}

enum slot_step slot_server_step(struct slot_server *s, const struct slot_hooks *h, char *err, size_t errlen) {
        _cleanup_(wipe_bufp) char *buf = malloc(PROTO_SLOT_MAX + 1);
        char slot[PROTO_LANE_NAME_MAX + 1], keep[PROTO_SLOT_KEEP_BUF], fp[PROTO_SHA256_HEX_SIZE];
        struct proto_register reg = { .slot = true };
        const char *reason = NULL;
        size_t len;
        ssize_t n;

        err[0] = '\0';
        if (!buf || s->conn < 0) {
                finish(s);
                return SLOT_STEP_REFUSED;
        }
        n = recv(s->conn, buf, PROTO_SLOT_MAX, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return SLOT_STEP_WAIT;
        if (n <= 0 || n > PROTO_SLOT_MAX) {
                snprintf(err, errlen, "%s: the slot's unit went away mid-request", s->slot);
                finish(s);
                return SLOT_STEP_REFUSED;
        }
        if (s->want_report)
                return on_report(s, h, buf, (size_t) n, err, errlen);
        if (proto_register_decode_request(buf, (size_t) n, slot, &reason) == 0 && strcmp(slot, s->slot) == 0) {
                snprintf(reg.name, sizeof reg.name, "%s", s->slot);   /* ExecStartPre=: nothing to register */
                if (proto_register_encode(&reg, buf, PROTO_SLOT_MAX + 1, &len, &reason) < 0)
                        return refuse(s, h, reason, buf, err, errlen);
                return answer(s, buf, len, SLOT_STEP_DONE, err, errlen);
        }
        if (proto_slot_decode_request(buf, (size_t) n, slot, &reason) < 0 || strcmp(slot, s->slot) != 0) {
                snprintf(err, errlen, "%s: not a request of this slot: %s", s->slot, reason ?: "another slot");
                finish(s);
                return SLOT_STEP_REFUSED;
        }
        if (slot_install_load(h->store_fd, s->slot, keep, fp) < 0 ||
            proto_slot_encode_rules(s->slot, keep, buf, PROTO_SLOT_MAX + 1, &len) < 0)
                return refuse(s, h, "the install kept for this slot cannot be read", buf, err, errlen);
        if (send(s->conn, buf, len, MSG_NOSIGNAL) != (ssize_t) len) {
                snprintf(err, errlen, "%s: cannot send the rules: %s", s->slot, strerror(errno));
                finish(s);
                return SLOT_STEP_REFUSED;
        }
        s->want_report = true;
        return SLOT_STEP_WAIT;
}

static void install_name(const char *slot, char *buf, size_t size) {
        snprintf(buf, size, "slot-%s.install", slot);
}

int slot_install_load(int store_fd, const char *slot, char keep[PROTO_SLOT_KEEP_BUF], char fp[PROTO_SHA256_HEX_SIZE]) {
        _cleanup_(freep) char *text = NULL;
        const char *reason;
        char name[PROTO_LANE_NAME_MAX + 16];
        size_t len;
        int r;

        keep[0] = fp[0] = '\0';
        install_name(slot, name, sizeof name);
        r = store_read_file(store_fd, name, PROTO_SLOT_KEEP_BUF + 128, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        /* the report's shape with the keys swapped: "keep=...\nfingerprint=...\n" */
        {
                char *nl = strchr(text, '\n');

                if (strncmp(text, "keep=", 5) != 0 || !nl || strncmp(nl + 1, "fingerprint=", 12) != 0)
                        return -EBADMSG;
                *nl = '\0';
                snprintf(keep, PROTO_SLOT_KEEP_BUF, "%s", text + 5);
                snprintf(fp, PROTO_SHA256_HEX_SIZE, "%.64s", nl + 13);
        }
        if (!keep[0] || proto_slot_validate_keep(keep, &reason) < 0 || strlen(fp) != PROTO_SHA256_HEX_SIZE - 1)
                return -EBADMSG;
        return 0;
}

int slot_install_save(int store_fd, const char *slot, const char *keep, const char *fp) {
        char name[PROTO_LANE_NAME_MAX + 16], text[PROTO_SLOT_KEEP_BUF + 128];
        int n = snprintf(text, sizeof text, "keep=%s\nfingerprint=%s\n", keep, fp);

        install_name(slot, name, sizeof name);
        if (n < 0 || (size_t) n >= sizeof text)
                return -ENOBUFS;
        return store_write_atomic(store_fd, name, text, (size_t) n, true);
}

int slot_install_forget(int store_fd, const char *slot) {
        char name[PROTO_LANE_NAME_MAX + 16];

        install_name(slot, name, sizeof name);
        return unlinkat(store_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}
