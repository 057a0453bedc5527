/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A raw helper client for the end-to-end tests: sends what lanectl never
 * would, and prints the error name of the reply (or "ok").
 *   raw-client SOCKET oversized|unknown-verb|wrong-type|unknown-field
 *   raw-client SOCKET hold SECONDS     connect, wait, then a dry-run reload
 *   raw-client SOCKET burst N          N sequential dry-run reloads; prints
 *                                      "answered A of N" and the median and
 *                                      p99 round trip in microseconds
 *   raw-client SOCKET rtt N LANE USER ROOT
 *                                      the same timing for dry-run install-unit
 *   raw-client SOCKET echo N           the same timing against an echo service
 *   raw-client - exec N CMD...         the same timing for running CMD
 *   raw-client SOCKET hex HEX          send these bytes as one message
 *   raw-client SOCKET reply-install    install-unit in the shape of its reply
 *   raw-client SOCKET flood N          N connects, each closed at once, as fast
 *                                      as they go (at most 10 s); prints
 *                                      "connected C of N in MS ms"
 *   raw-client SOCKET idle N SECONDS   hold N connections without sending;
 *                                      prints "answered A of N: ERROR" for
 *                                      those the helper closed meanwhile */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto-codec.h"
#include "proto-io.h"

static struct proto_builder b;
static struct proto_msg m;
static uint8_t buf[PROTO_MAX_MESSAGE + 4096];

static int dial(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        return fd;
}

/* Send LEN bytes of buf (or b.buf) and return the reply's error name. */
static const char *exchange(int fd, const void *data, size_t len) {
        static char name[64];
        struct proto_diag d;
        ssize_t n;

        /* An early refusal may close before we send: read its answer anyway. */
        if (send(fd, data, len, MSG_NOSIGNAL) != (ssize_t) len && errno != EPIPE && errno != ECONNRESET)
                return "send-failed";
        n = proto_recv(fd, buf, sizeof buf);
        if (n < 0)
                return "no-reply";
        if (proto_decode(buf, (size_t) n, PROTO_REPLY, &m, &d) < 0)
                return "bad-reply";
        snprintf(name, sizeof name, "%s", proto_msg_str(&m, PROTO_TAG_ERROR) ?: "ok");
        return name;
}

static double usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b2) {
        double x = *(const double *) a, y = *(const double *) b2;
        return (x > y) - (x < y);
}

enum timed { TIMED_RELOAD, TIMED_INSTALL, TIMED_ECHO, TIMED_EXEC };

/* One timed call: connect (or fork+exec) to answer. True if answered ok. */
static bool timed_call(const char *path, enum timed kind, char **args, int i) {
        const char *want = "ok";
        pid_t pid;
        int fd, status;
        bool ok;

        if (kind == TIMED_EXEC) {
                pid = fork();
                if (pid == 0) {
                        execvp(args[0], args);
                        _exit(127);
                }
                return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        }
        fd = dial(path);
        if (fd < 0)
                return false;
        if (kind == TIMED_INSTALL) {
                proto_builder_init(&b, PROTO_VERB_INSTALL_UNIT, PROTO_FLAG_DRY_RUN, (uint64_t) i);
                proto_put_str(&b, PROTO_TAG_LANE, args[0]);
                proto_put_str(&b, PROTO_TAG_USER, args[1]);
                proto_put_str(&b, PROTO_TAG_ROOT, args[2]);
        } else
                proto_builder_init(&b, PROTO_VERB_DAEMON_RELOAD, PROTO_FLAG_DRY_RUN, (uint64_t) i);
        if (proto_builder_seal(&b) < 0) {
                close(fd);
                return false;
        }
        if (kind == TIMED_ECHO) {
                ok = send(fd, b.buf, b.len, MSG_NOSIGNAL) == (ssize_t) b.len &&
                     recv(fd, buf, sizeof buf, 0) == (ssize_t) b.len;
        } else
                ok = strcmp(exchange(fd, b.buf, b.len), want) == 0;
        close(fd);
        return ok;
}

static int timed(const char *path, enum timed kind, int count, char **args) {
        double *t = calloc((size_t) (count > 0 ? count : 1), sizeof *t);
        int ok = 0;

        for (int i = 0; i < count && t; i++) {
                double t0 = usec();

                if (timed_call(path, kind, args, i))
                        t[ok++] = usec() - t0;
        }
        if (!t)
                return 1;
        qsort(t, (size_t) ok, sizeof *t, cmp);
        printf("answered %d of %d\n", ok, count);
        if (ok > 0)
                printf("median_us %.0f p99_us %.0f\n", t[ok / 2], t[(ok * 99) / 100 < ok ? (ok * 99) / 100 : ok - 1]);
        free(t);
        return ok == count ? 0 : 1;
}

