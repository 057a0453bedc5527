/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hostile corpus: names (tests/corpus/hostile.txt) and whole messages
 * (the table below) that must each be refused with a specific reason; and
 * the positive corpus (tests/corpus/positive.txt) that must be accepted. */
#include <stdio.h>
#include <string.h>

#include "proto-codec.h"
#include "proto-validate.h"
#include "test-util.h"

#define CORPUS_MAX 256
#define VALUE_MAX 8192

struct entry {
        char kind[32];
        char value[VALUE_MAX];
        size_t len;            /* may hold NUL bytes */
        char reason[128];
        int line;
};

static struct entry hostile[CORPUS_MAX], positive[CORPUS_MAX];
static int n_hostile, n_positive;

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Expand \n \r \t \\ \xHH and {N*c}; returns the length or -1. */
static int unescape(const char *in, char *out, size_t size) {
        size_t n = 0;

        for (const char *p = in; *p; p++) {
                char c = *p;
                int count = 1;

                if (c == '\\') {
                        p++;
                        switch (*p) {
                        case 'n': c = '\n'; break;
                        case 'r': c = '\r'; break;
                        case 't': c = '\t'; break;
                        case '\\': c = '\\'; break;
                        case 'x':
                                if (hexval(p[1]) < 0 || hexval(p[2]) < 0)
                                        return -1;
                                c = (char) (hexval(p[1]) * 16 + hexval(p[2]));
                                p += 2;
                                break;
                        default:
                                return -1;
                        }
                } else if (c == '{') {
                        char *end;
                        long k = strtol(p + 1, &end, 10);

                        if (k <= 0 || end[0] != '*' || !end[1] || end[2] != '}')
                                return -1;
                        c = end[1];
                        count = (int) k;
                        p = end + 2;
                }
                for (int i = 0; i < count; i++) {
                        if (n + 1 >= size)
                                return -1;
                        out[n++] = c;
                }
        }
        out[n] = '\0';
        return (int) n;
}

static int load(const char *name, struct entry *tab, bool with_reason) {
        char path[1024], line[4096];
        _cleanup_(fclosep) FILE *f = NULL;
        int n = 0, lineno = 0;

        snprintf(path, sizeof path, "%s/corpus/%s", TESTS_SRCDIR, name);
        f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "cannot open %s: %m\n", path);
                exit(EXIT_FAILURE);
        }
        while (fgets(line, sizeof line, f)) {
                char *kind, *value, *reason;
                int len;

                lineno++;
                line[strcspn(line, "\n")] = '\0';
                if (line[0] == '#' || line[0] == '\0')
                        continue;
                kind = line;
                value = strchr(kind, '\t');
                if (!value || n >= CORPUS_MAX)
                        goto bad;
                *value++ = '\0';
                reason = strchr(value, '\t');
                if (with_reason != !!reason)
                        goto bad;
                if (reason)
                        *reason++ = '\0';
                len = unescape(value, tab[n].value, sizeof tab[n].value);
                if (len < 0 || strlen(kind) >= sizeof tab[n].kind)
                        goto bad;
                strcpy(tab[n].kind, kind);
                tab[n].len = (size_t) len;
                snprintf(tab[n].reason, sizeof tab[n].reason, "%s", reason ?: "");
                tab[n].line = lineno;
                n++;
        }
        return n;
bad:
        fprintf(stderr, "%s:%d: malformed corpus line\n", path, lineno);
        exit(EXIT_FAILURE);
}

static int (*validator_for(const char *kind))(const char *, const char **) {
        static const struct {
                const char *kind;
                int (*fn)(const char *, const char **);
        } map[] = {
                { "lane", proto_validate_lane_name },       { "user", proto_validate_user_name },
                { "root", proto_validate_abs_path },        { "repository", proto_validate_repository },
                { "organisation", proto_validate_organisation }, { "label", proto_validate_label },
                { "runner", proto_validate_runner_name },   { "unit", proto_validate_unit_name },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(map[i].kind, kind) == 0)
                        return map[i].fn;
        return NULL;
}

