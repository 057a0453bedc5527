/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "proto-register.h"

int proto_register_validate_url(const char *url, const char **ret_reason) {
        bool https = strncmp(url, "https://", 8) == 0, http = strncmp(url, "http://", 7) == 0;
        const char *host, *path;
        size_t hostlen, parts = 0;

        if (!https && !http)
                return *ret_reason = "must start with https://", -EINVAL;
        if (strlen(url) > PROTO_REGISTER_URL_MAX || !proto_is_printable_ascii(url, strlen(url)) ||
            strpbrk(url, " \"'<>\\@?#,"))
                return *ret_reason = "holds a character a registration URL cannot", -EINVAL;
        host = url + (https ? 8 : 7);
        hostlen = strcspn(host, "/");
        if (hostlen == 0 || !host[hostlen])
                return *ret_reason = "has no owner after the host", -EINVAL;
        if (http && !(hostlen >= 4 && strncmp(host, "127.", 4) == 0) && !(hostlen >= 9 && strncmp(host, "localhost", 9) == 0))
                return *ret_reason = "uses http:// on a host that is not loopback", -EINVAL;
        for (path = host + hostlen; *path == '/'; ) {
                size_t n;

                path++;
                n = strcspn(path, "/");
                if (n == 0 || (n == 1 && path[0] == '.') || (n == 2 && path[0] == '.' && path[1] == '.'))
                        return *ret_reason = "has an empty, '.' or '..' path part", -EINVAL;
                parts++;
                path += n;
        }
        if (parts < 1 || parts > 2)
                return *ret_reason = "must name OWNER or OWNER/REPO after the host", -EINVAL;
        return 0;
}

