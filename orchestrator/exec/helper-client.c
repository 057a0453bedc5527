/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "helper-client.h"
#include "macro.h"
#include "proto-io.h"
#include "proto-time.h"

#define CONNECT_TRIES 6
#define REPLY_TIMEOUT_MS (90 * 1000)

/* Connect, retrying with backoff while the socket refuses (the socket unit
 * restarting, a full backlog): 50 ms doubling, 6 tries. */
static int helper_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        unsigned delay = 50;
        int r = -EINVAL;

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        for (int i = 0; i < CONNECT_TRIES; i++) {
                _cleanup_(closep) int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

                if (fd < 0)
                        return -errno;
                if (connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0)
                        return TAKE_FD(fd);
                r = -errno;
                if (r != -ECONNREFUSED && r != -EAGAIN && r != -ENOENT)
                        return r;
                proto_sleep_ms(delay);
                delay *= 2;
        }
        return r;
}

int helper_request_check(enum proto_verb verb, const struct helper_request *req, char *reason, size_t size) {
        const struct {
                enum proto_tag tag;
                const char *value;
                const char *name;
        } fields[] = {
                { PROTO_TAG_LANE, req->lane, "LANE" },
                { PROTO_TAG_USER, req->user, "--user" },
                { PROTO_TAG_ROOT, req->root, "--root" },
                { PROTO_TAG_BPF_OBJECT, req->bpf_object, "--bpf-object" },
        };

        if (!proto_verb_to_string(verb))
                return snprintf(reason, size, "unknown verb %d", (int) verb), -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                if (proto_field_required(verb, fields[i].tag) && !fields[i].value)
                        return snprintf(reason, size, "%s needs %s", proto_verb_to_string(verb), fields[i].name), -EINVAL;
                if (!proto_field_allowed(verb, false, fields[i].tag) && fields[i].value)
                        return snprintf(reason, size, "%s takes no %s", proto_verb_to_string(verb), fields[i].name),
                               -EINVAL;
        }
        return 0;
}

static void copy_str(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src ?: "");
}

/* The wire reply M into REPLY (strings copied: M's buffers are the caller's). */
static int reply_from_msg(const struct proto_msg *m, struct helper_reply *reply) {
        const char *actions[PROTO_MAX_REPEAT];
        bool changed;

        reply->verb = m->verb;
        reply->request_id = m->request_id;
        reply->dry_run = m->flags & PROTO_FLAG_DRY_RUN;
        (void) proto_msg_i32(m, PROTO_TAG_STATUS, &reply->status);
        reply->error = proto_msg_str(m, PROTO_TAG_ERROR) ? proto_error_from_string(proto_msg_str(m, PROTO_TAG_ERROR))
                                                         : PROTO_OK;
        copy_str(reply->reason, sizeof reply->reason, proto_msg_str(m, PROTO_TAG_REASON));
        copy_str(reply->unit_name, sizeof reply->unit_name, proto_msg_str(m, PROTO_TAG_UNIT_NAME));
        copy_str(reply->unit_path, sizeof reply->unit_path, proto_msg_str(m, PROTO_TAG_UNIT_PATH));
        copy_str(reply->digest, sizeof reply->digest, proto_msg_str(m, PROTO_TAG_DIGEST));
        reply->changed = proto_msg_bool(m, PROTO_TAG_CHANGED, &changed) == 0 ? changed : -1;
        copy_str(reply->active_state, sizeof reply->active_state, proto_msg_str(m, PROTO_TAG_ACTIVE_STATE));
        copy_str(reply->sub_state, sizeof reply->sub_state, proto_msg_str(m, PROTO_TAG_SUB_STATE));
        reply->n_actions = proto_msg_strs(m, PROTO_TAG_ACTION, actions, PROTO_MAX_REPEAT);
        for (size_t i = 0; i < reply->n_actions && i < PROTO_MAX_REPEAT; i++)
                copy_str(reply->actions[i], sizeof reply->actions[i], actions[i]);
        (void) proto_msg_u32(m, PROTO_TAG_PROG_COUNT, &reply->prog_count);
        (void) proto_msg_u32(m, PROTO_TAG_RINGBUF_SIZE, &reply->ringbuf_size);
        (void) proto_msg_u64(m, PROTO_TAG_CGROUP_ID, &reply->cgroup_id);
        copy_str(reply->cgroup_path, sizeof reply->cgroup_path, proto_msg_str(m, PROTO_TAG_CGROUP_PATH));
        return reply->error == PROTO_OK ? 0 : -EPERM;
}

