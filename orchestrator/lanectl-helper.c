/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl helper: call one verb of lanekeeper-helper and show its answer. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lanectl.h"
#include "macro.h"
#include "proto-codec.h"
#include "proto-io.h"
#include "proto-redact-json.h"
#include "settings.h"

#define CONNECT_TRIES 6
#define REPLY_TIMEOUT_MS (90 * 1000)

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Connect, retrying with backoff while the socket refuses (a burst of
 * connections, or the socket unit restarting): 50 ms doubling, 6 tries. */
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
                sleep_ms(delay);
                delay *= 2;
        }
        return r;
}

static void put_str(struct json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

static struct json_object *reply_to_json(const struct proto_msg *m, const char *lane) {
        struct json_object *o = json_object_new_object(), *actions = json_object_new_array();
        const char *list[PROTO_MAX_REPEAT];
        size_t n = proto_msg_strs(m, PROTO_TAG_ACTION, list, PROTO_MAX_REPEAT);
        int32_t status = 0;
        bool changed;

        (void) proto_msg_i32(m, PROTO_TAG_STATUS, &status);
        json_object_object_add(o, "schema", json_object_new_string("lanekeeper.helper-reply/1"));
        put_str(o, "verb", proto_verb_to_string(m->verb));
        put_str(o, "lane", lane);
        json_object_object_add(o, "dry_run", json_object_new_boolean(m->flags & PROTO_FLAG_DRY_RUN));
        json_object_object_add(o, "request_id", json_object_new_uint64(m->request_id));
        json_object_object_add(o, "status", json_object_new_int(status));
        put_str(o, "error", proto_msg_str(m, PROTO_TAG_ERROR));
        put_str(o, "reason", proto_msg_str(m, PROTO_TAG_REASON));
        put_str(o, "unit_name", proto_msg_str(m, PROTO_TAG_UNIT_NAME));
        put_str(o, "unit_path", proto_msg_str(m, PROTO_TAG_UNIT_PATH));
        put_str(o, "digest", proto_msg_str(m, PROTO_TAG_DIGEST));
        if (proto_msg_bool(m, PROTO_TAG_CHANGED, &changed) == 0)
                json_object_object_add(o, "changed", json_object_new_boolean(changed));
        put_str(o, "active_state", proto_msg_str(m, PROTO_TAG_ACTIVE_STATE));
        put_str(o, "sub_state", proto_msg_str(m, PROTO_TAG_SUB_STATE));
        for (size_t i = 0; i < n && i < PROTO_MAX_REPEAT; i++)
                json_object_array_add(actions, json_object_new_string(list[i]));
        json_object_object_add(o, "actions", actions);
        (void) proto_redact_json(o);   /* replies carry no secret; make sure */
        return o;
}

static void print_text(const struct proto_msg *m, const char *lane) {
        const char *list[PROTO_MAX_REPEAT], *s;
        size_t n = proto_msg_strs(m, PROTO_TAG_ACTION, list, PROTO_MAX_REPEAT);
        bool dry = m->flags & PROTO_FLAG_DRY_RUN, changed;

        printf("%s%s%s: ok%s\n", proto_verb_to_string(m->verb), lane ? " " : "", lane ?: "", dry ? " (dry run)" : "");
        if ((s = proto_msg_str(m, PROTO_TAG_UNIT_NAME)))
                printf("  unit:    %s\n", s);
        if ((s = proto_msg_str(m, PROTO_TAG_UNIT_PATH)))
                printf("  file:    %s\n", s);
        if ((s = proto_msg_str(m, PROTO_TAG_DIGEST)))
                printf("  sha256:  %s\n", s);
        if (proto_msg_bool(m, PROTO_TAG_CHANGED, &changed) == 0)
                printf("  changed: %s\n", changed ? (dry ? "would" : "yes") : "no");
        if ((s = proto_msg_str(m, PROTO_TAG_ACTIVE_STATE)))
                printf("  state:   %s (%s)\n", s, proto_msg_str(m, PROTO_TAG_SUB_STATE) ?: "?");
        for (size_t i = 0; i < n && i < PROTO_MAX_REPEAT; i++)
                printf("  %s %s\n", dry ? "would:" : "did:  ", list[i]);
}

static void usage_hint(void) {
        fprintf(stderr, "usage: lanectl helper VERB [LANE] [--user USER --root DIR] [--dry-run] [--output text|json]\n"
                        "verbs: install-unit, daemon-reload, enable-now, restart, stop, remove-unit\n");
}

static int call(const char *socket_path, struct proto_builder *b, size_t len, struct proto_msg *m, bool json,
                const char *lane) {
        static uint8_t buf[PROTO_MAX_MESSAGE];
        _cleanup_(closep) int fd = -EBADF;
        struct pollfd p;
        struct proto_diag d;
        ssize_t n;
        int r;

        fd = helper_connect(socket_path);
        if (fd < 0) {
                fprintf(stderr, "lanectl helper: the helper is unavailable at %s: %s\n"
                                "  (is lanekeeper-helper.socket active, and are you in group lanekeeper?)\n",
                        socket_path, strerror(-fd));
                return EXIT_UNAVAILABLE;
        }
        /* A helper that refuses before reading (policy, admission) answers
         * and exits at once: our send may then fail with EPIPE while its
         * answer already waits in our queue. Read it either way. */
        r = proto_send(fd, b->buf, len);
        if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
                fprintf(stderr, "lanectl helper: cannot send the request: %s\n", strerror(-r));
                return EXIT_UNAVAILABLE;
        }
        p = (struct pollfd) { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, REPLY_TIMEOUT_MS) <= 0 || (n = proto_recv(fd, buf, sizeof buf)) < 0) {
                fprintf(stderr, "lanectl helper: no answer from the helper (it may have refused the connection)\n");
                return EXIT_UNAVAILABLE;
        }
        if (proto_decode(buf, (size_t) n, PROTO_REPLY, m, &d) < 0) {
                fprintf(stderr, "lanectl helper: unreadable answer: %s\n", d.reason);
                return EXIT_REFUSED;
        }
        if (json) {
                struct json_object *o = reply_to_json(m, lane);
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        }
        if (proto_msg_find(m, PROTO_TAG_ERROR)) {
                fprintf(stderr, "lanectl helper: %s%s%s: %s: %s\n", proto_verb_to_string(m->verb) ?: "request",
                        lane ? " " : "", lane ?: "", proto_msg_str(m, PROTO_TAG_ERROR),
                        proto_msg_str(m, PROTO_TAG_REASON) ?: "(no reason given)");
                return EXIT_REFUSED;
        }
        if (!json)
                print_text(m, lane);
        return 0;
}

