/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanekeeper-helper: the root side of lanekeeper.
 *
 * This build knows the protocol but implements no verb yet: when activated
 * it answers every connection with 'not-supported' and exits, without
 * reading the request (nothing untrusted is parsed before the confinement
 * that the verbs will bring). Run by hand, it explains how it is started. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "proto-codec.h"
#include "proto-io.h"

static void help(void) {
        printf("Usage: %s [--help] [--version]\n\n"
               "The privileged helper of lanekeeper. It is started by systemd through\n"
               "lanekeeper-helper.socket (Accept=yes), one process per connection, and\n"
               "is not meant to be run by hand. Operators use lanectl(1).\n\n"
               "This version implements no verb yet: every request is answered\n"
               "with the error 'not-supported'.\n\n"
               "See lanekeeper-helper(8).\n",
               program_invocation_short_name);
}

static int answer_not_supported(int fd) {
        static struct proto_builder b;
        size_t len;
        int r;

        r = proto_build_error_reply(&b, PROTO_VERB_NONE, 0, PROTO_E_NOT_SUPPORTED,
                                    "this lanekeeper-helper implements no verb yet", &len);
        if (r < 0)
                return r;
        return proto_send(fd, b.buf, len);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        int c, n, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("lanekeeper-helper " PACKAGE_VERSION "\n");
                        return EXIT_SUCCESS;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "%s: takes no arguments; see --help\n", program_invocation_short_name);
                return 2;
        }

        n = sd_listen_fds(true);
        if (n < 0) {
                fprintf(stderr, "%s: cannot read the sockets passed by systemd: %s\n",
                        program_invocation_short_name, strerror(-n));
                return EXIT_FAILURE;
        }
        if (n != 1) {
                fprintf(stderr,
                        "%s: not started by systemd with one connection (got %d file descriptors).\n"
                        "It is socket-activated through lanekeeper-helper.socket; use lanectl(1).\n",
                        program_invocation_short_name, n);
                return 2;
        }
        r = answer_not_supported(SD_LISTEN_FDS_START);
        if (r < 0) {
                fprintf(stderr, "%s: cannot answer: %s\n", program_invocation_short_name, strerror(-r));
                return EXIT_FAILURE;
        }
        return EXIT_FAILURE;
}
