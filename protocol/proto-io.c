/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <sys/socket.h>

#include "proto-codec.h"
#include "proto-io.h"

int proto_send(int fd, const void *buf, size_t len) {
        ssize_t n;

        if (len > PROTO_MAX_MESSAGE)
                return -EMSGSIZE;
        do
                n = send(fd, buf, len, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t) n != len)
                return -EIO;
        return 0;
}

ssize_t proto_recv(int fd, void *buf, size_t size) {
        struct iovec iov = { .iov_base = buf, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        do
                n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        /* A peer that closed without reading what we sent leaves ECONNRESET
         * pending, and the kernel reports it ahead of any packet the peer
         * queued before closing (its answer). Once reported the error is
         * cleared: look once more, without waiting, for that packet. */
        if (n < 0 && errno == ECONNRESET) {
                do
                        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
                while (n < 0 && errno == EINTR);
                if (n < 0 && errno == EAGAIN)
                        errno = ECONNRESET;
        }
        if (n < 0)
                return -errno;
        if (n == 0)
                return -ECONNRESET;
        if (mh.msg_flags & MSG_TRUNC)
                return -EMSGSIZE;
        return n;
}
