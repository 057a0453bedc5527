/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Write the decoder's seed corpus: one valid message per verb (request and
 * reply, dry-run and not), error replies, and a few near-misses. */
#include <stdio.h>
#include <string.h>

#include "proto-codec.h"

static struct proto_builder b;
static int n;

static void emit(const char *dir, const char *name, size_t len) {
        char path[1024];
        FILE *f;

        snprintf(path, sizeof path, "%s/%02d-%s", dir, n++, name);
        f = fopen(path, "we");
        if (!f || fwrite(b.buf, 1, len, f) != len || fclose(f) != 0) {
                perror(path);
                exit(1);
        }
}

int main(int argc, char *argv[]) {
        size_t len;

        if (argc != 2) {
                fprintf(stderr, "usage: gen-seeds DIR\n");
                return 2;
        }
        for (int v = PROTO_VERB_INSTALL_UNIT; v < _PROTO_VERB_MAX; v++) {
                char name[64];

                proto_builder_init(&b, v, v % 2 ? PROTO_FLAG_DRY_RUN : 0, (uint64_t) v * 1000);
                if (v != PROTO_VERB_DAEMON_RELOAD)
                        proto_put_str(&b, PROTO_TAG_LANE, "cm-website-chris-testing");
                if (v == PROTO_VERB_INSTALL_UNIT) {
                        proto_put_str(&b, PROTO_TAG_USER, "ghrunner");
                        proto_put_str(&b, PROTO_TAG_ROOT, "/srv/lanekeeper/runners");
                }
                if (v == PROTO_VERB_LOAD_BPF)
                        proto_put_str(&b, PROTO_TAG_BPF_OBJECT, "exec-observer");
                if (proto_builder_finish(&b, &len, NULL) < 0)
                        return 1;
                snprintf(name, sizeof name, "request-%s", proto_verb_to_string(v));
                emit(argv[1], name, len);

                proto_builder_init(&b, v, PROTO_FLAG_REPLY, (uint64_t) v * 1000);
                proto_put_i32(&b, PROTO_TAG_STATUS, 0);
                proto_put_str(&b, PROTO_TAG_ACTION, "StartUnit lanekeeper-lane@cm-website-chris-testing.service replace");
                if (v == PROTO_VERB_INSTALL_UNIT) {
                        proto_put_str(&b, PROTO_TAG_UNIT_NAME, "lanekeeper-lane@cm-website-chris-testing.service");
                        proto_put_str(&b, PROTO_TAG_UNIT_PATH, "/etc/systemd/system/lanekeeper-lane@cm-website-chris-testing.service");
                        proto_put_str(&b, PROTO_TAG_DIGEST, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
                        proto_put_bool(&b, PROTO_TAG_CHANGED, true);
                }
                if (v == PROTO_VERB_STOP) {
                        proto_put_str(&b, PROTO_TAG_ACTIVE_STATE, "inactive");
                        proto_put_str(&b, PROTO_TAG_SUB_STATE, "dead");
                }
                if (v == PROTO_VERB_LOAD_BPF)
                        proto_put_u32(&b, PROTO_TAG_PROG_COUNT, 2);
                if (proto_builder_finish(&b, &len, NULL) < 0)
                        return 1;
                snprintf(name, sizeof name, "reply-%s", proto_verb_to_string(v));
                emit(argv[1], name, len);
        }
        if (proto_build_error_reply(&b, PROTO_VERB_RESTART, 5, PROTO_E_NOT_MANAGED, "unit not written by lanekeeper", &len) < 0)
                return 1;
        emit(argv[1], "reply-error", len);
        if (proto_build_error_reply(&b, PROTO_VERB_NONE, 0, PROTO_E_MALFORMED, "truncated", &len) < 0)
                return 1;
        emit(argv[1], "reply-error-none", len);
        /* near-misses: a newline in a lane, and a u64 where none belongs */
        proto_builder_init(&b, PROTO_VERB_STOP, 0, 1);
        proto_put_str(&b, PROTO_TAG_LANE, "x\nExecStart=/bin/sh");
        emit(argv[1], "near-newline", (size_t) proto_builder_seal(&b));
        proto_builder_init(&b, PROTO_VERB_STOP, 0, 1);
        proto_put_u64(&b, PROTO_TAG_LANE, 1);
        emit(argv[1], "near-u64", (size_t) proto_builder_seal(&b));
        return 0;
}
