/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* load-bpf's privileged part: one policy-pinned object, read once, loaded
 * from those bytes, its tracepoint programs attached for one cgroup. */
#pragma once

#include "lk-observe.h"

#define HBPF_MAX_LINKS   6

struct hbpf_loaded {
        struct bpf_object *obj;
        struct bpf_link *links[HBPF_MAX_LINKS];
        int fds[2 + HBPF_MAX_LINKS];           /* [0] ring buffer, [1] counters, then one per link */
        size_t n_fds, n_links;
};

/* Load BUF (the bytes whose digest was checked), with lk_config.cgroup_id
 * = CGROUP_ID and a ring buffer of RING_SIZE bytes (a power of two), and
 * attach every program, all of which must be tp_btf. */
int hbpf_load(const void *buf, size_t size, uint64_t cgroup_id, uint32_t ring_size, struct hbpf_loaded *ret,
              char *err, size_t errlen);
/* Close our copies (the peer's keep the programs alive). */
void hbpf_release(struct hbpf_loaded *l);
