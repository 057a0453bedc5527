/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "proto-codec.h"
#include "proto-validate.h"
#include "proto-wire.h"

/* ---- the field and verb tables: this is the protocol's policy ---- */

static int validate_text(const char *s, const char **ret_reason) {
        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char) *p;
                const char *reason = NULL;

                if (c == '\n')
                        reason = "contains a newline";
                else if (c >= 0x80)
                        reason = "contains a non-ASCII byte";
                else if (c < 0x20 || c == 0x7f)
                        reason = "contains a control character";
                if (reason) {
                        if (ret_reason)
                                *ret_reason = reason;
                        return -EINVAL;
                }
        }
        return 0;
}

static int validate_error_name(const char *s, const char **ret_reason) {
        enum proto_error e = proto_error_from_string(s);

        if (e < 0 || e == PROTO_OK) {
                if (ret_reason)
                        *ret_reason = "is not a known error name";
                return -EINVAL;
        }
        return 0;
}

static int validate_digest(const char *s, const char **ret_reason) {
        size_t n = strlen(s);

        if (n != 64 || strspn(s, "0123456789abcdef") != n) {
                if (ret_reason)
                        *ret_reason = "is not 64 lower-case hexadecimal digits";
                return -EINVAL;
        }
        return 0;
}

/* As systemd names a cgroup: absolute, printable, "\x2d" escapes allowed. */
static int validate_cgroup_path(const char *s, const char **ret_reason) {
        if (s[0] != '/' || strstr(s, "/.."))
                return *ret_reason = "is not an absolute cgroup path", -EINVAL;
        return validate_text(s, ret_reason);
}

static int validate_state_word(const char *s, const char **ret_reason) {
        if (!*s || strspn(s, "abcdefghijklmnopqrstuvwxyz-") != strlen(s)) {
                if (ret_reason)
                        *ret_reason = "is not a systemd state word";
                return -EINVAL;
        }
        return 0;
}

struct tag_spec {
        const char *name;
        enum proto_type type;
        uint32_t max_len;                                   /* strings */
        int (*validate)(const char *s, const char **ret_reason);
};

static const struct tag_spec tag_table[_PROTO_TAG_MAX] = {
        [PROTO_TAG_LANE]         = { "lane",         PROTO_TYPE_STRING, PROTO_LANE_NAME_MAX,  proto_validate_lane_name },
        [PROTO_TAG_USER]         = { "user",         PROTO_TYPE_STRING, PROTO_USER_NAME_MAX,  proto_validate_user_name },
        [PROTO_TAG_ROOT]         = { "root",         PROTO_TYPE_STRING, PROTO_PATH_MAX,       proto_validate_abs_path },
        [PROTO_TAG_BPF_OBJECT]   = { "bpf-object",   PROTO_TYPE_STRING, PROTO_BPF_OBJECT_MAX, proto_validate_bpf_object_name },
        [PROTO_TAG_STATUS]       = { "status",       PROTO_TYPE_I32,    0, NULL },
        [PROTO_TAG_ERROR]        = { "error",        PROTO_TYPE_STRING, 64,                   validate_error_name },
        [PROTO_TAG_REASON]       = { "reason",       PROTO_TYPE_STRING, PROTO_REASON_MAX,     validate_text },
        [PROTO_TAG_UNIT_NAME]    = { "unit-name",    PROTO_TYPE_STRING, 128,                  proto_validate_unit_name },
        [PROTO_TAG_UNIT_PATH]    = { "unit-path",    PROTO_TYPE_STRING, PROTO_PATH_MAX,       proto_validate_abs_path },
        [PROTO_TAG_DIGEST]       = { "digest",       PROTO_TYPE_STRING, 64,                   validate_digest },
        [PROTO_TAG_CHANGED]      = { "changed",      PROTO_TYPE_BOOL,   0, NULL },
        [PROTO_TAG_ACTIVE_STATE] = { "active-state", PROTO_TYPE_STRING, 32,                   validate_state_word },
        [PROTO_TAG_SUB_STATE]    = { "sub-state",    PROTO_TYPE_STRING, 32,                   validate_state_word },
        [PROTO_TAG_ACTION]       = { "action",       PROTO_TYPE_STRING, PROTO_REASON_MAX,     validate_text },
        [PROTO_TAG_PROG_COUNT]   = { "prog-count",   PROTO_TYPE_U32,    0, NULL },
        [PROTO_TAG_RINGBUF_SIZE] = { "ringbuf-size", PROTO_TYPE_U32,    0, NULL },
        [PROTO_TAG_CGROUP_ID]    = { "cgroup-id",    PROTO_TYPE_U64,    0, NULL },
        [PROTO_TAG_CGROUP_PATH]  = { "cgroup-path",  PROTO_TYPE_STRING, PROTO_PATH_MAX,       validate_cgroup_path },
};

