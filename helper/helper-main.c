/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanekeeper-helper: the root side of lanekeeper. lanekeeper-helper.socket
 * (Accept=no) starts one helper that accepts its own connections and exits
 * when idle. In this order (DESIGN §5): take the listening socket; load the
 * policy and resolve its users; open what the verbs need (sd-bus, the unit
 * directory); drop capabilities; no_new_privs and seccomp; only then accept.
 * Each connection: admit the peer by credentials (a non-maintainer is
 * answered and closed at once); wait at most RECV_DEADLINE_MS for one
 * request; re-load the policy; decode; act; answer; log; close. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "helper-admit.h"
#include "proto-policy.h"
#include "helper-sandbox.h"
#include "helper-systemd.h"
#include "helper-unit.h"
#include "helper-verbs.h"
#include "macro.h"
#include "proto-io.h"
#include "proto-time.h"

/* Fixed MESSAGE_IDs, one per event class (systemd-id128 new). */
#define MID_REQUEST "7ba907cd1bc946ad93aef022bec284e6"   /* a request was answered */
#define MID_REFUSED "72092b4431c04991a3bafee2bd9fe8ab"   /* a peer was refused admission */
#define MID_FAILURE "a5f03434538f45ad87e4e2a00c3a6d08"   /* the helper could not serve at all */

#define DEFAULT_POLICY SYSCONFDIR "/lanekeeper/policy.conf"

#define RECV_DEADLINE_MS 1000    /* an admitted connection sends its request within this, or is closed */
#define IDLE_EXIT_MS     10000   /* nothing to do for this long: exit; the socket starts a fresh helper */
#define MAX_PENDING      32      /* admitted connections awaiting a request; a newer one evicts the oldest */
#define MAX_REQUESTS     10000   /* requests one helper serves before it exits */
#define ACCEPT_BATCH     64      /* connections accepted per turn, so pending requests are never starved */
#define REFUSAL_LOG_BURST 20      /* refused peers logged per second; the rest are counted */
#define MIN(a, b) ((a) < (b) ? (a) : (b))

struct conn {
        int fd;
        struct peer peer;
        uint64_t deadline_ms;
        uint64_t request_id;
        enum proto_verb verb;
        const char *lane;
        bool dry_run;
};

struct helper {
        const char *policy_path;
        enum sandbox_mode mode;                /* --bpf: the load-bpf instance */
        struct helper_policy boot_pol;         /* as loaded at start: what ids were resolved from */
        bool boot_pol_ok;
        char boot_err[512];
        struct identities ids;
        struct helper_policy pol;              /* re-loaded for every request */
        int listen_fd, unit_dir;
        sd_bus *bus;
        struct conn pending[MAX_PENDING];
        size_t n_pending;
        unsigned served;
        uint64_t watchdog_ms;
        uint64_t refusal_window_ms;
        unsigned refusals_logged, refusals_unlogged;
        bool stale;                            /* policy or bus changed: exit once the backlog is ours no more */
        struct proto_msg req;
        struct proto_builder out;
        uint8_t buf[PROTO_MAX_MESSAGE];
};

static void log_event(const char *mid, const struct conn *c, enum proto_error e, const char *reason) {
        const char *verb = proto_verb_to_string(c->verb) ?: "none";

        /* The reason may quote a validated field, never raw request bytes. */
        sd_journal_send("MESSAGE_ID=%s", mid, "PRIORITY=%d", e == PROTO_OK ? LOG_INFO : LOG_WARNING,
                        "MESSAGE=%s%s lane=%s peer uid=%d: %s%s%s", verb, c->dry_run ? " (dry run)" : "",
                        c->lane ?: "-", (int) c->peer.uid, proto_error_to_string(e), reason && *reason ? ": " : "",
                        reason ?: "",
                        "LANEKEEPER_VERB=%s", verb, "LANEKEEPER_LANE=%s", c->lane ?: "",
                        "LANEKEEPER_PEER_UID=%d", (int) c->peer.uid, "LANEKEEPER_PEER_PID=%d", (int) c->peer.pid,
                        "LANEKEEPER_RESULT=%s", proto_error_to_string(e),
                        "LANEKEEPER_REQUEST_ID=%llu", (unsigned long long) c->request_id,
                        "LANEKEEPER_DRY_RUN=%d", c->dry_run, NULL);
}

