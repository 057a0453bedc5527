/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "macro.h"
#include "proto-error.h"

static const struct {
        const char *name;
        int errnum;
} error_table[_PROTO_ERROR_MAX] = {
        [PROTO_OK]                  = { "ok",                  0 },
        [PROTO_E_MALFORMED]         = { "malformed-message",   EBADMSG },
        [PROTO_E_VERSION]           = { "unsupported-version", EPROTONOSUPPORT },
        [PROTO_E_UNKNOWN_VERB]      = { "unknown-verb",        EOPNOTSUPP },
        [PROTO_E_TOO_LARGE]         = { "message-too-large",   EMSGSIZE },
        [PROTO_E_INVALID_FIELD]     = { "invalid-field",       EINVAL },
        [PROTO_E_UNKNOWN_FIELD]     = { "unknown-field",       EINVAL },
        [PROTO_E_DUPLICATE_FIELD]   = { "duplicate-field",     EINVAL },
        [PROTO_E_MISSING_FIELD]     = { "missing-field",       EINVAL },
        [PROTO_E_PERMISSION_DENIED] = { "permission-denied",   EPERM },
        [PROTO_E_POLICY_VIOLATION]  = { "policy-violation",    EACCES },
        [PROTO_E_NOT_MANAGED]       = { "not-managed",         EPERM },
        [PROTO_E_SYSTEMD_FAILED]    = { "systemd-failed",      EIO },
        [PROTO_E_NOT_SUPPORTED]     = { "not-supported",       EOPNOTSUPP },
        [PROTO_E_INTERNAL]          = { "internal-error",      EIO },
        [PROTO_E_NOT_ACTIVE]        = { "not-active",          ESRCH },
};

const char *proto_error_to_string(enum proto_error e) {
        if (e < 0 || e >= _PROTO_ERROR_MAX)
                return NULL;
        return error_table[e].name;
}

enum proto_error proto_error_from_string(const char *s) {
        if (!s)
                return _PROTO_ERROR_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(error_table); i++)
                if (strcmp(error_table[i].name, s) == 0)
                        return (enum proto_error) i;
        return _PROTO_ERROR_INVALID;
}

int proto_error_to_errno(enum proto_error e) {
        if (e < 0 || e >= _PROTO_ERROR_MAX)
                return -EINVAL;
        return -error_table[e].errnum;
}