/* An install-unit request with VALUE (raw bytes) in the field KIND names. */
static int decode_as_field(const struct entry *e, struct proto_diag *d) {
        static struct proto_builder b;
        static struct proto_msg m;
        const char *fields[3][2] = { { "lane", "good-lane" }, { "user", "runner" }, { "root", "/srv/runners" } };
        bool used = false;
        int r;

        proto_builder_init(&b, PROTO_VERB_INSTALL_UNIT, 0, 1);
        for (int i = 0; i < 3; i++) {
                if (strcmp(fields[i][0], e->kind) == 0) {
                        proto_put_raw(&b, (uint16_t) (PROTO_TAG_LANE + i), PROTO_TYPE_STRING, e->value, (uint32_t) e->len);
                        used = true;
                } else
                        proto_put_str(&b, (enum proto_tag) (PROTO_TAG_LANE + i), fields[i][1]);
        }
        if (!used)
                return 1;
        r = proto_builder_seal(&b);
        ck_assert_int_gt(r, 0);
        r = proto_decode(b.buf, (size_t) r, PROTO_REQUEST, &m, d);
        if (r == 0)   /* what was accepted arrives unchanged */
                for (int i = 0; i < 3; i++)
                        if (strcmp(fields[i][0], e->kind) == 0)
                                ck_assert_str_eq(proto_msg_str(&m, (enum proto_tag) (PROTO_TAG_LANE + i)), e->value);
        return r;
}

START_TEST(test_hostile_name) {
        const struct entry *e = &hostile[_i];
        int (*fn)(const char *, const char **) = validator_for(e->kind);
        const char *reason = NULL;
        struct proto_diag d;
        int r;

        ck_assert_msg(fn, "hostile.txt:%d: unknown kind '%s'", e->line, e->kind);
        if (strlen(e->value) == e->len) {   /* no NUL inside: the validator sees it whole */
                ck_assert_msg(fn(e->value, &reason) == -EINVAL, "hostile.txt:%d accepted by the validator", e->line);
                ck_assert_msg(strstr(reason, e->reason), "hostile.txt:%d: reason '%s' lacks '%s'", e->line, reason, e->reason);
        }
        r = decode_as_field(e, &d);
        if (r == 1)
                return;   /* not a request field */
        ck_assert_msg(r < 0, "hostile.txt:%d accepted by the decoder", e->line);
        ck_assert_int_eq(d.error, PROTO_E_INVALID_FIELD);
        ck_assert_msg(strstr(d.reason, e->reason), "hostile.txt:%d: decoder reason '%s' lacks '%s'",
                      e->line, d.reason, e->reason);
        ck_assert_msg(strstr(d.reason, e->kind), "hostile.txt:%d: decoder reason '%s' does not name field '%s'",
                      e->line, d.reason, e->kind);
}
END_TEST

START_TEST(test_positive_name) {
        const struct entry *e = &positive[_i];
        int (*fn)(const char *, const char **) = validator_for(e->kind);
        const char *reason = NULL;
        struct proto_diag d;

        ck_assert_msg(fn, "positive.txt:%d: unknown kind '%s'", e->line, e->kind);
        ck_assert_msg(fn(e->value, &reason) == 0, "positive.txt:%d '%s' refused: %s", e->line, e->value, reason);
        ck_assert_msg(decode_as_field(e, &d) >= 0, "positive.txt:%d refused by the decoder: %s", e->line, d.reason);
}
END_TEST

START_TEST(test_corpus_sizes) {
        ck_assert_int_ge(n_hostile, 40);
        ck_assert_int_ge(n_positive, 20);
}
END_TEST

/* ---- hostile messages ---- */

static struct proto_builder hb;

