/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanekeeper-helper: the root side of lanekeeper, one process per
 * connection (lanekeeper-helper.socket, Accept=yes). In this order
 * (DESIGN §5): take the socket; load the policy; admit the peer by
 * credentials and cgroup; open what the verbs need (sd-bus, the unit
 * directory, user ids); drop capabilities; no_new_privs and seccomp; only
 * then read and decode the request; act; answer; log; exit. */
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "helper-admit.h"
#include "helper-policy.h"
#include "helper-sandbox.h"
#include "helper-systemd.h"
#include "helper-unit.h"
#include "helper-verbs.h"
#include "macro.h"
#include "proto-io.h"

/* Fixed MESSAGE_IDs, one per event class (systemd-id128 new). */
#define MID_REQUEST "7ba907cd1bc946ad93aef022bec284e6"   /* a request was answered */
#define MID_REFUSED "72092b4431c04991a3bafee2bd9fe8ab"   /* a peer was refused admission */
#define MID_FAILURE "a5f03434538f45ad87e4e2a00c3a6d08"   /* the helper could not serve at all */

#define DEFAULT_POLICY SYSCONFDIR "/lanekeeper/policy.conf"

struct conn {
        int fd;
        struct peer peer;
        uint64_t request_id;
        enum proto_verb verb;
        const char *lane;
        bool dry_run;
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

static int answer_error(struct conn *c, const char *mid, enum proto_error e, const char *reason) {
        static struct proto_builder b;
        size_t len;

        log_event(mid, c, e, reason);
        if (proto_build_error_reply(&b, c->verb, c->request_id, e, reason, &len) < 0)
                return EXIT_FAILURE;
        (void) proto_send(c->fd, b.buf, len);
        return EXIT_FAILURE;
}

static int answer_ok(struct conn *c, const struct verb_result *res) {
        static struct proto_builder b;
        struct proto_diag d;
        size_t len;

        proto_builder_init(&b, c->verb, PROTO_FLAG_REPLY | (c->dry_run ? PROTO_FLAG_DRY_RUN : 0), c->request_id);
        proto_put_i32(&b, PROTO_TAG_STATUS, 0);
        /* Each verb's reply carries the results its closed field list allows. */
#define ALLOWED(t) proto_field_allowed(c->verb, true, PROTO_TAG_##t)
        if (res->unit_name[0] && ALLOWED(UNIT_NAME))
                proto_put_str(&b, PROTO_TAG_UNIT_NAME, res->unit_name);
        if (res->unit_path[0] && ALLOWED(UNIT_PATH))
                proto_put_str(&b, PROTO_TAG_UNIT_PATH, res->unit_path);
        if (res->digest[0] && ALLOWED(DIGEST))
                proto_put_str(&b, PROTO_TAG_DIGEST, res->digest);
        if (res->changed >= 0 && ALLOWED(CHANGED))
                proto_put_bool(&b, PROTO_TAG_CHANGED, res->changed);
        if (res->active[0] && ALLOWED(ACTIVE_STATE)) {
                proto_put_str(&b, PROTO_TAG_ACTIVE_STATE, res->active);
                proto_put_str(&b, PROTO_TAG_SUB_STATE, res->sub);
        }
        for (size_t i = 0; i < res->n_actions; i++)
                proto_put_str(&b, PROTO_TAG_ACTION, res->actions[i]);
#undef ALLOWED
        if (proto_builder_finish(&b, &len, &d) < 0)
                return answer_error(c, MID_FAILURE, PROTO_E_INTERNAL, d.reason);
        log_event(MID_REQUEST, c, PROTO_OK, res->n_actions ? res->actions[0] : NULL);
        return proto_send(c->fd, b.buf, len) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static void resolve_users(const struct helper_policy *pol, uid_t *uids) {
        for (size_t i = 0; i < pol->n_users; i++) {
                struct passwd pw, *res = NULL;
                char buf[4096];

                uids[i] = getpwnam_r(pol->users[i], &pw, buf, sizeof buf, &res) == 0 && res ? pw.pw_uid : (uid_t) -1;
        }
}

static int serve(int fd, const char *policy_path) {
        static struct helper_policy pol;
        static struct proto_msg req;
        static uint8_t buf[PROTO_MAX_MESSAGE];
        static uid_t uids[POLICY_MAX_ITEMS];
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(closep) int unit_dir = -EBADF;
        struct conn c = { .fd = fd, .peer.uid = (uid_t) -1 };
        struct verb_ctx ctx = {};
        struct proto_diag d;
        const char *reason = NULL;
        char err[512];
        enum proto_error e;
        ssize_t n;
        int r;

        if (policy_load(policy_path, &pol, err, sizeof err) < 0) {
                char why[640];

                snprintf(why, sizeof why, "policy %s refused: %s", policy_path, err);
                return answer_error(&c, MID_FAILURE, PROTO_E_INTERNAL, why);
        }
        r = admit_peer(fd, &pol, &c.peer, &reason);
        if (r < 0)
                return answer_error(&c, MID_REFUSED, PROTO_E_PERMISSION_DENIED, reason);
        resolve_users(&pol, uids);
        unit_dir = open(UNIT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (unit_dir < 0)
                return answer_error(&c, MID_FAILURE, PROTO_E_INTERNAL, "cannot open " UNIT_DIR);
        r = sysd_open(&bus);
        if (r < 0)
                return answer_error(&c, MID_FAILURE, PROTO_E_SYSTEMD_FAILED, "cannot connect to systemd");
        r = sandbox_drop_caps(&reason);
        if (r < 0) {
                snprintf(err, sizeof err, "cannot drop capabilities: %s", reason);
                return answer_error(&c, MID_FAILURE, PROTO_E_INTERNAL, err);
        }
        r = sandbox_seccomp();
        if (r < 0) {
                snprintf(err, sizeof err, "cannot install the seccomp filter: %s", strerror(-r));
                return answer_error(&c, MID_FAILURE, PROTO_E_INTERNAL, err);
        }

        /* Only now is anything the peer sent looked at. */
        n = proto_recv(fd, buf, sizeof buf);
        if (n < 0)
                return answer_error(&c, MID_FAILURE, n == -EMSGSIZE ? PROTO_E_TOO_LARGE : PROTO_E_MALFORMED,
                                    n == -EMSGSIZE ? "message larger than 16 KiB + header" : "no request received");
        r = proto_decode(buf, (size_t) n, &req, &d);
        if (r < 0) {
                c.request_id = d.request_id;
                return answer_error(&c, MID_FAILURE, d.error, d.reason);
        }
        c.verb = req.verb;
        c.request_id = req.request_id;
        c.dry_run = req.flags & PROTO_FLAG_DRY_RUN;
        c.lane = proto_msg_str(&req, PROTO_TAG_LANE);
        ctx = (struct verb_ctx) { .pol = &pol, .user_uids = uids, .req = &req, .dry_run = c.dry_run,
                                  .bus = bus, .unit_dir = unit_dir };
        e = verb_dispatch(&ctx);
        if (e != PROTO_OK)
                return answer_error(&c, MID_REQUEST, e, ctx.reason);
        return answer_ok(&c, &ctx.res);
}

static void help(void) {
        printf("Usage: %s [--policy FILE] [--help] [--version]\n\n"
               "The privileged helper of lanekeeper. systemd starts it through\n"
               "lanekeeper-helper.socket (Accept=yes), one process per connection;\n"
               "it is not meant to be run by hand. Operators use 'lanectl helper'.\n\n"
               "  --policy FILE   policy file (default " DEFAULT_POLICY ")\n\n"
               "See lanekeeper-helper(8) and lanekeeper-policy(5).\n",
               program_invocation_short_name);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "policy", required_argument, NULL, 'p' },
                {}
        };
        const char *policy_path = DEFAULT_POLICY;
        int c, n;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("lanekeeper-helper " PACKAGE_VERSION "\n");
                        return EXIT_SUCCESS;
                case 'p':
                        policy_path = optarg;
                        break;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "%s: takes no arguments; see --help\n", program_invocation_short_name);
                return 2;
        }
        n = sd_listen_fds(true);
        if (n != 1) {
                fprintf(stderr,
                        "%s: not started by systemd with one connection (got %d file descriptors).\n"
                        "It is socket-activated through lanekeeper-helper.socket; use 'lanectl helper'.\n",
                        program_invocation_short_name, n < 0 ? 0 : n);
                return 2;
        }
        return serve(SD_LISTEN_FDS_START, policy_path);
}