struct field_rule {
        enum proto_tag tag;
        bool required;
        bool repeat;
};

#define RULES_MAX 8
struct verb_spec {
        const char *name;
        struct field_rule request[RULES_MAX];
        struct field_rule results[RULES_MAX];
};

#define REQ(t) { PROTO_TAG_##t, true, false }
#define OPT(t) { PROTO_TAG_##t, false, false }
#define REP(t) { PROTO_TAG_##t, false, true }

static const struct verb_spec verb_table[_PROTO_VERB_MAX] = {
        [PROTO_VERB_NONE]          = { NULL, {}, {} },
        [PROTO_VERB_INSTALL_UNIT]  = { "install-unit",  { REQ(LANE), REQ(USER), REQ(ROOT) },
                                       { OPT(UNIT_NAME), OPT(UNIT_PATH), OPT(DIGEST), OPT(CHANGED), REP(ACTION) } },
        [PROTO_VERB_DAEMON_RELOAD] = { "daemon-reload", {},
                                       { REP(ACTION) } },
        [PROTO_VERB_ENABLE_NOW]    = { "enable-now",    { REQ(LANE) },
                                       { OPT(UNIT_NAME), OPT(ACTIVE_STATE), OPT(SUB_STATE), OPT(CHANGED), REP(ACTION) } },
        [PROTO_VERB_RESTART]       = { "restart",       { REQ(LANE) },
                                       { OPT(UNIT_NAME), OPT(ACTIVE_STATE), OPT(SUB_STATE), REP(ACTION) } },
        [PROTO_VERB_STOP]          = { "stop",          { REQ(LANE) },
                                       { OPT(UNIT_NAME), OPT(ACTIVE_STATE), OPT(SUB_STATE), OPT(CHANGED), REP(ACTION) } },
        [PROTO_VERB_REMOVE_UNIT]   = { "remove-unit",   { REQ(LANE) },
                                       { OPT(UNIT_NAME), OPT(UNIT_PATH), OPT(CHANGED), REP(ACTION) } },
        [PROTO_VERB_LOAD_BPF]      = { "load-bpf",      { REQ(LANE), REQ(BPF_OBJECT), OPT(RINGBUF_SIZE) },
                                       { OPT(UNIT_NAME), OPT(DIGEST), OPT(PROG_COUNT), OPT(RINGBUF_SIZE),
                                         OPT(CGROUP_ID), OPT(CGROUP_PATH), REP(ACTION) } },
};

/* Fields every reply may carry besides its verb's results. */
static const struct field_rule reply_common[] = {
        REQ(STATUS), OPT(ERROR), OPT(REASON),
};

static const char *const type_names[_PROTO_TYPE_MAX] = {
        [PROTO_TYPE_STRING] = "string",
        [PROTO_TYPE_U32] = "u32",
        [PROTO_TYPE_I32] = "i32",
        [PROTO_TYPE_U64] = "u64",
        [PROTO_TYPE_BOOL] = "bool",
};

