/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who is on the other end of a Unix socket, race-safely: the helper admits
 * maintainers with it, lanectl's registration hand-off admits only the
 * lane's own unit with it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Whether a cgroup path (as in /proc/PID/cgroup "0::PATH") lies inside a
 * lanekeeper lane unit. Pure. */
bool proto_cgroup_is_lane(const char *path);

/* The credentials (SO_PEERCRED) of the peer on FD and its cgroup, read
 * through SO_PEERPIDFD where the kernel has it, else pidfd_open, and
 * trusted only if the pidfd still refers to a live process afterwards, so
 * that the pid was not reused meanwhile. Returns 0, or a negative errno
 * with a reason. */
int proto_peer_cgroup(int fd, struct ucred *ret_cred, char *cgroup, size_t size, const char **ret_reason);
