// SPDX-License-Identifier: LGPL-2.1-or-later OR BSD-2-Clause
/* What the tasks of one lane do: exec, open, connect, fork, exit. Loaded
 * only by lanekeeper-helper's load-bpf, which sets lk_config.cgroup_id to
 * the lane unit's cgroup before load (read-only data, frozen) and passes
 * the ring buffer, the counters and the links to lanectl; nothing is
 * pinned, so the programs live exactly as long as lanectl holds the links.
 *
 * BTF tracepoints only (tp_btf: no tracefs, no kprobes). A task is observed
 * when its cgroup v2 is the lane's or lies beneath it (LK_OBS_MAX_DEPTH).
 * Every record is one struct lk_obs_event (lk-observe.h); a failed reserve
 * is counted per hook, never silent. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "lk-observe.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile struct lk_obs_config lk_config = {};

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 32 << 20);          /* the loader sets the size it was asked for */
} lk_events SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(map_flags, BPF_F_MMAPABLE);
        __uint(max_entries, LK_CTR_MAX);
        __type(key, __u32);
        __type(value, __u64);
} lk_counters SEC(".maps");

/* An open or connect between its entry and its exit, in the thread's own
 * storage (nr 0: none): no global table to fill up or contend on, and a
 * thread outside the lane has none, so its every syscall exit costs one
 * pointer walk. */
struct pending {
        long nr;
        struct lk_obs_event ev;
};

struct {
        __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, int);
        __type(value, struct pending);
} lk_pending SEC(".maps");

#if defined(__TARGET_ARCH_x86)
#define NR_OPEN    2
#define NR_CREAT   85
#define NR_CONNECT 42
#define NR_OPENAT  257
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define NR_OPEN    (-1)
#define NR_CREAT   (-1)
#define NR_CONNECT 203
#define NR_OPENAT  56
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, syscallno)
#else
#error "lanekeeper-observe: syscall numbers for this architecture are missing"
#endif
#define NR_OPENAT2 437

#define AF_UNIX  1
#define AF_INET  2
#define AF_INET6 10
#define O_CREAT_ 0100
#define O_WRONLY_ 01

static __always_inline void count(__u32 slot) {
        __u64 *c = bpf_map_lookup_elem(&lk_counters, &slot);

        if (c)
                __sync_fetch_and_add(c, 1);
}

/* The task's cgroup id when the lane's cgroup is it or an ancestor, else 0. */
static __always_inline __u64 lane_cgroup(struct task_struct *t) {
        struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);
        __u64 want = lk_config.cgroup_id, own = 0;

        if (!want)
                return 0;
#pragma unroll
        for (int i = 0; i <= LK_OBS_MAX_DEPTH; i++) {
                struct cgroup_subsys_state *parent;
                __u64 id;

                if (!cg)
                        return 0;
                id = BPF_CORE_READ(cg, kn, id);
                if (i == 0)
                        own = id;
                if (id == want)
                        return own;
                parent = BPF_CORE_READ(cg, self.parent);
                if (!parent)
                        return 0;
                cg = (struct cgroup *) ((char *) parent - bpf_core_field_offset(struct cgroup, self));
        }
        return 0;
}

static __always_inline void fill(struct lk_obs_event *e, struct task_struct *t, __u64 cgid, __u32 kind) {
        e->ts_ns = bpf_ktime_get_boot_ns();
        e->cgroup_id = cgid;
        e->abi = LK_OBS_ABI;
        e->kind = kind;
        e->pid = BPF_CORE_READ(t, tgid);
        e->tid = BPF_CORE_READ(t, pid);
        e->ppid = BPF_CORE_READ(t, real_parent, tgid);
        e->uid = (__u32) bpf_get_current_uid_gid();
        bpf_get_current_comm(e->comm, sizeof e->comm);
}

/* A record for HOOK, or NULL with the drop counted. */
static __always_inline struct lk_obs_event *reserve(__u32 hook) {
        struct lk_obs_event *e = bpf_ringbuf_reserve(&lk_events, sizeof *e, 0);

        if (!e) {
                count(LK_CTR_DROPS + hook);
                return NULL;
        }
        __builtin_memset(e, 0, sizeof *e);
        return e;
}

/* lanectl is woken only once an eighth of the ring waits: it reads on its
 * own every few milliseconds, so a record need not cost a wakeup each (a
 * storm of opens paid one per open). */
