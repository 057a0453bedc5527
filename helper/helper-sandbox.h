/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Confinement, applied after admission and after sd-bus and the journal
 * are open, before the request is read (DESIGN §5). */
#pragma once

/* Keep only CAP_DAC_READ_SEARCH, permitted but not effective (lane
 * directories belong to their runner users); read the sets back and fail
 * if anything else remains. */
int sandbox_drop_caps(const char **ret_reason);
/* Make CAP_DAC_READ_SEARCH effective for one lane directory check, and
 * lower it again right after. */
int sandbox_raise_dac_read_search(void);
int sandbox_lower_dac_read_search(void);
/* no_new_privs, then the seccomp allowlist (default: kill the process).
 * Writing opens, unlinkat and renameat* are allowed only relative to
 * UNIT_DIR (the fd of /etc/systemd/system; -1: never). */
int sandbox_seccomp(int unit_dir);