_printf_(3, 4)
static int fail(struct helper_reply *reply, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reply->reason, sizeof reply->reason, fmt, ap);
        va_end(ap);
        return r;
}

/* One round trip: connect, send, wait for the one reply (and its fds). */
static int round_trip(const struct helper_conn *c, enum proto_verb verb, const struct helper_request *req,
                      struct helper_reply *reply) {
        _cleanup_(freep) struct proto_builder *b = calloc(1, sizeof *b);
        _cleanup_(freep) struct proto_msg *m = calloc(1, sizeof *m);
        _cleanup_(freep) uint8_t *buf = malloc(PROTO_MAX_MESSAGE);
        _cleanup_(closep) int fd = -EBADF;
        struct proto_diag d;
        struct pollfd p;
        size_t len;
        ssize_t n;
        int r;

        *reply = (struct helper_reply) { .verb = verb, .changed = -1 };
        if (!b || !m || !buf)
                return fail(reply, -ENOMEM, "out of memory");
        r = helper_request_check(verb, req, reply->reason, sizeof reply->reason);
        if (r < 0)
                return r;
        proto_builder_init(b, verb, req->dry_run ? PROTO_FLAG_DRY_RUN : 0,
                           (uint64_t) time(NULL) << 20 ^ (uint64_t) getpid());
        if (req->lane)
                proto_put_str(b, PROTO_TAG_LANE, req->lane);
        if (req->user)
                proto_put_str(b, PROTO_TAG_USER, req->user);
        if (req->root)
                proto_put_str(b, PROTO_TAG_ROOT, req->root);
        if (req->bpf_object)
                proto_put_str(b, PROTO_TAG_BPF_OBJECT, req->bpf_object);
        if (req->ringbuf_size && verb == PROTO_VERB_LOAD_BPF)
                proto_put_u32(b, PROTO_TAG_RINGBUF_SIZE, req->ringbuf_size);
        /* The codec refuses here whatever the helper would refuse on the wire. */
        if (proto_builder_finish(b, &len, &d) < 0)
                return fail(reply, -EINVAL, "%s: %s", proto_error_to_string(d.error), d.reason);
        fd = helper_connect(c->socket_path);
        if (fd < 0)
                return fail(reply, -EHOSTDOWN, "the helper is unavailable at %s: %s", c->socket_path, strerror(-fd));
        /* A helper that refuses at admission answers and closes at once: our
         * send may then fail with EPIPE while its answer waits. Read it. */
        r = proto_send(fd, b->buf, len);
        if (r < 0 && r != -EPIPE && r != -ECONNRESET)
                return fail(reply, -EHOSTDOWN, "cannot send the request: %s", strerror(-r));
        p = (struct pollfd) { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, REPLY_TIMEOUT_MS) <= 0 ||
            (n = proto_recv_fds(fd, buf, PROTO_MAX_MESSAGE, reply->fds, HELPER_MAX_FDS, &reply->n_fds)) < 0)
                return fail(reply, -EHOSTDOWN, "no answer from the helper (it may have refused the connection)");
        if (proto_decode(buf, (size_t) n, PROTO_REPLY, m, &d) < 0 || (m->verb != verb && m->verb != PROTO_VERB_NONE) ||
            (reply->n_fds > 0 && verb != PROTO_VERB_LOAD_BPF)) {
                for (size_t i = 0; i < reply->n_fds; i++)
                        close(reply->fds[i]);
                reply->n_fds = 0;
                return fail(reply, -EPROTO, "unreadable answer from the helper: %s",
                            d.reason[0] ? d.reason : "another verb, or descriptors it may not pass");
        }
        r = reply_from_msg(m, reply);
        /* Descriptors only with a loaded answer: ring, counters, one link per program. */
        if (reply->n_fds > 0 && (r < 0 || reply->dry_run || reply->n_fds != 2 + (size_t) reply->prog_count)) {
                size_t passed = reply->n_fds;

                for (size_t i = 0; i < passed; i++)
                        close(reply->fds[i]);
                reply->n_fds = 0;
                if (r == 0)
                        return fail(reply, -EPROTO, "the helper passed %zu descriptors for %u programs", passed,
                                    reply->prog_count);
        }
        if (r == 0 && verb == PROTO_VERB_LOAD_BPF && !reply->dry_run && reply->n_fds < 3)
                return fail(reply, -EPROTO, "the helper answered load-bpf without its descriptors");
        return r;
}

