/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl pool supervise [--interval DURATION] [--never-online DURATION]
 * [--once [--wait DURATION]] [--pools-dir DIR] [--policy FILE]: the pool
 * supervisor (pool/supervisor.h) in an sd-event loop, as
 * lanekeeper-pool.service runs it (Type=notify, WatchdogSec=): a pass
 * every interval, the slots' sockets served between passes. --once: one
 * pass, then the slots it started are served until each took its JIT
 * configuration or the wait ends (lanekeeper-pool-reconcile.timer). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli-pool-webhook.h"
#include "cli.h"
#include "cli-route.h"
#include "macro.h"
#include "pool-file.h"
#include "proto-register.h"
#include "proto-time.h"
#include "settings.h"
#include "store-file.h"
#include "sup-scaleset.h"
#include "supervisor.h"

#define CONN_DEADLINE_MS (10 * 60 * 1000)   /* a slot cleaning a large workspace */

struct sv {
        struct cli_exec x;
        struct pool_sup sup;
        struct slot_hooks hooks;
        sd_event *e;
        sd_event_source *timer, *child, *guard;   /* guard: [route] repositories' */
        struct pool_webhook hook;
        bool wake;                     /* a webhook or a changed file asked for an early pass */
        long long last_pass_ms;
        struct slot_ref *refs;         /* pool I's slot N at I * POOL_MAX_SLOTS + N - 1 */
        sd_event_source *polls[SUP_MAX_POOLS];   /* a scale-set pool's long poll */
        struct pool_ref {
                struct sv *sv;
                size_t i;
        } prefs[SUP_MAX_POOLS];
        char *reload_said;             /* what the last reload said (said again only when it changes) */
        char metrics[PATH_MAX];        /* "": none written */
        unsigned interval_s, wait_s;
        bool once;
        time_t once_until;
        const char *pools_dir, *policy;
};

struct slot_ref {
        struct sv *sv;
        struct sup_slot *ss;
};

static void close_conn(struct sup_slot *ss) {
        ss->conn_source = sd_event_source_disable_unref(ss->conn_source);
        slot_server_drop(&ss->srv);
}

static int on_conn(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        struct slot_ref *ref = userdata;
        char err[700];
        enum slot_step st;

        (void) es, (void) fd, (void) revents;
        st = slot_server_step(&ref->ss->srv, &ref->sv->hooks, err, sizeof err);
        if (err[0])
                fprintf(stderr, "lanectl pool supervise: %s\n", err);
        if (st != SLOT_STEP_WAIT)
                close_conn(ref->ss);
        return 0;
}

static int on_listen(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        struct slot_ref *ref = userdata;
        struct sup_slot *ss = ref->ss;
        sd_event_source *src = NULL;

        (void) es, (void) fd, (void) revents;
        if (slot_server_accept(&ss->srv) != 1)
                return 0;
        ss->srv.conn_since_ms = proto_now_ms();
        if (sd_event_add_io(ref->sv->e, &src, ss->srv.conn, EPOLLIN, on_conn, ref) < 0) {
                slot_server_drop(&ss->srv);
                return 0;
        }
        ss->conn_source = src;
        return 0;
}

/* The metrics textfile, replaced after each pass and each batch of actions. */
static void write_metrics(struct sv *v) {
        char *text = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        if (!v->metrics[0] || !(f = open_memstream(&text, &len)))
                return;
        sup_metrics(&v->sup, f);
        if (fclose(f) != 0) {
                free(text);
                return;
        }
        r = store_write_path(v->metrics, text, len, 0644, (uid_t) -1, (gid_t) -1);
        if (r < 0)
                fprintf(stderr, "lanectl pool supervise: cannot write the metrics to %s: %s\n", v->metrics, strerror(-r));
        free(text);
}

