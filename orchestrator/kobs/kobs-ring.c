/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ring buffer's layout is the kernel's (kernel/bpf/ringbuf.c): a
 * consumer page we write, a producer page and the data mapped twice after
 * it, read-only; each record an 8-byte header (length with BUSY and
 * DISCARD bits) and its bytes, 8-byte aligned. The positions are read with
 * acquire and the consumer's written with release, as libbpf's ringbuf.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kobs-ring.h"
#include "macro.h"

#define MAP_TYPE_ARRAY    2u
#define MAP_TYPE_RINGBUF  27u
#define MAP_F_MMAPABLE    0x400u
#define RB_BUSY           (1u << 31)
#define RB_DISCARD        (1u << 30)
#define RB_HDR            8u

int kobs_map_info(int fd, struct kobs_map_info *ret) {
        char path[64], line[128];
        _cleanup_(fclosep) FILE *f = NULL;
        unsigned seen = 0;

        *ret = (struct kobs_map_info) {};
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f)) {
                unsigned v;

                if (sscanf(line, "map_type: %u", &v) == 1)
                        ret->type = v, seen |= 1;
                else if (sscanf(line, "key_size: %u", &v) == 1)
                        ret->key_size = v, seen |= 2;
                else if (sscanf(line, "value_size: %u", &v) == 1)
                        ret->value_size = v, seen |= 4;
                else if (sscanf(line, "max_entries: %u", &v) == 1)
                        ret->max_entries = v, seen |= 8;
                else if (sscanf(line, "map_flags: %x", &v) == 1)
                        ret->flags = v, seen |= 16;
        }
        return seen == 31 ? 0 : -ENOTTY;
}

int kobs_ring_open(struct kobs_ring *r, int fd) {
        struct kobs_map_info info;
        void *cons, *prod;
        int e;

        *r = (struct kobs_ring) { .fd = -EBADF };
        e = kobs_map_info(fd, &info);
        if (e < 0)
                return e;
        if (info.type != MAP_TYPE_RINGBUF || info.max_entries < 4096 ||
            (info.max_entries & (info.max_entries - 1)) != 0)
                return -EMEDIUMTYPE;
        r->page = (size_t) sysconf(_SC_PAGESIZE);
        cons = mmap(NULL, r->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (cons == MAP_FAILED)
                return -errno;
        prod = mmap(NULL, r->page + 2 * (size_t) info.max_entries, PROT_READ, MAP_SHARED, fd, (off_t) r->page);
        if (prod == MAP_FAILED) {
                e = -errno;
                munmap(cons, r->page);
                return e;
        }
        r->fd = fd;
        r->size = info.max_entries;
        r->consumer = cons;
        r->producer = prod;
        r->data = (const uint8_t *) prod + r->page;
        return 0;
}

void kobs_ring_close(struct kobs_ring *r) {
        if (r->consumer)
                munmap(r->consumer, r->page);
        if (r->producer)
                munmap((void *) r->producer, r->page + 2 * (size_t) r->size);
        *r = (struct kobs_ring) { .fd = -EBADF };
}

uint64_t kobs_ring_pending(const struct kobs_ring *r) {
        return __atomic_load_n(r->producer, __ATOMIC_ACQUIRE) - __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
}

long kobs_ring_consume(struct kobs_ring *r, kobs_record_fn fn, void *data) {
        uint64_t cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE), mask = r->size - 1;
        long n = 0;

        for (;;) {
                uint64_t prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);

                if (prod - cons > r->high_water)
                        r->high_water = prod - cons;
                if (cons >= prod)
                        return n;
                while (cons < prod) {
                        const uint32_t *hdr = (const uint32_t *) (r->data + (cons & mask));
                        uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE), size;

                        if (len & RB_BUSY)
                                return n;   /* being written: the next call takes it */
                        size = len & ~(RB_BUSY | RB_DISCARD);
                        cons += (size + RB_HDR + 7) & ~7ull;
                        if (!(len & RB_DISCARD)) {
                                int e = fn(data, (const uint8_t *) hdr + RB_HDR, size);

                                if (e < 0) {
                                        __atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
                                        return e;
                                }
                                n++;
                        }
                        __atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
                }
        }
}

int kobs_counters_open(struct kobs_counters *c, int fd) {
        struct kobs_map_info info;
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        void *p;
        int e;

        *c = (struct kobs_counters) {};
        e = kobs_map_info(fd, &info);
        if (e < 0)
                return e;
        if (info.type != MAP_TYPE_ARRAY || info.value_size != sizeof(uint64_t) || !(info.flags & MAP_F_MMAPABLE) ||
            info.max_entries == 0 || info.max_entries > 1024)
                return -EMEDIUMTYPE;
        c->len = (info.max_entries * sizeof(uint64_t) + page - 1) / page * page;
        p = mmap(NULL, c->len, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        c->v = p;
        c->n = info.max_entries;
        return 0;
}

void kobs_counters_close(struct kobs_counters *c) {
        if (c->v)
                munmap((void *) c->v, c->len);
        *c = (struct kobs_counters) {};
}
