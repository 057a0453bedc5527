/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SHA-256 against the NIST FIPS 180-4 examples and sha256sum(1)-known values,
 * whole and fed in pieces of every size. */
#include <string.h>

#include "proto-sha256.h"
#include "test-util.h"

static const struct {
        const char *in;
        size_t repeat;   /* the input repeated this many times */
        const char *hex;
} vectors[] = {
        { "", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        { "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
          1, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
        { "a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
        /* lengths around the padding boundary: 55, 56, 63, 64 bytes of 'x' (sha256sum) */
        { "x", 55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072" },
        { "x", 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e" },
        { "x", 63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2" },
        { "x", 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c" },
};

START_TEST(test_vector) {
        struct proto_sha256 c;
        uint8_t d[PROTO_SHA256_SIZE];
        char hex[PROTO_SHA256_HEX_SIZE];
        size_t n = strlen(vectors[_i].in);

        proto_sha256_init(&c);
        for (size_t r = 0; r < vectors[_i].repeat; r++)
                proto_sha256_update(&c, vectors[_i].in, n);
        proto_sha256_final(&c, d);
        proto_hex(d, sizeof d, hex);
        ck_assert_str_eq(hex, vectors[_i].hex);
}
END_TEST

/* Any split of the input gives the same digest as one update. */
START_TEST(test_pieces) {
        static char data[300];
        char whole[PROTO_SHA256_HEX_SIZE], split[PROTO_SHA256_HEX_SIZE];
        struct proto_sha256 c;
        uint8_t d[PROTO_SHA256_SIZE];
        size_t piece = (size_t) _i + 1;

        for (size_t i = 0; i < sizeof data; i++)
                data[i] = (char) (i * 7 + 3);
        proto_sha256_hex(data, sizeof data, whole);
        proto_sha256_init(&c);
        for (size_t off = 0; off < sizeof data; off += piece)
                proto_sha256_update(&c, data + off, off + piece <= sizeof data ? piece : sizeof data - off);
        proto_sha256_final(&c, d);
        proto_hex(d, sizeof d, split);
        ck_assert_str_eq(whole, split);
}
END_TEST

int main(void) {
        Suite *s = suite_create("sha256");
        TCase *tc = tcase_create("sha256");

        tcase_add_loop_test(tc, test_vector, 0, (int) ELEMENTSOF(vectors));
        tcase_add_loop_test(tc, test_pieces, 0, 130);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
