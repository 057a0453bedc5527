/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Redaction of token-shaped values. One rule set for every string that may
 * end up in a log, an audit record, a reply or test output:
 *   - GitHub tokens by prefix: ghp_ gho_ ghu_ ghs_ ghr_ github_pat_ (any
 *     length, dots included: installation tokens are ~520 characters), v1.<hex>
 *   - JSON Web Tokens (eyJ...<dot>...)
 *   - PEM private key blocks
 *   - credentials in URLs (scheme://user:secret@host)
 *   - the value after a sensitive key: token=, "password": ..., --token X,
 *     Authorization: Bearer X, ACTIONS_RUNNER_INPUT_TOKEN=..., encoded_jit_config
 *   - registration-token shapes (24+ upper-case letters and digits, mixed)
 *   - long base64 blobs (40+ characters mixing upper, lower and digits)
 * Lower-case hex digests, paths and names stay readable. */
#pragma once

#include <stdbool.h>

#define PROTO_REDACTED "[REDACTED]"

/* *ret gets a new string (free() it) with every secret replaced by
 * PROTO_REDACTED; *ret_count (optional) the number of replacements.
 * Returns 0 or -ENOMEM/-EINVAL. */
int proto_redact(const char *in, char **ret, unsigned *ret_count);

/* Whether a key (JSON member, environment variable, INI key, option name)
 * names a secret: token, password, secret, authorization, private key,
 * JIT configuration, ... Leading dashes are ignored ("--token"). */
bool proto_key_is_sensitive(const char *key, size_t len);
