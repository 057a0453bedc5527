/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gh-wire.h"

/* Exponential from BASE, capped, with "equal jitter": half fixed, half
 * random, so waits never collapse to zero and never synchronise. */
static long long backoff(long long base, long long cap, unsigned attempt, double jitter) {
        long long w = base;

        for (unsigned i = 0; i < attempt && w < cap; i++)
                w *= 2;
        if (w > cap)
                w = cap;
        return w / 2 + (long long) ((double) (w / 2) * (jitter < 0 ? 0 : jitter >= 1 ? 0.999999 : jitter));
}

static void set(struct gh_decision *d, enum gh_action a, long long wait, const char *reason) {
        *d = (struct gh_decision) { .action = a, .wait_ms = wait, .reason = reason };
}

void gh_decide(const struct gh_attempt *a, struct gh_decision *d) {
        long long wait;
        const char *why;

        if (a->status >= 200 && a->status < 400) {
                set(d, GH_DONE, 0, "answered");
                return;
        }
        if ((a->status == 403 || a->status == 429) && a->have_remaining && a->remaining == 0 && a->reset_s > 0 &&
            !a->have_retry_after) {
                wait = a->reset_s * 1000 - a->now_ms + 1000;
                wait = wait < 1000 ? 1000 : wait;
                why = "primary rate limit exhausted: waiting for its reset";
        } else if ((a->status == 403 || a->status == 429) && a->have_retry_after) {
                wait = a->retry_after_s > 0 ? a->retry_after_s * 1000 : 1000;
                why = "rate limited: waiting as retry-after says";
        } else if (a->status == 429 || (a->status == 403 && a->secondary)) {
                wait = backoff(GH_SECONDARY_MIN_MS * 2, GH_SECONDARY_CAP_MS, a->attempt, a->jitter);
                why = "secondary rate limit: waiting at least a minute, longer each time";
        } else if (a->status == 401 && a->fresh_token && a->attempt < 2) {
                wait = GH_BACKOFF_BASE_MS << a->attempt;
                why = "a new token is not known everywhere yet";
        } else if (a->status == 0 && !a->sent) {
                wait = backoff(GH_BACKOFF_BASE_MS * 2, GH_BACKOFF_CAP_MS, a->attempt, a->jitter);
                why = "could not reach GitHub";
        } else if (a->status == 0 || a->status >= 500) {
                if (a->mutating) {
                        set(d, GH_FAIL, 0, a->status ? "GitHub failed a change that may have taken effect: not repeated"
                                                     : "no answer to a change that may have taken effect: not repeated");
                        return;
                }
                wait = backoff(GH_BACKOFF_BASE_MS * 2, GH_BACKOFF_CAP_MS, a->attempt, a->jitter);
                why = a->status ? "GitHub failed the request" : "the answer was lost";
        } else {
                set(d, GH_DONE, 0, "a final answer");   /* 4xx: the caller names it */
                return;
        }
        if (a->attempt + 1 >= GH_MAX_ATTEMPTS) {
                set(d, GH_FAIL, 0, "gave up after 6 attempts");
                return;
        }
        if (a->now_ms + wait > a->deadline_ms) {
                set(d, GH_FAIL, 0, "the wait would pass the deadline");
                return;
        }
        set(d, GH_RETRY, wait, why);
}

int gh_link_next(const char *h, char *buf, size_t size) {
        while (h && *h) {
                const char *lt, *gt, *end, *p;
                bool next = false;

                while (*h == ' ' || *h == '\t' || *h == ',')
                        h++;
                if (!*h)
                        break;
                lt = h;
                if (*lt != '<' || !(gt = strchr(lt, '>')))
                        return -EINVAL;
                /* the parameters run to the next ',' outside quotes */
                for (end = gt + 1; *end && *end != ','; end++)
                        if (*end == '"' && !(end = strchr(end + 1, '"')))
                                return -EINVAL;
                for (p = gt + 1; p < end; p++) {
                        const char *v;
                        size_t vl;

                        if (strncasecmp(p, "rel=", 4) != 0 || (p > gt + 1 && p[-1] != ';' && p[-1] != ' '))
                                continue;
                        v = p + 4;
                        if (*v == '"') {
                                const char *q = strchr(v + 1, '"');

                                if (!q || q > end)
                                        return -EINVAL;
                                v++;
                                vl = (size_t) (q - v);
                        } else
                                vl = strcspn(v, ";, \t");
                        /* rel may hold several space-separated values */
                        for (const char *w = v; w < v + vl;) {
                                size_t wl = strcspn(w, " \t\"");

                                if (wl > (size_t) (v + vl - w))
                                        wl = (size_t) (v + vl - w);
                                if (wl == 4 && strncasecmp(w, "next", 4) == 0)
                                        next = true;
                                w += wl;
                                while (w < v + vl && (*w == ' ' || *w == '\t'))
                                        w++;
                        }
                }
                if (next) {
                        size_t n = (size_t) (gt - lt - 1);

                        if (n == 0)
                                return -EINVAL;
                        if (n >= size)
                                return -ENAMETOOLONG;
                        memcpy(buf, lt + 1, n);
                        buf[n] = '\0';
                        for (size_t i = 0; i < n; i++)
                                if ((unsigned char) buf[i] <= ' ' || buf[i] == 0x7f)
                                        return -EINVAL;
                        return 1;
                }
                h = end;
        }
        return 0;
}

/* scheme://host[:port] of URL: its length, or 0 when it has none. */
static size_t origin_len(const char *url) {
        const char *host = strstr(url, "://");

        if (!host || host == url)
                return 0;
        host += 3;
        return (size_t) (host - url) + strcspn(host, "/?#");
}

bool gh_same_origin(const char *base, const char *url) {
        size_t b = origin_len(base), u = origin_len(url);

        return b && b == u && strncasecmp(base, url, b) == 0 && !memchr(url, '@', u);
}

int gh_parse_http_date(const char *s, time_t *ret) {
        struct tm tm = {};
        const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);

        if (!end || *end)
                return -EINVAL;
        *ret = timegm(&tm);
        return *ret == (time_t) -1 ? -EINVAL : 0;
}

int gh_parse_timestamp(const char *s, time_t *ret) {
        struct tm tm = {};
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        long off = 0;

        if (!p)
                return -EINVAL;
        if (*p == '.') {   /* fractions of a second: dropped */
                p++;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                while (isdigit((unsigned char) *p))
                        p++;
        }
        if (*p == 'Z')
                p++;
        else if ((*p == '+' || *p == '-') && isdigit((unsigned char) p[1]) && isdigit((unsigned char) p[2]) &&
                 p[3] == ':' && isdigit((unsigned char) p[4]) && isdigit((unsigned char) p[5])) {
                off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600L + ((p[4] - '0') * 10 + (p[5] - '0')) * 60L;
                if (*p == '-')
                        off = -off;
                p += 6;
        } else
                return -EINVAL;
        if (*p)
                return -EINVAL;
        *ret = timegm(&tm) - off;
        return 0;
}
