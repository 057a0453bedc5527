/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "proto-register.h"
#include "proto-slot.h"

bool proto_slot_is_run_entry(const char *name) {
        static const char *const run[] = { "_work", "_diag", ".runner", ".credentials", ".credentials_rsaparams",
                                           "run-helper.sh", ".lanekeeper-cache" };

        for (size_t i = 0; i < ELEMENTSOF(run); i++)
                if (strcmp(name, run[i]) == 0)
                        return true;
        return false;
}

int proto_slot_validate_entry(const char *name, const char **ret_reason) {
        size_t n = strlen(name);

        if (n == 0 || n > PROTO_SLOT_ENTRY_MAX)
                return *ret_reason = "an entry name is empty or longer than 255 bytes", -EINVAL;
        if (!proto_is_printable_ascii(name, n) || strpbrk(name, "/,"))
                return *ret_reason = "an entry name holds '/', ',', or a byte that is not printable ASCII", -EINVAL;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return *ret_reason = "an entry name is '.' or '..'", -EINVAL;
        if (proto_slot_is_run_entry(name))
                return *ret_reason = "an entry a run leaves cannot be part of the install", -EINVAL;
        return 0;
}

/* The Ith entry of LIST into BUF: its length, or 0 past the end. */
static size_t nth(const char *list, size_t i, char buf[PROTO_SLOT_ENTRY_MAX + 2]) {
        const char *p = list;

        for (; i > 0 && p; i--) {
                p = strchr(p, ',');
                p = p ? p + 1 : NULL;
        }
        if (!p || !*list)
                return 0;
        size_t n = strcspn(p, ",");
        if (n > PROTO_SLOT_ENTRY_MAX)
                n = PROTO_SLOT_ENTRY_MAX + 1;   /* too long: the caller's validation says so */
        memcpy(buf, p, n);
        buf[n] = '\0';
        return n ?: (size_t) -1;   /* an empty entry */
}

bool proto_slot_keep_has(const char *list, const char *name) {
        char e[PROTO_SLOT_ENTRY_MAX + 2];
        size_t n;

        for (size_t i = 0; (n = nth(list, i, e)) != 0; i++)
                if (n != (size_t) -1 && strcmp(e, name) == 0)
                        return true;
        return false;
}

int proto_slot_validate_keep(const char *list, const char **ret_reason) {
        char e[PROTO_SLOT_ENTRY_MAX + 2], f[PROTO_SLOT_ENTRY_MAX + 2];
        size_t n, count = 0;

        if (strlen(list) >= PROTO_SLOT_KEEP_BUF)
                return *ret_reason = "the keep list is too long", -EINVAL;
        for (size_t i = 0; (n = nth(list, i, e)) != 0; i++) {
                if (n == (size_t) -1)
                        return *ret_reason = "the keep list has an empty entry", -EINVAL;
                if (proto_slot_validate_entry(e, ret_reason) < 0)
                        return -EINVAL;
                if (++count > PROTO_SLOT_KEEP_MAX)
                        return *ret_reason = "the keep list has more than 64 entries", -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (nth(list, j, f) != (size_t) -1 && strcmp(e, f) == 0)
                                return *ret_reason = "the keep list names an entry twice", -EINVAL;
        }
        return 0;
}

static int finish(int n, size_t size, size_t *ret_len) {
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        *ret_len = (size_t) n;
        return 0;
}

int proto_slot_encode_request(const char *slot, char *buf, size_t size, size_t *ret_len) {
        const char *reason;

        if (proto_validate_lane_name(slot, &reason) < 0)
                return -EINVAL;
        return finish(snprintf(buf, size, "LKJIT1 %s\n", slot), size, ret_len);
}

int proto_slot_decode_request(const char *buf, size_t len, char slot[PROTO_LANE_NAME_MAX + 1], const char **ret_reason) {
        return proto_request_decode("LKJIT1", "not a JIT configuration request", buf, len, slot, ret_reason);
}

/* Exactly the lines KEY1=... KEY2=... in this order into V1 and V2 (each
 * of CAP bytes at most, with the NUL); nothing else. */
static int two_lines(const char *buf, size_t len, const char *k1, char *v1, size_t cap1, const char *k2, char *v2,
                     size_t cap2, const char **ret_reason) {
        const char *keys[2] = { k1, k2 };
        char *vals[2] = { v1, v2 };
        size_t caps[2] = { cap1, cap2 }, off = 0;

        if (len > PROTO_SLOT_MAX || memchr(buf, '\0', len))
                return *ret_reason = "not a slot hand-off message", -EINVAL;
        for (size_t i = 0; i < 2; i++) {
                size_t kl = strlen(keys[i]);
                const char *nl = off < len ? memchr(buf + off, '\n', len - off) : NULL;
                size_t vl;

                if (!nl || len - off < kl + 1 || memcmp(buf + off, keys[i], kl) != 0 || buf[off + kl] != '=')
                        return *ret_reason = "a key is missing, unknown or out of order", -EINVAL;
                vl = (size_t) (nl - (buf + off + kl + 1));
                if (vl >= caps[i])
                        return *ret_reason = "a value is too long", -EINVAL;
                memcpy(vals[i], buf + off + kl + 1, vl);
                vals[i][vl] = '\0';
                off = (size_t) (nl - buf) + 1;
        }
        if (off != len)
                return *ret_reason = "something after the last key", -EINVAL;
        return 0;
}

