/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl apply LANE... --confirm LANE --idempotency-key KEY: the executor
 * (DESIGN §6). For each lane: lock it (busy: exit at once, nothing done);
 * a key seen before returns its first result and does nothing; observe and
 * plan; refuse a blocked plan; perform the planned action (a registration
 * token only when creating, handed to the lane's own unit through a one-shot
 * socket, never a file or argv; helper verbs install-unit, daemon-reload,
 * enable-now or restart; the labels API for a reconcile); then the
 * completion gates, polled until a deadline: unit enabled and active as the
 * service user, GitHub showing the runner online with exactly the desired
 * labels, baseline ready. "completed" only when every gate passed;
 * otherwise "failed", naming the step or gate. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply-state.h"
#include "audit.h"
#include "gh-api.h"
#include "gh-client.h"
#include "proto-policy.h"
#include "helper-client.h"
#include "lanectl.h"
#include "macro.h"
#include "observe.h"
#include "plan-json.h"
#include "register-offer.h"
#include "settings.h"

enum { EXIT_COMPLETED = 0, EXIT_BLOCKED = 1, EXIT_ERROR = 2, EXIT_BUSY = 3, EXIT_FAILED = 4 };

#define MAX_STEPS 20
#define DEFAULT_TIMEOUT_S 120
#define REGISTER_WAIT_S 60
/* Gates are polled every 250 ms for the first 5 s (a runner usually comes
 * online within them; GitHub's listings are conditional requests, and a 304
 * costs no rate limit), then every second. */
#define POLL_FAST_MS 250
#define POLL_FAST_FOR_MS 5000
#define POLL_MS 1000

struct step {
        const char *name;
        long long ms;
        bool ok;
        char detail[300];
};

enum gate { GATE_UNIT, GATE_GITHUB, GATE_BASELINE, _GATE_MAX };
static const char *const gate_names[_GATE_MAX] = { "unit_active", "github_online", "baseline_ready" };
/* remove's gates: the unit gone, GitHub no longer listing the runner */
enum { GATE_UNIT_GONE, GATE_GITHUB_GONE, _GATE_REMOVE_MAX };
static const char *const remove_gate_names[_GATE_REMOVE_MAX] = { "unit_removed", "github_deregistered" };

enum lane_cmd { CMD_APPLY, CMD_RESTART, CMD_REMOVE };
static const char *const cmd_names[] = { "apply", "restart", "remove" };

struct apply_ctx {
        const struct settings *s;
        struct helper_conn helper_conn;
        const char *host;
        const char *key;
        const char *register_dir;
        const struct plan_policy *pol;
        struct policy_view *pv;
        struct baseline_config *bc;
        sd_bus *bus;
        struct gh_client *gh;
        char gh_problem[512];
        struct audit_store *store;
        unsigned timeout_s;
        enum lane_cmd cmd;
        bool dry_run;
        bool purge;          /* remove --purge */
        bool json;
};

struct lane_run {
        struct lane_entry e;
        struct observation o;
        struct plan p;
        uid_t uid;
        size_t n_steps;
        struct step steps[MAX_STEPS];
        bool gate_passed[_GATE_MAX];
        char gate_detail[_GATE_MAX][300];
        const char *failed;          /* the step or gate that failed; NULL when completed */
        const char *const *gate_names;
        int n_gates;
        char busy_job[300];          /* remove refused: the job the runner runs */
        char legacy_unit[256];       /* svc.sh's unit for this runner, when installed */
        bool legacy_enabled;
        long long started_ms;
};

