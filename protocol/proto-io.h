/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One message in, one message out, over a connected SOCK_SEQPACKET fd. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Send all of buf as one packet; -EMSGSIZE if it does not fit a message. */
int proto_send(int fd, const void *buf, size_t len);
/* The same with N_FDS (at most 8) file descriptors passed along (SCM_RIGHTS). */
int proto_send_fds(int fd, const void *buf, size_t len, const int *fds, size_t n_fds);
/* Receive one packet into buf (size >= PROTO_MAX_MESSAGE). A packet longer
 * than size answers -EMSGSIZE (the excess is discarded by the kernel, never
 * read); an orderly close answers -ECONNRESET. Returns the length. */
ssize_t proto_recv(int fd, void *buf, size_t size);
/* The same, also taking up to MAX file descriptors passed with the packet
 * (SCM_RIGHTS, close-on-exec) into FDS; *ret_n_fds gets their number. Any
 * beyond MAX are closed, and the call answers -ETOOMANYREFS (after closing
 * the ones it took too). */
ssize_t proto_recv_fds(int fd, void *buf, size_t size, int *fds, size_t max, size_t *ret_n_fds);
