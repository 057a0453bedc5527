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

#include "helper-client.h"
#include "cli.h"
#include "macro.h"
#include "proto-codec.h"
#include "proto-io.h"
#include "proto-redact-json.h"
#include "settings.h"

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

static void put_str(struct json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

static const char *or_null(const char *s) {
        return s[0] ? s : NULL;
}

static struct json_object *reply_to_json(const struct helper_reply *m, const char *lane) {
        struct json_object *o = json_object_new_object(), *actions = json_object_new_array();

        json_object_object_add(o, "schema", json_object_new_string("lanekeeper.helper-reply/1"));
        put_str(o, "verb", proto_verb_to_string(m->verb));
        put_str(o, "lane", lane);
        json_object_object_add(o, "dry_run", json_object_new_boolean(m->dry_run));
        json_object_object_add(o, "request_id", json_object_new_uint64(m->request_id));
        json_object_object_add(o, "status", json_object_new_int(m->status));
        put_str(o, "error", m->error == PROTO_OK ? NULL : proto_error_to_string(m->error));
        put_str(o, "reason", or_null(m->reason));
        put_str(o, "unit_name", or_null(m->unit_name));
        put_str(o, "unit_path", or_null(m->unit_path));
        put_str(o, "digest", or_null(m->digest));
        if (m->changed >= 0)
                json_object_object_add(o, "changed", json_object_new_boolean(m->changed));
        put_str(o, "active_state", or_null(m->active_state));
        put_str(o, "sub_state", or_null(m->sub_state));
        if (m->verb == PROTO_VERB_LOAD_BPF && m->ringbuf_size) {
                json_object_object_add(o, "ringbuf_size", json_object_new_int64(m->ringbuf_size));
                json_object_object_add(o, "cgroup_id", json_object_new_uint64(m->cgroup_id));
                put_str(o, "cgroup_path", or_null(m->cgroup_path));
                json_object_object_add(o, "programs", json_object_new_int64(m->prog_count));
                json_object_object_add(o, "descriptors", json_object_new_int64((int64_t) m->n_fds));
        }
        for (size_t i = 0; i < m->n_actions && i < PROTO_MAX_REPEAT; i++)
                json_object_array_add(actions, json_object_new_string(m->actions[i]));
        json_object_object_add(o, "actions", actions);
        (void) proto_redact_json(o);   /* replies carry no secret; make sure */
        return o;
}

static void print_text(const struct helper_reply *m, const char *lane) {
        bool dry = m->dry_run;

        printf("%s%s%s: ok%s\n", proto_verb_to_string(m->verb), lane ? " " : "", lane ?: "", dry ? " (dry run)" : "");
        if (m->unit_name[0])
                printf("  unit:    %s\n", m->unit_name);
        if (m->unit_path[0])
                printf("  file:    %s\n", m->unit_path);
        if (m->digest[0])
                printf("  sha256:  %s\n", m->digest);
        if (m->changed >= 0)
                printf("  changed: %s\n", m->changed ? (dry ? "would" : "yes") : "no");
        if (m->active_state[0])
                printf("  state:   %s (%s)\n", m->active_state, m->sub_state[0] ? m->sub_state : "?");
        if (m->verb == PROTO_VERB_LOAD_BPF && m->ringbuf_size)
                printf("  cgroup:  %s (id %llu)\n  ring:    %u bytes\n  attached: %u programs, %zu descriptors "
                       "(detached when lanectl exits)\n", m->cgroup_path, (unsigned long long) m->cgroup_id,
                       m->ringbuf_size, m->prog_count, m->n_fds);
        for (size_t i = 0; i < m->n_actions && i < PROTO_MAX_REPEAT; i++)
                printf("  %s %s\n", dry ? "would:" : "did:  ", m->actions[i]);
}

static void usage_hint(void) {
        fprintf(stderr, "usage: lanectl helper VERB [LANE] [--user USER --root DIR] [--bpf-object NAME [--ringbuf-size N]]\n"
                        "                      [--dry-run] [--output text|json]\n"
                        "verbs: install-unit, daemon-reload, enable-now, restart, stop, remove-unit, load-bpf\n");
}

/* Show the answer (JSON on stdout even for a refusal); the exit status. */
static int show(int r, const struct helper_reply *m, const char *socket_path, bool json, const char *lane) {
        if (r == -EHOSTDOWN) {
                fprintf(stderr, "lanectl helper: %s\n", m->reason);
                if (strstr(m->reason, "unavailable"))
                        fprintf(stderr, "  (is lanekeeper-helper.socket active at %s, and are you in group lanekeeper?)\n",
                                socket_path);
                return EXIT_UNAVAILABLE;
        }
        if (r == -EPROTO || r == -EINVAL || r == -ENOMEM) {
                fprintf(stderr, "lanectl helper: %s\n", m->reason);
                return EXIT_REFUSED;
        }
        if (json) {
                struct json_object *o = reply_to_json(m, lane);
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        }
        if (r < 0) {
                fprintf(stderr, "lanectl helper: %s%s%s: %s: %s\n", proto_verb_to_string(m->verb) ?: "request",
                        lane ? " " : "", lane ?: "", proto_error_to_string(m->error) ?: "error",
                        m->reason[0] ? m->reason : "(no reason given)");
                return EXIT_REFUSED;
        }
        if (!json)
                print_text(m, lane);
        return 0;
}

int cmd_helper(struct cli *cli, int argc, char **argv) {
        static const struct option options[] = {
                { "user", required_argument, NULL, 'u' },
                { "root", required_argument, NULL, 'r' },
                { "dry-run", no_argument, NULL, 'n' },
                { "output", required_argument, NULL, 'o' },
                { "socket", required_argument, NULL, 's' },
                { "bpf-object", required_argument, NULL, 'b' },
                { "ringbuf-size", required_argument, NULL, 'R' },
                {}
        };
        _cleanup_(freep) struct helper_reply *reply = calloc(1, sizeof *reply);
        const char *user = NULL, *root = NULL, *lane = NULL, *bpf_object = NULL;
        char bpf_socket[PROTO_PATH_MAX + 32];
        unsigned long ring = 0;
        char *end;
        const char *socket_path = getenv("LANEKEEPER_HELPER_SOCKET");
        const struct settings *settings;
        bool dry_run = false, json = false, explicit_socket = false;
        struct helper_request req;
        struct helper_conn conn;
        char reason[256];
        enum proto_verb verb;
        int c, r;

        optind = 0;   /* glibc: re-initialise fully (main scanned with "+"); options may follow the verb */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'u': user = optarg; break;
                case 'r': root = optarg; break;
                case 'n': dry_run = true; break;
                case 's': socket_path = optarg; explicit_socket = true; break;
                case 'b': bpf_object = optarg; break;
                case 'R':
                        errno = 0;
                        ring = strtoul(optarg, &end, 0);
                        if (errno || *end || ring == 0 || ring > UINT32_MAX) {
                                fprintf(stderr, "lanectl helper: --ringbuf-size takes a byte count\n");
                                return EXIT_USAGE;
                        }
                        break;
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
        if (verb < 0) {
                fprintf(stderr, "lanectl helper: unknown verb '%s'\n", argv[optind]);
                usage_hint();
                return EXIT_USAGE;
        }
        lane = optind + 1 < argc ? argv[optind + 1] : NULL;
        req = (struct helper_request) { .lane = lane, .user = user, .root = root, .bpf_object = bpf_object,
                                        .ringbuf_size = (uint32_t) ring, .dry_run = dry_run };
        if (ring && verb != PROTO_VERB_LOAD_BPF) {
                fprintf(stderr, "lanectl helper: only load-bpf takes --ringbuf-size\n");
                return EXIT_USAGE;
        }
        /* The protocol's verb table says which arguments a verb takes. */
        if (optind + 2 < argc || helper_request_check(verb, &req, reason, sizeof reason) < 0) {
                fprintf(stderr, "lanectl helper: %s\n", optind + 2 < argc ? "too many arguments" : reason);
                usage_hint();
                return EXIT_USAGE;
        }
        if (!socket_path) {
                if (cli_settings(cli, &settings) < 0)
                        return EXIT_REFUSED;
                socket_path = settings->helper_socket;
        }
        if (!reply) {
                fprintf(stderr, "lanectl helper: out of memory\n");
                return EXIT_REFUSED;
        }
        /* load-bpf has its own instance, beside the units one (unless --socket names one) */
        if (verb == PROTO_VERB_LOAD_BPF && !explicit_socket)
                socket_path = helper_bpf_socket(socket_path, bpf_socket, sizeof bpf_socket);
        conn = (struct helper_conn) { .socket_path = socket_path };
        r = helper_ops_call(&helper_socket_ops, &conn, verb, &req, reply);
        r = show(r, reply, socket_path, json, lane);
        /* The programs stay attached as long as these are open: until we exit. */
        for (size_t i = 0; i < reply->n_fds; i++)
                close(reply->fds[i]);
        return r;
}
