/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Confinement, applied after admission and after sd-bus and the journal
 * are open, before the request is read (DESIGN §5). */
#pragma once

/* One helper binary, two instances (lanekeeper-helper(8)): the units verbs
 * (lanekeeper-helper.socket) and load-bpf alone (lanekeeper-helper-bpf.socket,
 * --bpf). Each keeps only its own capabilities and system calls. */
enum sandbox_mode {
        SANDBOX_UNITS,
        SANDBOX_BPF,
        _SANDBOX_MODE_MAX,
};

/* Keep only the mode's capabilities, permitted but not effective (units:
 * CAP_DAC_READ_SEARCH, lane directories belong to their runner users; bpf:
 * CAP_BPF and CAP_PERFMON); read the sets back and fail if anything else
 * remains. */
int sandbox_drop_caps(enum sandbox_mode mode, const char **ret_reason);
/* Make CAP_DAC_READ_SEARCH effective for one lane directory check, and
 * lower it again right after. */
int sandbox_raise_dac_read_search(void);
int sandbox_lower_dac_read_search(void);
/* SANDBOX_BPF: CAP_BPF and CAP_PERFMON effective for one load and attach. */
int sandbox_raise_bpf(void);
int sandbox_lower_bpf(void);
/* no_new_privs, then the seccomp allowlist (default: kill the process).
 * Writing opens, unlinkat and renameat* are allowed only relative to
 * UNIT_DIR (the fd of /etc/systemd/system; -1: never). SANDBOX_BPF adds
 * bpf() and what libbpf needs around it. */
int sandbox_seccomp(enum sandbox_mode mode, int unit_dir);