/* Every open slot socket watched (slots a raised max added too). */
static int watch_slots(struct sv *v) {
        for (size_t i = 0; i < v->sup.n_pools; i++)
                for (unsigned n = 0; n < POOL_MAX_SLOTS; n++) {
                        struct slot_ref *ref = &v->refs[i * POOL_MAX_SLOTS + n];
                        sd_event_source *src = NULL;

                        *ref = (struct slot_ref) { .sv = v, .ss = &v->sup.pools[i].slots[n] };
                        if (ref->ss->srv.fd < 0 || ref->ss->listen_source)
                                continue;
                        if (sd_event_add_io(v->e, &src, ref->ss->srv.fd, EPOLLIN, on_listen, ref) < 0)
                                return fprintf(stderr, "lanectl pool supervise: cannot watch %s\n", ref->ss->srv.path), -EIO;
                        ref->ss->listen_source = src;
                }
        return 0;
}

/* The pool files read again before a pass: min, max, spare and labels
 * taken (lanectl pool scale); what cannot be taken said, once. */
static void reload(struct sv *v) {
        _cleanup_(freep) struct pool_desired *pools = NULL;
        char *said = NULL, err[700];
        size_t n = 0, len = 0;
        FILE *f = open_memstream(&said, &len);
        int changed = 0;

        if (!f)
                return;
        if (cli_load_pools(v->pools_dir, &v->x.hp, f, &pools, &n) == 0)
                changed = sup_reload(&v->sup, pools, n, f);
        if (changed > 0 && sup_open(&v->sup, err, sizeof err) < 0)
                fprintf(f, "%s\n", err);
        if (changed > 0)
                (void) watch_slots(v);
        for (size_t i = 0; changed > 0 && i < v->sup.n_pools; i++)
                fprintf(stderr, "lanectl pool supervise: pool %s: min %u, max %u, spare %u\n", v->sup.pools[i].p.lane.name,
                        v->sup.pools[i].p.min, v->sup.pools[i].p.max, v->sup.pools[i].p.spare);
        if (fclose(f) != 0) {
                free(said);
                return;
        }
        if (said && (!v->reload_said || strcmp(said, v->reload_said) != 0))
                fputs(said, stderr);
        free(v->reload_said);
        v->reload_said = said;
}

static int on_child(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        struct sv *v = userdata;

        (void) es, (void) fd, (void) revents;
        if (sup_child_read(&v->sup) == 1) {
                v->child = sd_event_source_disable_unref(v->child);   /* before its fd is closed */
                sup_child_finish(&v->sup);
                write_metrics(v);
        }
        return 0;
}

static bool once_done(const struct sv *v) {
        if (v->sup.child)
                return false;
        for (size_t i = 0; i < v->sup.n_pools; i++)
                for (unsigned n = 0; n < v->sup.pools[i].n_slots; n++) {
                        const struct sup_slot *ss = &v->sup.pools[i].slots[n];

                        if (ss->conn_source || (pool_slot_state(&ss->seen) == SLOT_STARTING && !ss->handed))
                                return false;
                }
        return true;
}

static void status(const struct sv *v) {
        char buf[600] = "";
        size_t len = 0;

        for (size_t i = 0; i < v->sup.n_pools && len < sizeof buf - 100; i++) {
                const struct sup_pool *sp = &v->sup.pools[i];

                len += (size_t) snprintf(buf + len, sizeof buf - len, "%s%s: target %u, busy %u, idle %u, starting %u%s",
                                         i ? "; " : "", sp->p.lane.name, sp->last.target, sp->last.busy, sp->last.idle,
                                         sp->last.starting, sp->known ? "" : " (not read)");
        }
        (void) sd_notifyf(false, "STATUS=%s", buf);
}

static void on_wake(void *data, const char *action);

static void start_polls(struct sv *v);

/* A scale-set pool's long poll ended and was handled: the next one, and
 * a pass for what its message said. */
static int on_poll(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        struct pool_ref *ref = userdata;
        struct sv *v = ref->sv;

        (void) es, (void) fd, (void) revents;
        if (sup_ss_poll_read(&v->sup, &v->sup.pools[ref->i]) == 0)
                return 0;
        v->polls[ref->i] = sd_event_source_disable_unref(v->polls[ref->i]);   /* before its fd is closed */
        sup_ss_poll_finish(&v->sup, &v->sup.pools[ref->i]);
        start_polls(v);
        on_wake(v, "message");
        return 0;
}