#define DEFINE_STUB(name, VERB)                                                                                \
        int helper_##name(const struct helper_conn *c, const struct helper_request *req,                      \
                          struct helper_reply *reply) {                                                        \
                return round_trip(c, PROTO_VERB_##VERB, req, reply);                                           \
        }                                                                                                      \
        static int ops_##name(void *data, const struct helper_request *req, struct helper_reply *reply) {     \
                return helper_##name(data, req, reply);                                                        \
        }

DEFINE_STUB(install_unit, INSTALL_UNIT)
DEFINE_STUB(daemon_reload, DAEMON_RELOAD)
DEFINE_STUB(enable_now, ENABLE_NOW)
DEFINE_STUB(restart, RESTART)
DEFINE_STUB(stop, STOP)
DEFINE_STUB(remove_unit, REMOVE_UNIT)
DEFINE_STUB(load_bpf, LOAD_BPF)

const struct helper_ops helper_socket_ops = {
        .install_unit = ops_install_unit,
        .daemon_reload = ops_daemon_reload,
        .enable_now = ops_enable_now,
        .restart = ops_restart,
        .stop = ops_stop,
        .remove_unit = ops_remove_unit,
        .load_bpf = ops_load_bpf,
};

int helper_ops_call(const struct helper_ops *ops, void *data, enum proto_verb verb, const struct helper_request *req,
                    struct helper_reply *reply) {
        switch (verb) {
        case PROTO_VERB_INSTALL_UNIT:
                return ops->install_unit(data, req, reply);
        case PROTO_VERB_DAEMON_RELOAD:
                return ops->daemon_reload(data, req, reply);
        case PROTO_VERB_ENABLE_NOW:
                return ops->enable_now(data, req, reply);
        case PROTO_VERB_RESTART:
                return ops->restart(data, req, reply);
        case PROTO_VERB_STOP:
                return ops->stop(data, req, reply);
        case PROTO_VERB_REMOVE_UNIT:
                return ops->remove_unit(data, req, reply);
        case PROTO_VERB_LOAD_BPF:
                return ops->load_bpf(data, req, reply);
        case PROTO_VERB_NONE:
        case _PROTO_VERB_MAX:
        case _PROTO_VERB_INVALID:
                break;
        }
        *reply = (struct helper_reply) { .verb = verb, .changed = -1 };
        return fail(reply, -EINVAL, "unknown verb %d", (int) verb);
}

const char *helper_bpf_socket(const char *socket_path, char *buf, size_t size) {
        const char *slash = strrchr(socket_path, '/');
        int dir = slash ? (int) (slash - socket_path) : 0;

        snprintf(buf, size, "%.*s%shelper-bpf.socket", dir, socket_path, slash ? "/" : "");
        return buf;
}

void helper_reply_error(const struct helper_reply *reply, char *buf, size_t size) {
        if (reply->error != PROTO_OK)
                snprintf(buf, size, "%s: %s", proto_error_to_string(reply->error) ?: "error",
                         reply->reason[0] ? reply->reason : "(no reason given)");
        else
                snprintf(buf, size, "%s", reply->reason);
}
