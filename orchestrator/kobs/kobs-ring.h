/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reading side of load-bpf's maps, with no bpf() system call: the
 * ring buffer and the counters are mapped from the fds the helper passed,
 * their shapes read from /proc/self/fdinfo. Works where unprivileged bpf()
 * is refused (kernel.unprivileged_bpf_disabled, Debian 12's default). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kobs_map_info {
        uint32_t type, key_size, value_size, max_entries, flags;
};

/* The map behind FD, from /proc/self/fdinfo/FD: -ENOTTY when FD is no BPF map. */
int kobs_map_info(int fd, struct kobs_map_info *ret);

struct kobs_ring {
        int fd;
        uint32_t size;                       /* data bytes, a power of two */
        size_t page;
        uint64_t *consumer;                  /* our page, read-write */
        const uint64_t *producer;            /* the kernel's page, read-only */
        const uint8_t *data;                 /* mapped twice: a record never wraps */
        uint64_t high_water;                 /* most bytes ever waiting at once */
        uint64_t bad_records;                /* records of the wrong size */
};

/* Map the ring buffer FD (a BPF_MAP_TYPE_RINGBUF). The fd stays the caller's. */
int kobs_ring_open(struct kobs_ring *r, int fd);
void kobs_ring_close(struct kobs_ring *r);
/* Hand every complete record to FN (which must not keep the pointer) and
 * release it; returns how many, or FN's negative answer. Never blocks. */
typedef int (*kobs_record_fn)(void *data, const void *rec, uint32_t len);
long kobs_ring_consume(struct kobs_ring *r, kobs_record_fn fn, void *data);
/* Bytes written but not consumed yet. */
uint64_t kobs_ring_pending(const struct kobs_ring *r);

struct kobs_counters {
        const uint64_t *v;
        uint32_t n;
        size_t len;
};

/* Map the counters FD (an mmapable array of u64) read-only. */
int kobs_counters_open(struct kobs_counters *c, int fd);
void kobs_counters_close(struct kobs_counters *c);
