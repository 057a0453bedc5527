/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Proof packs (lanectl proof pack | verify): the evidence of one or more
 * gate runs (lanectl gate run's directories) gathered into a directory and
 * a deterministic tarball with a manifest (../shared/reference/
 * determinism-gates.md, "Proof pack"), and checked again later, from the
 * directory or from the tarball alone. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KOBS_GATE_RESULT_SCHEMA "lanekeeper.gate-result/1"
#define KOBS_GATE_RESULT_FILE "gate.json"
#define KOBS_GATE_LOG_FILE "gate.log"
#define KOBS_PACK_SCHEMA "lanekeeper.proof-pack/1"
#define KOBS_PACK_MANIFEST "manifest.json"
#define KOBS_PACK_SUMS "SHA256SUMS"
#define KOBS_PACK_RETENTION_DAYS 365
#define KOBS_PACK_SOFT_CAP (50ull << 20)
#define KOBS_PACK_MAX_GATES 32
#define KOBS_PACK_MAX_SUBJECTS 1024

/* An array's length, 0 for anything else (json-c asserts on a non-array,
 * and a manifest from elsewhere may hold anything). */
static inline size_t kobs_json_len(struct json_object *a) {
        return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

struct kobs_pack_opts {
        const char *src_name;          /* the source directory's name: a gate's that wrote no gate.json */
        const char *const *expect;     /* gates that must be in the pack: "missing" otherwise */
        size_t n_expect;
        unsigned retention_days;
        time_t created;
};

/* The pack of SRC (a gate's directory, holding gate.json, or a directory
 * of such directories) into DST (an empty directory) and TARBALL in
 * TAR_DIR; *RET the manifest (the caller puts it). 0, or -errno with ERR. */
int kobs_proof_pack(int src, int dst, int tar_dir, const char *tarball, const struct kobs_pack_opts *o,
                    struct json_object **ret, char *err, size_t errlen);

/* What a pack's files are, however they are read. */
struct kobs_pack_files {
        int (*read)(void *data, const char *path, char **ret, size_t *ret_len);
        const char *const *names;      /* every file the pack holds */
        size_t n_names;
        void *data;
};

struct kobs_verify {
        struct json_object *manifest;  /* the pack's, once parsed (the caller puts it) */
        size_t subjects, matched;
        uint64_t bytes;
        size_t n_problems;
        char problems[16][400];        /* the first of them */
        bool all_passed;               /* every gate of the manifest passed, none missing */
};

/* Check every subject's bytes and digest, SHA256SUMS, that nothing is in
 * the pack that is not a subject, and that each gate's status is what its
 * gate.json says. 0 intact, 1 not (V->problems), -EBADMSG not a pack. */
int kobs_proof_verify(const struct kobs_pack_files *f, struct kobs_verify *v);
/* F over the directory DIR, or the tarball in FD (read whole): 0 or
 * -errno with ERR; kobs_pack_files_free() after. */
int kobs_pack_files_dir(int dir, struct kobs_pack_files *f, char *err, size_t errlen);
int kobs_pack_files_tarball(int fd, struct kobs_pack_files *f, char *err, size_t errlen);
void kobs_pack_files_free(struct kobs_pack_files *f);
/* SHA256SUMS of SUBJECTS (the manifest's array), as sha256sum -c reads it:
 * "HEX  PATH" a line, in their order; malloc'd, *RET_LEN its length, or
 * NULL. The pack writes it and verify compares with it. */
char *kobs_pack_sums(struct json_object *subjects, size_t *ret_len);
/* A path a pack may hold: relative, no "." or ".." component, no empty one. */
bool kobs_pack_path_ok(const char *path);
