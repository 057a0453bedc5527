/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SHA-256 (FIPS 180-4), for unit digests and BPF object pins. Written here
 * because the helper may link only libc, libsystemd, libseccomp, libcap-ng,
 * libbpf and libinih (DESIGN §5), and none of them exports a hash; tested
 * against the NIST example vectors. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PROTO_SHA256_SIZE 32
#define PROTO_SHA256_HEX_SIZE (2 * PROTO_SHA256_SIZE + 1)

struct proto_sha256 {
        uint32_t h[8];
        uint64_t bytes;
        uint8_t block[64];
        size_t fill;
};

void proto_sha256_init(struct proto_sha256 *c);
void proto_sha256_update(struct proto_sha256 *c, const void *data, size_t len);
void proto_sha256_final(struct proto_sha256 *c, uint8_t out[PROTO_SHA256_SIZE]);
/* One call: lower-case hex of the digest of DATA into hex (65 bytes). */
void proto_sha256_hex(const void *data, size_t len, char hex[PROTO_SHA256_HEX_SIZE]);
void proto_hex(const uint8_t *in, size_t len, char *out);