const char *proto_verb_to_string(enum proto_verb v) {
        if (v <= PROTO_VERB_NONE || v >= _PROTO_VERB_MAX)
                return NULL;
        return verb_table[v].name;
}

enum proto_verb proto_verb_from_string(const char *s) {
        if (!s)
                return _PROTO_VERB_INVALID;
        for (int v = PROTO_VERB_INSTALL_UNIT; v < _PROTO_VERB_MAX; v++)
                if (strcmp(verb_table[v].name, s) == 0)
                        return (enum proto_verb) v;
        return _PROTO_VERB_INVALID;
}

const char *proto_tag_to_string(enum proto_tag t) {
        if (t <= 0 || t >= _PROTO_TAG_MAX)
                return NULL;
        return tag_table[t].name;
}

const char *proto_type_to_string(enum proto_type t) {
        if (t <= 0 || t >= _PROTO_TYPE_MAX)
                return NULL;
        return type_names[t];
}

static uint32_t type_width(enum proto_type t) {
        switch (t) {
        case PROTO_TYPE_U32:
        case PROTO_TYPE_I32:
                return 4;
        case PROTO_TYPE_U64:
                return 8;
        case PROTO_TYPE_BOOL:
                return 1;
        case PROTO_TYPE_STRING:
        case _PROTO_TYPE_MAX:
        case _PROTO_TYPE_INVALID:
                break;
        }
        return 0;
}

/* ---- decoding ---- */

_printf_(3, 4)
static int refuse(struct proto_diag *diag, enum proto_error e, const char *fmt, ...) {
        if (diag) {
                va_list ap;

                diag->error = e;
                va_start(ap, fmt);
                (void) vsnprintf(diag->reason, sizeof diag->reason, fmt, ap);
                va_end(ap);
        }
        return proto_error_to_errno(e);
}

/* The rule for TAG in this message's closed list, or NULL if not allowed. */
static const struct field_rule *find_rule(enum proto_verb verb, bool reply, uint16_t tag) {
        const struct field_rule *list = reply ? verb_table[verb].results : verb_table[verb].request;

        if (reply)
                for (size_t i = 0; i < ELEMENTSOF(reply_common); i++)
                        if (reply_common[i].tag == tag)
                                return &reply_common[i];
        for (size_t i = 0; i < RULES_MAX && list[i].tag; i++)
                if (list[i].tag == tag)
                        return &list[i];
        return NULL;
}

bool proto_field_allowed(enum proto_verb verb, bool reply, enum proto_tag tag) {
        if (verb < PROTO_VERB_NONE || verb >= _PROTO_VERB_MAX || tag <= 0 || tag >= _PROTO_TAG_MAX)
                return false;
        return find_rule(verb, reply, (uint16_t) tag) != NULL;
}

bool proto_field_required(enum proto_verb verb, enum proto_tag tag) {
        const struct field_rule *rule;

        if (verb <= PROTO_VERB_NONE || verb >= _PROTO_VERB_MAX || tag <= 0 || tag >= _PROTO_TAG_MAX)
                return false;
        rule = find_rule(verb, false, (uint16_t) tag);
        return rule && rule->required;
}

static const char *what(const struct proto_msg *m) {
        return proto_msg_is_reply(m) ? "reply" : "request";
}

static const char *verb_name(enum proto_verb v) {
        return proto_verb_to_string(v) ?: "unreadable-request";
}