static void start_polls(struct sv *v) {
        for (size_t i = 0; i < v->sup.n_pools && !v->once; i++) {
                int fd;

                if (v->polls[i] || (fd = sup_ss_poll_start(&v->sup, &v->sup.pools[i])) < 0)
                        continue;
                v->prefs[i] = (struct pool_ref) { .sv = v, .i = i };
                if (sd_event_add_io(v->e, &v->polls[i], fd, EPOLLIN, on_poll, &v->prefs[i]) < 0)
                        fprintf(stderr, "lanectl pool supervise: cannot watch the message poll of %s\n",
                                v->sup.pools[i].p.lane.name);
        }
}

/* The next pass: an interval on, or sooner while a scale-set pool waits
 * for its session (its retry) or to poll again (a second). */
static uint64_t next_pass_us(const struct sv *v) {
        uint64_t us = (uint64_t) v->interval_s * 1000000;

        for (size_t i = 0; i < v->sup.n_pools; i++) {
                const struct sup_ss *x = v->sup.pools[i].ss;
                uint64_t want = !x ? us : !x->conn.session[0] ? SUP_SS_CONFLICT_RETRY_S * 1000000ULL
                                        : !v->polls[i]        ? 1000000ULL
                                                              : us;

                us = want < us ? want : us;
        }
        return us;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        struct sv *v = userdata;
        long long now_ms = proto_now_ms();

        (void) usec;
        for (size_t i = 0; i < v->sup.n_pools; i++)
                for (unsigned n = 0; n < v->sup.pools[i].n_slots; n++) {
                        struct sup_slot *ss = &v->sup.pools[i].slots[n];

                        if (ss->conn_source && now_ms - ss->srv.conn_since_ms > CONN_DEADLINE_MS)
                                close_conn(ss);
                }
        if (v->once && v->sup.c.passes > 0) {
                if (once_done(v) || time(NULL) >= v->once_until)
                        return sd_event_exit(v->e, once_done(v) ? 0 : 1);
                return sd_event_source_set_time_relative(es, 200 * 1000);
        }
        if (v->sup.child && v->wake)   /* the last pass still acts: the early one waits for it */
                return sd_event_source_set_time_relative(es, 200 * 1000);
        if (!v->sup.child)
                reload(v);
        for (size_t i = 0; i < v->sup.n_pools; i++)   /* a drain is a file in the store: it survives a restart */
                v->sup.pools[i].draining = sup_pool_draining(v->sup.store_fd, v->sup.pools[i].p.lane.name);
        sup_pass(&v->sup, time(NULL));
        if (v->sup.child_fd >= 0 && sd_event_add_io(v->e, &v->child, v->sup.child_fd, EPOLLIN, on_child, v) < 0) {
                while (sup_child_read(&v->sup) == 0)   /* not watched: waited for */
                        usleep(10000);
                sup_child_finish(&v->sup);
        }
        v->wake = false;
        v->last_pass_ms = proto_now_ms();
        status(v);
        if (!v->sup.child)
                write_metrics(v);
        if (v->sup.c.passes == 1)
                (void) sd_notify(false, "READY=1");
        if (v->once)
                v->once_until = time(NULL) + (time_t) v->wait_s;
        start_polls(v);
        return sd_event_source_set_time_relative(es, v->once ? 200 * 1000 : next_pass_us(v));
}

/* A verified workflow_job delivery (the API is read, not the payload), a pool or drain file
 * changed: a pass now, at most one a second; a scale-set message: one each 100 ms. */
