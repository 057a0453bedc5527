/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The helper's seccomp filter, installed for real in a child process that
 * then probes one system call with arguments that cannot do harm (bad
 * pointers, bad fds): an allowed call fails with EFAULT/EBADF and the child
 * exits 0; a forbidden one dies of SIGSYS; a probed one gets its errno. */
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "helper-sandbox.h"
#include "test-util.h"

#define BAD ((void *) 1)
/* Stands for the unit directory's fd: the filter compares the number only. */
#define UNIT_FD 250

enum expect { ALLOWED, KILLED, ERRNO_ENOSYS };

static const struct {
        const char *name;
        long nr;
        long a[4];
        enum expect expect;
} probes[] = {
        { "read(-1)", SYS_read, { -1, (long) BAD, 1 }, ALLOWED },
        { "openat(bad path)", SYS_openat, { AT_FDCWD, (long) BAD, O_RDONLY }, ALLOWED },
        { "openat(bad, O_WRONLY) outside the unit dir", SYS_openat, { AT_FDCWD, (long) BAD, O_WRONLY }, KILLED },
        { "openat(bad, O_CREAT) outside the unit dir", SYS_openat, { AT_FDCWD, (long) BAD, O_CREAT | O_RDONLY, 0644 }, KILLED },
        { "openat(unit dir, bad, O_CREAT|O_WRONLY, 0644)", SYS_openat, { UNIT_FD, (long) BAD, O_CREAT | O_WRONLY, 0644 }, ALLOWED },
        { "openat(unit dir, bad, O_CREAT, 04755)", SYS_openat, { UNIT_FD, (long) BAD, O_CREAT | O_WRONLY, 04755 }, KILLED },
        { "openat(bad, O_PATH)", SYS_openat, { AT_FDCWD, (long) BAD, O_PATH | O_DIRECTORY }, ALLOWED },
        { "openat2(bad how)", SYS_openat2, { AT_FDCWD, (long) BAD, (long) BAD, 24 }, KILLED },
        { "unlinkat(unit dir, bad)", SYS_unlinkat, { UNIT_FD, (long) BAD, 0 }, ALLOWED },
        { "unlinkat(AT_FDCWD, bad)", SYS_unlinkat, { AT_FDCWD, (long) BAD, 0 }, KILLED },
        { "renameat(unit dir -> unit dir)", SYS_renameat, { UNIT_FD, (long) BAD, UNIT_FD, (long) BAD }, ALLOWED },
        { "renameat(unit dir -> elsewhere)", SYS_renameat, { UNIT_FD, (long) BAD, AT_FDCWD, (long) BAD }, KILLED },
        { "renameat(elsewhere -> unit dir)", SYS_renameat, { AT_FDCWD, (long) BAD, UNIT_FD, (long) BAD }, KILLED },
        { "nanosleep(bad)", SYS_nanosleep, { (long) BAD, 0 }, KILLED },
        { "clock_nanosleep(bad)", SYS_clock_nanosleep, { 0, 0, (long) BAD, 0 }, KILLED },
        { "accept4(-1)", SYS_accept4, { -1, 0, 0, 0 }, ALLOWED },
        { "capget(bad)", SYS_capget, { (long) BAD, (long) BAD }, ALLOWED },
        { "pidfd_send_signal(-1)", SYS_pidfd_send_signal, { -1, 0, 0, 0 }, ALLOWED },
        { "recvmsg(-1)", SYS_recvmsg, { -1, (long) BAD, 0 }, ALLOWED },
        { "sendmsg(-1)", SYS_sendmsg, { -1, (long) BAD, 0 }, ALLOWED },
        { "socket(AF_UNIX)", SYS_socket, { AF_UNIX, -1, 0 }, ALLOWED },
        { "fchmod(-1, 0644)", SYS_fchmod, { -1, 0644 }, ALLOWED },
        { "fchmod(-1, 04755)", SYS_fchmod, { -1, 04755 }, KILLED },
        { "fchmod(-1, 02755)", SYS_fchmod, { -1, 02755 }, KILLED },
        { "openat(bad, O_CREAT, 04755)", SYS_openat, { AT_FDCWD, (long) BAD, O_CREAT | O_WRONLY, 04755 }, KILLED },
        { "statx", SYS_statx, { AT_FDCWD, (long) BAD, 0, 0 }, ERRNO_ENOSYS },
        { "clone3", SYS_clone3, { (long) BAD, 0 }, ERRNO_ENOSYS },
        { "execve(bad)", SYS_execve, { (long) BAD, (long) BAD, (long) BAD }, KILLED },
        { "execveat(bad)", SYS_execveat, { -1, (long) BAD, (long) BAD, (long) BAD }, KILLED },
        { "socket(AF_INET)", SYS_socket, { AF_INET, SOCK_STREAM, 0 }, KILLED },
        { "socket(AF_INET6)", SYS_socket, { AF_INET6, SOCK_STREAM, 0 }, KILLED },
        { "socket(AF_NETLINK)", SYS_socket, { AF_NETLINK, SOCK_RAW, 0 }, KILLED },
        { "connect(-1)", SYS_connect, { -1, (long) BAD, 0 }, KILLED },
        { "ptrace(bad)", SYS_ptrace, { PTRACE_PEEKDATA, -1, (long) BAD }, KILLED },
        { "fork", SYS_fork, { 0 }, KILLED },
        { "vfork", SYS_vfork, { 0 }, KILLED },
        { "clone", SYS_clone, { (long) BAD, (long) BAD }, KILLED },
        { "kill(-1)", SYS_kill, { -1, 0 }, KILLED },
        { "setuid(bad)", SYS_setuid, { -1 }, KILLED },
        { "mount(bad)", SYS_mount, { (long) BAD, (long) BAD, (long) BAD, 0 }, KILLED },
        { "bpf(bad)", SYS_bpf, { -1, (long) BAD, 0 }, KILLED },
        { "ioctl(-1)", SYS_ioctl, { -1, 0, 0 }, KILLED },
        { "prctl", SYS_prctl, { -1, 0, 0 }, KILLED },
};