int helper_call(const char *socket_path, enum proto_verb verb, const char *lane, const char *user, const char *root,
                char *err, size_t errlen) {
        static struct proto_builder b;
        static struct proto_msg m;
        static uint8_t buf[PROTO_MAX_MESSAGE];
        _cleanup_(closep) int fd = -EBADF;
        struct proto_diag d;
        struct pollfd p;
        size_t len;
        ssize_t n;
        int r;

        proto_builder_init(&b, verb, 0, (uint64_t) time(NULL) << 20 ^ (uint64_t) getpid());
        if (lane)
                proto_put_str(&b, PROTO_TAG_LANE, lane);
        if (user) {
                proto_put_str(&b, PROTO_TAG_USER, user);
                proto_put_str(&b, PROTO_TAG_ROOT, root);
        }
        if (proto_builder_finish(&b, &len, &d) < 0)
                return snprintf(err, errlen, "%s: %s", proto_error_to_string(d.error), d.reason), -EINVAL;
        fd = helper_connect(socket_path);
        if (fd < 0)
                return snprintf(err, errlen, "the helper is unavailable at %s: %s", socket_path, strerror(-fd)), -EHOSTDOWN;
        r = proto_send(fd, b.buf, len);
        if (r < 0 && r != -EPIPE && r != -ECONNRESET)
                return snprintf(err, errlen, "cannot send to the helper: %s", strerror(-r)), -EHOSTDOWN;
        p = (struct pollfd) { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, REPLY_TIMEOUT_MS) <= 0 || (n = proto_recv(fd, buf, sizeof buf)) < 0)
                return snprintf(err, errlen, "no answer from the helper"), -EHOSTDOWN;
        if (proto_decode(buf, (size_t) n, PROTO_REPLY, &m, &d) < 0 || m.verb != verb)
                return snprintf(err, errlen, "unreadable answer from the helper: %s", d.reason), -EPROTO;
        if (proto_msg_find(&m, PROTO_TAG_ERROR))
                return snprintf(err, errlen, "%s: %s", proto_msg_str(&m, PROTO_TAG_ERROR),
                                proto_msg_str(&m, PROTO_TAG_REASON) ?: "(no reason given)"), -EPERM;
        return 0;
}

