/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the registration hand-off (proto-register.h), both
 * directions: the request lanectl reads from whoever connects, and the
 * answer lanekeeper-register reads. Whatever is accepted validates, and
 * encodes back to exactly the bytes it came from (the request) or to an
 * answer that decodes to the same hand-off. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto-register.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct proto_register r, again;
        static char buf[PROTO_REGISTER_MAX + 1];
        char lane[PROTO_LANE_NAME_MAX + 1];
        const char *reason = NULL;
        size_t len;

        if (proto_register_decode_request((const char *) data, size, lane, &reason) == 0) {
                if (proto_register_encode_request(lane, buf, sizeof buf, &len) < 0 || len != size ||
                    memcmp(buf, data, size) != 0)
                        abort();
        } else if (!reason)
                abort();
        reason = NULL;
        if (proto_register_decode((const char *) data, size, &r, &reason) == 0) {
                if (proto_register_validate(&r, &reason) < 0)
                        abort();
                if (proto_register_encode(&r, buf, sizeof buf, &len, &reason) < 0)
                        abort();
                if (proto_register_decode(buf, len, &again, &reason) < 0 || memcmp(&r, &again, sizeof r) != 0)
                        abort();
        } else if (!reason)
                abort();
        proto_register_wipe(&r);
        proto_register_wipe(&again);
        return 0;
}