static int flood(const char *path, int count) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        double t0 = usec();
        int ok = 0, i;

        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        for (i = 0; i < count && usec() - t0 < 10e6; i++) {
                int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

                if (fd < 0)
                        return 1;
                ok += connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0;
                close(fd);
        }
        printf("connected %d of %d in %.0f ms\n", ok, i, (usec() - t0) / 1e3);
        return 0;
}

static int idle(const char *path, int count, int seconds) {
        int fds[256], answered = 0;
        const char *last = "none";

        count = count > 256 ? 256 : count;
        for (int i = 0; i < count; i++)
                if ((fds[i] = dial(path)) < 0)
                        return printf("connect-failed: %s\n", strerror(errno)), 1;
        sleep((unsigned) seconds);
        for (int i = 0; i < count; i++) {
                ssize_t n = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);

                if (n > 0 && proto_decode(buf, (size_t) n, PROTO_REPLY, &m, NULL) == 0) {
                        answered++;
                        last = proto_msg_str(&m, PROTO_TAG_ERROR) ?: "ok";
                }
                close(fds[i]);
        }
        printf("answered %d of %d: %s\n", answered, count, last);
        return 0;
}

static size_t from_hex(const char *hex) {
        size_t n = 0;

        for (; hex[0] && hex[1] && n < sizeof buf; hex += 2) {
                unsigned v;

                if (sscanf(hex, "%2x", &v) != 1)
                        return 0;
                buf[n++] = (uint8_t) v;
        }
        return n;
}

int main(int argc, char *argv[]) {
        const char *mode;
        int fd;

        if (argc < 3)
                return 2;
        mode = argv[2];
        if (strcmp(mode, "burst") == 0)
                return timed(argv[1], TIMED_RELOAD, argc > 3 ? atoi(argv[3]) : 100, NULL);
        if (strcmp(mode, "rtt") == 0 && argc == 7)
                return timed(argv[1], TIMED_INSTALL, atoi(argv[3]), argv + 4);
        if (strcmp(mode, "echo") == 0 && argc == 4)
                return timed(argv[1], TIMED_ECHO, atoi(argv[3]), NULL);
        if (strcmp(mode, "exec") == 0 && argc > 4)
                return timed(argv[1], TIMED_EXEC, atoi(argv[3]), argv + 4);
        if (strcmp(mode, "flood") == 0 && argc == 4)
                return flood(argv[1], atoi(argv[3]));
        if (strcmp(mode, "idle") == 0 && argc == 5)
                return idle(argv[1], atoi(argv[3]), atoi(argv[4]));
        fd = dial(argv[1]);
        if (fd < 0) {
                printf("connect-failed: %s\n", strerror(errno));
                return 1;
        }
        if (strcmp(mode, "oversized") == 0) {
                proto_builder_init(&b, PROTO_VERB_STOP, 0, 1);
                proto_put_str(&b, PROTO_TAG_LANE, "lane-a");
                memset(buf, 'A', sizeof buf);
                memcpy(buf, b.buf, PROTO_HEADER_SIZE);
                printf("%s\n", exchange(fd, buf, PROTO_MAX_MESSAGE + 1024));
                return 0;
        }
        if (strcmp(mode, "hex") == 0 && argc == 4) {
                static uint8_t msg[sizeof buf];
                size_t len = from_hex(argv[3]);

                memcpy(msg, buf, len);
                printf("%s\n", exchange(fd, msg, len));
                return 0;
        }
        if (strcmp(mode, "reply-install") == 0) {
                proto_builder_init(&b, PROTO_VERB_INSTALL_UNIT, PROTO_FLAG_REPLY, 1);
                proto_put_i32(&b, PROTO_TAG_STATUS, 0);
        } else if (strcmp(mode, "unknown-verb") == 0) {
                proto_builder_init(&b, (enum proto_verb) 42, 0, 1);
        } else if (strcmp(mode, "wrong-type") == 0) {
                proto_builder_init(&b, PROTO_VERB_STOP, 0, 1);
                proto_put_u32(&b, PROTO_TAG_LANE, 7);
        } else if (strcmp(mode, "unknown-field") == 0) {
                proto_builder_init(&b, PROTO_VERB_STOP, 0, 1);
                proto_put_str(&b, PROTO_TAG_LANE, "lane-a");
                proto_put_raw(&b, 200, PROTO_TYPE_STRING, "x", 1);
        } else if (strcmp(mode, "hold") == 0) {
                sleep((unsigned) (argc > 3 ? atoi(argv[3]) : 3));
                proto_builder_init(&b, PROTO_VERB_DAEMON_RELOAD, PROTO_FLAG_DRY_RUN, 1);
        } else
                return 2;
        if (proto_builder_seal(&b) < 0)
                return 1;
        printf("%s\n", exchange(fd, b.buf, b.len));
        return 0;
}