static void reply_error(struct helper *h, struct conn *c, enum proto_error e, const char *reason) {
        size_t len;

        if (proto_build_error_reply(&h->out, c->verb, c->request_id, e, reason, &len) >= 0)
                (void) proto_send(c->fd, h->out.buf, len);
}

static void answer_error(struct helper *h, struct conn *c, const char *mid, enum proto_error e, const char *reason) {
        log_event(mid, c, e, reason);
        reply_error(h, c, e, reason);
}

/* A peer refused at admission. Any local user in the socket's group can
 * cause these as fast as it connects: the journal gets REFUSAL_LOG_BURST
 * of them a second and then one record counting the rest. */
static void refusal_window(struct helper *h, uint64_t now) {
        if (now < h->refusal_window_ms + 1000)
                return;
        if (h->refusals_unlogged > 0)
                sd_journal_send("MESSAGE_ID=%s", MID_REFUSED, "PRIORITY=%d", LOG_WARNING,
                                "MESSAGE=%u more connections refused and not logged one by one",
                                h->refusals_unlogged, "LANEKEEPER_UNLOGGED=%u", h->refusals_unlogged, NULL);
        h->refusal_window_ms = now;
        h->refusals_logged = h->refusals_unlogged = 0;
}

static void refuse_peer(struct helper *h, struct conn *c, enum proto_error e, const char *reason) {
        refusal_window(h, (uint64_t) proto_now_ms());
        if (h->refusals_logged < REFUSAL_LOG_BURST) {
                h->refusals_logged++;
                log_event(MID_REFUSED, c, e, reason);
        } else
                h->refusals_unlogged++;
        reply_error(h, c, e, reason);
}

static void answer_ok(struct helper *h, struct conn *c, const struct verb_result *res) {
        struct proto_builder *b = &h->out;
        struct proto_diag d;
        size_t len;

        proto_builder_init(b, c->verb, PROTO_FLAG_REPLY | (c->dry_run ? PROTO_FLAG_DRY_RUN : 0), c->request_id);
        proto_put_i32(b, PROTO_TAG_STATUS, 0);
        /* Each verb's reply carries the results its closed field list allows. */
#define ALLOWED(t) proto_field_allowed(c->verb, true, PROTO_TAG_##t)
        if (res->unit_name[0] && ALLOWED(UNIT_NAME))
                proto_put_str(b, PROTO_TAG_UNIT_NAME, res->unit_name);
        if (res->unit_path[0] && ALLOWED(UNIT_PATH))
                proto_put_str(b, PROTO_TAG_UNIT_PATH, res->unit_path);
        if (res->digest[0] && ALLOWED(DIGEST))
                proto_put_str(b, PROTO_TAG_DIGEST, res->digest);
        if (res->changed >= 0 && ALLOWED(CHANGED))
                proto_put_bool(b, PROTO_TAG_CHANGED, res->changed);
        if (res->active[0] && ALLOWED(ACTIVE_STATE)) {
                proto_put_str(b, PROTO_TAG_ACTIVE_STATE, res->active);
                proto_put_str(b, PROTO_TAG_SUB_STATE, res->sub);
        }
        if (res->ringbuf_size && ALLOWED(RINGBUF_SIZE)) {
                proto_put_u32(b, PROTO_TAG_RINGBUF_SIZE, res->ringbuf_size);
                proto_put_u64(b, PROTO_TAG_CGROUP_ID, res->cgroup_id);
                proto_put_str(b, PROTO_TAG_CGROUP_PATH, res->cgroup_path);
                proto_put_u32(b, PROTO_TAG_PROG_COUNT, res->prog_count);
        }
        for (size_t i = 0; i < res->n_actions; i++)
                proto_put_str(b, PROTO_TAG_ACTION, res->actions[i]);
#undef ALLOWED
        if (proto_builder_finish(b, &len, &d) < 0)
                return answer_error(h, c, MID_FAILURE, PROTO_E_INTERNAL, d.reason);
        log_event(MID_REQUEST, c, PROTO_OK, res->n_actions ? res->actions[0] : NULL);
        /* load-bpf: the ring buffer, the counters and the links go with the
         * answer; the caller's copies are then the only ones. */
        (void) proto_send_fds(c->fd, b->buf, len, res->bpf.fds, res->bpf.n_fds);
}