static long long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void now_utc(char *buf, size_t size) {
        time_t t = time(NULL);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static struct step *step_begin(struct lane_run *lr, const char *name) {
        struct step *st = &lr->steps[lr->n_steps < MAX_STEPS ? lr->n_steps++ : MAX_STEPS - 1];

        *st = (struct step) { .name = name, .ms = now_ms() };
        return st;
}

static bool step_end(struct lane_run *lr, struct step *st, bool ok, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static bool step_end(struct lane_run *lr, struct step *st, bool ok, const char *fmt, ...) {
        va_list ap;

        st->ms = now_ms() - st->ms;
        st->ok = ok;
        if (fmt) {
                va_start(ap, fmt);
                vsnprintf(st->detail, sizeof st->detail, fmt, ap);
                va_end(ap);
        }
        if (!ok && !lr->failed)
                lr->failed = st->name;
        return ok;
}

static void scope_of(const struct lane_desired *d, char *buf, size_t size) {
        snprintf(buf, size, "%s/%s", d->repository[0] ? "repos" : "orgs", d->repository[0] ? d->repository : d->organisation);
}

/* Where config.sh registers: GitHub's web origin for the API's. */
static void web_url(const char *api, const struct lane_desired *d, char *buf, size_t size) {
        size_t n = strlen(api);
        const char *host;

        while (n && api[n - 1] == '/')
                n--;
        if (n == strlen("https://api.github.com") && strncmp(api, "https://api.github.com", n) == 0)
                snprintf(buf, size, "https://github.com");
        else if (n >= 7 && strncmp(api + n - 7, "/api/v3", 7) == 0)
                snprintf(buf, size, "%.*s", (int) (n - 7), api);
        else {
                host = strstr(api, "://");
                host = host ? host + 3 : api;
                snprintf(buf, size, "%.*s", (int) (host - api + (ptrdiff_t) strcspn(host, "/")), api);
        }
        snprintf(buf + strlen(buf), size - strlen(buf), "/%s", d->repository[0] ? d->repository : d->organisation);
}

/* Observe the lane, GitHub through the client (one conditional listing). */
static void observe(struct apply_ctx *c, struct lane_run *lr) {
        struct observe_env env = { .bus = c->bus, .bus_problem = c->bus ? NULL : "cannot connect to the system bus",
                                   .baseline = c->bc };
        struct inventory inv = {};
        char scope[160], err[512];
        long long offset;

        if (c->gh) {
                scope_of(&lr->e.lane, scope, sizeof scope);
                if (gh_list_runners(c->gh, scope, lr->e.lane.name, &inv, err, sizeof err) == 0)
                        env.inventory = &inv;
                else
                        env.inventory_problem = err;
                if (gh_clock_offset(c->gh, &offset)) {
                        c->bc->have_clock_offset = true;
                        c->bc->clock_offset_s = offset;
                }
        } else
                env.inventory_problem = c->gh_problem;
        observe_lane(&observe_real, &env, &lr->e.lane, &lr->o);
        inventory_free(&inv);
}

/* Exactly the lane's labels (GitHub compares them without case), whether
 * observed or as the labels API answered. */
static bool labels_exact(const struct lane_desired *d, const char (*labels)[PROTO_LABEL_MAX + 1], size_t n) {
        if (n != d->n_labels)
                return false;
        for (size_t i = 0; i < d->n_labels; i++) {
                bool found = false;

                for (size_t j = 0; j < n && !found; j++)
                        found = strcasecmp(d->labels[i], labels[j]) == 0;
                if (!found)
                        return false;
        }
        return true;
}

static void label_list(const char (*labels)[PROTO_LABEL_MAX + 1], size_t n, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n && len < size; i++)
                len += (size_t) snprintf(buf + len, size - len, "%s%s", i ? "," : "", labels[i]);
}

/* Evaluate every gate on the current observation. */
static bool gates_pass(struct lane_run *lr) {
        const struct observation *o = &lr->o;
        const struct lane_desired *d = &lr->e.lane;
        char have[1024];

        if (!o->unit_known)
                snprintf(lr->gate_detail[GATE_UNIT], 300, "systemd could not be read: %s", o->unit_detail);
        else if (!o->unit_exists || !o->unit_managed)
                snprintf(lr->gate_detail[GATE_UNIT], 300, "no lanekeeper unit for the lane");
        else if (strcmp(o->unit_active, "active") != 0 || strcmp(o->unit_sub, "running") != 0)
                snprintf(lr->gate_detail[GATE_UNIT], 300, "%s is %s (%s)", o->unit_name, o->unit_active, o->unit_sub);
        else if (strcmp(o->unit_file_state, "enabled") != 0)
                snprintf(lr->gate_detail[GATE_UNIT], 300, "%s is %s, not enabled", o->unit_name, o->unit_file_state);
        else if (o->main_uid != (long long) lr->uid)
                snprintf(lr->gate_detail[GATE_UNIT], 300, "main process %u runs as uid %lld, not %s (%u)", o->main_pid,
                         o->main_uid, d->user, (unsigned) lr->uid);
        else
                snprintf(lr->gate_detail[GATE_UNIT], 300, "%s active (running), enabled, main process %u as %s",
                         o->unit_name, o->main_pid, d->user);
        lr->gate_passed[GATE_UNIT] = strstr(lr->gate_detail[GATE_UNIT], "active (running), enabled") != NULL;

        lr->gate_passed[GATE_GITHUB] = false;
        if (!o->github_known)
                snprintf(lr->gate_detail[GATE_GITHUB], 300, "GitHub could not be read: %s", o->github_detail);
        else if (o->n_runners != 1)
                snprintf(lr->gate_detail[GATE_GITHUB], 300, "%zu runners named %s", o->n_runners, d->name);
        else if (!o->runners[0].online)
                snprintf(lr->gate_detail[GATE_GITHUB], 300, "runner %lld is offline", o->runners[0].id);
        else if (!labels_exact(d, o->runners[0].labels, o->runners[0].n_labels)) {
                label_list(o->runners[0].labels, o->runners[0].n_labels, have, sizeof have);
                snprintf(lr->gate_detail[GATE_GITHUB], 300, "runner %lld has labels %.200s", o->runners[0].id, have);
        } else {
                snprintf(lr->gate_detail[GATE_GITHUB], 300, "runner %lld online with exactly the desired labels",
                         o->runners[0].id);
                lr->gate_passed[GATE_GITHUB] = true;
        }

        lr->gate_passed[GATE_BASELINE] = o->baseline == BASELINE_READY;
        if (lr->gate_passed[GATE_BASELINE])
                snprintf(lr->gate_detail[GATE_BASELINE], 300, "%zu checks ready", o->n_checks);
        else {
                size_t len = (size_t) snprintf(lr->gate_detail[GATE_BASELINE], 300, "%s:",
                                               baseline_state_to_string(o->baseline));
                for (size_t i = 0; i < o->n_checks && len < 300; i++)
                        if (o->checks[i].state != BASELINE_READY)
                                len += (size_t) snprintf(lr->gate_detail[GATE_BASELINE] + len, 300 - len, " %s (%s)",
                                                         o->checks[i].name, o->checks[i].detail);
        }
        return lr->gate_passed[GATE_UNIT] && lr->gate_passed[GATE_GITHUB] && lr->gate_passed[GATE_BASELINE];
}

/* remove's gates: no unit for the lane any more; GitHub answers and lists
 * no runner with the lane's name. */
static bool remove_gates_pass(struct lane_run *lr) {
        const struct observation *o = &lr->o;

        lr->gate_passed[GATE_UNIT_GONE] = o->unit_known && !o->unit_exists;
        if (!o->unit_known)
                snprintf(lr->gate_detail[GATE_UNIT_GONE], 300, "systemd could not be read: %s", o->unit_detail);
        else if (o->unit_exists)
                snprintf(lr->gate_detail[GATE_UNIT_GONE], 300, "%s is still there (%s, %s)", o->unit_name, o->unit_load,
                         o->unit_active);
        else
                snprintf(lr->gate_detail[GATE_UNIT_GONE], 300, "no unit for the lane");
        lr->gate_passed[GATE_GITHUB_GONE] = o->github_known && o->n_runners == 0;
        if (!o->github_known)
                snprintf(lr->gate_detail[GATE_GITHUB_GONE], 300, "GitHub could not be read: %s", o->github_detail);
        else if (o->n_runners)
                snprintf(lr->gate_detail[GATE_GITHUB_GONE], 300, "GitHub still lists runner %lld (%s)", o->runners[0].id,
                         o->runners[0].online ? "online" : "offline");
        else
                snprintf(lr->gate_detail[GATE_GITHUB_GONE], 300, "GitHub lists no runner named %s", lr->e.lane.name);
        return lr->gate_passed[GATE_UNIT_GONE] && lr->gate_passed[GATE_GITHUB_GONE];
}

/* Poll the gates until all pass or the deadline; the first failing gate
 * names the failure. */
static bool gates(struct apply_ctx *c, struct lane_run *lr) {
        struct step *st = step_begin(lr, "gates");
        long long start = now_ms(), deadline = start + (long long) c->timeout_s * 1000;
        bool ok;

        for (;;) {
                observe(c, lr);
                ok = c->cmd == CMD_REMOVE ? remove_gates_pass(lr) : gates_pass(lr);
                if (ok || now_ms() >= deadline)
                        break;
                sleep_ms(now_ms() - start < POLL_FAST_FOR_MS ? POLL_FAST_MS : POLL_MS);
        }
        if (!ok)
                for (int g = 0; g < lr->n_gates; g++)
                        if (!lr->gate_passed[g]) {
                                step_end(lr, st, false, "%s: %s", lr->gate_names[g], lr->gate_detail[g]);
                                lr->failed = lr->gate_names[g];
                                return false;
                        }
        return step_end(lr, st, true, "all gates passed");
}

/* One helper verb for the lane: 0, or as helper_ops_call() with ERR set. */
static int call_helper(struct apply_ctx *c, struct lane_run *lr, enum proto_verb verb, char *err, size_t errlen) {
        _cleanup_(freep) struct helper_reply *reply = calloc(1, sizeof *reply);
        struct helper_request req = {
                .lane = verb == PROTO_VERB_DAEMON_RELOAD ? NULL : lr->e.lane.name,
                .user = verb == PROTO_VERB_INSTALL_UNIT ? lr->e.lane.user : NULL,
                .root = verb == PROTO_VERB_INSTALL_UNIT ? lr->e.lane.root : NULL,
        };
        int r;

        if (!reply)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        r = helper_ops_call(&helper_socket_ops, &c->helper_conn, verb, &req, reply);
        if (r < 0)
                helper_reply_error(reply, err, errlen);
        return r;
}

static bool helper_step(struct apply_ctx *c, struct lane_run *lr, const char *name, enum proto_verb verb) {
        struct step *st = step_begin(lr, name);
        char err[512];
        int r = call_helper(c, lr, verb, err, sizeof err);

        return step_end(lr, st, r == 0, r == 0 ? "ok" : "%s", err);
}

/* create: a registration token, offered to the lane's own unit, which the
 * helper installs and starts. */
/* A hand-off answer (a registration or a purge) offered on the lane's
 * one-shot socket by a child, while the parent has the helper start the
 * unit: enable-now returns only once the unit is up (or failed), and its
 * ExecStartPre= asks only as it starts. */
struct served_offer {
        struct reg_offer offer;
        pid_t child;
        int report;          /* the child's error, if any */
};

/* The offer server's socket path, for its SIGTERM handler. */
static const char *offer_child_path;

static void offer_child_term(int sig) {
        (void) sig;
        if (offer_child_path)
                (void) unlink(offer_child_path);
        _exit(1);
}

/* Nothing that outlives lanectl may hold the lane lock, the hand-off
 * socket or a token: the server drops every inherited fd but its own two
 * (the lane lock among them), and dies, removing its socket, when the
 * lanectl that forked it dies. */
static void offer_child_confine(pid_t parent, int keep_a, int keep_b) {
        int lo = keep_a < keep_b ? keep_a : keep_b, hi = keep_a < keep_b ? keep_b : keep_a;

        offer_child_path = NULL;
        (void) signal(SIGTERM, offer_child_term);
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(1);   /* the parent died before we could ask to follow it */
        if (lo > 3)
                (void) close_range(3, (unsigned) lo - 1, 0);
        if (hi > lo + 1)
                (void) close_range((unsigned) lo + 1, (unsigned) hi - 1, 0);
        (void) close_range((unsigned) hi + 1, ~0U, 0);
}

/* Open the offer and fork its server. REG is wiped here: the child holds
 * the only copy. 0, or -errno with ERR set. */
static int offer_start(struct apply_ctx *c, struct lane_run *lr, struct proto_register *reg, struct served_offer *so,
                       char *err, size_t errlen) {
        pid_t parent = getpid();
        int report[2], r;

        *so = (struct served_offer) { .offer = { .fd = -EBADF }, .report = -EBADF };
        r = reg_offer_open(&so->offer, c->register_dir, lr->e.lane.name, err, errlen);
        if (r < 0) {
                proto_register_wipe(reg);
                return r;
        }
        if (pipe2(report, O_CLOEXEC) < 0 || (so->child = fork()) < 0) {
                r = -errno;
                proto_register_wipe(reg);
                reg_offer_close(&so->offer);
                snprintf(err, errlen, "cannot serve the offer: %s", strerror(-r));
                return r;
        }
        if (so->child == 0) {
                close(report[0]);
                offer_child_confine(parent, so->offer.fd, report[1]);
                offer_child_path = so->offer.path;
                r = reg_offer_serve(&so->offer, lr->uid, reg, REGISTER_WAIT_S * 1000, err, errlen);
                proto_register_wipe(reg);
                if (r < 0 && write(report[1], err, strlen(err)) < 0)
                        _exit(2);
                _exit(r == 0 ? 0 : 1);
        }
        close(report[1]);
        so->report = report[0];
        proto_register_wipe(reg);
        return 0;
}

/* Wait for the offer's server (WITHDRAW: nothing will ask, end it) and
 * remove the socket. Whether the answer was taken; ERR holds the server's
 * error otherwise ("" when it said nothing). */
static bool offer_end(struct served_offer *so, bool withdraw, char *err, size_t errlen) {
        int status = 0;
        ssize_t n;

        if (withdraw)
                (void) kill(so->child, SIGTERM);
        while (waitpid(so->child, &status, 0) < 0 && errno == EINTR)
                ;
        n = read(so->report, err, errlen - 1);
        err[n > 0 ? n : 0] = '\0';
        close(so->report);
        reg_offer_close(&so->offer);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool do_create(struct apply_ctx *c, struct lane_run *lr) {
        static struct proto_register reg;
        struct served_offer so;
        struct step *st;
        char scope[160], err[512];
        _cleanup_(freep) char *token = NULL;
        size_t token_len = 0;
        time_t expires;
        bool ok, taken, running = lr->o.unit_exists && (strcmp(lr->o.unit_active, "active") == 0 ||
                                                 strcmp(lr->o.unit_active, "activating") == 0 ||
                                                 strcmp(lr->o.unit_active, "reloading") == 0);
        int r;

        if (!c->gh) {
                st = step_begin(lr, "token");
                return step_end(lr, st, false, "no GitHub client: %s", c->gh_problem);
        }
        st = step_begin(lr, "token");
        scope_of(&lr->e.lane, scope, sizeof scope);
        r = gh_registration_token(c->gh, scope, &token, &token_len, &expires, err, sizeof err);
        if (!step_end(lr, st, r == 0, r == 0 ? "registration token for %s" : "%s", r == 0 ? scope : err))
                return false;
        reg = (struct proto_register) {};
        web_url(c->s->api_url, &lr->e.lane, reg.url, sizeof reg.url);
        snprintf(reg.name, sizeof reg.name, "%s", lr->e.lane.name);
        label_list(lr->e.lane.labels, lr->e.lane.n_labels, reg.labels, sizeof reg.labels);
        snprintf(reg.group, sizeof reg.group, "%s", lr->e.lane.group);
        if (token_len >= sizeof reg.token) {
                explicit_bzero(token, token_len);
                st = step_begin(lr, "offer");
                return step_end(lr, st, false, "the registration token is longer than %zu bytes", sizeof reg.token - 1);
        }
        memcpy(reg.token, token, token_len + 1);
        explicit_bzero(token, token_len);

        st = step_begin(lr, "offer");
        r = offer_start(c, lr, &reg, &so, err, sizeof err);
        if (!step_end(lr, st, r == 0, "%s", r == 0 ? so.offer.path : err))
                return false;
        /* A running unit (re-registering a lane whose registration GitHub
         * deleted) takes the offer only when it starts again. */
        ok = helper_step(c, lr, "install-unit", PROTO_VERB_INSTALL_UNIT) &&
             helper_step(c, lr, "daemon-reload", PROTO_VERB_DAEMON_RELOAD) &&
             (running ? helper_step(c, lr, "restart", PROTO_VERB_RESTART)
                      : helper_step(c, lr, "enable-now", PROTO_VERB_ENABLE_NOW));
        st = step_begin(lr, "config.sh");
        taken = offer_end(&so, !ok, err, sizeof err);   /* a helper step failed: nothing will ask */
        if (!ok) {
                lr->n_steps--;   /* the helper step that failed is the failure */
                return false;
        }
        return step_end(lr, st, taken, taken ? "registration handed to %s's unit" : "%s",
                        taken ? lr->e.lane.name : err[0] ? err : "the offer's server died");
}

static bool take_down(struct apply_ctx *c, struct lane_run *lr, bool unit, bool purge_check);

/* Labels the labels API could not make exact: GitHub's read-only labels
 * (self-hosted, the OS, the architecture config.sh added without
 * --no-default-labels) stay whatever one sets. Only a new registration
 * changes them: take the runner down and off GitHub, then register it
 * as for a create (lanekeeper-register forgets the stale .runner). */
static bool reregister(struct apply_ctx *c, struct lane_run *lr) {
        struct step *st;

        if (lr->o.n_runners == 1 && lr->o.runners[0].busy) {
                /* never under a running job: the gates then say the labels
                 * are wrong, and a later apply registers it again */
                st = step_begin(lr, "reregister");
                return step_end(lr, st, true, "deferred: runner %lld is busy; registering it again waits for its job "
                                "to end", lr->o.runners[0].id);
        }
        return take_down(c, lr, lr->o.unit_exists && lr->o.unit_managed, false) && do_create(c, lr);
}

static bool do_reconcile(struct apply_ctx *c, struct lane_run *lr) {
        const char *labels[LANE_MAX_LABELS];
        struct gh_runner *got = calloc(1, sizeof *got);
        struct step *st = step_begin(lr, "labels");
        char scope[160], err[512];
        int r;

        if (!got)
                return step_end(lr, st, false, "out of memory");
        if (!c->gh || lr->o.n_runners != 1) {
                free(got);
                return step_end(lr, st, false, "%s", !c->gh ? c->gh_problem : "no single GitHub runner to set labels on");
        }
        for (size_t i = 0; i < lr->e.lane.n_labels; i++)
                labels[i] = lr->e.lane.labels[i];
        scope_of(&lr->e.lane, scope, sizeof scope);
        r = gh_runner_labels(c->gh, scope, lr->o.runners[0].id, GH_LABELS_SET, labels, lr->e.lane.n_labels, got, err,
                             sizeof err);
        if (r < 0) {
                free(got);
                return step_end(lr, st, false, "%s", err);
        }
        if (!labels_exact(&lr->e.lane, got->labels, got->n_labels)) {
                char have[200];

                label_list(got->labels, got->n_labels, have, sizeof have);
                free(got);
                step_end(lr, st, true, "runner %lld keeps labels %s that the labels API cannot remove: registering "
                         "it again", lr->o.runners[0].id, have);
                return reregister(c, lr);
        }
        free(got);
        step_end(lr, st, true, "labels set on runner %lld", lr->o.runners[0].id);
        if (lr->o.unit_exists && strcmp(lr->o.unit_active, "active") != 0)
                return helper_step(c, lr, "enable-now", PROTO_VERB_ENABLE_NOW);
        return true;
}

/* Whether /proc/PID/cgroup names the lane unit UNIT or a cgroup beneath it
 * (CGROUP_IN_UNIT), or another lane's unit (CGROUP_IN_OTHER_LANE). */
enum cgroup_test { CGROUP_IN_UNIT, CGROUP_IN_OTHER_LANE };

static bool cgroup_is(const char *pid, const char *unit, enum cgroup_test test) {
        char path[300], line[4096], needle[160];
        size_t nl = (size_t) snprintf(needle, sizeof needle, "/%s", unit);
        bool yes = false;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%s/cgroup", pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (fgets(line, sizeof line, f)) {
                const char *m;

                if (test == CGROUP_IN_UNIT)
                        yes |= (m = strstr(line, needle)) && (m[nl] == '\n' || m[nl] == '/' || m[nl] == '\0');
                else
                        yes |= (m = strstr(line, "/lanekeeper-lane@")) && strncmp(m + 1, unit, strlen(unit)) != 0;
        }
        fclose(f);
        return yes;
}

/* Every process PICK(pid, real uid, data) selects, read from /proc (status
 * and cgroup are readable by anyone): their number, the first few as
 * "PID (comm)" into BUF. */
static size_t proc_select(bool (*pick)(const char *pid, unsigned long uid, const void *data), const void *data, char *buf,
                          size_t size) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        size_t n = 0, len = 0;

        buf[0] = '\0';
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                char path[300], line[256], comm[64] = "?";
                unsigned long ruid = (unsigned long) -1;
                FILE *f;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                while (fgets(line, sizeof line, f)) {
                        if (strncmp(line, "Name:", 5) == 0)
                                sscanf(line + 5, " %63s", comm);
                        else if (strncmp(line, "Uid:", 4) == 0)
                                ruid = strtoul(line + 4, NULL, 10);
                }
                fclose(f);
                if (!pick(de->d_name, ruid, data))
                        continue;
                if (n < 4 && len < size)
                        len += (size_t) snprintf(buf + len, size - len, "%s%s (%s)", n ? ", " : "", de->d_name, comm);
                n++;
        }
        closedir(d);
        return n;
}

