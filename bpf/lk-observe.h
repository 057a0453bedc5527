/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one definition of what lanekeeper-observe.bpf.o records, shared by
 * the BPF programs (with vmlinux.h) and lanectl (with <linux/types.h>).
 * Every record in the ring buffer is one struct lk_obs_event; the counters
 * array (BPF_F_MMAPABLE, u64 values) holds, per hook, the records that
 * could not be reserved (LK_CTR_DROPS + hook) and those submitted
 * (LK_CTR_SENT + hook). Change a layout only with LK_OBS_ABI. */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define LK_OBS_ABI        1u
#define LK_OBS_PATH_MAX   256
#define LK_OBS_ARG0_MAX   64
#define LK_OBS_COMM_MAX   16
#define LK_OBS_MAX_DEPTH  8     /* a task is observed when the lane's cgroup is it or one of 8 ancestors */
#define LK_OBS_RING_DEFAULT (32u << 20)     /* the ring buffer's bytes unless asked (proto_validate_ringbuf_size) */

enum lk_obs_kind {
        LK_EV_EXEC = 1,         /* path: the file executed; arg0: argv[0] */
        LK_EV_OPEN,             /* path, flags (O_*), mode; result: fd or -errno */
        LK_EV_CONNECT,          /* family, addr, port (AF_INET, AF_INET6) or path (AF_UNIX); result: 0 or -errno */
        LK_EV_FORK,             /* child: the new process */
        LK_EV_EXIT,             /* result: the exit status as wait() reports it */
};

enum lk_obs_hook {
        LK_HOOK_EXEC,
        LK_HOOK_OPEN,
        LK_HOOK_CONNECT,
        LK_HOOK_FORK,
        LK_HOOK_EXIT,
        LK_HOOK_MAX,
};

#define LK_CTR_DROPS 0                  /* + hook: reserve failed, record lost */
#define LK_CTR_SENT  LK_HOOK_MAX        /* + hook: record submitted */
#define LK_CTR_MAX   (2 * LK_HOOK_MAX)

struct lk_obs_event {
        __u64 ts_ns;                    /* bpf_ktime_get_boot_ns() */
        __u64 cgroup_id;                /* the task's own cgroup (the lane's or beneath it) */
        __u32 abi;                      /* LK_OBS_ABI */
        __u32 kind;                     /* enum lk_obs_kind */
        __u32 pid, tid, ppid, uid;
        __u32 child;                    /* LK_EV_FORK */
        __s32 result;
        __u32 flags, mode;              /* LK_EV_OPEN */
        __u16 family, port;             /* LK_EV_CONNECT; port in host order */
        __u8 addr[16];                  /* IPv4 in the first 4 bytes */
        char comm[LK_OBS_COMM_MAX];
        char arg0[LK_OBS_ARG0_MAX];
        char path[LK_OBS_PATH_MAX];
};

/* Read-only data, set by the loader before load and frozen by it. */
struct lk_obs_config {
        __u64 cgroup_id;                /* the lane unit's cgroup */
};
