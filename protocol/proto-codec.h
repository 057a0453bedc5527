/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The helper protocol (DESIGN §5): one SOCK_SEQPACKET message per request
 * or reply. Every integer is little-endian on the wire.
 *
 *   header, 24 bytes:
 *     0  u32 magic        "LKHP" (0x50484b4c)
 *     4  u16 version      1
 *     6  u16 verb         enum proto_verb
 *     8  u32 flags        PROTO_FLAG_*; unknown bits are refused
 *    12  u32 payload_len  <= PROTO_MAX_PAYLOAD, equal to the bytes that follow
 *    16  u64 request_id   chosen by the caller, echoed in the reply
 *   payload: fields, back to back, no padding:
 *     0  u16 tag          enum proto_tag
 *     2  u8  type         enum proto_type; must be the tag's type
 *     3  u8  reserved     0
 *     4  u32 len          exact for fixed-width types
 *     8  len bytes        strings: printable ASCII, no NUL, no terminator
 *
 * Each verb has an exact, closed list of request fields and of reply result
 * fields (proto-codec.c: verb_table). Unknown, duplicate, missing or
 * mistyped fields are refused by the decoder, and so the encoder refuses to
 * produce them too. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto-error.h"

#define PROTO_MAGIC             0x50484b4cu
#define PROTO_VERSION           1u
#define PROTO_HEADER_SIZE       24u
#define PROTO_FIELD_HEADER_SIZE 8u
#define PROTO_MAX_PAYLOAD       16384u
#define PROTO_MAX_MESSAGE       (PROTO_HEADER_SIZE + PROTO_MAX_PAYLOAD)
#define PROTO_MAX_FIELDS        64u
#define PROTO_MAX_REPEAT        32u  /* repeatable fields: at most this many */
#define PROTO_REASON_MAX        512u

#define PROTO_FLAG_DRY_RUN      0x00000001u
#define PROTO_FLAG_REPLY        0x80000000u
#define PROTO_FLAGS_KNOWN       (PROTO_FLAG_DRY_RUN | PROTO_FLAG_REPLY)

enum proto_verb {
        PROTO_VERB_NONE = 0,            /* only in a reply to an unreadable request */
        PROTO_VERB_INSTALL_UNIT = 1,
        PROTO_VERB_DAEMON_RELOAD,
        PROTO_VERB_ENABLE_NOW,
        PROTO_VERB_RESTART,
        PROTO_VERB_STOP,
        PROTO_VERB_REMOVE_UNIT,
        PROTO_VERB_LOAD_BPF,
        _PROTO_VERB_MAX,
        _PROTO_VERB_INVALID = -EINVAL,
};

enum proto_type {
        PROTO_TYPE_STRING = 1,
        PROTO_TYPE_U32,
        PROTO_TYPE_I32,
        PROTO_TYPE_U64,
        PROTO_TYPE_BOOL,
        _PROTO_TYPE_MAX,
        _PROTO_TYPE_INVALID = -EINVAL,
};

enum proto_tag {
        /* request fields */
        PROTO_TAG_LANE = 1,         /* string, lane name */
        PROTO_TAG_USER,             /* string, Unix user name of the runner */
        PROTO_TAG_ROOT,             /* string, registration root (absolute path) */
        PROTO_TAG_BPF_OBJECT,       /* string, name of a policy-allowlisted BPF object */
        PROTO_TAG_RINGBUF_SIZE,     /* u32, load-bpf: ring buffer bytes (request: asked; reply: made) */
        /* reply fields */
        PROTO_TAG_STATUS = 16,      /* i32, 0 or negative errno */
        PROTO_TAG_ERROR,            /* string, stable error name; present iff status < 0 */
        PROTO_TAG_REASON,           /* string, for a person */
        PROTO_TAG_UNIT_NAME,        /* string, lanekeeper-lane@LANE.service */
        PROTO_TAG_UNIT_PATH,        /* string, absolute path of the unit file */
        PROTO_TAG_DIGEST,           /* string, 64 lower-case hex digits (sha256) */
        PROTO_TAG_CHANGED,          /* bool, whether the verb changed anything */
        PROTO_TAG_ACTIVE_STATE,     /* string, systemd ActiveState */
        PROTO_TAG_SUB_STATE,        /* string, systemd SubState */
        PROTO_TAG_ACTION,           /* string, repeatable: a step done or (dry run) to be done */
        PROTO_TAG_PROG_COUNT,       /* u32, BPF programs attached */
        PROTO_TAG_CGROUP_ID,        /* u64, load-bpf: the id of the lane unit's cgroup */
        PROTO_TAG_CGROUP_PATH,      /* string, load-bpf: that cgroup as systemd names it */
        _PROTO_TAG_MAX,
        _PROTO_TAG_INVALID = -EINVAL,
};

