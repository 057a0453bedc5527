/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for proto_redact(): no crash or overread on any text;
 * text with nothing redacted comes back unchanged; the output never holds
 * a GitHub-prefixed token (prefix followed by 8 or more token characters),
 * and redacting the output again finds no such token either. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto-redact.h"

static int is_token_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
}

static void assert_no_prefixed_token(const char *s) {
        static const char *const prefixes[] = { "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_" };

        for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++)
                for (const char *p = strstr(s, prefixes[k]); p; p = strstr(p + 1, prefixes[k])) {
                        const char *q = p + strlen(prefixes[k]);
                        size_t n = 0;

                        while (is_token_char(q[n]))
                                n++;
                        while (n > 0 && (q[n - 1] == '.' || q[n - 1] == '-'))
                                n--;
                        if (n >= 8)
                                abort();
                }
}

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
        assert_no_prefixed_token(out);
        free(in);
        free(out);
        return 0;
}