static int decode_value(struct proto_msg *m, struct proto_field *f, const uint8_t *val,
                        const struct tag_spec *spec, struct proto_diag *diag) {
        const char *reason;
        char *copy;

        switch ((enum proto_type) f->type) {
        case PROTO_TYPE_STRING:
                if (memchr(val, '\0', f->len))
                        return refuse(diag, PROTO_E_INVALID_FIELD, "field '%s' contains a NUL byte", spec->name);
                if (f->len > spec->max_len)
                        return refuse(diag, PROTO_E_INVALID_FIELD, "field '%s' is too long (more than %u bytes)",
                                      spec->name, spec->max_len);
                copy = m->strbuf + m->strbuf_used;
                memcpy(copy, val, f->len);
                copy[f->len] = '\0';
                m->strbuf_used += f->len + 1;
                if (spec->validate(copy, &reason) < 0)
                        return refuse(diag, PROTO_E_INVALID_FIELD, "field '%s' %s", spec->name, reason);
                f->v.str = copy;
                return 0;
        case PROTO_TYPE_U32:
                f->v.u32 = get_le32(val);
                if (f->tag == PROTO_TAG_RINGBUF_SIZE && proto_validate_ringbuf_size(f->v.u32, &reason) < 0)
                        return refuse(diag, PROTO_E_INVALID_FIELD, "field '%s' %s", spec->name, reason);
                return 0;
        case PROTO_TYPE_I32:
                f->v.i32 = (int32_t) get_le32(val);
                return 0;
        case PROTO_TYPE_U64:
                f->v.u64 = get_le64(val);
                return 0;
        case PROTO_TYPE_BOOL:
                if (val[0] > 1)
                        return refuse(diag, PROTO_E_INVALID_FIELD, "field '%s' is a bool but holds %u",
                                      spec->name, val[0]);
                f->v.b = val[0];
                return 0;
        case _PROTO_TYPE_MAX:
        case _PROTO_TYPE_INVALID:
                break;
        }
        return refuse(diag, PROTO_E_INVALID_FIELD, "field '%s' has an unknown type", spec->name);
}

static int decode_field(struct proto_msg *m, const uint8_t *p, size_t avail, size_t *ret_used,
                        struct proto_diag *diag) {
        const struct field_rule *rule;
        const struct tag_spec *spec;
        struct proto_field *f;
        uint16_t tag;
        uint8_t type;
        uint32_t len;
        size_t seen = 0;
        int r;

        if (avail < PROTO_FIELD_HEADER_SIZE)
                return refuse(diag, PROTO_E_MALFORMED, "truncated field header (%zu of 8 bytes)", avail);
        tag = get_le16(p);
        type = p[2];
        len = get_le32(p + 4);
        if (p[3] != 0)
                return refuse(diag, PROTO_E_MALFORMED, "field %u has a non-zero reserved byte", tag);
        if (len > avail - PROTO_FIELD_HEADER_SIZE)
                return refuse(diag, PROTO_E_MALFORMED, "field %u claims %u bytes but only %zu remain",
                              tag, len, avail - PROTO_FIELD_HEADER_SIZE);
        if (tag == 0 || tag >= _PROTO_TAG_MAX || !tag_table[tag].name)
                return refuse(diag, PROTO_E_UNKNOWN_FIELD, "unknown field tag %u", tag);
        spec = &tag_table[tag];
        rule = find_rule(m->verb, proto_msg_is_reply(m), tag);
        if (!rule)
                return refuse(diag, PROTO_E_UNKNOWN_FIELD, "field '%s' is not part of a %s %s",
                              spec->name, verb_name(m->verb), what(m));
        if (type != spec->type)
                return refuse(diag, PROTO_E_INVALID_FIELD, "field '%s' has type %s, expected %s", spec->name,
                              proto_type_to_string(type) ?: "unknown", proto_type_to_string(spec->type));
        if (type != PROTO_TYPE_STRING && len != type_width(type))
                return refuse(diag, PROTO_E_INVALID_FIELD, "field '%s' (%s) has length %u, expected %u",
                              spec->name, type_names[type], len, type_width(type));
        for (size_t i = 0; i < m->n_fields; i++)
                seen += m->fields[i].tag == tag;
        if (seen > 0 && !rule->repeat)
                return refuse(diag, PROTO_E_DUPLICATE_FIELD, "field '%s' appears more than once", spec->name);
        if (seen >= PROTO_MAX_REPEAT)
                return refuse(diag, PROTO_E_TOO_LARGE, "field '%s' repeats more than %u times",
                              spec->name, PROTO_MAX_REPEAT);
        if (m->n_fields >= PROTO_MAX_FIELDS)
                return refuse(diag, PROTO_E_TOO_LARGE, "more than %u fields", PROTO_MAX_FIELDS);

        f = &m->fields[m->n_fields];
        *f = (struct proto_field) { .tag = tag, .type = type, .len = len };
        r = decode_value(m, f, p + PROTO_FIELD_HEADER_SIZE, spec, diag);
        if (r < 0)
                return r;
        m->n_fields++;
        *ret_used = PROTO_FIELD_HEADER_SIZE + len;
        return 0;
}

