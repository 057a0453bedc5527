/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs. Each handler re-validates its request against the policy
 * (lanectl validated too; the helper trusts nothing it did not check). */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "helper-admit.h"
#include "helper-bpf.h"
#include "helper-sandbox.h"
#include "proto-policy.h"
#include "proto-codec.h"

#define VERB_MAX_ACTIONS 8

struct verb_result {
        char unit_name[128];
        char unit_path[PROTO_PATH_MAX + 1];
        char digest[PROTO_SHA256_HEX_SIZE];
        int changed;                          /* -1: not reported */
        char active[32], sub[32];
        char actions[VERB_MAX_ACTIONS][256];
        size_t n_actions;
        uint32_t prog_count, ringbuf_size;    /* load-bpf */
        uint64_t cgroup_id;
        char cgroup_path[PROTO_PATH_MAX + 1];
        struct hbpf_loaded bpf;               /* its fds go with the answer; hbpf_release() after */
};

struct verb_ctx {
        const struct helper_policy *pol;
        const struct identities *ids;         /* users resolved before confinement */
        const struct proto_msg *req;
        enum sandbox_mode mode;               /* which verbs this instance serves */
        bool dry_run;
        sd_bus *bus;
        int unit_dir;                         /* /etc/systemd/system, opened before confinement */
        char reason[PROTO_REASON_MAX];
        struct verb_result res;
};

/* Run the request's verb. Returns PROTO_OK or the error to answer with
 * (ctx->reason says why). */
enum proto_error verb_dispatch(struct verb_ctx *ctx);