int proto_register_validate(const struct proto_register *r, const char **ret_reason) {
        char labels[sizeof r->labels];
        char *save = NULL;
        size_t n = 0, tl = strlen(r->token);

        if ((int) r->purge + (int) r->clear_actions + (int) r->forget + (int) r->slot + (int) r->reset_work > 1)
                return *ret_reason = "an answer is one of a registration, a purge, a forget, a slot, a cache clear "
                                     "or a work reset", -EINVAL;
        if (r->clear_actions && r->max_age_days > PROTO_REGISTER_MAX_AGE_DAYS)
                return *ret_reason = "max_age_days is more than 3650", -EINVAL;
        if (r->purge || r->clear_actions || r->forget || r->slot || r->reset_work)
                return proto_validate_lane_name(r->name, ret_reason) < 0 ? -EINVAL : 0;
        if (proto_register_validate_url(r->url, ret_reason) < 0)
                return -EINVAL;
        if (proto_validate_runner_name(r->name, ret_reason) < 0)
                return -EINVAL;
        snprintf(labels, sizeof labels, "%s", r->labels);
        if (!labels[0] || labels[strlen(labels) - 1] == ',' || labels[0] == ',' || strstr(labels, ",,"))
                return *ret_reason = "labels must be a comma-separated list, not empty", -EINVAL;
        for (char *t = strtok_r(labels, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (proto_validate_label(t, ret_reason) < 0)
                        return -EINVAL;
                if (++n > PROTO_REGISTER_LABELS_MAX)
                        return *ret_reason = "more than 100 labels", -EINVAL;
        }
        if (strlen(r->group) > PROTO_REGISTER_GROUP_MAX || !proto_is_printable_ascii(r->group, strlen(r->group)) ||
            strpbrk(r->group, ",=\""))
                return *ret_reason = "the runner group holds a character it cannot", -EINVAL;
        if (tl == 0)
                return *ret_reason = "no token", -EINVAL;
        for (size_t i = 0; i < tl; i++)
                if ((unsigned char) r->token[i] <= ' ' || (unsigned char) r->token[i] >= 0x7f)
                        return *ret_reason = "the token holds a space, control or non-ASCII byte", -EINVAL;
        return 0;
}

int proto_register_encode_request(const char *lane, char *buf, size_t size, size_t *ret_len) {
        const char *reason;
        int n;

        if (proto_validate_lane_name(lane, &reason) < 0)
                return -EINVAL;
        n = snprintf(buf, size, "LKREG1 %s\n", lane);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        *ret_len = (size_t) n;
        return 0;
}

int proto_request_decode(const char *magic, const char *what, const char *buf, size_t len,
                         char lane[PROTO_LANE_NAME_MAX + 1], const char **ret_reason) {
        size_t n;

        if (len < 9 || len > 7 + PROTO_LANE_NAME_MAX + 1 || memcmp(buf, magic, 6) != 0 || buf[6] != ' ' ||
            buf[len - 1] != '\n')
                return *ret_reason = what, -EINVAL;
        n = len - 8;
        memcpy(lane, buf + 7, n);
        lane[n] = '\0';
        if (memchr(lane, '\0', n) || proto_validate_lane_name(lane, ret_reason) < 0)
                return *ret_reason = "not a lane name", -EINVAL;
        return 0;
}

int proto_register_decode_request(const char *buf, size_t len, char lane[PROTO_LANE_NAME_MAX + 1],
                                  const char **ret_reason) {
        return proto_request_decode("LKREG1", "not a registration request", buf, len, lane, ret_reason);
}

int proto_register_encode(const struct proto_register *r, char *buf, size_t size, size_t *ret_len,
                          const char **ret_reason) {
        int n;

        if (proto_register_validate(r, ret_reason) < 0)
                return -EINVAL;
        if (r->purge || r->forget || r->slot || r->reset_work)
                n = snprintf(buf, size, "%s=%s\n", r->purge ? "purge" : r->forget ? "forget" : r->slot ? "slot" :
                             "reset-work", r->name);
        else if (r->clear_actions)
                n = snprintf(buf, size, "clear-actions=%s\nmax_age_days=%u\n", r->name, r->max_age_days);
        else
                n = snprintf(buf, size, "url=%s\nname=%s\nlabels=%s\ngroup=%s\ntoken=%s\n", r->url, r->name, r->labels, r->group,
                     r->token);
        if (n < 0 || (size_t) n >= size)
                return *ret_reason = "too large", -ENOBUFS;
        *ret_len = (size_t) n;
        return 0;
}

/* "clear-actions=NAME\nmax_age_days=N\n": exactly these two lines, N
 * in decimal without sign or leading zero. */
static int decode_clear(const char *buf, size_t len, struct proto_register *r, const char **ret_reason) {
        const char *nl = memchr(buf, '\n', len), *v;
        size_t n, vlen;
        unsigned long days = 0;

        /* the first line's end must not be the answer's last byte: a second line follows */
        if (!nl || buf[len - 1] != '\n' || (size_t) (nl - buf) + 1 >= len ||
            (n = (size_t) (nl - buf) - 14) >= sizeof r->name)
                return *ret_reason = "a cache clear answer is two lines, the lane and max_age_days", -EINVAL;
        v = nl + 1;
        vlen = len - (size_t) (v - buf) - 1;
        if (vlen < 14 || memcmp(v, "max_age_days=", 13) != 0 || memchr(v, '\n', vlen) || vlen - 13 > 4 ||
            (v[13] == '0' && vlen > 14))
                return *ret_reason = "a cache clear answer is two lines, the lane and max_age_days", -EINVAL;
        for (size_t i = 13; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9')
                        return *ret_reason = "max_age_days is not a number", -EINVAL;
                days = days * 10 + (unsigned long) (v[i] - '0');
        }
        memcpy(r->name, buf + 14, n);
        r->name[n] = '\0';
        r->clear_actions = true;
        r->max_age_days = (unsigned) days;
        return proto_register_validate(r, ret_reason);
}

int proto_register_decode(const char *buf, size_t len, struct proto_register *r, const char **ret_reason) {
        static const char *const keys[] = { "url", "name", "labels", "group", "token" };
        static const char *const one_line[] = { "purge=", "forget=", "slot=", "reset-work=" };
        unsigned seen = 0;
        size_t off = 0;

        memset(r, 0, sizeof *r);
        if (len > PROTO_REGISTER_MAX || memchr(buf, '\0', len))
                return *ret_reason = "not a registration hand-off", -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(one_line); i++) {
                size_t k = strlen(one_line[i]);

                if (len <= k || memcmp(buf, one_line[i], k) != 0)
                        continue;
                /* exactly one line, nothing else */
                if (buf[len - 1] != '\n' || memchr(buf, '\n', len - 1) || len - k - 1 >= sizeof r->name)
                        return *ret_reason = "a purge, forget, slot or work reset answer is one line naming the lane",
                               -EINVAL;
                memcpy(r->name, buf + k, len - k - 1);
                r->name[len - k - 1] = '\0';
                r->purge = i == 0;
                r->forget = i == 1;
                r->slot = i == 2;
                r->reset_work = i == 3;
                return proto_register_validate(r, ret_reason);
        }
        if (len >= 14 && memcmp(buf, "clear-actions=", 14) == 0)
                return decode_clear(buf, len, r, ret_reason);
        while (off < len) {
                const char *line = buf + off, *nl = memchr(line, '\n', len - off), *eq;
                char *dst;
                size_t k, vlen, cap;

                if (!nl)
                        return *ret_reason = "a line without its end", -EINVAL;
                eq = memchr(line, '=', (size_t) (nl - line));
                if (!eq)
                        return *ret_reason = "a line without '='", -EINVAL;
                for (k = 0; k < 5 && (strlen(keys[k]) != (size_t) (eq - line) || memcmp(line, keys[k], strlen(keys[k])));
                     k++)
                        ;
                if (k == 5)
                        return *ret_reason = "an unknown key", -EINVAL;
                if (seen & (1u << k))
                        return *ret_reason = "a key given twice", -EINVAL;
                seen |= 1u << k;
                dst = k == 0 ? r->url : k == 1 ? r->name : k == 2 ? r->labels : k == 3 ? r->group : r->token;
                cap = k == 0 ? sizeof r->url : k == 1 ? sizeof r->name : k == 2 ? sizeof r->labels :
                      k == 3 ? sizeof r->group : sizeof r->token;
                vlen = (size_t) (nl - eq - 1);
                if (vlen >= cap)
                        return *ret_reason = "a value too long", -EINVAL;
                memcpy(dst, eq + 1, vlen);
                dst[vlen] = '\0';
                off = (size_t) (nl - buf) + 1;
        }
        if (seen != 0x1f)
                return *ret_reason = "a key is missing", -EINVAL;
        return proto_register_validate(r, ret_reason);
}