static int check_complete(const struct proto_msg *m, struct proto_diag *diag) {
        bool reply = proto_msg_is_reply(m);
        const struct field_rule *list = reply ? verb_table[m->verb].results : verb_table[m->verb].request;
        int32_t status;

        for (size_t i = 0; i < RULES_MAX && list[i].tag; i++)
                if (list[i].required && !proto_msg_find(m, list[i].tag))
                        return refuse(diag, PROTO_E_MISSING_FIELD, "%s %s lacks field '%s'",
                                      verb_name(m->verb), what(m), tag_table[list[i].tag].name);
        if (!reply)
                return 0;
        if (proto_msg_i32(m, PROTO_TAG_STATUS, &status) < 0)
                return refuse(diag, PROTO_E_MISSING_FIELD, "reply lacks field 'status'");
        if (status > 0)
                return refuse(diag, PROTO_E_INVALID_FIELD, "field 'status' is positive (%d)", status);
        if ((status < 0) != !!proto_msg_find(m, PROTO_TAG_ERROR))
                return refuse(diag, PROTO_E_INVALID_FIELD,
                              "field 'error' must be present exactly when status is negative");
        if (status < 0)
                for (size_t i = 0; i < m->n_fields; i++)
                        if (m->fields[i].tag > PROTO_TAG_REASON)
                                return refuse(diag, PROTO_E_INVALID_FIELD, "a failed reply carries result field '%s'",
                                              tag_table[m->fields[i].tag].name);
        return 0;
}

bool proto_msg_complete(const struct proto_msg *m) {
        const struct field_rule *list;

        if (m->verb <= PROTO_VERB_NONE || m->verb >= _PROTO_VERB_MAX)
                return proto_msg_is_reply(m) && proto_msg_find(m, PROTO_TAG_STATUS);
        list = proto_msg_is_reply(m) ? verb_table[m->verb].results : verb_table[m->verb].request;
        for (size_t i = 0; i < RULES_MAX && list[i].tag; i++)
                if (list[i].required && !proto_msg_find(m, list[i].tag))
                        return false;
        return !proto_msg_is_reply(m) || proto_msg_find(m, PROTO_TAG_STATUS);
}