/* Today's policy, for this request; a change since start makes us stale
 * (the users we resolved at start may no longer be the policy's). */
static enum proto_error reload_policy(struct helper *h, char *reason, size_t size) {
        char err[400];

        if (policy_load(h->policy_path, &h->pol, err, sizeof err) < 0) {
                h->stale = true;
                snprintf(reason, size, "policy %s refused: %s", h->policy_path, err);
                return PROTO_E_INTERNAL;
        }
        if (!h->boot_pol_ok || memcmp(&h->pol, &h->boot_pol, sizeof h->pol) != 0)
                h->stale = true;
        return PROTO_OK;
}

/* One request on an admitted connection, then the connection is closed:
 * malformed input ends it at once, after its answer. */
static void serve_request(struct helper *h, struct conn *c) {
        struct verb_ctx ctx = {};
        struct proto_diag d;
        char reason[PROTO_REASON_MAX];
        enum proto_error e;
        ssize_t n;

        n = proto_recv(c->fd, h->buf, sizeof h->buf);
        if (n == -ECONNRESET || n == -EAGAIN)
                return;   /* closed without a request, or nothing after all: nothing to answer */
        if (n < 0)
                return answer_error(h, c, MID_FAILURE, n == -EMSGSIZE ? PROTO_E_TOO_LARGE : PROTO_E_MALFORMED,
                                    n == -EMSGSIZE ? "message larger than 16 KiB + header" : "no request received");
        if (proto_decode(h->buf, (size_t) n, PROTO_REQUEST, &h->req, &d) < 0) {
                c->request_id = d.request_id;
                return answer_error(h, c, MID_FAILURE, d.error, d.reason);
        }
        c->verb = h->req.verb;
        c->request_id = h->req.request_id;
        c->dry_run = h->req.flags & PROTO_FLAG_DRY_RUN;
        c->lane = proto_msg_str(&h->req, PROTO_TAG_LANE);
        e = reload_policy(h, reason, sizeof reason);
        if (e != PROTO_OK)
                return answer_error(h, c, MID_FAILURE, e, reason);
        if (!policy_has_maintainer(&h->pol, c->peer.user))
                return answer_error(h, c, MID_REFUSED, PROTO_E_PERMISSION_DENIED,
                                    "peer is no longer a maintainer named in the policy");
        ctx = (struct verb_ctx) { .pol = &h->pol, .ids = &h->ids, .req = &h->req, .mode = h->mode,
                                  .dry_run = c->dry_run, .bus = h->bus, .unit_dir = h->unit_dir };
        e = verb_dispatch(&ctx);
        if (e != PROTO_OK)
                answer_error(h, c, MID_REQUEST, e, ctx.reason);
        else
                answer_ok(h, c, &ctx.res);
        hbpf_release(&ctx.res.bpf);
        /* Drop what systemd told us meanwhile (job signals); a lost bus
         * makes this helper stale: the next one connects afresh. */
        while (sd_bus_process(h->bus, NULL) > 0)
                ;
        if (sd_bus_is_open(h->bus) <= 0)
                h->stale = true;
        h->served++;
}