static void on_wake(void *data, const char *action) {
        struct sv *v = data;
        long long since = proto_now_ms() - v->last_pass_ms;
        long long gap = strcmp(action, "message") == 0 ? 100 : 1000;   /* a message costs the pass no REST */

        v->wake = true;
        (void) sd_event_source_set_time_relative(v->timer, since >= gap ? 0 : (uint64_t) (gap - since) * 1000);
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A pool file written (lanectl pool scale renames its new file into
 * place, as editors do) or a drain file made or removed: a pass now. */
static int on_inotify(sd_event_source *es, const struct inotify_event *ev, void *userdata) {
        (void) es;
        if ((ev->mask & IN_Q_OVERFLOW) || (ev->len > 0 && (ends_with(ev->name, ".conf") || ends_with(ev->name, ".drain"))))
                on_wake(userdata, "file");
        return 0;
}

/* Watched, not polled: without inotify (no watch left) the next pass
 * still reads them, an interval later. */
static void watch_files(struct sv *v) {
        const char *dirs[] = { v->pools_dir, v->x.s->store_dir };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (sd_event_add_inotify(v->e, NULL, dirs[i],
                                         IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ONLYDIR,
                                         on_inotify, v) < 0)
                        fprintf(stderr, "lanectl pool supervise: cannot watch %s (%m): its changes wait for the next pass\n",
                                dirs[i]);
}

static int on_signal(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        (void) es, (void) si;
        (void) sd_notify(false, "STOPPING=1");
        return sd_event_exit(userdata, 0);
}

static int parse_args(struct sv *v, int argc, char **argv) {
        static const struct option options[] = {
                { "interval", required_argument, NULL, 'i' }, { "never-online", required_argument, NULL, 'n' },
                { "once", no_argument, NULL, '1' },           { "wait", required_argument, NULL, 'w' },
                { "pools-dir", required_argument, NULL, 'd' }, { "policy", required_argument, NULL, 'p' },
                {}
        };
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if ((opt == 'i' && cli_parse_duration(optarg, 3600, &v->interval_s) < 0) ||
                    (opt == 'n' && cli_parse_duration(optarg, 86400, &v->sup.never_online_s) < 0) ||
                    (opt == 'w' && cli_parse_duration(optarg, 3600, &v->wait_s) < 0))
                        return fprintf(stderr, "lanectl pool supervise: --%s is a duration: 90s, 15m, 1h\n",
                                       opt == 'i' ? "interval" : opt == 'n' ? "never-online" : "wait"), -EINVAL;
                else if (opt == '1')
                        v->once = true;
                else if (opt == 'd')
                        v->pools_dir = optarg;
                else if (opt == 'p')
                        v->policy = optarg;
                else if (opt != 'i' && opt != 'n' && opt != 'w')
                        goto usage;
        if (optind == argc && v->interval_s > 0)
                return 0;
usage:
        fprintf(stderr, "usage: lanectl pool supervise [--interval DURATION] [--never-online DURATION] "
                        "[--once [--wait DURATION]] [--pools-dir DIR] [--policy FILE]\n");
        return -EINVAL;
}

static int serve(struct sv *v) {
        char err[700];
        sigset_t ss;
        int r;

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0 || sd_event_default(&v->e) < 0 ||
            sd_event_add_signal(v->e, NULL, SIGTERM, on_signal, v->e) < 0 ||
            sd_event_add_signal(v->e, NULL, SIGINT, on_signal, v->e) < 0 ||
            sd_event_set_watchdog(v->e, true) < 0 ||
            sd_event_add_time_relative(v->e, &v->timer, CLOCK_MONOTONIC, 0, 0, on_timer, v) < 0 ||
            sd_event_source_set_enabled(v->timer, SD_EVENT_ON) < 0)
                return fprintf(stderr, "lanectl pool supervise: cannot set up the event loop\n"), 2;
        if (watch_slots(v) < 0)
                return 2;
        if (!v->once)
                watch_files(v);
        v->hook = (struct pool_webhook) { .wake = on_wake, .data = v, .counts = v->sup.c.webhook };
        if (!v->once && pool_webhook_open(v->e, v->x.s, &v->hook, err, sizeof err) < 0)
                return fprintf(stderr, "lanectl pool supervise: %s\n", err), 2;
        v->sup.c.webhook_on = v->hook.w != NULL;
        if (!v->once && cli_route_supervise(v->e, &v->x, &v->sup, &v->guard) < 0)
                return fprintf(stderr, "lanectl pool supervise: cannot set up the route guard\n"), 2;
        r = sd_event_loop(v->e);
        v->guard = sd_event_source_disable_unref(v->guard);
        pool_webhook_close(&v->hook);
        for (size_t i = 0; i < v->sup.n_pools; i++)
                for (unsigned n = 0; n < POOL_MAX_SLOTS; n++) {
                        struct sup_slot *sl = &v->sup.pools[i].slots[n];

                        sl->listen_source = sd_event_source_disable_unref(sl->listen_source);
                        close_conn(sl);
                }
        v->timer = sd_event_source_disable_unref(v->timer);
        v->child = sd_event_source_disable_unref(v->child);
        for (size_t i = 0; i < v->sup.n_pools; i++) {   /* the next supervisor need not wait out a session */
                v->polls[i] = sd_event_source_disable_unref(v->polls[i]);
                sup_ss_close(&v->sup, &v->sup.pools[i]);
        }
        while (v->sup.child && sup_child_read(&v->sup) == 0)   /* its results recorded */
                usleep(10000);
        if (v->sup.child)
                sup_child_finish(&v->sup);
        v->e = sd_event_unref(v->e);
        return r < 0 ? 2 : r;
}