int proto_slot_encode_rules(const char *slot, const char *keep, char *buf, size_t size, size_t *ret_len) {
        const char *reason;

        if (proto_validate_lane_name(slot, &reason) < 0 || proto_slot_validate_keep(keep, &reason) < 0)
                return -EINVAL;
        return finish(snprintf(buf, size, "slot=%s\nkeep=%s\n", slot, keep), size, ret_len);
}

int proto_slot_decode_rules(const char *buf, size_t len, char slot[PROTO_LANE_NAME_MAX + 1],
                            char keep[PROTO_SLOT_KEEP_BUF], const char **ret_reason) {
        if (two_lines(buf, len, "slot", slot, PROTO_LANE_NAME_MAX + 1, "keep", keep, PROTO_SLOT_KEEP_BUF, ret_reason) < 0)
                return -EINVAL;
        if (proto_validate_lane_name(slot, ret_reason) < 0 || proto_slot_validate_keep(keep, ret_reason) < 0)
                return -EINVAL;
        return 0;
}

static bool is_hex64(const char *s) {
        if (strlen(s) != PROTO_SHA256_HEX_SIZE - 1)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

int proto_slot_encode_report(const char *fingerprint, const char *keep, char *buf, size_t size, size_t *ret_len) {
        const char *reason;

        if (!is_hex64(fingerprint) || !keep[0] || proto_slot_validate_keep(keep, &reason) < 0)
                return -EINVAL;
        return finish(snprintf(buf, size, "fingerprint=%s\nkeep=%s\n", fingerprint, keep), size, ret_len);
}

int proto_slot_decode_report(const char *buf, size_t len, char fingerprint[PROTO_SHA256_HEX_SIZE],
                             char keep[PROTO_SLOT_KEEP_BUF], const char **ret_reason) {
        if (two_lines(buf, len, "fingerprint", fingerprint, PROTO_SHA256_HEX_SIZE, "keep", keep, PROTO_SLOT_KEEP_BUF,
                      ret_reason) < 0)
                return -EINVAL;
        if (!is_hex64(fingerprint))
                return *ret_reason = "the fingerprint is not 64 lowercase hex digits", -EINVAL;
        if (!keep[0])
                return *ret_reason = "the install has no entry", -EINVAL;
        return proto_slot_validate_keep(keep, ret_reason);
}

static bool is_base64(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '+' || s[i] == '/' || s[i] == '='))
                        return false;
        return true;
}

int proto_slot_encode_verdict(const char *jit, const char *reason, char *buf, size_t size, size_t *ret_len) {
        if (!jit == !reason)
                return -EINVAL;
        if (jit && (!*jit || strlen(jit) > PROTO_SLOT_JIT_MAX || !is_base64(jit, strlen(jit))))
                return -EINVAL;
        if (reason && (!*reason || strlen(reason) > PROTO_SLOT_REASON_MAX || !proto_is_printable_ascii(reason, strlen(reason))))
                return -EINVAL;
        return finish(snprintf(buf, size, jit ? "jitconfig=%s\n" : "refuse=%s\n", jit ?: reason), size, ret_len);
}

int proto_slot_decode_verdict(const char *buf, size_t len, char jit[PROTO_SLOT_JIT_MAX + 1],
                              char reason[PROTO_SLOT_REASON_MAX + 1], const char **ret_reason) {
        bool is_jit = len >= 10 && memcmp(buf, "jitconfig=", 10) == 0;
        size_t k = is_jit ? 10 : 7, vl;
        char *dst = is_jit ? jit : reason;

        jit[0] = reason[0] = '\0';
        if (len > PROTO_SLOT_MAX || memchr(buf, '\0', len) || (!is_jit && (len < 7 || memcmp(buf, "refuse=", 7) != 0)))
                return *ret_reason = "neither a JIT configuration nor a refusal", -EINVAL;
        if (buf[len - 1] != '\n' || memchr(buf, '\n', len - 1) || (vl = len - k - 1) == 0)
                return *ret_reason = "the verdict is one line with a value", -EINVAL;
        if (vl > (is_jit ? PROTO_SLOT_JIT_MAX : PROTO_SLOT_REASON_MAX))
                return *ret_reason = "the verdict's value is too long", -EINVAL;
        if (is_jit ? !is_base64(buf + k, vl) : !proto_is_printable_ascii(buf + k, vl))
                return *ret_reason = is_jit ? "the JIT configuration is not base64" : "the refusal is not printable ASCII",
                       -EINVAL;
        memcpy(dst, buf + k, vl);
        dst[vl] = '\0';
        return 0;
}

void proto_slot_fingerprint_entry(struct proto_sha256 *c, const char *relpath, const struct stat *st,
                                  const char *link_target) {
        char line[PROTO_PATH_MAX * 2 + 256];
        int n;

        /* The size of a directory depends on the file system's history, not
         * on what it holds: its entries are fed themselves. */
        n = snprintf(line, sizeof line, "%s\t%o\t%u\t%u\t%lld\t%llu\t%lld.%09ld\t%lld.%09ld\t%s\n", relpath,
                     (unsigned) st->st_mode, (unsigned) st->st_uid, (unsigned) st->st_gid,
                     S_ISDIR(st->st_mode) ? 0LL : (long long) st->st_size, (unsigned long long) st->st_ino,
                     (long long) st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long) st->st_ctim.tv_sec,
                     st->st_ctim.tv_nsec, link_target ?: "");
        if (n > 0)
                proto_sha256_update(c, line, (size_t) n < sizeof line ? (size_t) n : sizeof line - 1);
}