int proto_decode(const void *buf, size_t len, enum proto_direction want, struct proto_msg *m,
                 struct proto_diag *diag) {
        const uint8_t *p = buf;
        uint32_t magic, payload_len;
        uint16_t version, verb;
        size_t off;
        int r;

        if (diag)
                *diag = (struct proto_diag) { .error = PROTO_OK };
        if (!p || len < PROTO_HEADER_SIZE)
                return refuse(diag, PROTO_E_MALFORMED, "truncated message: %zu bytes, a header needs %u",
                              p ? len : 0, PROTO_HEADER_SIZE);
        magic = get_le32(p);
        version = get_le16(p + 4);
        verb = get_le16(p + 6);
        payload_len = get_le32(p + 12);
        if (want != PROTO_REQUEST && want != PROTO_REPLY)
                return refuse(diag, PROTO_E_INTERNAL, "the receiver named no direction to decode");
        if (magic != PROTO_MAGIC)
                return refuse(diag, PROTO_E_VERSION,
                              "bad magic 0x%08x: not a lanekeeper helper message (expected 0x%08x, \"LKHP\", "
                              "protocol version %u)", magic, PROTO_MAGIC, PROTO_VERSION);
        if (diag)
                diag->request_id = get_le64(p + 16);
        if (version != PROTO_VERSION)
                return refuse(diag, PROTO_E_VERSION, "protocol version %u, this side speaks %u",
                              version, PROTO_VERSION);
        if (len > PROTO_MAX_MESSAGE || payload_len > PROTO_MAX_PAYLOAD)
                return refuse(diag, PROTO_E_TOO_LARGE, "payload of %zu bytes exceeds %u",
                              len > PROTO_MAX_MESSAGE ? len - PROTO_HEADER_SIZE : (size_t) payload_len,
                              PROTO_MAX_PAYLOAD);
        if (payload_len != len - PROTO_HEADER_SIZE)
                return refuse(diag, PROTO_E_MALFORMED, "header announces %u payload bytes, message carries %zu",
                              payload_len, len - PROTO_HEADER_SIZE);

        m->flags = get_le32(p + 8);
        m->request_id = get_le64(p + 16);
        m->n_fields = 0;
        m->strbuf_used = 0;
        if (m->flags & ~PROTO_FLAGS_KNOWN)
                return refuse(diag, PROTO_E_MALFORMED, "unknown flag bits 0x%08x", m->flags & ~PROTO_FLAGS_KNOWN);
        if (proto_msg_is_reply(m) != (want == PROTO_REPLY))
                return refuse(diag, PROTO_E_MALFORMED, want == PROTO_REQUEST ?
                              "a reply (flag 0x%08x set) where a request was expected: only requests are served" :
                              "a request (flag 0x%08x clear) where a reply was expected", PROTO_FLAG_REPLY);
        if (verb >= _PROTO_VERB_MAX || (verb == PROTO_VERB_NONE && !proto_msg_is_reply(m)))
                return refuse(diag, PROTO_E_UNKNOWN_VERB, "unknown verb %u", verb);
        m->verb = (enum proto_verb) verb;

        for (off = PROTO_HEADER_SIZE; off < len;) {
                size_t used = 0;

                r = decode_field(m, p + off, len - off, &used, diag);
                if (r < 0)
                        return r;
                off += used;
        }
        return check_complete(m, diag);
}

const struct proto_field *proto_msg_find(const struct proto_msg *m, enum proto_tag tag) {
        for (size_t i = 0; i < m->n_fields; i++)
                if (m->fields[i].tag == (uint16_t) tag)
                        return &m->fields[i];
        return NULL;
}

const char *proto_msg_str(const struct proto_msg *m, enum proto_tag tag) {
        const struct proto_field *f = proto_msg_find(m, tag);
        return f && f->type == PROTO_TYPE_STRING ? f->v.str : NULL;
}

#define DEFINE_ACCESSOR(name, ctype, ptype, member)                                      \
        int proto_msg_##name(const struct proto_msg *m, enum proto_tag tag, ctype *ret) { \
                const struct proto_field *f = proto_msg_find(m, tag);                     \
                if (!f || f->type != (ptype))                                             \
                        return -ENOENT;                                                   \
                *ret = f->v.member;                                                       \
                return 0;                                                                 \
        }

DEFINE_ACCESSOR(i32, int32_t, PROTO_TYPE_I32, i32)
DEFINE_ACCESSOR(u32, uint32_t, PROTO_TYPE_U32, u32)
DEFINE_ACCESSOR(u64, uint64_t, PROTO_TYPE_U64, u64)
DEFINE_ACCESSOR(bool, bool, PROTO_TYPE_BOOL, b)

size_t proto_msg_strs(const struct proto_msg *m, enum proto_tag tag, const char **out, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < m->n_fields; i++)
                if (m->fields[i].tag == (uint16_t) tag && m->fields[i].type == PROTO_TYPE_STRING) {
                        if (n < max)
                                out[n] = m->fields[i].v.str;
                        n++;
                }
        return n;
}
