/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "helper-sandbox.h"
#include "macro.h"

/* What each mode keeps permitted (never effective but around its use). */
static const unsigned mode_caps[_SANDBOX_MODE_MAX][2] = {
        [SANDBOX_UNITS] = { CAP_DAC_READ_SEARCH, CAP_DAC_READ_SEARCH },
        [SANDBOX_BPF] = { CAP_BPF, CAP_PERFMON },
};

static bool kept(enum sandbox_mode mode, unsigned cap) {
        return cap == mode_caps[mode][0] || cap == mode_caps[mode][1];
}

/* SANDBOX_UNITS: CAP_DAC_READ_SEARCH stays permitted, and is effective only
 * while a lane directory owned by its runner user is examined (check_lane).
 * SANDBOX_BPF: CAP_BPF and CAP_PERFMON, effective only while load-bpf loads
 * and attaches. No verb, and never the decoder, runs with them. */
int sandbox_drop_caps(enum sandbox_mode mode, const char **ret_reason) {
        capng_clear(CAPNG_SELECT_CAPS);
        for (unsigned i = 0; i < 2; i++)
                if (capng_update(CAPNG_ADD, CAPNG_PERMITTED, mode_caps[mode][i]) < 0)
                        return *ret_reason = "capng_update failed", -EINVAL;
        /* Only the process sets: the unit's CapabilityBoundingSet= already
         * bounds us, and changing the bounding set would need CAP_SETPCAP. */
        if (capng_apply(CAPNG_SELECT_CAPS) < 0)
                return *ret_reason = "capng_apply failed", -EPERM;
        /* Read back (bubblewrap): one capability permitted, none effective
         * or inheritable. */
        if (capng_get_caps_process() < 0)
                return *ret_reason = "cannot read capabilities back", -EPERM;
        for (unsigned i = 0; i < 2; i++)
                if (!capng_have_capability(CAPNG_PERMITTED, mode_caps[mode][i]))
                        return *ret_reason = "a capability the verbs need is missing after the drop", -EPERM;
        for (unsigned cap = 0; cap <= CAP_LAST_CAP; cap++)
                if (capng_have_capability(CAPNG_EFFECTIVE, cap) || capng_have_capability(CAPNG_INHERITABLE, cap) ||
                    (!kept(mode, cap) && capng_have_capability(CAPNG_PERMITTED, cap)))
                        return *ret_reason = "a capability remains effective, inheritable or permitted", -EPERM;
        return 0;
}

static int set_effective(capng_act_t act, enum sandbox_mode mode) {
        for (unsigned i = 0; i < 2; i++)
                if (capng_update(act, CAPNG_EFFECTIVE, mode_caps[mode][i]) < 0)
                        return -EPERM;
        return capng_apply(CAPNG_SELECT_CAPS) < 0 ? -EPERM : 0;
}

int sandbox_raise_dac_read_search(void) {
        return set_effective(CAPNG_ADD, SANDBOX_UNITS);
}

int sandbox_lower_dac_read_search(void) {
        return set_effective(CAPNG_DROP, SANDBOX_UNITS);
}

int sandbox_raise_bpf(void) {
        return set_effective(CAPNG_ADD, SANDBOX_BPF);
}

int sandbox_lower_bpf(void) {
        return set_effective(CAPNG_DROP, SANDBOX_BPF);
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

struct rule {
        int nr;
        uint32_t action;
        enum arg_rule arg;
        const char *why;
};

static const struct rule seccomp_table[] = {
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

/* SANDBOX_BPF only: load-bpf's load and attach (libbpf). */
static const struct rule seccomp_bpf_table[] = {
        ALLOW(bpf, "maps, BTF, programs, links (CAP_BPF and CAP_PERFMON effective only meanwhile)"),
        ALLOW(uname, "libbpf: the kernel's release"),
        ALLOW(faccessat2, "libbpf: is the kernel's BTF readable"),
        ALLOW(faccessat, "the same (older libc)"),
        ALLOW(access, "the same (older libc)"),
        ALLOW(fstatfs, "the lane's cgroup must be cgroup v2"),
        ALLOW(sched_getaffinity, "libbpf: possible CPUs"),
        ERRNO(prlimit64, EPERM, "libbpf raises RLIMIT_MEMLOCK only where the kernel does not account BPF memory"),
        ERRNO(setrlimit, EPERM, "the same"),
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

int sandbox_seccomp(enum sandbox_mode mode, int unit_dir) {
        scmp_filter_ctx ctx;
        int r = 0;

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        /* Native architecture only (seccomp_init's default); anything else dies. */
        ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
        if (!ctx)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(seccomp_table) + ELEMENTSOF(seccomp_bpf_table) && r >= 0; i++) {
                const struct rule *t = i < ELEMENTSOF(seccomp_table) ? &seccomp_table[i] :
                                       mode == SANDBOX_BPF ? &seccomp_bpf_table[i - ELEMENTSOF(seccomp_table)] : NULL;

                if (t && t->nr >= 0)   /* else: not this mode's, or not on this architecture */
                        r = add_rule(ctx, t->action, t->nr, t->arg, unit_dir);
        }
        if (r >= 0)
                r = seccomp_load(ctx);
        seccomp_release(ctx);
        return r;
}