static bool pick_in_unit(const char *pid, unsigned long uid, const void *unit) {
        (void) uid;
        return cgroup_is(pid, unit, CGROUP_IN_UNIT);
}

struct user_pick {
        uid_t uid;
        const char *unit;
};

/* A process of the lane's user that could hold files in the lane directory:
 * all but those in another lane's unit, which see only their own lane
 * directory (the template's TemporaryFileSystem= and BindPaths=). */
static bool pick_user(const char *pid, unsigned long uid, const void *data) {
        const struct user_pick *u = data;

        return uid == (unsigned long) u->uid && !cgroup_is(pid, u->unit, CGROUP_IN_OTHER_LANE);
}

/* The processes in the lane unit's cgroup. */
static size_t unit_processes(const char *unit, char *buf, size_t size) {
        return proc_select(pick_in_unit, unit, buf, size);
}

/* The processes of UID that could hold files in the lane directory. */
static size_t user_processes(uid_t uid, const char *unit, char *buf, size_t size) {
        return proc_select(pick_user, &(struct user_pick) { .uid = uid, .unit = unit }, buf, size);
}

/* Entries in the lane directory (the maintainer reads it through the lane
 * user's group): their number, or -errno. */
static long lane_dir_entries(const struct lane_desired *d) {
        char path[PROTO_PATH_MAX + PROTO_LANE_NAME_MAX + 2];
        struct dirent *de;
        long n = 0;
        DIR *dir;

        snprintf(path, sizeof path, "%s/%s", d->root, d->name);
        dir = opendir(path);
        if (!dir)
                return -errno;
        while ((de = readdir(dir)))
                n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(dir);
        return n;
}