static __always_inline void submit(struct lk_obs_event *e, __u32 hook) {
        __u64 wake = bpf_ringbuf_query(&lk_events, BPF_RB_AVAIL_DATA) >=
                     bpf_ringbuf_query(&lk_events, BPF_RB_RING_SIZE) / 8 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;

        bpf_ringbuf_submit(e, wake);
        count(LK_CTR_SENT + hook);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(lk_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
        struct task_struct *t = bpf_get_current_task_btf();
        __u64 cgid = lane_cgroup(t);
        struct lk_obs_event *e;

        if (!cgid || !(e = reserve(LK_HOOK_EXEC)))
                return 0;
        fill(e, t, cgid, LK_EV_EXEC);
        bpf_probe_read_kernel_str(e->path, sizeof e->path, BPF_CORE_READ(bprm, filename));
        bpf_probe_read_user_str(e->arg0, sizeof e->arg0, (void *) BPF_CORE_READ(t, mm, arg_start));
        submit(e, LK_HOOK_EXEC);
        return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(lk_fork, struct task_struct *parent, struct task_struct *child) {
        struct task_struct *t = bpf_get_current_task_btf();
        struct lk_obs_event *e;
        __u64 cgid;

        /* Processes, not threads: a thread count is the runtime's, not the job's. */
        if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
                return 0;
        cgid = lane_cgroup(t);
        if (!cgid || !(e = reserve(LK_HOOK_FORK)))
                return 0;
        fill(e, t, cgid, LK_EV_FORK);
        e->child = BPF_CORE_READ(child, tgid);
        submit(e, LK_HOOK_FORK);
        return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(lk_exit, struct task_struct *p) {
        struct task_struct *t = bpf_get_current_task_btf();
        struct lk_obs_event *e;
        __u64 cgid;

        if (BPF_CORE_READ(t, pid) != BPF_CORE_READ(t, tgid))
                return 0;   /* a thread; the process ends with its leader */
        cgid = lane_cgroup(t);
        if (!cgid || !(e = reserve(LK_HOOK_EXIT)))
                return 0;
        fill(e, t, cgid, LK_EV_EXIT);
        e->result = BPF_CORE_READ(t, exit_code);
        submit(e, LK_HOOK_EXIT);
        return 0;
}

static __always_inline void read_sockaddr(struct lk_obs_event *e, const void *uaddr, long len) {
        __u16 family = 0;

        if (!uaddr || bpf_probe_read_user(&family, sizeof family, uaddr) < 0)
                return;
        e->family = family;
        if (family == AF_INET && len >= 8) {
                __u16 port;

                bpf_probe_read_user(&port, sizeof port, (const char *) uaddr + 2);
                e->port = __builtin_bswap16(port);
                bpf_probe_read_user(e->addr, 4, (const char *) uaddr + 4);
        } else if (family == AF_INET6 && len >= 24) {
                __u16 port;

                bpf_probe_read_user(&port, sizeof port, (const char *) uaddr + 2);
                e->port = __builtin_bswap16(port);
                bpf_probe_read_user(e->addr, 16, (const char *) uaddr + 8);
        } else if (family == AF_UNIX && len > 2)
                bpf_probe_read_user_str(e->path, sizeof e->path, (const char *) uaddr + 2);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(lk_sys_enter, struct pt_regs *regs, long nr) {
        struct task_struct *t;
        struct pending *p;
        __u64 cgid;
        const char *name = NULL;

        if (nr != NR_OPENAT && nr != NR_OPENAT2 && nr != NR_CONNECT && nr != NR_OPEN && nr != NR_CREAT)
                return 0;
        t = bpf_get_current_task_btf();
        cgid = lane_cgroup(t);
        if (!cgid)
                return 0;
        p = bpf_task_storage_get(&lk_pending, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (!p) {   /* no memory for it, or the storage busy in a nested call */
                count(LK_CTR_DROPS + (nr == NR_CONNECT ? LK_HOOK_CONNECT : LK_HOOK_OPEN));
                return 0;
        }
        __builtin_memset(&p->ev, 0, sizeof p->ev);
        fill(&p->ev, t, cgid, nr == NR_CONNECT ? LK_EV_CONNECT : LK_EV_OPEN);
        if (nr == NR_CONNECT) {
                read_sockaddr(&p->ev, (const void *) PT_REGS_PARM2_CORE_SYSCALL(regs),
                              (long) PT_REGS_PARM3_CORE_SYSCALL(regs));
        } else if (nr == NR_OPENAT2) {
                struct open_how how = {};

                name = (const char *) PT_REGS_PARM2_CORE_SYSCALL(regs);
                bpf_probe_read_user(&how, sizeof how, (const void *) PT_REGS_PARM3_CORE_SYSCALL(regs));
                p->ev.flags = (__u32) how.flags;
                p->ev.mode = (__u32) how.mode;
        } else if (nr == NR_OPENAT) {
                name = (const char *) PT_REGS_PARM2_CORE_SYSCALL(regs);
                p->ev.flags = (__u32) PT_REGS_PARM3_CORE_SYSCALL(regs);
                p->ev.mode = (__u32) PT_REGS_PARM4_CORE_SYSCALL(regs);
        } else if (nr == NR_OPEN) {
                name = (const char *) PT_REGS_PARM1_CORE_SYSCALL(regs);
                p->ev.flags = (__u32) PT_REGS_PARM2_CORE_SYSCALL(regs);
                p->ev.mode = (__u32) PT_REGS_PARM3_CORE_SYSCALL(regs);
        } else {   /* creat(path, mode) is open(path, O_CREAT|O_WRONLY|O_TRUNC, mode) */
                name = (const char *) PT_REGS_PARM1_CORE_SYSCALL(regs);
                p->ev.flags = O_CREAT_ | O_WRONLY_ | 01000;
                p->ev.mode = (__u32) PT_REGS_PARM2_CORE_SYSCALL(regs);
        }
        if (name)
                bpf_probe_read_user_str(p->ev.path, sizeof p->ev.path, name);
        p->nr = nr;
        return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(lk_sys_exit, struct pt_regs *regs, long ret) {
        struct pending *p = bpf_task_storage_get(&lk_pending, bpf_get_current_task_btf(), 0, 0);
        struct lk_obs_event *e;
        __u32 hook;

        if (!p || !p->nr)
                return 0;
        if (p->nr != (long) SYSCALL_NR(regs)) {
                p->nr = 0;   /* not the call it began: never reported as such */
                return 0;
        }
        hook = p->nr == NR_CONNECT ? LK_HOOK_CONNECT : LK_HOOK_OPEN;
        e = bpf_ringbuf_reserve(&lk_events, sizeof *e, 0);
        if (e) {
                bpf_probe_read_kernel(e, sizeof *e, &p->ev);
                e->result = (__s32) ret;
                submit(e, hook);
        } else
                count(LK_CTR_DROPS + hook);
        p->nr = 0;
        return 0;
}
