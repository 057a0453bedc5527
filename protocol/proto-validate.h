/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Validators shared by lanectl and the helper. Each returns 0 when the value
 * is acceptable, or -EINVAL and sets *ret_reason (if non-NULL) to a static,
 * specific explanation ("contains a newline", "starts with '-'", ...).
 * All names are ASCII: any byte >= 0x80 is refused, which covers invalid
 * UTF-8 and Unicode look-alike letters alike. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROTO_LANE_NAME_MAX     64
#define PROTO_OWNER_MAX         39   /* GitHub user/organisation logins */
#define PROTO_REPO_NAME_MAX     100
#define PROTO_LABEL_MAX         100
#define PROTO_RUNNER_NAME_MAX   64
#define PROTO_USER_NAME_MAX     32
#define PROTO_PATH_MAX          1024
#define PROTO_BPF_OBJECT_MAX    64
#define PROTO_HOST_NAME_MAX     64
#define PROTO_UNIT_PREFIX       "lanekeeper-lane@"
#define PROTO_UNIT_SUFFIX       ".service"

int proto_validate_lane_name(const char *s, const char **ret_reason);
int proto_validate_repository(const char *s, const char **ret_reason);   /* owner/name */
int proto_validate_organisation(const char *s, const char **ret_reason);
int proto_validate_label(const char *s, const char **ret_reason);
int proto_validate_runner_name(const char *s, const char **ret_reason);

/* A runner name GitHub gave is data, not a name lanekeeper would choose
 * (GitHub accepts "my runner" or "runner-2@ip-10-1-2-3.compute.internal"):
 * keep the LEN bytes of S in BUF (SIZE <= PROTO_FOREIGN_NAME_MAX + 1) as
 * they are when they are valid UTF-8 without control characters and fit;
 * otherwise escape each offending byte as \xHH and cut at SIZE - 1. Returns
 * 0 (kept as is) or 1 (escaped or cut); BUF is always a printable,
 * NUL-terminated string. */
#define PROTO_FOREIGN_NAME_MAX 255
int proto_keep_foreign_name(const char *s, size_t len, char *buf, size_t size);
int proto_validate_unit_name(const char *s, const char **ret_reason);    /* lanekeeper-lane@LANE.service */
int proto_validate_user_name(const char *s, const char **ret_reason);
int proto_validate_bpf_object_name(const char *s, const char **ret_reason);
/* An absolute, normalised path: no empty, "." or ".." components, no
 * trailing slash, a conservative character set safe in unit files. */
int proto_validate_abs_path(const char *s, const char **ret_reason);
/* The same, but not "/" itself: a directory or file something lives in
 * (registration roots, store, credential files). */
int proto_validate_abs_subpath(const char *s, const char **ret_reason);
/* A host name: letters, digits, '.', '-', not starting with '.' or '-'. */
int proto_validate_host_name(const char *s, const char **ret_reason);

/* Lexical check that PATH lies strictly beneath ROOT (both validated absolute
 * paths). On success *ret_rel points into PATH at the part below ROOT. */
int proto_path_beneath(const char *root, const char *path, const char **ret_rel, const char **ret_reason);

/* Resolve REL under the directory DIRFD with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): the kernel refuses any
 * component that is a symlink or leaves DIRFD. Returns an fd (O_CLOEXEC is
 * always added) or a negative errno with a reason. */
int proto_open_beneath(int dirfd, const char *rel, int flags, mode_t mode, const char **ret_reason);

/* Build "lanekeeper-lane@LANE.service" into buf; -EINVAL if LANE is not a
 * valid lane name, -ENOBUFS if buf is too small. */
int proto_unit_name_for_lane(const char *lane, char *buf, size_t size);

/* True when every byte of s is printable ASCII (0x20..0x7e). */
bool proto_is_printable_ascii(const char *s, size_t len);

/* load-bpf's ring buffer: a power of two from 4 KiB to 256 MiB. */
#define PROTO_RINGBUF_MIN 4096u
#define PROTO_RINGBUF_MAX (256u << 20)
int proto_validate_ringbuf_size(uint32_t size, const char **ret_reason);