void proto_register_wipe(struct proto_register *r) {
        explicit_bzero(r, sizeof *r);
}

int proto_cache_stats_encode(const struct proto_cache_stats *s, char *buf, size_t size) {
        int n = snprintf(buf, size, "entries=%llu\nbytes=%llu\noldest=%lld\ndamaged=%llu\nmeasured=%lld\n", s->entries,
                         s->bytes, s->oldest, s->damaged, s->measured);

        return n < 0 || (size_t) n >= size ? -ENOBUFS : n;
}

int proto_cache_stats_decode(const char *buf, size_t len, struct proto_cache_stats *ret, const char **ret_reason) {
        static const char *const keys[] = { "entries=", "bytes=", "oldest=", "damaged=", "measured=" };
        unsigned long long v[5];
        size_t off = 0;

        *ret = (struct proto_cache_stats) {};
        if (len > PROTO_CACHE_STATS_MAX || memchr(buf, '\0', len))
                return *ret_reason = "not a cache measurement", -EINVAL;
        for (size_t k = 0; k < 5; k++) {
                size_t kl = strlen(keys[k]), digits = 0;

                if (len - off < kl + 2 || memcmp(buf + off, keys[k], kl) != 0)
                        return *ret_reason = "a key is missing or out of order", -EINVAL;
                off += kl;
                v[k] = 0;
                for (; off < len && buf[off] >= '0' && buf[off] <= '9' && digits < 19; off++, digits++)
                        v[k] = v[k] * 10 + (unsigned long long) (buf[off] - '0');
                if (!digits || off >= len || buf[off] != '\n')
                        return *ret_reason = "a value is not a number", -EINVAL;
                off++;
        }
        if (off != len)
                return *ret_reason = "something after the last key", -EINVAL;
        *ret = (struct proto_cache_stats) { .entries = v[0], .bytes = v[1], .oldest = (long long) v[2],
                                            .damaged = v[3], .measured = (long long) v[4] };
        return 0;
}