START_TEST(test_probe) {
        int status;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                long r;

                if (sandbox_seccomp(SANDBOX_UNITS, UNIT_FD) < 0)
                        _exit(100);
                r = syscall(probes[_i].nr, probes[_i].a[0], probes[_i].a[1], probes[_i].a[2], probes[_i].a[3]);
                if (r >= 0)
                        syscall(SYS_close, r);   /* socket(AF_UNIX, -1) cannot succeed, but be tidy */
                syscall(SYS_exit_group, r < 0 && errno == ENOSYS ? 2 : 0);   /* not _exit(): a sanitizer runtime would make calls of its own */
                _exit(3);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        switch (probes[_i].expect) {
        case ALLOWED:
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status 0x%x, expected allowed",
                              probes[_i].name, status);
                break;
        case ERRNO_ENOSYS:
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2, "%s: status 0x%x, expected ENOSYS",
                              probes[_i].name, status);
                break;
        case KILLED:
                ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "%s: status 0x%x, expected SIGSYS",
                              probes[_i].name, status);
                break;
        }
}
END_TEST

START_TEST(test_no_new_privs) {
        int status;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char buf[4096];
                ssize_t n;
                int fd;

                /* prctl() itself is forbidden now: read the flag from /proc. */
                if (sandbox_seccomp(SANDBOX_UNITS, UNIT_FD) < 0 || (fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)) < 0)
                        _exit(1);
                n = read(fd, buf, sizeof buf - 1);
                buf[n > 0 ? n : 0] = '\0';
                syscall(SYS_exit_group, strstr(buf, "\nNoNewPrivs:\t1\n") && strstr(buf, "\nSeccomp:\t2\n") ? 0 : 1);
                _exit(3);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

static bool has_effective_dac_read_search(void) {
        char buf[4096], *p;
        unsigned long long eff = 0;
        ssize_t n;
        int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        p = strstr(buf, "\nCapEff:\t");
        if (p)
                eff = strtoull(p + 9, NULL, 16);
        return eff == (1ull << 2);   /* CAP_DAC_READ_SEARCH alone */
}

/* Dropping capabilities needs them first: as root (CI). */
START_TEST(test_drop_caps) {
        int status;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                const char *reason;

                if (sandbox_drop_caps(SANDBOX_UNITS, &reason) < 0)
                        _exit(1);
                /* CAP_CHOWN is gone: chown of our own stdin to another user fails. */
                if (fchown(0, 12345, -1) == 0 || errno != EPERM)
                        _exit(2);
                /* CAP_DAC_READ_SEARCH is permitted, effective only when raised. */
                if (has_effective_dac_read_search())
                        _exit(3);
                if (sandbox_raise_dac_read_search() < 0 || !has_effective_dac_read_search())
                        _exit(4);
                if (sandbox_lower_dac_read_search() < 0 || has_effective_dac_read_search())
                        _exit(5);
                _exit(0);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
}
END_TEST

int main(void) {
        Suite *s = suite_create("sandbox");
        TCase *tc = tcase_create("sandbox");

        tcase_add_loop_test(tc, test_probe, 0, (int) ELEMENTSOF(probes));
        tcase_add_test(tc, test_no_new_privs);
        if (geteuid() == 0)
                tcase_add_test(tc, test_drop_caps);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
