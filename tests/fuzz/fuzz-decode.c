/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the helper's whole input surface: proto_decode().
 * Whatever decodes must re-encode to the same bytes and decode again to
 * the same fields; whatever is refused must carry an error and a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto-codec.h"

static struct proto_msg m1, m2;
static struct proto_builder b;

static void reencode(const struct proto_msg *m) {
        proto_builder_init(&b, m->verb, m->flags, m->request_id);
        for (size_t i = 0; i < m->n_fields; i++) {
                const struct proto_field *f = &m->fields[i];
                enum proto_tag t = (enum proto_tag) f->tag;

                switch ((enum proto_type) f->type) {
                case PROTO_TYPE_STRING: proto_put_str(&b, t, f->v.str); break;
                case PROTO_TYPE_U32:    proto_put_u32(&b, t, f->v.u32); break;
                case PROTO_TYPE_I32:    proto_put_i32(&b, t, f->v.i32); break;
                case PROTO_TYPE_U64:    proto_put_u64(&b, t, f->v.u64); break;
                case PROTO_TYPE_BOOL:   proto_put_bool(&b, t, f->v.b); break;
                case _PROTO_TYPE_MAX:
                case _PROTO_TYPE_INVALID:
                        abort();
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct proto_diag d;
        enum proto_direction dir;
        int as_request, as_reply;
        size_t len;

        /* Each receiver names the direction it expects: one message has at
         * most one reading, and a request that decodes is complete. */
        as_request = proto_decode(data, size, PROTO_REQUEST, &m1, &d);
        if (as_request < 0 && (d.error <= PROTO_OK || d.error >= _PROTO_ERROR_MAX || d.reason[0] == '\0'))
                abort();
        if (as_request == 0 && (proto_msg_is_reply(&m1) || !proto_msg_complete(&m1)))
                abort();
        as_reply = proto_decode(data, size, PROTO_REPLY, as_request == 0 ? &m2 : &m1, &d);
        if (as_reply < 0 && (d.error <= PROTO_OK || d.error >= _PROTO_ERROR_MAX || d.reason[0] == '\0'))
                abort();
        if (as_request == 0 && as_reply == 0)
                abort();
        if (as_request < 0 && as_reply < 0)
                return 0;
        dir = as_request == 0 ? PROTO_REQUEST : PROTO_REPLY;
        if (dir == PROTO_REPLY && (!proto_msg_is_reply(&m1) || !proto_msg_complete(&m1)))
                abort();
        reencode(&m1);
        if (proto_builder_finish(&b, &len, &d) < 0)
                abort();   /* the encoder refused what the decoder accepted */
        if (len != size || memcmp(b.buf, data, size) != 0)
                abort();   /* not canonical: two encodings of one message */
        if (proto_decode(b.buf, len, dir, &m2, &d) < 0 || m2.n_fields != m1.n_fields)
                abort();
        for (size_t i = 0; i < m1.n_fields; i++)
                if (m1.fields[i].tag != m2.fields[i].tag ||
                    (m1.fields[i].type == PROTO_TYPE_STRING && strcmp(m1.fields[i].v.str, m2.fields[i].v.str) != 0))
                        abort();
        return 0;
}