/* remove --purge, once the runner is stopped and deregistered: the lane's
 * own unit empties the directory as the lane's user. lanectl offers a purge
 * answer on the hand-off socket and has the helper start the unit: its
 * ExecStartPre (lanekeeper-register) takes the answer, empties the
 * directory and fails the start on purpose, so the runner never runs.
 * Verified by reading the directory back. */
static bool do_purge(struct apply_ctx *c, struct lane_run *lr) {
        static struct proto_register reg;
        struct served_offer so;
        struct step *st = step_begin(lr, "purge");
        char err[512], herr[512];
        long left;
        int r;

        reg = (struct proto_register) { .purge = true };
        snprintf(reg.name, sizeof reg.name, "%s", lr->e.lane.name);
        if (offer_start(c, lr, &reg, &so, err, sizeof err) < 0)
                return step_end(lr, st, false, "%s", err);
        /* the start fails by design once the directory is emptied */
        r = call_helper(c, lr, PROTO_VERB_ENABLE_NOW, herr, sizeof herr);
        if (!offer_end(&so, r == -EHOSTDOWN, err, sizeof err))
                return step_end(lr, st, false, "the lane's unit did not take the purge: %s",
                                err[0] ? err : r < 0 ? herr : "no request");
        left = lane_dir_entries(&lr->e.lane);
        if (left < 0)
                return step_end(lr, st, false, "cannot read %s/%s back to verify it: %s", lr->e.lane.root,
                                lr->e.lane.name, strerror((int) -left));
        if (left > 0)
                return step_end(lr, st, false, "%ld entries are left in %s/%s (see the unit's journal)", left,
                                lr->e.lane.root, lr->e.lane.name);
        return step_end(lr, st, true, "%s/%s is empty", lr->e.lane.root, lr->e.lane.name);
}

/* After a failure with the unit stopped: start it again, so that the lane is
 * never left half-removed. */
static void start_again(struct apply_ctx *c, struct lane_run *lr) {
        (void) helper_step(c, lr, "start-again", PROTO_VERB_ENABLE_NOW);
}

/* remove: stop the unit, see its processes gone, re-read the runner (same
 * id, not busy), delete the registration (the runner is offline once its
 * listener is stopped), wait until GitHub no longer lists it, then the
 * helper's remove-unit. A failure before the registration is gone starts
 * the unit again. */
