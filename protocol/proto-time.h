/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The monotonic clock and sleeping, once for every program. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static inline uint64_t proto_now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static inline long long proto_now_ms(void) {
        return (long long) (proto_now_usec() / 1000u);
}

/* T as ISO 8601 UTC ("2026-11-27T10:07:24Z") into BUF; "-" if it cannot be. */
static inline void proto_utc_iso(time_t t, char *buf, size_t size) {
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, size, "-");
}

/* Sleep MS milliseconds, resuming after a signal. */
static inline void proto_sleep_ms(long long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}
