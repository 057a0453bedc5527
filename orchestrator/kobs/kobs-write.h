/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Deterministic files: canonical JSON, manifests, tarballs (kobs-write.c). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define KOBS_MAX_FILE (256u << 20)

/* A deep copy of O with every object's keys sorted (a new reference). */
struct json_object *kobs_canonical(struct json_object *o);
/* O's canonical text, compact or indented; *KEEP owns it (json_object_put). */
const char *kobs_json_text(struct json_object *o, bool pretty, struct json_object **keep);
/* NAME in DIR, written whole (a temporary, fsync, rename). */
int kobs_write_file(int dir, const char *name, const void *data, size_t len, char *err, size_t errlen);
/* TARBALL in DIR: NAMES (in the order given: sort them) as ustar members,
 * gzip-compressed, every header fixed but name and size. */
int kobs_write_tarball(int dir, const char *tarball, const char *const *names, size_t n, char *err, size_t errlen);
/* The same with the members read from DIR (NAMES may hold '/') and the
 * tarball written into TO. */
int kobs_write_tarball_at(int dir, int to, const char *tarball, const char *const *names, size_t n, char *err,
                          size_t errlen);
/* { path, bytes, sha256: "sha256:<hex>" [, role] } of NAME in DIR, or NULL. */
struct json_object *kobs_manifest_entry(int dir, const char *name, const char *role);
/* The same of DATA (LEN bytes), listed as PATH. */
struct json_object *kobs_manifest_entry_of(const char *path, const void *data, size_t len, const char *role);
/* Whether ENTRY (such an object) matches the file in DIR now: 0, or
 * -ENOENT / -EBADMSG with WHY. */
int kobs_check_entry(int dir, struct json_object *entry, char *why, size_t size);
