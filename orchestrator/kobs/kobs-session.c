/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kobs.h"
#include "macro.h"

static uint64_t clock_ns(clockid_t id) {
        struct timespec ts;

        clock_gettime(id, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

const char *kobs_hook_name(unsigned hook) {
        static const char *const names[LK_HOOK_MAX] = { "exec", "open", "connect", "fork", "exit" };

        return hook < LK_HOOK_MAX ? names[hook] : NULL;
}

const char *kobs_kind_name(unsigned kind) {
        return kind >= LK_EV_EXEC && kind <= LK_EV_EXIT ? kobs_hook_name(kind - LK_EV_EXEC) : NULL;
}

static int on_record(void *data, const void *rec, uint32_t len) {
        struct kobs_session *s = data;
        const struct lk_obs_event *e = rec;

        if (len != sizeof *e || e->abi != LK_OBS_ABI || !kobs_kind_name(e->kind)) {
                s->bad++;
                return 0;
        }
        if (s->n_ev == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 4096;
                struct lk_obs_event *ev = realloc(s->ev, cap * sizeof *ev);

                if (!ev)
                        return -ENOMEM;
                s->ev = ev;
                s->cap = cap;
        }
        s->ev[s->n_ev++] = *e;
        return 0;
}

int kobs_attach(struct kobs_session *s, const char *bpf_socket, const char *lane, const char *object, uint32_t ring,
                char *err, size_t errlen) {
        _cleanup_(freep) struct helper_reply *reply = calloc(1, sizeof *reply);
        struct helper_conn conn = { .socket_path = bpf_socket };
        uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
        int r;

        *s = (struct kobs_session) { .ring.fd = -EBADF };
        if (!reply)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        r = helper_load_bpf(&conn, &(struct helper_request) { .lane = lane, .bpf_object = object, .ringbuf_size = ring },
                            reply);
        if (r < 0) {
                helper_reply_error(reply, err, errlen);
                return r == -EPERM ? -EPERM : r == -EHOSTDOWN ? -EHOSTDOWN : -EPROTO;
        }
        s->attach_us = (clock_ns(CLOCK_MONOTONIC) - t0) / 1000;
        memcpy(s->fds, reply->fds, reply->n_fds * sizeof(int));
        s->n_fds = reply->n_fds;
        s->cgroup_id = reply->cgroup_id;
        s->ring_size = reply->ringbuf_size;
        s->programs = reply->prog_count;
        snprintf(s->cgroup_path, sizeof s->cgroup_path, "%s", reply->cgroup_path);
        snprintf(s->digest, sizeof s->digest, "%s", reply->digest);
        snprintf(s->object, sizeof s->object, "%s", object);
        s->base_ns = clock_ns(CLOCK_BOOTTIME);
        s->base_realtime_ms = clock_ns(CLOCK_REALTIME) / 1000000;
        r = kobs_ring_open(&s->ring, s->fds[0]);
        if (r >= 0)
                r = kobs_counters_open(&s->ctr, s->fds[1]);
        if (r < 0) {
                snprintf(err, errlen, "cannot map the %s the helper passed: %s", s->ring.consumer ? "counters" : "ring buffer",
                         r == -EMEDIUMTYPE ? "not the map lk-observe.h defines" : strerror(-r));
                kobs_detach(s);
                return -EPROTO;
        }
        if (s->ctr.n < LK_CTR_MAX) {
                snprintf(err, errlen, "the counters array has %u entries, not %d", s->ctr.n, LK_CTR_MAX);
                kobs_detach(s);
                return -EPROTO;
        }
        return 0;
}

long kobs_pump(struct kobs_session *s, int timeout_ms) {
        struct pollfd p = { .fd = s->ring.fd, .events = POLLIN };

        if (!s->ring.consumer)
                return -EBADF;
        if (kobs_ring_pending(&s->ring) == 0)
                (void) poll(&p, 1, timeout_ms);
        return kobs_ring_consume(&s->ring, on_record, s);
}

void kobs_counts(const struct kobs_session *s, uint64_t drops[LK_HOOK_MAX], uint64_t sent[LK_HOOK_MAX]) {
        for (unsigned h = 0; h < LK_HOOK_MAX; h++) {
                /* The maps are new with each load: the counters began at 0. */
                drops[h] = s->ctr.v ? __atomic_load_n(&s->ctr.v[LK_CTR_DROPS + h], __ATOMIC_RELAXED) : 0;
                sent[h] = s->ctr.v ? __atomic_load_n(&s->ctr.v[LK_CTR_SENT + h], __ATOMIC_RELAXED) : 0;
        }
}

uint64_t kobs_drops_total(const struct kobs_session *s) {
        uint64_t drops[LK_HOOK_MAX], sent[LK_HOOK_MAX], n = 0;

        kobs_counts(s, drops, sent);
        for (unsigned h = 0; h < LK_HOOK_MAX; h++)
                n += drops[h];
        return n;
}

int kobs_drain(struct kobs_session *s, unsigned deadline_ms, uint64_t *ret_us) {
        uint64_t t0 = clock_ns(CLOCK_MONOTONIC), until = t0 + (uint64_t) deadline_ms * 1000000u;

        for (;;) {
                uint64_t drops[LK_HOOK_MAX], sent[LK_HOOK_MAX], want = 0;
                long r;

                kobs_counts(s, drops, sent);
                for (unsigned h = 0; h < LK_HOOK_MAX; h++)
                        want += sent[h];
                r = kobs_ring_consume(&s->ring, on_record, s);
                if (r < 0)
                        return (int) r;
                /* Enough when every record the counters had seen is here. */
                if (s->n_ev + s->bad >= want && kobs_ring_pending(&s->ring) == 0) {
                        if (ret_us)
                                *ret_us = (clock_ns(CLOCK_MONOTONIC) - t0) / 1000;
                        return 0;
                }
                if (clock_ns(CLOCK_MONOTONIC) >= until)
                        return -ETIME;
                (void) kobs_pump(s, 1);
        }
}

void kobs_detach(struct kobs_session *s) {
        kobs_ring_close(&s->ring);
        kobs_counters_close(&s->ctr);
        for (size_t i = 0; i < s->n_fds; i++)
                close(s->fds[i]);
        s->n_fds = 0;
}

void kobs_free(struct kobs_session *s) {
        kobs_detach(s);
        free(s->ev);
        s->ev = NULL;
        s->n_ev = s->cap = 0;
}