/* Take a runner down and off GitHub: stop the unit, see its processes gone
 * (with PURGE_CHECK: and no process of the lane's user that could hold
 * files in the lane directory), re-read the runner (same id, not busy),
 * delete the registration (the runner is offline once its listener is
 * stopped), wait until GitHub no longer lists it. A failure before the
 * registration is gone starts the unit again. */
static bool take_down(struct apply_ctx *c, struct lane_run *lr, bool unit, bool purge_check) {
        long long id = lr->o.n_runners == 1 ? lr->o.runners[0].id : 0, deadline;
        char scope[160], err[512], procs[200];
        struct step *st;
        size_t n = 0;
        int r;

        scope_of(&lr->e.lane, scope, sizeof scope);
        if (unit) {
                if (!helper_step(c, lr, "stop", PROTO_VERB_STOP))
                        return false;
                st = step_begin(lr, "processes");
                deadline = now_ms() + 10000;
                while ((n = unit_processes(lr->o.unit_name, procs, sizeof procs)) && now_ms() < deadline)
                        sleep_ms(200);
                if (n) {
                        step_end(lr, st, false, "%zu processes remain in %s: %s", n, lr->o.unit_name, procs);
                        start_again(c, lr);
                        return false;
                }
                step_end(lr, st, true, "no process left in %s", lr->o.unit_name);
                if (purge_check) {
                        /* nothing may hold files in the directory: no process of
                         * the lane's user anywhere */
                        st = step_begin(lr, "purge-check");
                        n = user_processes(lr->uid, lr->o.unit_name, procs, sizeof procs);
                        if (n) {
                                step_end(lr, st, false, "%zu processes of %s run outside any other lane's unit "
                                         "and could hold files in the lane directory; not purging: %s", n,
                                         lr->e.lane.user, procs);
                                start_again(c, lr);
                                return false;
                        }
                        step_end(lr, st, true, "no process of %s could hold files in the lane directory",
                                 lr->e.lane.user);
                }
        }
        if (id) {
                long long was = id;

                st = step_begin(lr, "reread");
                observe(c, lr);
                if (!lr->o.github_known)
                        step_end(lr, st, false, "GitHub could not be read: %s", lr->o.github_detail);
                else if (lr->o.n_runners == 0) {
                        id = 0;
                        step_end(lr, st, true, "runner %lld is already gone", was);
                } else if (lr->o.n_runners > 1 || lr->o.runners[0].id != was)
                        step_end(lr, st, false, "GitHub now lists another runner named %s (id %lld, was %lld)",
                                 lr->e.lane.name, lr->o.runners[0].id, was);
                else if (lr->o.runners[0].busy)
                        step_end(lr, st, false, "runner %lld took a job while stopping", was);
                else
                        step_end(lr, st, true, "runner %lld, %s, not busy", was,
                                 lr->o.runners[0].online ? "still online" : "offline");
                if (lr->failed) {
                        if (unit)
                                start_again(c, lr);
                        return false;
                }
        }
        if (id) {
                st = step_begin(lr, "deregister");
                if (!c->gh)
                        r = -ENOTCONN, snprintf(err, sizeof err, "no GitHub client: %.480s", c->gh_problem);
                else
                        r = gh_runner_delete(c->gh, scope, id, err, sizeof err);
                if (r == 0)
                        step_end(lr, st, true, "runner %lld deleted", id);
                else {
                        step_end(lr, st, false, "%s", err);
                        if (unit)
                                start_again(c, lr);
                        return false;
                }
                st = step_begin(lr, "unlisted");
                deadline = now_ms() + (long long) c->timeout_s * 1000;
                for (;;) {
                        observe(c, lr);
                        if ((lr->o.github_known && lr->o.n_runners == 0) || now_ms() >= deadline)
                                break;
                        sleep_ms(POLL_MS);
                }
                if (!step_end(lr, st, lr->o.github_known && lr->o.n_runners == 0,
                              lr->o.github_known && lr->o.n_runners == 0 ? "GitHub no longer lists %s"
                                                                          : "GitHub still lists %s",
                              lr->e.lane.name))
                        return false;   /* deleted, yet listed: nothing to start again */
        }
        return true;
}

static bool do_remove(struct apply_ctx *c, struct lane_run *lr) {
        bool unit = lr->o.unit_exists && lr->o.unit_managed;

        if (c->purge && !unit)
                return step_end(lr, step_begin(lr, "purge"), false, "no lanekeeper unit to purge %s/%s through; nothing "
                                "done (the directory is the lane user's: delete it as root)", lr->e.lane.root,
                                lr->e.lane.name);
        if (!take_down(c, lr, unit, c->purge))
                return false;
        if (unit && c->purge) {
                bool purged = do_purge(c, lr);

                /* deregistered either way: the unit goes; a failed purge is
                 * recorded as the failure */
                return helper_step(c, lr, "remove-unit", PROTO_VERB_REMOVE_UNIT) && purged;
        }
        if (unit)
                return helper_step(c, lr, "remove-unit", PROTO_VERB_REMOVE_UNIT);
        return true;
}

static bool perform(struct apply_ctx *c, struct lane_run *lr) {
        switch (lr->p.action) {
        case ACTION_CREATE:
                return do_create(c, lr);
        case ACTION_ADOPT:
                return helper_step(c, lr, "install-unit", PROTO_VERB_INSTALL_UNIT) &&
                       helper_step(c, lr, "daemon-reload", PROTO_VERB_DAEMON_RELOAD) &&
                       helper_step(c, lr, "enable-now", PROTO_VERB_ENABLE_NOW);
        case ACTION_RECONCILE:
                /* GitHub lists no runner for a lane that is configured here:
                 * its registration was deleted; the labels API cannot help,
                 * register it again. */
                if (lr->o.github_known && lr->o.n_runners == 0)
                        return do_create(c, lr);
                return do_reconcile(c, lr);
        case ACTION_RESTART:
                return helper_step(c, lr, "restart", PROTO_VERB_RESTART);
        case ACTION_NOOP:
                return true;   /* nothing to do: the gates say whether that is so */
        case ACTION_REMOVE:
                if (c->cmd == CMD_REMOVE)
                        return do_remove(c, lr);
                break;
        }
        return step_end(lr, step_begin(lr, "action"), false, "%s does not %s", cmd_names[c->cmd],
                        plan_action_to_string(lr->p.action));
}

static struct json_object *record_of(struct apply_ctx *c, struct lane_run *lr, const char *status) {
        struct json_object *rec = json_object_new_object(), *steps = json_object_new_array(),
                           *gates_j = json_object_new_array();
        char when[32];

