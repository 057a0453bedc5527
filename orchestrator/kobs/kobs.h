/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel observation of one lane (lanectl observe, lanectl gate): the
 * helper's load-bpf attaches lanekeeper-observe.bpf.o to the lane unit's
 * cgroup and passes the ring buffer, the counters and the links back; this
 * side only reads (kobs-ring.h: no bpf() system call). The session keeps
 * every record; the artifacts are built from them (kobs-artifacts.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lk-observe.h"
#include "helper-client.h"
#include "kobs-ring.h"

struct kobs_session {
        int fds[HELPER_MAX_FDS];                 /* ring, counters, links: closing them detaches */
        size_t n_fds;
        struct kobs_ring ring;
        struct kobs_counters ctr;
        uint64_t cgroup_id;
        char cgroup_path[PROTO_PATH_MAX + 1];
        char digest[PROTO_SHA256_HEX_SIZE];      /* the object's, as the helper read it */
        char object[PROTO_BPF_OBJECT_MAX + 1];
        uint32_t ring_size, programs;
        uint64_t attach_us;                      /* request sent .. attached (the helper's answer) */
        uint64_t base_ns;                        /* CLOCK_BOOTTIME when attached: events' clock */
        uint64_t base_realtime_ms;               /* the wall clock at that moment */
        struct lk_obs_event *ev;                 /* every record, in ring order */
        size_t n_ev, cap;
        uint64_t bad;                            /* records of the wrong size or ABI */
};

/* Ask the helper at BPF_SOCKET to attach OBJECT to LANE (RING bytes, 0:
 * its default), map what it passed. 0, or -errno with ERR: -EPERM the
 * helper refused (ERR has its error name and reason), -EHOSTDOWN. */
int kobs_attach(struct kobs_session *s, const char *bpf_socket, const char *lane, const char *object, uint32_t ring,
                char *err, size_t errlen);
/* Wait up to TIMEOUT_MS for records and take all there are: how many. */
long kobs_pump(struct kobs_session *s, int timeout_ms);
/* Take records until every one submitted so far is taken (the counters
 * say how many) or DEADLINE_MS pass; *RET_US how long it took. 0, or
 * -ETIME when the ring did not catch up. */
int kobs_drain(struct kobs_session *s, unsigned deadline_ms, uint64_t *ret_us);
/* Per hook: records lost (reserve failed) and submitted since the load. */
void kobs_counts(const struct kobs_session *s, uint64_t drops[LK_HOOK_MAX], uint64_t sent[LK_HOOK_MAX]);
uint64_t kobs_drops_total(const struct kobs_session *s);
/* Close the descriptors: the programs detach. Records stay. */
void kobs_detach(struct kobs_session *s);
void kobs_free(struct kobs_session *s);

const char *kobs_hook_name(unsigned hook);
const char *kobs_kind_name(unsigned kind);