struct proto_field {
        uint16_t tag;
        uint8_t type;
        uint32_t len;   /* bytes on the wire */
        union {
                const char *str;   /* NUL-terminated copy owned by the message */
                uint32_t u32;
                int32_t i32;
                uint64_t u64;
                bool b;
        } v;
};

struct proto_msg {
        enum proto_verb verb;
        uint32_t flags;
        uint64_t request_id;
        size_t n_fields;
        struct proto_field fields[PROTO_MAX_FIELDS];
        size_t strbuf_used;
        char strbuf[PROTO_MAX_PAYLOAD + PROTO_MAX_FIELDS];
};

/* Why a message was refused: a stable error and a reason a person can act on. */
struct proto_diag {
        enum proto_error error;
        uint64_t request_id;    /* from the header when it could be read, else 0 */
        char reason[256];
};

const char *proto_verb_to_string(enum proto_verb v);
enum proto_verb proto_verb_from_string(const char *s);
const char *proto_tag_to_string(enum proto_tag t);
const char *proto_type_to_string(enum proto_type t);

/* Whether a REPLY (or request) of VERB may carry TAG: the closed field
 * lists, for a sender deciding which results to put. */
bool proto_field_allowed(enum proto_verb verb, bool reply, enum proto_tag tag);
/* Whether a request of VERB must carry TAG: callers check arguments with
 * the same table the decoder enforces, never a copy of it. */
bool proto_field_required(enum proto_verb verb, enum proto_tag tag);

/* Which kind of message a receiver expects. The helper decodes only
 * requests and lanectl only replies: the flag alone never picks the
 * field list, so a reply-shaped message can never reach a verb handler. */
enum proto_direction {
        PROTO_REQUEST,
        PROTO_REPLY,
        _PROTO_DIRECTION_MAX,
        _PROTO_DIRECTION_INVALID = -EINVAL,
};

/* Decode and fully validate one message, which must be of direction WANT
 * (a request must not carry PROTO_FLAG_REPLY, a reply must). Returns 0, or
 * a negative errno with *diag filled (diag may be NULL). A request that
 * decodes carries every field its verb requires. */
int proto_decode(const void *buf, size_t len, enum proto_direction want, struct proto_msg *msg,
                 struct proto_diag *diag);

/* Whether M carries every field its verb and direction require: what the
 * decoder enforces, asserted again where a handler starts. */
bool proto_msg_complete(const struct proto_msg *m);

static inline bool proto_msg_is_reply(const struct proto_msg *m) {
        return m->flags & PROTO_FLAG_REPLY;
}

/* First field with TAG, or NULL. Accessors return -ENOENT when absent. */
const struct proto_field *proto_msg_find(const struct proto_msg *m, enum proto_tag tag);
const char *proto_msg_str(const struct proto_msg *m, enum proto_tag tag);
int proto_msg_i32(const struct proto_msg *m, enum proto_tag tag, int32_t *ret);
int proto_msg_u32(const struct proto_msg *m, enum proto_tag tag, uint32_t *ret);
int proto_msg_u64(const struct proto_msg *m, enum proto_tag tag, uint64_t *ret);
int proto_msg_bool(const struct proto_msg *m, enum proto_tag tag, bool *ret);
/* Strings of a repeatable field, in order: fills up to max, returns the count. */
size_t proto_msg_strs(const struct proto_msg *m, enum proto_tag tag, const char **out, size_t max);

/* Encoding. Put calls never fail on their own: the first error (too large,
 * too many fields, a NUL in a string) is remembered and reported by
 * proto_builder_finish(), which also decodes its own output so that nothing
 * the peer would refuse ever leaves this side. */
struct proto_builder {
        uint8_t buf[PROTO_MAX_MESSAGE];
        size_t len;
        size_t n_fields;
        int error;
};

void proto_builder_init(struct proto_builder *b, enum proto_verb verb, uint32_t flags, uint64_t request_id);
void proto_put_str(struct proto_builder *b, enum proto_tag tag, const char *s);
void proto_put_u32(struct proto_builder *b, enum proto_tag tag, uint32_t v);
void proto_put_i32(struct proto_builder *b, enum proto_tag tag, int32_t v);
void proto_put_u64(struct proto_builder *b, enum proto_tag tag, uint64_t v);
void proto_put_bool(struct proto_builder *b, enum proto_tag tag, bool v);
/* Raw field, no checks beyond size: for tests that build hostile messages. */
void proto_put_raw(struct proto_builder *b, uint16_t tag, uint8_t type, const void *data, uint32_t len);
/* Patch the payload length; returns the total size or a negative errno. */
int proto_builder_seal(struct proto_builder *b);
/* Seal and validate; *ret_len gets the message size. */
int proto_builder_finish(struct proto_builder *b, size_t *ret_len, struct proto_diag *diag);

/* A reply with an error: status, error name and reason, no results. */
int proto_build_error_reply(struct proto_builder *b, enum proto_verb verb, uint64_t request_id,
                            enum proto_error error, const char *reason, size_t *ret_len);
