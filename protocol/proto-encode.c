/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Encoding: the builder writes fields; finish() decodes its own output so
 * that nothing the peer would refuse ever leaves this side. */
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "proto-codec.h"
#include "proto-wire.h"

void proto_builder_init(struct proto_builder *b, enum proto_verb verb, uint32_t flags, uint64_t request_id) {
        memset(b->buf, 0, PROTO_HEADER_SIZE);
        put_le32(b->buf, PROTO_MAGIC);
        put_le16(b->buf + 4, PROTO_VERSION);
        put_le16(b->buf + 6, (uint16_t) verb);
        put_le32(b->buf + 8, flags);
        put_le64(b->buf + 16, request_id);
        b->len = PROTO_HEADER_SIZE;
        b->n_fields = 0;
        b->error = 0;
}

void proto_put_raw(struct proto_builder *b, uint16_t tag, uint8_t type, const void *data, uint32_t len) {
        uint8_t *p;

        if (b->error < 0)
                return;
        if (len > sizeof b->buf - b->len || sizeof b->buf - b->len - len < PROTO_FIELD_HEADER_SIZE) {
                b->error = -EMSGSIZE;
                return;
        }
        p = b->buf + b->len;
        put_le16(p, tag);
        p[2] = type;
        p[3] = 0;
        put_le32(p + 4, len);
        if (len > 0)
                memcpy(p + PROTO_FIELD_HEADER_SIZE, data, len);
        b->len += PROTO_FIELD_HEADER_SIZE + len;
        b->n_fields++;
}

void proto_put_str(struct proto_builder *b, enum proto_tag tag, const char *s) {
        size_t n;

        if (!s) {
                b->error = b->error ?: -EINVAL;
                return;
        }
        n = strlen(s);
        if (n > PROTO_MAX_PAYLOAD) {
                b->error = b->error ?: -EMSGSIZE;
                return;
        }
        proto_put_raw(b, (uint16_t) tag, PROTO_TYPE_STRING, s, (uint32_t) n);
}

void proto_put_u32(struct proto_builder *b, enum proto_tag tag, uint32_t v) {
        uint8_t w[4];

        put_le32(w, v);
        proto_put_raw(b, (uint16_t) tag, PROTO_TYPE_U32, w, sizeof w);
}

void proto_put_i32(struct proto_builder *b, enum proto_tag tag, int32_t v) {
        uint8_t w[4];

        put_le32(w, (uint32_t) v);
        proto_put_raw(b, (uint16_t) tag, PROTO_TYPE_I32, w, sizeof w);
}

void proto_put_u64(struct proto_builder *b, enum proto_tag tag, uint64_t v) {
        uint8_t w[8];

        put_le64(w, v);
        proto_put_raw(b, (uint16_t) tag, PROTO_TYPE_U64, w, sizeof w);
}

void proto_put_bool(struct proto_builder *b, enum proto_tag tag, bool v) {
        uint8_t w = v;

        proto_put_raw(b, (uint16_t) tag, PROTO_TYPE_BOOL, &w, 1);
}

int proto_builder_seal(struct proto_builder *b) {
        if (b->error < 0)
                return b->error;
        put_le32(b->buf + 12, (uint32_t) (b->len - PROTO_HEADER_SIZE));
        return (int) b->len;
}

int proto_builder_finish(struct proto_builder *b, size_t *ret_len, struct proto_diag *diag) {
        _cleanup_(freep) struct proto_msg *check = NULL;
        int r;

        r = proto_builder_seal(b);
        if (r < 0) {
                if (diag) {
                        diag->error = r == -EMSGSIZE ? PROTO_E_TOO_LARGE : PROTO_E_INVALID_FIELD;
                        snprintf(diag->reason, sizeof diag->reason, "cannot encode message: %s",
                                 r == -EMSGSIZE ? "larger than 16 KiB or more fields than fit" : "a string is missing");
                }
                return r;
        }
        check = malloc(sizeof *check);
        if (!check)
                return -ENOMEM;
        r = proto_decode(b->buf, b->len, (get_le32(b->buf + 8) & PROTO_FLAG_REPLY) ? PROTO_REPLY : PROTO_REQUEST, check, diag);
        if (r < 0)
                return r;
        if (ret_len)
                *ret_len = b->len;
        return 0;
}

int proto_build_error_reply(struct proto_builder *b, enum proto_verb verb, uint64_t request_id,
                            enum proto_error error, const char *reason, size_t *ret_len) {
        char safe[PROTO_REASON_MAX + 1];
        size_t i;

        if (error <= PROTO_OK || error >= _PROTO_ERROR_MAX)
                return -EINVAL;
        /* Reasons may quote peer input: keep them printable and bounded. */
        for (i = 0; reason && reason[i] && i < PROTO_REASON_MAX; i++)
                safe[i] = (reason[i] >= 0x20 && reason[i] < 0x7f) ? reason[i] : '?';
        safe[i] = '\0';
        if (verb < PROTO_VERB_NONE || verb >= _PROTO_VERB_MAX)
                verb = PROTO_VERB_NONE;
        proto_builder_init(b, verb, PROTO_FLAG_REPLY, request_id);
        proto_put_i32(b, PROTO_TAG_STATUS, proto_error_to_errno(error));
        proto_put_str(b, PROTO_TAG_ERROR, proto_error_to_string(error));
        if (i > 0)
                proto_put_str(b, PROTO_TAG_REASON, safe);
        return proto_builder_finish(b, ret_len, NULL);
}
