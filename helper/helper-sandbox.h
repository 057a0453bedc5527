/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Confinement, applied after admission and after sd-bus and the journal
 * are open, before the request is read (DESIGN §5). */
#pragma once

/* Keep only CAP_DAC_READ_SEARCH (lane directories belong to their runner
 * users); read the sets back and fail if anything else remains. */
int sandbox_drop_caps(const char **ret_reason);
/* no_new_privs, then the seccomp allowlist (default: kill the process). */
int sandbox_seccomp(void);
