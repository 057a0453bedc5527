/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The floor for bench/helper-rtt: a socket-activated service (same
 * Accept=yes socket settings as the helper's) that echoes one packet back
 * and exits. Everything the helper costs above this is its own. */
#include <stdio.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

int main(void) {
        static char buf[65536];
        ssize_t n;

        if (sd_listen_fds(1) != 1)
                return 2;
        n = recv(SD_LISTEN_FDS_START, buf, sizeof buf, 0);
        if (n <= 0 || send(SD_LISTEN_FDS_START, buf, (size_t) n, MSG_NOSIGNAL) != n)
                return 1;
        return 0;
}
