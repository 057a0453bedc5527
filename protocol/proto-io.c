/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto-codec.h"
#include "proto-io.h"

#define PROTO_MAX_FDS 8

int proto_send_fds(int fd, const void *buf, size_t len, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * PROTO_MAX_FDS)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (len > PROTO_MAX_MESSAGE)
                return -EMSGSIZE;
        if (n_fds > PROTO_MAX_FDS)
                return -ETOOMANYREFS;
        if (n_fds > 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        do
                n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t) n != len)
                return -EIO;
        return 0;
}

int proto_send(int fd, const void *buf, size_t len) {
        return proto_send_fds(fd, buf, len, NULL, 0);
}

/* Take the fds of one SCM_RIGHTS message: all of them are ours to close. */
static int take_fds(struct msghdr *mh, int *fds, size_t max, size_t *n) {
        int r = 0;

        *n = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                const int *p = (const int *) CMSG_DATA(c);
                size_t count;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < count; i++) {
                        int f;

                        memcpy(&f, p + i, sizeof f);
                        if (*n < max)
                                fds[(*n)++] = f;
                        else {
                                close(f);
                                r = -ETOOMANYREFS;
                        }
                }
        }
        if (mh->msg_flags & MSG_CTRUNC)
                r = -ETOOMANYREFS;
        if (r < 0) {
                for (size_t i = 0; i < *n; i++)
                        close(fds[i]);
                *n = 0;
        }
        return r;
}

ssize_t proto_recv_fds(int fd, void *buf, size_t size, int *fds, size_t max, size_t *ret_n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * PROTO_MAX_FDS)];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control };
        size_t n_fds = 0;
        ssize_t n;
        int r;

        do
                n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        /* A peer that closed without reading what we sent leaves ECONNRESET
         * pending, and the kernel reports it ahead of any packet the peer
         * queued before closing (its answer). Once reported the error is
         * cleared: look once more, without waiting, for that packet. */
        if (n < 0 && errno == ECONNRESET) {
                mh.msg_controllen = sizeof control;
                do
                        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
                while (n < 0 && errno == EINTR);
                if (n < 0 && errno == EAGAIN)
                        errno = ECONNRESET;
        }
        if (n < 0)
                return -errno;
        r = take_fds(&mh, fds, max, &n_fds);
        if (ret_n_fds)
                *ret_n_fds = n_fds;
        if (r < 0)
                return r;
        if (n == 0 || (mh.msg_flags & MSG_TRUNC)) {
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
                if (ret_n_fds)
                        *ret_n_fds = 0;
                return n == 0 ? -ECONNRESET : -EMSGSIZE;
        }
        return n;
}

ssize_t proto_recv(int fd, void *buf, size_t size) {
        return proto_recv_fds(fd, buf, size, NULL, 0, NULL);
}