static void drop_pending(struct helper *h, size_t i) {
        closep(&h->pending[i].fd);
        h->pending[i] = h->pending[--h->n_pending];
}

/* Admit by credentials before anything is read: a non-maintainer, or a
 * caller inside a lane unit, is answered and closed here. */
static void accept_one(struct helper *h, int fd) {
        struct conn c = { .fd = fd, .peer.uid = (uid_t) -1 };
        const char *reason = NULL;

        if (!h->boot_pol_ok) {
                h->stale = true;
                answer_error(h, &c, MID_FAILURE, PROTO_E_INTERNAL, h->boot_err);
                return closep(&c.fd);
        }
        if (admit_peer(fd, &h->boot_pol, &h->ids, &c.peer, &reason) < 0) {
                refuse_peer(h, &c, PROTO_E_PERMISSION_DENIED, reason);
                return closep(&c.fd);
        }
        if (h->n_pending == MAX_PENDING) {
                struct conn *old = &h->pending[0];

                for (size_t i = 1; i < h->n_pending; i++)
                        if (h->pending[i].deadline_ms < old->deadline_ms)
                                old = &h->pending[i];
                refuse_peer(h, old, PROTO_E_TOO_LARGE,
                            "too many connections waiting to send a request: the oldest was closed");
                drop_pending(h, (size_t) (old - h->pending));
        }
        c.deadline_ms = (uint64_t) proto_now_ms() + RECV_DEADLINE_MS;
        h->pending[h->n_pending++] = c;
}

static void accept_batch(struct helper *h) {
        for (int i = 0; i < ACCEPT_BATCH && !h->stale; i++) {
                int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                if (fd < 0)
                        return;   /* EAGAIN: the backlog is empty; anything else: try next turn */
                accept_one(h, fd);
        }
}

static int serve(struct helper *h) {
        uint64_t idle_since = (uint64_t) proto_now_ms();

        while (h->served < MAX_REQUESTS) {
                struct pollfd p[MAX_PENDING + 1];
                uint64_t now = (uint64_t) proto_now_ms(), wake = idle_since + IDLE_EXIT_MS;
                int n;

                refusal_window(h, now);
                if (now >= h->watchdog_ms + 1000) {
                        (void) sd_notify(false, "WATCHDOG=1");
                        h->watchdog_ms = now;
                }
                for (size_t i = 0; i < h->n_pending;)
                        if (h->pending[i].deadline_ms <= now) {
                                refuse_peer(h, &h->pending[i], PROTO_E_MALFORMED,
                                            "no request within 1 s of connecting: connection closed");
                                drop_pending(h, i);
                        } else
                                wake = MIN(wake, h->pending[i].deadline_ms), i++;
                if (h->n_pending == 0 && (h->stale || now >= idle_since + IDLE_EXIT_MS))
                        break;
                for (size_t i = 0; i < h->n_pending; i++)
                        p[i] = (struct pollfd) { .fd = h->pending[i].fd, .events = POLLIN };
                /* A stale helper stops accepting: systemd hands the backlog to a fresh one. */
                p[h->n_pending] = (struct pollfd) { .fd = h->stale ? -1 : h->listen_fd, .events = POLLIN };
                n = poll(p, h->n_pending + 1, (int) MIN(wake > now ? wake - now : 0, 1000u));
                if (n < 0 && errno != EINTR)
                        return log_event(MID_FAILURE, &(struct conn) {}, PROTO_E_INTERNAL, "poll failed"), EXIT_FAILURE;
                if (n <= 0)
                        continue;
                idle_since = (uint64_t) proto_now_ms();
                for (size_t i = h->n_pending; i-- > 0;)
                        if (p[i].revents) {
                                serve_request(h, &h->pending[i]);
                                drop_pending(h, i);
                        }
                if (p[h->n_pending].revents & POLLIN)
                        accept_batch(h);
        }
        (void) sd_notify(false, "STOPPING=1");
        return EXIT_SUCCESS;
}