        now_utc(when, sizeof when);
        json_object_object_add(rec, "status", json_object_new_string(status));
        json_object_object_add(rec, "lane", json_object_new_string(lr->e.lane.name));
        json_object_object_add(rec, "time", json_object_new_string(when));
        json_object_object_add(rec, "host", json_object_new_string(c->host));
        json_object_object_add(rec, "command", json_object_new_string(cmd_names[c->cmd]));
        if (c->purge)
                json_object_object_add(rec, "purge", json_object_new_boolean(true));
        json_object_object_add(rec, "action", json_object_new_string(plan_action_to_string(lr->p.action)));
        if (c->key)
                json_object_object_add(rec, "idempotency_key", json_object_new_string(c->key));
        if (lr->failed)
                json_object_object_add(rec, "failed", json_object_new_string(lr->failed));
        json_object_object_add(rec, "duration_ms", json_object_new_int64(now_ms() - lr->started_ms));
        for (size_t i = 0; i < lr->n_steps; i++) {
                struct json_object *s = json_object_new_object();

                json_object_object_add(s, "step", json_object_new_string(lr->steps[i].name));
                json_object_object_add(s, "ok", json_object_new_boolean(lr->steps[i].ok));
                json_object_object_add(s, "ms", json_object_new_int64(lr->steps[i].ms));
                json_object_object_add(s, "detail", json_object_new_string(lr->steps[i].detail));
                json_object_array_add(steps, s);
        }
        json_object_object_add(rec, "steps", steps);
        if (lr->n_steps && strcmp(lr->steps[lr->n_steps - 1].name, "gates") == 0)
                for (int g = 0; g < lr->n_gates; g++) {
                        struct json_object *o = json_object_new_object();

                        json_object_object_add(o, "gate", json_object_new_string(lr->gate_names[g]));
                        json_object_object_add(o, "passed", json_object_new_boolean(lr->gate_passed[g]));
                        json_object_object_add(o, "detail", json_object_new_string(lr->gate_detail[g]));
                        json_object_array_add(gates_j, o);
                }
        json_object_object_add(rec, "gates", gates_j);
        if (lr->busy_job[0])
                json_object_object_add(rec, "busy_job", json_object_new_string(lr->busy_job));
        if (lr->legacy_unit[0]) {
                struct json_object *l = json_object_new_object();

                json_object_object_add(l, "unit", json_object_new_string(lr->legacy_unit));
                json_object_object_add(l, "enabled", json_object_new_boolean(lr->legacy_enabled));
                json_object_object_add(rec, "legacy_unit", l);
        }
        json_object_object_add(rec, "plan", lane_plan_to_json(&lr->e.lane, &lr->o, &lr->p));
        return rec;
}

static void print_result(const struct lane_run *lr, const char *status, uint64_t seq) {
        printf("%s: %s %s (record #%" PRIu64 ")\n", lr->e.lane.name, plan_action_to_string(lr->p.action), status, seq);
        for (size_t i = 0; i < lr->n_steps; i++)
                printf("  %-14s %-6s %6lld ms  %s\n", lr->steps[i].name, lr->steps[i].ok ? "ok" : "FAILED",
                       lr->steps[i].ms, lr->steps[i].detail);
}

/* svc.sh's own unit for the lane's runner, when one is installed: svc.sh
 * names it actions.runner.<owner>-<repo>.<name>.service (or
 * actions.runner.<org>.<name>.service). The helper never touches it; the
 * operator is told exactly what to do with it. */
