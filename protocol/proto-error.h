/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stable error names shared by the helper and lanectl. The names are part of
 * the protocol and of lanectl's JSON output: never rename one. */
#pragma once

#include <errno.h>

enum proto_error {
        PROTO_OK = 0,
        PROTO_E_MALFORMED,         /* bytes do not parse as a message */
        PROTO_E_VERSION,           /* wrong magic or protocol version */
        PROTO_E_UNKNOWN_VERB,
        PROTO_E_TOO_LARGE,
        PROTO_E_INVALID_FIELD,     /* known field, bad type or value */
        PROTO_E_UNKNOWN_FIELD,     /* field not in the verb's closed list */
        PROTO_E_DUPLICATE_FIELD,
        PROTO_E_MISSING_FIELD,
        PROTO_E_PERMISSION_DENIED,
        PROTO_E_POLICY_VIOLATION,
        PROTO_E_NOT_MANAGED,
        PROTO_E_SYSTEMD_FAILED,
        PROTO_E_NOT_SUPPORTED,
        PROTO_E_INTERNAL,
        PROTO_E_NOT_ACTIVE,        /* the lane's unit is not running */
        _PROTO_ERROR_MAX,
        _PROTO_ERROR_INVALID = -EINVAL,
};

/* "permission-denied", ...; NULL for values out of range. PROTO_OK is "ok". */
const char *proto_error_to_string(enum proto_error e);
enum proto_error proto_error_from_string(const char *s);
/* The negative errno a reply carries for this error (PROTO_OK -> 0). */
int proto_error_to_errno(enum proto_error e);
