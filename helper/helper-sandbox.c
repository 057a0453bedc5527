/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <cap-ng.h>
#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "helper-sandbox.h"
#include "macro.h"

int sandbox_drop_caps(const char **ret_reason) {
        int r;

        capng_clear(CAPNG_SELECT_CAPS);
        if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_DAC_READ_SEARCH) < 0)
                return *ret_reason = "capng_update failed", -EINVAL;
        /* Only the process sets: the unit's CapabilityBoundingSet= already
         * bounds us, and changing the bounding set would need CAP_SETPCAP. */
        r = capng_apply(CAPNG_SELECT_CAPS);
        if (r < 0)
                return *ret_reason = "capng_apply failed", -EPERM;
        /* Read back (bubblewrap): exactly one capability, nowhere inheritable. */
        if (capng_get_caps_process() < 0)
                return *ret_reason = "cannot read capabilities back", -EPERM;
        if (!capng_have_capability(CAPNG_EFFECTIVE, CAP_DAC_READ_SEARCH) ||
            !capng_have_capability(CAPNG_PERMITTED, CAP_DAC_READ_SEARCH))
                return *ret_reason = "CAP_DAC_READ_SEARCH missing after the drop", -EPERM;
        for (unsigned cap = 0; cap <= CAP_LAST_CAP; cap++)
                if (cap != CAP_DAC_READ_SEARCH && (capng_have_capability(CAPNG_EFFECTIVE, cap) ||
                                                   capng_have_capability(CAPNG_PERMITTED, cap) ||
                                                   capng_have_capability(CAPNG_INHERITABLE, cap)))
                        return *ret_reason = "a capability other than CAP_DAC_READ_SEARCH remains", -EPERM;
        return 0;
}

enum arg_rule {
        ARG_ANY,
        ARG_AF_UNIX,       /* socket(): first argument AF_UNIX */
        ARG_MODE1_NO_SUID, /* fchmod(): mode (argument 1) without setuid/setgid bits */
        ARG_MODE3_NO_SUID, /* openat(): mode (argument 3) without setuid/setgid bits */
};

#define ALLOW(name, why)        { SCMP_SYS(name), SCMP_ACT_ALLOW, ARG_ANY, why }
#define ALLOW_IF(name, a, why)  { SCMP_SYS(name), SCMP_ACT_ALLOW, a, why }
#define ERRNO(name, e, why)     { SCMP_SYS(name), SCMP_ACT_ERRNO(e), ARG_ANY, why }

static const struct {
        int nr;
        uint32_t action;
        enum arg_rule arg;
        const char *why;
} seccomp_table[] = {
        ALLOW(read, "request, files"),
        ALLOW(write, "unit files"),
        ALLOW(readv, "libc stdio"),
        ALLOW(writev, "libc stdio, journal"),
        ALLOW(pread64, "files"),
        ALLOW(recvmsg, "request, sd-bus"),
        ALLOW(sendmsg, "reply, sd-bus, journal (to its socket address, no connect)"),
        ALLOW(recvfrom, "sd-bus"),
        ALLOW(sendto, "sd-bus, journal"),
        ALLOW(getsockopt, "sd-bus credentials"),
        ALLOW(setsockopt, "journal: socket buffer size"),
        ALLOW_IF(socket, ARG_AF_UNIX, "journal opens its socket lazily; AF_UNIX only"),
        ALLOW(close, "fds"),
        ALLOW(fcntl, "fd flags, memfd seals (journal)"),
        ALLOW(fstat, "files"),
        ALLOW(newfstatat, "files"),
        ALLOW(lseek, "stdio"),
        ALLOW_IF(openat, ARG_MODE3_NO_SUID, "unit directory, lane directory checks; never a setuid file"),
        ALLOW(openat2, "lane directory checks beneath a root"),
        ALLOW(renameat, "atomic unit write"),
        ALLOW(renameat2, "atomic unit write"),
        ALLOW(unlinkat, "remove-unit, temporary files"),
        ALLOW(fsync, "atomic unit write"),
        ALLOW(fdatasync, "atomic unit write"),
        ALLOW_IF(fchmod, ARG_MODE1_NO_SUID, "unit file mode; never setuid/setgid"),
        ALLOW(memfd_create, "journal: large entries"),
        ALLOW(ftruncate, "journal: large entries"),
        ALLOW(brk, "malloc"),
        ALLOW(mmap, "malloc"),
        ALLOW(munmap, "malloc"),
        ALLOW(mremap, "malloc"),
        ALLOW(madvise, "malloc"),
        ALLOW(mprotect, "malloc arenas (W^X is the unit's MemoryDenyWriteExecute=)"),
        ALLOW(ppoll, "sd-bus waits"),
        ALLOW(poll, "sd-bus waits"),
        ALLOW(clock_gettime, "time"),
        ALLOW(clock_nanosleep, "waiting for a unit to settle"),
        ALLOW(nanosleep, "waiting for a unit to settle"),
        ALLOW(getpid, "sd-bus, journal"),
        ALLOW(gettid, "sd-bus"),
        ALLOW(getuid, "sd-bus"),
        ALLOW(geteuid, "sd-bus"),
        ALLOW(getgid, "sd-bus"),
        ALLOW(getegid, "sd-bus"),
        ALLOW(getrandom, "sd-bus, hash seeds"),
        ALLOW(rt_sigprocmask, "libc"),
        ALLOW(rt_sigreturn, "libc"),
        ALLOW(futex, "libc locks"),
        ALLOW(exit, "exit"),
        ALLOW(exit_group, "exit"),
        /* Probed by libc: an error makes it fall back, a kill would not. */
        ERRNO(statx, ENOSYS, "glibc falls back to newfstatat"),
        ERRNO(rseq, ENOSYS, "glibc registers rseq at thread start"),
        ERRNO(clone3, ENOSYS, "glibc probes clone3 (and clone stays forbidden)"),
};

int sandbox_seccomp(void) {
        scmp_filter_ctx ctx;
        int r = 0;

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        /* Native architecture only (seccomp_init's default); anything else dies. */
        ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
        if (!ctx)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(seccomp_table) && r >= 0; i++) {
                if (seccomp_table[i].nr < 0)
                        continue;   /* not on this architecture */
                switch (seccomp_table[i].arg) {
                case ARG_AF_UNIX:
                        r = seccomp_rule_add(ctx, seccomp_table[i].action, seccomp_table[i].nr, 1,
                                             SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
                        break;
                case ARG_MODE1_NO_SUID:
                        r = seccomp_rule_add(ctx, seccomp_table[i].action, seccomp_table[i].nr, 1,
                                             SCMP_A1(SCMP_CMP_MASKED_EQ, S_ISUID | S_ISGID, 0));
                        break;
                case ARG_MODE3_NO_SUID:
                        r = seccomp_rule_add(ctx, seccomp_table[i].action, seccomp_table[i].nr, 1,
                                             SCMP_A3(SCMP_CMP_MASKED_EQ, S_ISUID | S_ISGID, 0));
                        break;
                case ARG_ANY:
                        r = seccomp_rule_add(ctx, seccomp_table[i].action, seccomp_table[i].nr, 0);
                        break;
                }
        }
        if (r >= 0)
                r = seccomp_load(ctx);
        seccomp_release(ctx);
        return r;
}