static void legacy_unit(struct lane_run *lr) {
        char pat[PROTO_LANE_NAME_MAX + 64], wants[PROTO_LANE_NAME_MAX + 300];
        glob_t g = {};
        struct stat st;

        snprintf(pat, sizeof pat, "/etc/systemd/system/actions.runner.*.%s.service", lr->e.lane.name);
        if (glob(pat, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0) {
                const char *base = strrchr(g.gl_pathv[0], '/') + 1;

                snprintf(lr->legacy_unit, sizeof lr->legacy_unit, "%s", base);
                snprintf(wants, sizeof wants, "/etc/systemd/system/multi-user.target.wants/%s", base);
                lr->legacy_enabled = lstat(wants, &st) == 0;
        }
        globfree(&g);
}

static void print_legacy(const struct lane_run *lr) {
        if (!lr->legacy_unit[0])
                return;
        printf("  legacy   svc.sh's unit %s is installed%s; lanekeeper never acts on units it did not write.\n"
               "           As root: systemctl disable --now %s && rm /etc/systemd/system/%s && systemctl daemon-reload\n"
               "           (what ./svc.sh uninstall does), so that only lanekeeper's unit runs this runner\n",
               lr->legacy_unit, lr->legacy_enabled ? " and enabled (it starts at boot)" : "", lr->legacy_unit,
               lr->legacy_unit);
}

/* A remove refused because the runner is busy says with which job (a
 * repository lane's; GitHub does not list an organisation's jobs in one
 * place). */
static void busy_job(struct apply_ctx *c, struct lane_run *lr) {
        char err[512];
        int r;

        if (c->cmd != CMD_REMOVE || lr->o.n_runners != 1 || !lr->o.runners[0].busy)
                return;
        if (!c->gh || !lr->e.lane.repository[0])
                r = -EOPNOTSUPP;
        else
                r = gh_runner_job(c->gh, lr->e.lane.repository, lr->o.runners[0].id, lr->busy_job, sizeof lr->busy_job,
                                  err, sizeof err);
        if (r < 0)
                snprintf(lr->busy_job, sizeof lr->busy_job, "runner %lld is busy; the job %s", lr->o.runners[0].id,
                         r == -ENOENT ? "is not listed among the repository's running jobs yet"
                         : r == -EOPNOTSUPP ? "cannot be named for an organisation's runner"
                                            : "could not be read from GitHub");
        else
                snprintf(lr->busy_job + strlen(lr->busy_job), sizeof lr->busy_job - strlen(lr->busy_job),
                         " runs on runner %lld", lr->o.runners[0].id);
}

/* restart or remove without --apply: what would be done, recorded as a
 * plan; exit 0 ready, 1 blocked. Nothing is locked, fetched or changed. */
static int dry_run(struct apply_ctx *c, struct lane_run *lr, struct plan_request *req) {
        struct json_object *rec;
        uint64_t seq = 0;
        int r;

        req->confirmed = true;   /* a dry run needs no confirmation: it is not asked what was not asked for */
        req->idempotency_key = "dry-run";
        observe(c, lr);
        plan_lane(&lr->e.lane, &lr->o, c->pol, req, &lr->p);
        busy_job(c, lr);
        legacy_unit(lr);
        rec = record_of(c, lr, "planned");
        r = audit_append(c->store, rec, &seq);
        json_object_put(rec);
        printf("%s: %s %s (dry run, record #%" PRIu64 "); nothing done\n", lr->e.lane.name,
               plan_action_to_string(lr->p.action), lr->p.status == PLAN_BLOCKED ? "blocked" : "ready", seq);
        for (size_t i = 0; i < lr->p.n_blockers; i++)
                printf("  blocked  %s: %s\n", blocker_to_string(lr->p.blockers[i].id), lr->p.blockers[i].detail);
        if (lr->busy_job[0])
                printf("  busy     %s\n", lr->busy_job);
        print_legacy(lr);
        if (lr->p.status != PLAN_BLOCKED)
                printf("  would    %s\n  then     lanectl %s %s --apply%s --confirm %s --idempotency-key KEY\n",
                       c->cmd == CMD_RESTART ? "restart the unit through the helper, then check every completion gate"
                       : c->purge ? "stop the unit, check its processes are gone and no process of the lane's user "
                                    "runs, delete the GitHub registration, wait until GitHub no longer lists it, empty "
                                    "the lane directory through the lane's unit, remove the unit"
                                  : "stop the unit, check its processes are gone, delete the GitHub registration, wait "
                                    "until GitHub no longer lists it, remove the unit",
                       cmd_names[c->cmd], lr->e.lane.name, c->purge ? " --purge" : "", lr->e.lane.name);
        for (size_t i = 0; lr->p.status == PLAN_BLOCKED && i < lr->p.n_steps; i++)
                printf("  next     %s\n", lr->p.steps[i]);
        if (r < 0) {
                fprintf(stderr, "lanectl %s: %s: cannot write the audit record: %s\n", cmd_names[c->cmd], lr->e.lane.name,
                        strerror(-r));
                return EXIT_ERROR;
        }
        return lr->p.status == PLAN_BLOCKED ? EXIT_BLOCKED : EXIT_COMPLETED;
}

static int apply_one(struct apply_ctx *c, const struct lane_file *f, const char *confirm[], size_t n_confirm,
                     const char *key) {
        static struct lane_run lr;
        _cleanup_(closep) int lock = -EBADF;
        struct idempotency_result prev, res = {};
        static const enum plan_intent intents[] = { INTENT_APPLY, INTENT_RESTART, INTENT_REMOVE };
        struct plan_request req = { .intent = intents[c->cmd], .this_host = c->host, .same_name_lanes = f->same_name,
                                    .idempotency_key = key };
        const char *cmd = cmd_names[c->cmd];
        struct json_object *rec;
        struct passwd pw, *pwr = NULL;
        char pwbuf[4096];
        uint64_t seq = 0;
        const char *status;
        int r, ret;

        memset(&lr, 0, sizeof lr);
        lr.started_ms = now_ms();
        lr.gate_names = c->cmd == CMD_REMOVE ? remove_gate_names : gate_names;
        lr.n_gates = c->cmd == CMD_REMOVE ? _GATE_REMOVE_MAX : _GATE_MAX;
        snprintf(lr.e.path, sizeof lr.e.path, "%s", f->path);
        if (!lane_entry_load(&lr.e, stderr))
                return EXIT_ERROR;
        for (size_t i = 0; i < n_confirm; i++)
                if (strcmp(confirm[i], lr.e.lane.name) == 0)
                        req.confirmed = true;
        if (c->dry_run)
                return dry_run(c, &lr, &req);

        r = lane_lock(c->s->store_dir, lr.e.lane.name, &lock);
        if (r == -EBUSY) {
                fprintf(stderr, "lanectl %s: %s: lane busy (another apply, restart or remove holds it); nothing done\n",
                        cmd, lr.e.lane.name);
                return EXIT_BUSY;
        }
        if (r < 0) {
                fprintf(stderr, "lanectl %s: %s: cannot lock the lane in %s: %s\n", cmd, lr.e.lane.name, c->s->store_dir,
                        strerror(-r));
                return EXIT_ERROR;
        }
        r = idempotency_lookup(c->s->store_dir, key, lr.e.lane.name, cmd, &prev);
        if (r == 0) {
                printf("%s: already done under this key: %s %s (record #%" PRIu64 "); nothing done\n", lr.e.lane.name,
                       cmd, prev.status, prev.audit_seq);
                return prev.exit_status;
        }
        if (r == -EEXIST) {
                fprintf(stderr, "lanectl %s: %s: the idempotency key was used for another lane or command\n", cmd,
                        lr.e.lane.name);
                return EXIT_ERROR;
        }
        if (r != -ENOENT) {
                fprintf(stderr, "lanectl %s: %s: cannot read the idempotency record: %s\n", cmd, lr.e.lane.name,
                        strerror(-r));
                return EXIT_ERROR;
        }
        if (getpwnam_r(lr.e.lane.user, &pw, pwbuf, sizeof pwbuf, &pwr) != 0 || !pwr) {
                fprintf(stderr, "lanectl %s: %s: no user %s on this host\n", cmd, lr.e.lane.name, lr.e.lane.user);
                return EXIT_ERROR;
        }
        lr.uid = pw.pw_uid;

        observe(c, &lr);
        plan_lane(&lr.e.lane, &lr.o, c->pol, &req, &lr.p);
        legacy_unit(&lr);
        if (lr.p.status == PLAN_BLOCKED) {
                /* Nothing was done: recorded as refused, and the key stays free
                 * for the same request once the blockers are resolved. */
                busy_job(c, &lr);
                rec = record_of(c, &lr, "refused");
                r = audit_append(c->store, rec, &seq);
                json_object_put(rec);
                printf("%s: %s blocked (record #%" PRIu64 "); nothing done\n", lr.e.lane.name,
                       plan_action_to_string(lr.p.action), seq);
                for (size_t i = 0; i < lr.p.n_blockers; i++)
                        printf("  blocked  %s: %s\n", blocker_to_string(lr.p.blockers[i].id), lr.p.blockers[i].detail);
                if (lr.busy_job[0])
                        printf("  busy     %s\n", lr.busy_job);
                print_legacy(&lr);
                for (size_t i = 0; i < lr.p.n_steps; i++)
                        printf("  next     %s\n", lr.p.steps[i]);
                if (r < 0) {
                        fprintf(stderr, "lanectl %s: %s: cannot write the audit record: %s\n", cmd, lr.e.lane.name,
                                strerror(-r));
                        return EXIT_ERROR;
                }
                return EXIT_BLOCKED;
        }

        if (perform(c, &lr))
                (void) gates(c, &lr);
        status = lr.failed ? "failed" : "completed";
        ret = lr.failed ? EXIT_FAILED : EXIT_COMPLETED;
        rec = record_of(c, &lr, status);
        r = audit_append(c->store, rec, &seq);
        json_object_put(rec);
        if (r < 0) {
                /* No record, no claim: the key stays unrecorded so that the
                 * same request can be repeated. */
                fprintf(stderr, "lanectl %s: %s: cannot write the audit record: %s; the result is not recorded\n", cmd,
                        lr.e.lane.name, strerror(-r));
                return EXIT_ERROR;
        }
        print_result(&lr, status, seq);
        print_legacy(&lr);
        snprintf(res.lane, sizeof res.lane, "%s", lr.e.lane.name);
        snprintf(res.command, sizeof res.command, "%s", cmd);
        snprintf(res.status, sizeof res.status, "%s", status);
        res.exit_status = ret;
        res.audit_seq = seq;
        r = idempotency_record(c->s->store_dir, key, &res);
        if (r < 0 && r != -EEXIST)
                fprintf(stderr, "lanectl %s: %s: cannot record the idempotency key: %s\n", cmd, lr.e.lane.name,
                        strerror(-r));
        return ret;
}

static void usage(enum lane_cmd cmd) {
        if (cmd == CMD_APPLY)
                fprintf(stderr, "usage: lanectl apply LANE... --confirm LANE [--confirm LANE...] --idempotency-key KEY\n"
                                "                     [--timeout SECONDS] [--policy FILE] [--lanes-dir DIR]\n");
        else
                fprintf(stderr, "usage: lanectl %s LANE... [--apply --confirm LANE [--confirm LANE...] --idempotency-key KEY]\n"
                                "                     [--timeout SECONDS] [--policy FILE] [--lanes-dir DIR]%s\n",
                        cmd_names[cmd], cmd == CMD_REMOVE ? " [--purge]" : "");
}

static int lane_command(int argc, char **argv, enum lane_cmd cmd) {
        static const struct option options[] = {
                { "apply", no_argument, NULL, 'a' },
                { "purge", no_argument, NULL, 'P' },
                { "confirm", required_argument, NULL, 'c' },
                { "idempotency-key", required_argument, NULL, 'k' },
                { "timeout", required_argument, NULL, 't' },
                { "policy", required_argument, NULL, 'p' },
                { "lanes-dir", required_argument, NULL, 'd' },
                {}
        };
        static struct helper_policy hp;
        static struct policy_view pv;
        const char *confirm[64], *policy = getenv("LANEKEEPER_POLICY"), *lanes_dir = getenv("LANEKEEPER_LANES_DIR");
        const char *key = NULL, *reason;
        size_t n_confirm = 0, n_files = 0;
        const struct settings *s;
        struct plan_policy pol;
        struct baseline_config bc = {};
        struct audit_store store = { .dirfd = -EBADF };
        struct lane_file *files = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        char host[PROTO_HOST_NAME_MAX + 2] = "", store_dir[PROTO_PATH_MAX + 16], cache[PROTO_PATH_MAX + 32];
        struct apply_ctx c = { .timeout_s = DEFAULT_TIMEOUT_S, .host = host, .pv = &pv, .bc = &bc, .pol = &pol,
                               .store = &store, .register_dir = PROTO_REGISTER_DIR, .cmd = cmd,
                               .dry_run = cmd != CMD_APPLY };
        const char *name = cmd_names[cmd];
        int opt, r, ret = EXIT_COMPLETED;
        char *end;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case 'a':
                        if (cmd == CMD_APPLY) {
                                fprintf(stderr, "lanectl apply: --apply belongs to restart and remove (apply always acts)\n");
                                return EXIT_ERROR;
                        }
                        c.dry_run = false;
                        break;
                case 'P':
                        if (cmd != CMD_REMOVE) {
                                fprintf(stderr, "lanectl %s: --purge belongs to remove\n", name);
                                return EXIT_ERROR;
                        }
                        c.purge = true;
                        break;
                case 'c':
                        if (n_confirm == 64) {
                                fprintf(stderr, "lanectl %s: at most 64 lanes at once\n", name);
                                return EXIT_ERROR;
                        }
                        confirm[n_confirm++] = optarg;
                        break;
                case 'k':
                        key = optarg;
                        break;
                case 't':
                        errno = 0;
                        c.timeout_s = (unsigned) strtoul(optarg, &end, 10);
                        if (errno || *end || c.timeout_s < 1 || c.timeout_s > 3600) {
                                fprintf(stderr, "lanectl %s: --timeout is 1 to 3600 seconds\n", name);
                                return EXIT_ERROR;
                        }
                        break;
                case 'p':
                        policy = optarg;
                        break;
                case 'd':
                        lanes_dir = optarg;
                        break;
                default:
                        usage(cmd);
                        return EXIT_ERROR;
                }
        if (optind >= argc) {
                usage(cmd);
                return EXIT_ERROR;
        }
        if (argc - optind > 64) {
                fprintf(stderr, "lanectl %s: at most 64 lanes at once\n", name);
                return EXIT_ERROR;
        }
        /* Checked before anything is read: a mutation needs both, said plainly. */
        if (!c.dry_run && (!key || !n_confirm)) {
                fprintf(stderr, "lanectl %s: a change needs --confirm LANE for each lane and --idempotency-key KEY\n", name);
                usage(cmd);
                return EXIT_ERROR;
        }
        if (c.dry_run && (key || n_confirm)) {
                fprintf(stderr, "lanectl %s: --confirm and --idempotency-key go with --apply; without it this is a dry "
                                "run\n", name);
                return EXIT_ERROR;
        }
        if (key && idempotency_key_validate(key, &reason) < 0) {
                fprintf(stderr, "lanectl %s: the idempotency key %s\n", name, reason);
                return EXIT_ERROR;
        }
        if (key && argc - optind > 1 && strlen(key) + 1 + PROTO_LANE_NAME_MAX > IDEMPOTENCY_KEY_MAX) {
                fprintf(stderr, "lanectl %s: with several lanes the key gets ':LANE' appended; keep it under %d "
                                "characters\n", name, IDEMPOTENCY_KEY_MAX - PROTO_LANE_NAME_MAX);
                return EXIT_ERROR;
        }
        c.key = key;
        if (lanectl_settings(&s) < 0)
                return EXIT_ERROR;
        c.s = s;
        c.helper_conn.socket_path = getenv("LANEKEEPER_HELPER_SOCKET") ?: s->helper_socket;
        if (getenv("LANEKEEPER_REGISTER_DIR"))
                c.register_dir = getenv("LANEKEEPER_REGISTER_DIR");
        if (!policy)
                policy = s->policy_file;
        if (!lanes_dir)
                lanes_dir = s->lanes_dir;
        if (lanectl_load_policy(policy, strcmp(policy, SYSCONFDIR "/lanekeeper/policy.conf") != 0, &hp) < 0)
                return EXIT_ERROR;
        lanectl_plan_policy(&hp, &pv, &pol);
        if (gethostname(host, sizeof host - 1) < 0)
                snprintf(host, sizeof host, "unknown");
        r = lanectl_list_lanes(lanes_dir, &files, &n_files);
        if (r < 0) {
                fprintf(stderr, "lanectl %s: cannot read the lane directory %s: %s\n", name, lanes_dir, strerror(-r));
                return EXIT_ERROR;
        }
        for (int a = optind; a < argc; a++) {
                bool found = false;

                for (size_t i = 0; i < n_files; i++)
                        if (strcmp(files[i].stem, argv[a]) == 0)
                                found = true;
                if (!found) {
                        fprintf(stderr, "lanectl %s: no lane file %s/%s.conf\n", name, lanes_dir, argv[a]);
                        ret = EXIT_ERROR;
                        goto out;
                }
        }

        (void) mkdir(s->store_dir, 0750);
        if (strcmp(settings_auth(s), "none") == 0)
                snprintf(c.gh_problem, sizeof c.gh_problem, "no GitHub credentials in lanekeeper.conf");
        else {
                snprintf(cache, sizeof cache, "%s/github-cache", s->store_dir);
                if (gh_client_new(s, cache, &c.gh, c.gh_problem, sizeof c.gh_problem) < 0)
                        c.gh = NULL;
        }
        if (sd_bus_open_system(&bus) < 0)
                bus = NULL;
        c.bus = bus;
        lanectl_baseline_config(s, &pv, &bc);
        snprintf(store_dir, sizeof store_dir, "%s/audit", s->store_dir);
        r = audit_open(store_dir, &store);
        if (r < 0) {
                fprintf(stderr, "lanectl %s: cannot open the audit store %s: %s\n", name, store_dir, strerror(-r));
                ret = EXIT_ERROR;
                goto out;
        }

        /* One lane at a time, in the order given; each under its own key
         * (KEY, or KEY:LANE when several lanes share one command). */
        for (int a = optind; a < argc; a++) {
                char lane_key[IDEMPOTENCY_KEY_MAX + PROTO_LANE_NAME_MAX + 2];
                int one = EXIT_ERROR;

                snprintf(lane_key, sizeof lane_key, "%s%s%s", key ?: "", argc - optind > 1 ? ":" : "",
                         argc - optind > 1 ? argv[a] : "");
                for (size_t i = 0; i < n_files; i++)
                        if (strcmp(files[i].stem, argv[a]) == 0) {
                                c.key = key ? lane_key : NULL;
                                one = apply_one(&c, &files[i], confirm, n_confirm, c.key);
                                break;
                        }
                /* the worst outcome decides: error > failed > busy > blocked > completed */
                if (one == EXIT_ERROR || (ret != EXIT_ERROR && one > ret))
                        ret = one;
        }
out:
        audit_close(&store);
        gh_client_free(c.gh);
        lanectl_free_lanes(files, n_files);
        return ret;
}

int cmd_apply(int argc, char **argv) {
        return lane_command(argc, argv, CMD_APPLY);
}

int cmd_restart(int argc, char **argv) {
        return lane_command(argc, argv, CMD_RESTART);
}

int cmd_remove(int argc, char **argv) {
        return lane_command(argc, argv, CMD_REMOVE);
}