/* [pools] metrics_file, or STORE/metrics/lanekeeper-pool.prom (beside
 * the health cycle's, for node_exporter's textfile collector). */
static void metrics_path(struct sv *v) {
        const struct settings *s = v->x.s;

        if (s->pools_metrics_off)
                return;
        if (s->pools_metrics_file[0]) {
                snprintf(v->metrics, sizeof v->metrics, "%s", s->pools_metrics_file);
                return;
        }
        snprintf(v->metrics, sizeof v->metrics, "%s/metrics", s->store_dir);
        (void) mkdir(v->metrics, 0755);
        snprintf(v->metrics, sizeof v->metrics, "%s/metrics/lanekeeper-pool.prom", s->store_dir);
}

static int run(struct cli *cli, struct sv *v) {
        _cleanup_(freep) struct pool_desired *pools = NULL;
        size_t n = 0;
        char err[700];
        int r;

        if (cli_exec_open(cli, &v->x, v->policy, NULL, "pool supervise") < 0)
                return 2;
        v->pools_dir = v->pools_dir ?: getenv("LANEKEEPER_POOLS_DIR") ?: v->x.s->pools_dir;
        if (cli_load_pools(v->pools_dir, &v->x.hp, stderr, &pools, &n) < 0 || n == 0)
                return fprintf(stderr, "lanectl pool supervise: no valid pool in %s\n", v->pools_dir), 1;
        v->sup.pools = calloc(n, sizeof *v->sup.pools);
        if (!v->sup.pools)
                return 2;
        for (size_t i = 0; i < n && i < SUP_MAX_POOLS; i++, v->sup.n_pools++)
                sup_pool_init(&v->sup.pools[i], &pools[i], &v->x.hp);
        v->sup.real = &v->x.real;
        v->sup.store = &v->x.store;
        v->sup.host = v->x.host;
        v->sup.register_dir = v->x.real.register_dir ?: PROTO_REGISTER_DIR;
        v->sup.store_fd = open(v->x.s->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (v->sup.store_fd < 0)
                return fprintf(stderr, "lanectl pool supervise: cannot open the store %s: %m\n", v->x.s->store_dir), 2;
        for (size_t i = 0; i < v->sup.n_pools; i++)
                if (sup_ss_new(&v->sup, &v->sup.pools[i], false) < 0)
                        return 2;
        v->hooks = sup_hooks(&v->sup);
        v->refs = calloc(v->sup.n_pools * POOL_MAX_SLOTS, sizeof *v->refs);
        if (!v->refs)
                return 2;
        metrics_path(v);
        r = sup_open(&v->sup, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "lanectl pool supervise: %s\n", err);
        else
                r = serve(v);
        sup_close(&v->sup);
        close(v->sup.store_fd);
        return r < 0 ? 2 : r;
}

int cmd_pool_supervise(struct cli *cli, int argc, char **argv) {
        _cleanup_(freep) struct sv *v = calloc(1, sizeof *v);
        int r;

        if (!v)
                return 2;
        v->interval_s = 10;
        v->wait_s = 90;
        v->sup.never_online_s = 120;
        v->sup.child_fd = -1;
        cli_exec_init(&v->x);
        if (parse_args(v, argc, argv) < 0)
                return 2;
        r = run(cli, v);
        free(v->sup.pools);
        free(v->refs);
        free(v->reload_said);
        cli_exec_close(&v->x);
        return r;
}