static void set16(size_t off, uint16_t v) { hb.buf[off] = (uint8_t) v; hb.buf[off + 1] = (uint8_t) (v >> 8); }
static void set32(size_t off, uint32_t v) { for (int i = 0; i < 4; i++) hb.buf[off + i] = (uint8_t) (v >> (8 * i)); }

static void valid_stop(void) {
        proto_builder_init(&hb, PROTO_VERB_STOP, 0, 5);
        proto_put_str(&hb, PROTO_TAG_LANE, "lane-a");
}

#define FIELD0 PROTO_HEADER_SIZE   /* offset of the first field header */

/* Each builds a message in hb and returns its length. */
static size_t m_empty(void) { return 0; }
static size_t m_truncated_header(void) { valid_stop(); return 10; }
static size_t m_bad_magic(void) { valid_stop(); hb.buf[0] = 'X'; return (size_t) proto_builder_seal(&hb); }
static size_t m_version_2(void) { valid_stop(); proto_builder_seal(&hb); set16(4, 2); return hb.len; }
static size_t m_payload_short(void) { valid_stop(); proto_builder_seal(&hb); set32(12, 100); return hb.len; }
static size_t m_payload_long(void) { valid_stop(); proto_builder_seal(&hb); set32(12, 2); return hb.len; }
static size_t m_payload_huge(void) { valid_stop(); proto_builder_seal(&hb); set32(12, 0xffffffffu); return hb.len; }
static size_t m_oversized(void) {
        valid_stop();
        memset(hb.buf + hb.len, 'a', sizeof hb.buf - hb.len);
        proto_builder_seal(&hb);
        set32(12, PROTO_MAX_PAYLOAD + 1);
        return PROTO_MAX_MESSAGE + 1;   /* one byte past the buffer's valid part: see test */
}
static size_t m_unknown_verb(void) { valid_stop(); proto_builder_seal(&hb); set16(6, 99); return hb.len; }
static size_t m_verb_zero(void) { valid_stop(); proto_builder_seal(&hb); set16(6, 0); return hb.len; }
static size_t m_unknown_flag(void) { valid_stop(); proto_builder_seal(&hb); set32(8, 0x10); return hb.len; }
static size_t m_field_len_overflow(void) { valid_stop(); proto_builder_seal(&hb); set32(FIELD0 + 4, 0xffffffffu); return hb.len; }
static size_t m_field_len_past_end(void) { valid_stop(); proto_builder_seal(&hb); set32(FIELD0 + 4, 7); return hb.len; }
static size_t m_truncated_field(void) {
        valid_stop();
        proto_put_raw(&hb, PROTO_TAG_USER, PROTO_TYPE_STRING, "x", 1);
        hb.len = FIELD0 + 8 + 6 + 3;   /* lane field, then 3 bytes of a field header */
        proto_builder_seal(&hb);
        return hb.len;
}
static size_t m_reserved(void) { valid_stop(); proto_builder_seal(&hb); hb.buf[FIELD0 + 3] = 1; return hb.len; }
static size_t m_unknown_tag(void) { valid_stop(); proto_put_raw(&hb, 999, PROTO_TYPE_STRING, "x", 1); return (size_t) proto_builder_seal(&hb); }
static size_t m_tag_zero(void) { valid_stop(); proto_put_raw(&hb, 0, PROTO_TYPE_STRING, "x", 1); return (size_t) proto_builder_seal(&hb); }
static size_t m_foreign_field(void) {
        proto_builder_init(&hb, PROTO_VERB_RESTART, 0, 5);
        proto_put_str(&hb, PROTO_TAG_LANE, "lane-a");
        proto_put_str(&hb, PROTO_TAG_USER, "runner");
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_reply_field_in_request(void) { valid_stop(); proto_put_i32(&hb, PROTO_TAG_STATUS, 0); return (size_t) proto_builder_seal(&hb); }
static size_t m_duplicate(void) { valid_stop(); proto_put_str(&hb, PROTO_TAG_LANE, "lane-b"); return (size_t) proto_builder_seal(&hb); }
static size_t m_lane_as_u32(void) {
        proto_builder_init(&hb, PROTO_VERB_STOP, 0, 5);
        proto_put_u32(&hb, PROTO_TAG_LANE, 7);
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_u32_short(void) {
        proto_builder_init(&hb, PROTO_VERB_LOAD_BPF, PROTO_FLAG_REPLY, 5);
        proto_put_i32(&hb, PROTO_TAG_STATUS, 0);
        proto_put_raw(&hb, PROTO_TAG_PROG_COUNT, PROTO_TYPE_U32, "abc", 3);
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_bool_two(void) {
        proto_builder_init(&hb, PROTO_VERB_STOP, PROTO_FLAG_REPLY, 5);
        proto_put_i32(&hb, PROTO_TAG_STATUS, 0);
        proto_put_raw(&hb, PROTO_TAG_CHANGED, PROTO_TYPE_BOOL, "\x02", 1);
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_missing_user(void) {
        proto_builder_init(&hb, PROTO_VERB_INSTALL_UNIT, 0, 5);
        proto_put_str(&hb, PROTO_TAG_LANE, "lane-a");
        proto_put_str(&hb, PROTO_TAG_ROOT, "/srv/runners");
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_unknown_type(void) {
        proto_builder_init(&hb, PROTO_VERB_STOP, 0, 5);
        proto_put_raw(&hb, PROTO_TAG_LANE, 9, "lane-a", 6);
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_status_as_string(void) {
        proto_builder_init(&hb, PROTO_VERB_STOP, PROTO_FLAG_REPLY, 5);
        proto_put_raw(&hb, PROTO_TAG_STATUS, PROTO_TYPE_STRING, "0", 1);
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_reload_with_lane(void) {
        proto_builder_init(&hb, PROTO_VERB_DAEMON_RELOAD, 0, 5);
        proto_put_str(&hb, PROTO_TAG_LANE, "lane-a");
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_bpf_path(void) {
        proto_builder_init(&hb, PROTO_VERB_LOAD_BPF, 0, 5);
        proto_put_str(&hb, PROTO_TAG_LANE, "lane-a");
        proto_put_str(&hb, PROTO_TAG_BPF_OBJECT, "/tmp/evil.o");
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_too_many_repeats(void) {
        proto_builder_init(&hb, PROTO_VERB_DAEMON_RELOAD, PROTO_FLAG_REPLY, 5);
        proto_put_i32(&hb, PROTO_TAG_STATUS, 0);
        for (int i = 0; i < 40; i++)
                proto_put_str(&hb, PROTO_TAG_ACTION, "x");
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_unit_text_in_lane(void) {
        proto_builder_init(&hb, PROTO_VERB_STOP, 0, 5);
        proto_put_str(&hb, PROTO_TAG_LANE, "[Service]\nExecStart=/bin/sh -c id");
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_token_in_user(void) {
        proto_builder_init(&hb, PROTO_VERB_INSTALL_UNIT, 0, 5);
        proto_put_str(&hb, PROTO_TAG_LANE, "lane-a");
        proto_put_str(&hb, PROTO_TAG_USER, "ghs_AAAABBBBCCCCDDDDEEEE");
        proto_put_str(&hb, PROTO_TAG_ROOT, "/srv/runners");
        return (size_t) proto_builder_seal(&hb);
}
static size_t m_field_len_wraps(void) {
        /* A length that would wrap a 32-bit offset computation. */
        valid_stop();
        proto_builder_seal(&hb);
        set32(FIELD0 + 4, 0xfffffff8u);
        return hb.len;
}

static const struct {
        const char *name;
        size_t (*build)(void);
        enum proto_error error;
        const char *reason;
} hostile_msgs[] = {
        { "empty", m_empty, PROTO_E_MALFORMED, "truncated message: 0 bytes" },
        { "truncated header", m_truncated_header, PROTO_E_MALFORMED, "truncated message: 10 bytes" },
        { "bad magic", m_bad_magic, PROTO_E_VERSION, "bad magic" },
        { "version 2", m_version_2, PROTO_E_VERSION, "protocol version 2" },
        { "payload shorter than announced", m_payload_short, PROTO_E_MALFORMED, "announces 100 payload bytes" },
        { "payload longer than announced", m_payload_long, PROTO_E_MALFORMED, "announces 2 payload bytes" },
        { "announced payload 4 GiB", m_payload_huge, PROTO_E_TOO_LARGE, "exceeds 16384" },
        { "oversized message", m_oversized, PROTO_E_TOO_LARGE, "exceeds 16384" },
        { "unknown verb", m_unknown_verb, PROTO_E_UNKNOWN_VERB, "unknown verb 99" },
        { "verb 0 in a request", m_verb_zero, PROTO_E_UNKNOWN_VERB, "unknown verb 0" },
        { "unknown flag", m_unknown_flag, PROTO_E_MALFORMED, "unknown flag bits 0x00000010" },
        { "field length 0xffffffff", m_field_len_overflow, PROTO_E_MALFORMED, "claims 4294967295 bytes" },
        { "field length past the end", m_field_len_past_end, PROTO_E_MALFORMED, "claims 7 bytes but only 6 remain" },
        { "field length that wraps", m_field_len_wraps, PROTO_E_MALFORMED, "claims 4294967288 bytes" },
        { "truncated field header", m_truncated_field, PROTO_E_MALFORMED, "truncated field header (3 of 8" },
        { "reserved byte set", m_reserved, PROTO_E_MALFORMED, "non-zero reserved byte" },
        { "unknown field tag", m_unknown_tag, PROTO_E_UNKNOWN_FIELD, "unknown field tag 999" },
        { "field tag 0", m_tag_zero, PROTO_E_UNKNOWN_FIELD, "unknown field tag 0" },
        { "field of another verb", m_foreign_field, PROTO_E_UNKNOWN_FIELD, "'user' is not part of a restart request" },
        { "reply field in a request", m_reply_field_in_request, PROTO_E_UNKNOWN_FIELD, "'status' is not part of a stop request" },
        { "duplicate field", m_duplicate, PROTO_E_DUPLICATE_FIELD, "'lane' appears more than once" },
        { "string field sent as u32", m_lane_as_u32, PROTO_E_INVALID_FIELD, "'lane' has type u32, expected string" },
        { "u32 field of 3 bytes", m_u32_short, PROTO_E_INVALID_FIELD, "has length 3, expected 4" },
        { "bool holding 2", m_bool_two, PROTO_E_INVALID_FIELD, "is a bool but holds 2" },
        { "missing required field", m_missing_user, PROTO_E_MISSING_FIELD, "install-unit request lacks field 'user'" },
        { "unknown field type", m_unknown_type, PROTO_E_INVALID_FIELD, "has type unknown" },
        { "i32 field sent as string", m_status_as_string, PROTO_E_INVALID_FIELD, "'status' has type string, expected i32" },
        { "daemon-reload with a lane", m_reload_with_lane, PROTO_E_UNKNOWN_FIELD, "not part of a daemon-reload request" },
        { "BPF object given as a path", m_bpf_path, PROTO_E_INVALID_FIELD, "'bpf-object' contains '/'" },
        { "repeatable field 40 times", m_too_many_repeats, PROTO_E_TOO_LARGE, "repeats more than 32 times" },
        { "unit text smuggled in a lane", m_unit_text_in_lane, PROTO_E_INVALID_FIELD, "'lane' contains '[' or ']'" },
        { "token smuggled in a user", m_token_in_user, PROTO_E_INVALID_FIELD, "'user' contains an upper-case letter" },
};

START_TEST(test_hostile_message) {
        static struct proto_msg m;
        struct proto_diag d;
        size_t len = hostile_msgs[_i].build();
        uint8_t *copy;
        int r;

        /* Decode from a heap copy of exactly len bytes: ASan sees any overread. */
        copy = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(copy);
        if (len > sizeof hb.buf) {   /* the oversized case: a buffer larger than any message */
                memset(copy, 'a', len);
                memcpy(copy, hb.buf, PROTO_HEADER_SIZE);
        } else
                memcpy(copy, hb.buf, len);
        /* Decoded in the direction its flag claims, so that the field rules
         * are what refuses it; a request-only receiver refuses it too. */
        r = proto_decode(copy, len, len >= 12 && (copy[11] & 0x80) ? PROTO_REPLY : PROTO_REQUEST, &m, &d);
        ck_assert_int_lt(proto_decode(copy, len, PROTO_REQUEST, &m, NULL), 0);
        free(copy);
        ck_assert_msg(r < 0, "%s: accepted", hostile_msgs[_i].name);
        ck_assert_msg(d.error == hostile_msgs[_i].error, "%s: error %s, expected %s", hostile_msgs[_i].name,
                      proto_error_to_string(d.error), proto_error_to_string(hostile_msgs[_i].error));
        ck_assert_int_eq(r, proto_error_to_errno(hostile_msgs[_i].error));
        ck_assert_msg(strstr(d.reason, hostile_msgs[_i].reason), "%s: reason '%s' lacks '%s'",
                      hostile_msgs[_i].name, d.reason, hostile_msgs[_i].reason);
}
END_TEST

/* The message an outside check found acted on: daemon-reload with flags
 * REPLY and a status field (issue 11). It must be refused as a request. */
static const uint8_t reply_shaped_reload[] = {
        0x4c, 0x4b, 0x48, 0x50, 0x01, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x80,
        0x0c, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x10, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

START_TEST(test_reply_shaped_request) {
        static struct proto_msg m;
        struct proto_diag d;

        ck_assert_int_eq(proto_decode(reply_shaped_reload, sizeof reply_shaped_reload, PROTO_REQUEST, &m, &d),
                         -EBADMSG);
        ck_assert_int_eq(d.error, PROTO_E_MALFORMED);
        ck_assert_reason_has(d.reason, "a reply (flag 0x80000000 set) where a request was expected");
        /* ...while the same bytes are a well-formed reply for a reply reader. */
        ck_assert_int_eq(proto_decode(reply_shaped_reload, sizeof reply_shaped_reload, PROTO_REPLY, &m, &d), 0);

        /* install-unit in the shape of its reply: no lane, user or root. */
        proto_builder_init(&hb, PROTO_VERB_INSTALL_UNIT, PROTO_FLAG_REPLY, 9);
        proto_put_i32(&hb, PROTO_TAG_STATUS, 0);
        ck_assert_int_gt(proto_builder_seal(&hb), 0);
        ck_assert_int_lt(proto_decode(hb.buf, hb.len, PROTO_REQUEST, &m, &d), 0);
        ck_assert_reason_has(d.reason, "where a request was expected");
        ck_assert_int_eq(proto_decode(hb.buf, hb.len, PROTO_REPLY, &m, &d), 0);
        ck_assert(!proto_msg_find(&m, PROTO_TAG_LANE));

        /* A request where a reply is expected is refused the other way round. */
        valid_stop();
        ck_assert_int_gt(proto_builder_seal(&hb), 0);
        ck_assert_int_lt(proto_decode(hb.buf, hb.len, PROTO_REPLY, &m, &d), 0);
        ck_assert_reason_has(d.reason, "where a reply was expected");
        ck_assert_int_lt(proto_decode(hb.buf, hb.len, (enum proto_direction) 7, &m, &d), 0);
}
END_TEST

/* Every flag bit, in a request: only dry-run is a request flag. */
START_TEST(test_every_flag_bit) {
        static struct proto_msg m;
        struct proto_diag d;
        uint32_t bit = 1u << _i;

        valid_stop();
        ck_assert_int_gt(proto_builder_seal(&hb), 0);
        set32(8, bit);
        if (bit == PROTO_FLAG_DRY_RUN) {
                ck_assert_int_eq(proto_decode(hb.buf, hb.len, PROTO_REQUEST, &m, &d), 0);
                ck_assert(proto_msg_complete(&m));
                return;
        }
        ck_assert_int_lt(proto_decode(hb.buf, hb.len, PROTO_REQUEST, &m, &d), 0);
        ck_assert_int_eq(d.error, PROTO_E_MALFORMED);
        ck_assert_reason_has(d.reason, bit == PROTO_FLAG_REPLY ? "a reply" : "unknown flag bits");
}
END_TEST

/* Every value of each header field: magic, version and verb are exact;
 * any request id is echoed; the payload length must be exact. A request
 * that decodes is always complete. */
START_TEST(test_every_header_value) {
        static struct proto_msg m;
        struct proto_diag d;
        size_t accepted = 0;

        for (uint32_t v = 0; v <= 0xffff; v++) {
                valid_stop();
                ck_assert_int_gt(proto_builder_seal(&hb), 0);
                set16(6, (uint16_t) v);
                if (proto_decode(hb.buf, hb.len, PROTO_REQUEST, &m, &d) == 0) {
                        ck_assert(proto_msg_complete(&m));
                        ck_assert_int_eq(m.verb, v);
                        accepted++;
                } else
                        ck_assert_msg(d.error > PROTO_OK && d.reason[0], "verb %u: no reason", v);
                valid_stop();
                ck_assert_int_gt(proto_builder_seal(&hb), 0);
                set16(4, (uint16_t) v);
                ck_assert_int_eq(proto_decode(hb.buf, hb.len, PROTO_REQUEST, &m, &d) == 0, v == PROTO_VERSION);
                if (v != PROTO_VERSION)
                        ck_assert_int_eq(d.error, PROTO_E_VERSION);
        }
        /* stop's lane-only field list fits enable-now, restart, stop, remove-unit. */
        ck_assert_int_eq(accepted, 4);
        for (int byte = 0; byte < 4; byte++) {
                valid_stop();
                ck_assert_int_gt(proto_builder_seal(&hb), 0);
                hb.buf[byte] ^= 0x20;
                ck_assert_int_lt(proto_decode(hb.buf, hb.len, PROTO_REQUEST, &m, &d), 0);
                ck_assert_int_eq(d.error, PROTO_E_VERSION);
                ck_assert_reason_has(d.reason, "expected 0x50484b4c");
        }
        for (int byte = 16; byte < 24; byte++) {
                valid_stop();
                ck_assert_int_gt(proto_builder_seal(&hb), 0);
                hb.buf[byte] = 0xff;
                ck_assert_int_eq(proto_decode(hb.buf, hb.len, PROTO_REQUEST, &m, &d), 0);
        }
}
END_TEST

int main(void) {
        Suite *s = suite_create("corpus");
        TCase *tc = tcase_create("corpus");

        n_hostile = load("hostile.txt", hostile, true);
        n_positive = load("positive.txt", positive, false);
        tcase_add_loop_test(tc, test_hostile_name, 0, n_hostile);
        tcase_add_loop_test(tc, test_positive_name, 0, n_positive);
        tcase_add_loop_test(tc, test_hostile_message, 0, (int) ELEMENTSOF(hostile_msgs));
        tcase_add_test(tc, test_corpus_sizes);
        tcase_add_test(tc, test_reply_shaped_request);
        tcase_add_loop_test(tc, test_every_flag_bit, 0, 32);
        tcase_add_test(tc, test_every_header_value);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