int cmd_helper(int argc, char **argv) {
        static const struct option options[] = {
                { "user", required_argument, NULL, 'u' },
                { "root", required_argument, NULL, 'r' },
                { "dry-run", no_argument, NULL, 'n' },
                { "output", required_argument, NULL, 'o' },
                { "socket", required_argument, NULL, 's' },
                {}
        };
        static struct proto_builder b;
        static struct proto_msg m;
        const char *user = NULL, *root = NULL, *lane = NULL;
        const char *socket_path = getenv("LANEKEEPER_HELPER_SOCKET");
        const struct settings *settings;
        bool dry_run = false, json = false;
        struct proto_diag d;
        enum proto_verb verb;
        uint64_t request_id;
        size_t len;
        int c;

        optind = 0;   /* glibc: re-initialise fully (main scanned with "+"); options may follow the verb */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'u': user = optarg; break;
                case 'r': root = optarg; break;
                case 'n': dry_run = true; break;
                case 's': socket_path = optarg; break;
                case 'o':
                        if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                                fprintf(stderr, "lanectl helper: --output is text or json\n");
                                return EXIT_USAGE;
                        }
                        json = strcmp(optarg, "json") == 0;
                        break;
                default:
                        usage_hint();
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                usage_hint();
                return EXIT_USAGE;
        }
        verb = proto_verb_from_string(argv[optind]);
        if (verb < 0 || verb == PROTO_VERB_LOAD_BPF) {
                fprintf(stderr, "lanectl helper: unknown verb '%s'\n", argv[optind]);
                usage_hint();
                return EXIT_USAGE;
        }
        lane = optind + 1 < argc ? argv[optind + 1] : NULL;
        if (optind + 2 < argc || (verb == PROTO_VERB_DAEMON_RELOAD) != !lane ||
            (verb == PROTO_VERB_INSTALL_UNIT) != (user && root) || (verb != PROTO_VERB_INSTALL_UNIT && (user || root))) {
                fprintf(stderr, "lanectl helper: %s takes %s\n", argv[optind],
                        verb == PROTO_VERB_DAEMON_RELOAD  ? "no lane"
                        : verb == PROTO_VERB_INSTALL_UNIT ? "a LANE, --user USER and --root DIR"
                                                          : "a LANE and no --user/--root");
                return EXIT_USAGE;
        }
        if (!socket_path) {
                if (lanectl_settings(&settings) < 0)
                        return EXIT_REFUSED;
                socket_path = settings->helper_socket;
        }
        request_id = (uint64_t) time(NULL) << 20 ^ (uint64_t) getpid();
        proto_builder_init(&b, verb, dry_run ? PROTO_FLAG_DRY_RUN : 0, request_id);
        if (lane)
                proto_put_str(&b, PROTO_TAG_LANE, lane);
        if (user) {
                proto_put_str(&b, PROTO_TAG_USER, user);
                proto_put_str(&b, PROTO_TAG_ROOT, root);
        }
        /* The codec refuses here whatever the helper would refuse on the wire. */
        if (proto_builder_finish(&b, &len, &d) < 0) {
                fprintf(stderr, "lanectl helper: %s: %s\n", proto_error_to_string(d.error), d.reason);
                return EXIT_REFUSED;
        }
        return call(socket_path, &b, len, &m, json, lane);
}
