/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto-peer.h"
#include "macro.h"
#include "register-offer.h"
#include "proto-time.h"

bool reg_cgroup_is_lane_unit(const char *cgroup, const char *lane) {
        char want[PROTO_LANE_NAME_MAX + 32];
        const char *last = strrchr(cgroup, '/');
        const char *reason;

        if (!last || proto_validate_lane_name(lane, &reason) < 0)
                return false;
        snprintf(want, sizeof want, "lanekeeper-lane@%s.service", lane);
        return strcmp(last + 1, want) == 0;
}

int reg_offer_open(struct reg_offer *o, const char *dir, const char *lane, char *err, size_t errlen) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *reason;
        struct stat st;
        mode_t old;
        int r;

        *o = (struct reg_offer) { .fd = -EBADF };
        if (proto_validate_lane_name(lane, &reason) < 0)
                return snprintf(err, errlen, "not a lane name: %s", reason), -EINVAL;
        if (lstat(dir, &st) < 0)
                return snprintf(err, errlen, "%s: %s (is lanekeeper's tmpfiles.d entry installed?)", dir, strerror(errno)), -errno;
        if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & S_IWOTH))
                return snprintf(err, errlen, "%s is not a directory of root's (or ours) closed to others", dir), -EPERM;
        if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s.sock", dir, lane) >= (int) sizeof sa.sun_path)
                return snprintf(err, errlen, "socket path too long"), -ENAMETOOLONG;
        snprintf(o->path, sizeof o->path, "%s", sa.sun_path);
        snprintf(o->lane, sizeof o->lane, "%s", lane);
        o->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (o->fd < 0)
                return snprintf(err, errlen, "socket: %s", strerror(errno)), -errno;
        /* A socket left by a killed lanectl: the lane lock we hold proves
         * nobody serves it now. */
        if (unlink(o->path) < 0 && errno != ENOENT) {
                r = -errno;
                snprintf(err, errlen, "cannot replace %s: %s", o->path, strerror(errno));
                reg_offer_close(o);
                return r;
        }
        old = umask(0111);   /* anyone may connect; admission is by credentials */
        r = bind(o->fd, (struct sockaddr *) &sa, sizeof sa) < 0 ? -errno : 0;
        umask(old);
        if (r == 0 && listen(o->fd, 8) < 0)
                r = -errno;
        if (r < 0) {
                snprintf(err, errlen, "cannot listen on %s: %s", o->path, strerror(-r));
                o->path[0] = r == -EADDRINUSE ? '\0' : o->path[0];
                reg_offer_close(o);
                return r;
        }
        return 0;
}

static void wipe_registerp(char **p) {
        if (*p) {
                explicit_bzero(*p, PROTO_REGISTER_MAX + 1);
                free(*p);
        }
}

/* One connection: 1 answered, 0 refused, <0 error. */
static int serve_one(struct reg_offer *o, int cfd, uid_t lane_uid, const struct proto_register *r, char *err,
                     size_t errlen) {
        _cleanup_(wipe_registerp) char *buf = malloc(PROTO_REGISTER_MAX + 1);   /* holds the token: wiped on return */
        char cgroup[512], lane[PROTO_LANE_NAME_MAX + 1];
        const char *reason = NULL;
        struct ucred cred = { .pid = 0, .uid = (uid_t) -1 };
        struct pollfd p = { .fd = cfd, .events = POLLIN };
        size_t len;
        ssize_t n;
        int ret;

        if (!buf)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        if (proto_peer_cgroup(cfd, &cred, cgroup, sizeof cgroup, &reason) < 0)
                goto refuse;
        if (cred.uid != lane_uid) {
                reason = "not the lane's user";
                goto refuse;
        }
        if (!reg_cgroup_is_lane_unit(cgroup, o->lane)) {
                reason = "not inside the lane's own unit";
                goto refuse;
        }
        if (poll(&p, 1, 5000) <= 0 || (n = recv(cfd, buf, PROTO_REGISTER_MAX, MSG_DONTWAIT)) <= 0) {
                reason = "sent no request";
                goto refuse;
        }
        if (proto_register_decode_request(buf, (size_t) n, lane, &reason) < 0)
                goto refuse;
        if (strcmp(lane, o->lane) != 0) {
                reason = "asked for another lane";
                goto refuse;
        }
        ret = proto_register_encode(r, buf, PROTO_REGISTER_MAX + 1, &len, &reason);
        if (ret < 0) {
                snprintf(err, errlen, "the registration is invalid: %s", reason);
                return ret;
        }
        n = send(cfd, buf, len, MSG_NOSIGNAL);
        if (n != (ssize_t) len) {
                snprintf(err, errlen, "cannot hand the registration over: %s", n < 0 ? strerror(errno) : "short send");
                return -EIO;
        }
        return 1;
refuse:
        o->refused++;
        fprintf(stderr, "lanectl: %s: refused a registration request from uid %ld pid %ld: %s\n", o->lane,
                (long) (int) cred.uid, (long) cred.pid, reason ?: "?");
        return 0;
}

int reg_offer_serve(struct reg_offer *o, uid_t lane_uid, const struct proto_register *r, int timeout_ms, char *err,
                    size_t errlen) {
        long long deadline = proto_now_ms() + timeout_ms;

        for (;;) {
                long long left = deadline - proto_now_ms();
                struct pollfd p = { .fd = o->fd, .events = POLLIN };
                _cleanup_(closep) int cfd = -EBADF;
                int ret;

                if (left <= 0) {
                        snprintf(err, errlen, "the lane's unit did not ask for its registration within %d s%s", timeout_ms / 1000,
                                 o->refused ? " (requests from elsewhere were refused)" : "");
                        return -ETIMEDOUT;
                }
                ret = poll(&p, 1, (int) (left > 1000 ? 1000 : left));
                if (ret < 0 && errno != EINTR)
                        return snprintf(err, errlen, "poll: %s", strerror(errno)), -errno;
                if (ret <= 0)
                        continue;
                cfd = accept4(o->fd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd < 0)
                        continue;
                ret = serve_one(o, cfd, lane_uid, r, err, errlen);
                if (ret != 0)
                        return ret < 0 ? ret : 0;
        }
}

void reg_offer_close(struct reg_offer *o) {
        if (o->fd >= 0)
                close(o->fd);
        o->fd = -EBADF;
        if (o->path[0])
                (void) unlink(o->path);
        o->path[0] = '\0';
}