/* Everything that needs privilege or the outside world, then confinement. */
static int setup(struct helper *h) {
        const char *reason = NULL;
        char err[400];
        int r;

        h->boot_pol_ok = policy_load(h->policy_path, &h->boot_pol, err, sizeof err) >= 0;
        if (!h->boot_pol_ok)
                snprintf(h->boot_err, sizeof h->boot_err, "policy %s refused: %s", h->policy_path, err);
        else
                ids_resolve(&h->boot_pol, &h->ids);   /* NSS may need sockets: only before seccomp */
        h->unit_dir = open(UNIT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (h->unit_dir < 0)
                return fprintf(stderr, "cannot open " UNIT_DIR ": %m\n"), -errno;
        r = sysd_open(&h->bus);
        if (r < 0)
                return fprintf(stderr, "cannot connect to systemd: %s\n", strerror(-r)), r;
        r = sandbox_drop_caps(h->mode, &reason);
        if (r < 0)
                return fprintf(stderr, "cannot drop capabilities: %s\n", reason), r;
        /* The load-bpf instance reads unit files but writes nothing. */
        r = sandbox_seccomp(h->mode, h->mode == SANDBOX_BPF ? -1 : h->unit_dir);
        if (r < 0)
                return fprintf(stderr, "cannot install the seccomp filter: %s\n", strerror(-r)), r;
        return 0;
}

static void help(void) {
        printf("Usage: %s [--policy FILE] [--bpf] [--help] [--version]\n\n"
               "The privileged helper of lanekeeper. systemd starts it through\n"
               "lanekeeper-helper.socket (Accept=no); it accepts its own connections\n"
               "and exits when idle. It is not meant to be run by hand: operators use\n"
               "'lanectl helper'.\n\n"
               "  --policy FILE   policy file (default " DEFAULT_POLICY ")\n"
               "  --bpf           serve load-bpf alone (lanekeeper-helper-bpf.socket)\n\n"
               "See lanekeeper-helper(8) and lanekeeper-policy(5).\n",
               program_invocation_short_name);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "policy", required_argument, NULL, 'p' },
                { "bpf", no_argument, NULL, 'b' },
                {}
        };
        static struct helper h = { .policy_path = DEFAULT_POLICY, .unit_dir = -EBADF };
        int c, n, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("lanekeeper-helper " PACKAGE_VERSION "\n");
                        return EXIT_SUCCESS;
                case 'p':
                        h.policy_path = optarg;
                        break;
                case 'b':
                        h.mode = SANDBOX_BPF;
                        break;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "%s: takes no arguments; see --help\n", program_invocation_short_name);
                return 2;
        }
        n = sd_listen_fds(true);
        if (n != 1 || sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
                fprintf(stderr,
                        "%s: not started by systemd with one listening socket (got %d file descriptors).\n"
                        "It is socket-activated through lanekeeper-helper.socket; use 'lanectl helper'.\n",
                        program_invocation_short_name, n < 0 ? 0 : n);
                return 2;
        }
        h.listen_fd = SD_LISTEN_FDS_START;
        if (fcntl(h.listen_fd, F_SETFL, O_NONBLOCK) < 0)
                return EXIT_FAILURE;
        r = setup(&h);
        if (r < 0) {
                /* Answer whoever waits, so no caller hangs on a helper that cannot serve. */
                for (int fd, i = 0; i < ACCEPT_BATCH && (fd = accept4(h.listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0; i++) {
                        struct conn cn = { .fd = fd, .peer.uid = (uid_t) -1 };

                        answer_error(&h, &cn, MID_FAILURE, r == -ECONNREFUSED || r == -ENOENT ?
                                     PROTO_E_SYSTEMD_FAILED : PROTO_E_INTERNAL, "the helper cannot start: see its journal");
                        closep(&cn.fd);
                }
                return EXIT_FAILURE;
        }
        (void) sd_notify(false, "READY=1");
        return serve(&h);
}
