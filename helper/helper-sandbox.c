/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "helper-sandbox.h"
#include "macro.h"

/* CAP_DAC_READ_SEARCH stays permitted, and is effective only while a lane
 * directory owned by its runner user is examined (check_lane): no other
 * verb, and not the decoder, runs with it. */
int sandbox_drop_caps(const char **ret_reason) {
        capng_clear(CAPNG_SELECT_CAPS);
        if (capng_update(CAPNG_ADD, CAPNG_PERMITTED, CAP_DAC_READ_SEARCH) < 0)
                return *ret_reason = "capng_update failed", -EINVAL;
        /* Only the process sets: the unit's CapabilityBoundingSet= already
         * bounds us, and changing the bounding set would need CAP_SETPCAP. */
        if (capng_apply(CAPNG_SELECT_CAPS) < 0)
                return *ret_reason = "capng_apply failed", -EPERM;
        /* Read back (bubblewrap): one capability permitted, none effective
         * or inheritable. */
        if (capng_get_caps_process() < 0)
                return *ret_reason = "cannot read capabilities back", -EPERM;
        if (!capng_have_capability(CAPNG_PERMITTED, CAP_DAC_READ_SEARCH))
                return *ret_reason = "CAP_DAC_READ_SEARCH missing after the drop", -EPERM;
        for (unsigned cap = 0; cap <= CAP_LAST_CAP; cap++)
                if (capng_have_capability(CAPNG_EFFECTIVE, cap) || capng_have_capability(CAPNG_INHERITABLE, cap) ||
                    (cap != CAP_DAC_READ_SEARCH && capng_have_capability(CAPNG_PERMITTED, cap)))
                        return *ret_reason = "a capability remains effective, inheritable or permitted", -EPERM;
        return 0;
}

static int set_dac_read_search(capng_act_t act) {
        if (capng_update(act, CAPNG_EFFECTIVE, CAP_DAC_READ_SEARCH) < 0 || capng_apply(CAPNG_SELECT_CAPS) < 0)
                return -EPERM;
        return 0;
}

int sandbox_raise_dac_read_search(void) {
        return set_dac_read_search(CAPNG_ADD);
}

int sandbox_lower_dac_read_search(void) {
        return set_dac_read_search(CAPNG_DROP);
}

enum arg_rule {
        ARG_ANY,
        ARG_AF_UNIX,       /* socket(): first argument AF_UNIX */
        ARG_MODE1_NO_SUID, /* fchmod(): mode (argument 1) without setuid/setgid bits */
        ARG_OPENAT,        /* openat(): read-only anywhere, writing only in the unit directory; never setuid */
        ARG_A0_UNIT_DIR,   /* unlinkat(): only in the unit directory */
        ARG_RENAME,        /* renameat*(): from and to the unit directory */
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
        ALLOW_IF(openat, ARG_OPENAT, "policy, lane checks (read-only); unit files (unit directory only)"),
        ALLOW_IF(renameat, ARG_RENAME, "atomic unit write, within the unit directory"),
        ALLOW_IF(renameat2, ARG_RENAME, "atomic unit write, within the unit directory"),
        ALLOW_IF(unlinkat, ARG_A0_UNIT_DIR, "remove-unit, temporary files, within the unit directory"),
        ALLOW(accept4, "connections on the listening socket systemd passed"),
        ALLOW(pidfd_open, "admission: pin the peer (kernels without SO_PEERPIDFD)"),
        ALLOW(pidfd_send_signal, "admission: signal 0, is the peer still alive"),
        ALLOW(capget, "capabilities read back"),
        ALLOW(capset, "CAP_DAC_READ_SEARCH effective only around a lane directory check"),
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

static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, enum arg_rule arg, int unit_dir) {
        const uint32_t writing = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
        const scmp_datum_t dir = (scmp_datum_t) unit_dir;
        int r;

        switch (arg) {
        case ARG_AF_UNIX:
                return seccomp_rule_add(ctx, action, nr, 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
        case ARG_MODE1_NO_SUID:
                return seccomp_rule_add(ctx, action, nr, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, S_ISUID | S_ISGID, 0));
        case ARG_OPENAT:   /* two rules, either may match */
                r = seccomp_rule_add(ctx, action, nr, 2, SCMP_A2(SCMP_CMP_MASKED_EQ, writing, 0),
                                     SCMP_A3(SCMP_CMP_MASKED_EQ, S_ISUID | S_ISGID, 0));
                if (r < 0 || unit_dir < 0)
                        return r;
                return seccomp_rule_add(ctx, action, nr, 2, SCMP_A0(SCMP_CMP_EQ, dir),
                                        SCMP_A3(SCMP_CMP_MASKED_EQ, S_ISUID | S_ISGID, 0));
        case ARG_A0_UNIT_DIR:
                return unit_dir < 0 ? 0 : seccomp_rule_add(ctx, action, nr, 1, SCMP_A0(SCMP_CMP_EQ, dir));
        case ARG_RENAME:
                return unit_dir < 0 ? 0 : seccomp_rule_add(ctx, action, nr, 2, SCMP_A0(SCMP_CMP_EQ, dir),
                                                           SCMP_A2(SCMP_CMP_EQ, dir));
        case ARG_ANY:
                break;
        }
        return seccomp_rule_add(ctx, action, nr, 0);
}

int sandbox_seccomp(int unit_dir) {
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
                r = add_rule(ctx, seccomp_table[i].action, seccomp_table[i].nr, seccomp_table[i].arg, unit_dir);
        }
        if (r >= 0)
                r = seccomp_load(ctx);
        seccomp_release(ctx);
        return r;
}
