/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* no-bpf CMD [ARG...]: run CMD under a seccomp filter that kills the
 * process at its first bpf() call, so a test proves a consumer of
 * load-bpf's descriptors never needs one (issue 16). The filter is
 * inherited across execve and cannot be lifted. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        scmp_filter_ctx ctx;
        int r;

        if (argc < 2) {
                fprintf(stderr, "usage: no-bpf CMD [ARG...]\n");
                return 2;
        }
        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return 125;
        r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(bpf), 0);
        if (r >= 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                r = -errno;
        if (r >= 0)
                r = seccomp_load(ctx);
        seccomp_release(ctx);
        if (r < 0) {
                fprintf(stderr, "no-bpf: cannot install the filter: %s\n", strerror(-r));
                return 125;
        }
        execvp(argv[1], argv + 1);
        fprintf(stderr, "no-bpf: cannot run %s: %m\n", argv[1]);
        return 127;
}
