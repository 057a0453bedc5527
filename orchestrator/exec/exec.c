/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stddef.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "macro.h"
#include "proto-time.h"

/* Gates are observed again when something that may change them happened
 * (exec_ops.watch_*: the unit's state, the runner saying it listens) and
 * otherwise polled: every second while the runner is watched; unwatched,
 * every 250 ms for the first 5 s (a runner usually comes online within
 * them; GitHub's listings are conditional requests, and a 304 costs no
 * rate limit), then every second. */
#define POLL_FAST_MS 250
#define POLL_FAST_FOR_MS 5000
#define POLL_MS 1000

static const char *const cmd_names[_EXEC_CMD_MAX] = {
        "apply", "restart", "remove", "drain", "undrain", "rotate", "revoke", "unrevoke",
};
static const char *const outcome_names[_EXEC_OUTCOME_MAX] = {
        "completed", "blocked", "failed", "busy", "repeated", "error",
};

const char *exec_cmd_to_string(enum exec_cmd c) {
        return c >= 0 && c < _EXEC_CMD_MAX ? cmd_names[c] : NULL;
}

const char *exec_outcome_to_string(enum exec_outcome o) {
        return o >= 0 && o < _EXEC_OUTCOME_MAX ? outcome_names[o] : NULL;
}

int exec_exit_status(const struct exec_result *res) {
        switch (res->outcome) {
        case EXEC_COMPLETED:
                return res->proof == PROOF_NOT_PROVEN ? 5 : 0;
        case EXEC_BLOCKED:
                return 1;
        case EXEC_BUSY:
                return 3;
        case EXEC_FAILED:
                return 4;
        case EXEC_REPEATED:
                return res->prev.exit_status;
        case EXEC_ERROR:
        case _EXEC_OUTCOME_MAX:
        case _EXEC_OUTCOME_INVALID:
                break;
        }
        return 2;
}

/* Where config.sh registers: GitHub's web origin for the API's. */
void exec_web_url(const char *api, const struct lane_desired *d, char *buf, size_t size) {
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


struct exec_step *exec_step_begin(struct exec_run *x, const char *name) {
        struct exec_result *res = x->res;
        struct exec_step *st = &res->steps[res->n_steps < EXEC_MAX_STEPS ? res->n_steps++ : EXEC_MAX_STEPS - 1];

        *st = (struct exec_step) { .name = name, .ms = x->ops->now_ms(x->ops->data) };
        res->gates_checked = false;
        return st;
}

bool exec_step_end(struct exec_run *x, struct exec_step *st, bool ok, const char *fmt, ...) {
        va_list ap;

        st->ms = x->ops->now_ms(x->ops->data) - st->ms;
        st->ok = ok;
        if (fmt) {
                va_start(ap, fmt);
                vsnprintf(st->detail, sizeof st->detail, fmt, ap);
                va_end(ap);
        }
        if (!ok && !x->res->failed)
                x->res->failed = st->name;
        return ok;
}

void exec_observe(struct exec_run *x) {
        x->ops->observe(x->ops->data, x->req->lane, &x->res->o);
}

/* The helper's answer to VERB into REPLY (ERR: why it failed). */
static int helper_call_reply(struct exec_run *x, enum proto_verb verb, struct helper_reply *reply, char *err,
                             size_t errlen) {
        const struct lane_desired *d = x->req->lane;
        struct helper_request hr = {
                .lane = verb == PROTO_VERB_DAEMON_RELOAD ? NULL : d->name,
                .user = verb == PROTO_VERB_INSTALL_UNIT ? d->user : NULL,
                .root = verb == PROTO_VERB_INSTALL_UNIT ? d->root : NULL,
        };
        int r = helper_ops_call(x->ops->helper, x->ops->helper_data, verb, &hr, reply);

        if (r < 0)
                helper_reply_error(reply, err, errlen);
        return r;
}

/* install-unit, then a daemon-reload only where systemd holds an older
 * copy of the unit: systemd reads a unit it never loaded, or loaded as
 * not found, from disk when the unit is started (its unit cache sees the
 * directory changed), and an unchanged file needs nothing. A reload
 * reloads every unit of the host; most applies need none. */
bool exec_install_unit(struct exec_run *x) {
        const struct exec_ops *ops = x->ops;
        _cleanup_(freep) struct helper_reply *reply = calloc(1, sizeof *reply);
        struct exec_step *st = exec_step_begin(x, "install-unit");
        char err[512], why[256] = "";
        int r, need;

        if (!reply)
                return exec_step_end(x, st, false, "out of memory");
        r = helper_call_reply(x, PROTO_VERB_INSTALL_UNIT, reply, err, sizeof err);
        if (!exec_step_end(x, st, r == 0, r == 0 ? "ok" : "%s", err))
                return false;
        if (reply->changed == 0)
                need = 0, snprintf(why, sizeof why, "%s is unchanged", reply->unit_name);
        else if (ops->unit_needs_reload)
                need = ops->unit_needs_reload(ops->data, reply->unit_name, why, sizeof why);
        else
                need = 1;
        st = exec_step_begin(x, "daemon-reload");
        if (need == 0)
                return exec_step_end(x, st, true, "skipped: %s", why);
        r = exec_helper_call(x, PROTO_VERB_DAEMON_RELOAD, err, sizeof err);
        return exec_step_end(x, st, r == 0, r == 0 ? "ok%s%s" : "%s", r == 0 && why[0] ? ": " : "", r == 0 ? why : err);
}

int exec_helper_call(struct exec_run *x, enum proto_verb verb, char *err, size_t errlen) {
        _cleanup_(freep) struct helper_reply *reply = calloc(1, sizeof *reply);

        if (!reply)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        return helper_call_reply(x, verb, reply, err, errlen);
}

bool exec_helper_step(struct exec_run *x, const char *name, enum proto_verb verb) {
        struct exec_step *st = exec_step_begin(x, name);
        char err[512];
        int r = exec_helper_call(x, verb, err, sizeof err);

        return exec_step_end(x, st, r == 0, r == 0 ? "ok" : "%s", err);
}

struct gate_ctx exec_gate_ctx(const struct exec_run *x) {
        return (struct gate_ctx) { .d = x->req->lane, .uid = x->res->uid,
                                   .managed_label = plan_managed_label(x->req->pol) };
}

static enum gate_kind gate_kind(const struct exec_run *x) {
        switch (x->req->cmd) {
        case EXEC_REMOVE:
                return GATES_GONE;
        case EXEC_DRAIN:
                return x->res->left_draining ? GATES_DRAINING : GATES_DRAINED;
        case EXEC_REVOKE:
                return GATES_REVOKED;
        case EXEC_UNREVOKE:
                return GATES_NONE;
        case EXEC_APPLY:
        case EXEC_RESTART:
        case EXEC_UNDRAIN:
        case EXEC_ROTATE:
        case _EXEC_CMD_MAX:
        case _EXEC_CMD_INVALID:
                break;
        }
        return GATES_UP;
}

/* Evaluate the command's gates on the current observation. */
static bool gates_pass(struct exec_run *x) {
        const enum gate_id *ids;
        struct exec_result *res = x->res;
        struct gate_ctx c = exec_gate_ctx(x);
        bool all = true;

        res->n_gates = gate_set(gate_kind(x), &ids);
        for (size_t i = 0; i < res->n_gates; i++) {
                struct exec_gate *g = &res->gates[i];

                g->id = ids[i];
                g->verdict = gate_eval(g->id, &res->o, &c);
                gate_describe(g->id, g->verdict, &res->o, &c, g->detail, sizeof g->detail);
                all &= g->verdict == VERDICT_PASS;
        }
        return all;
}

/* What the gates wait on between observations: a watch where there is one
 * (WHY: what it watches, or why nothing), else nothing. */
static unsigned watch_start(struct exec_run *x, struct exec_watch **ret, char *why, size_t size) {
        const struct exec_ops *ops = x->ops;

        *ret = NULL;
        if (!ops->watch_start)
                return snprintf(why, size, "polled"), 0;
        return ops->watch_start(ops->data, x->req->lane, ret, why, size);
}

/* Wait before the next observation, at most until DEADLINE: 1 when woken
 * by an event (WHY: which). */
static int gates_wait(struct exec_run *x, struct exec_watch *w, unsigned watched, long long start, long long deadline,
                      char *why, size_t size) {
        const struct exec_ops *ops = x->ops;
        long long now = ops->now_ms(ops->data);
        long long ms = (watched & EXEC_WATCH_RUNNER) || now - start >= POLL_FAST_FOR_MS ? POLL_MS : POLL_FAST_MS;

        if (ms > deadline - now)
                ms = deadline - now > 0 ? deadline - now : 0;
        if (!w) {
                ops->sleep_ms(ops->data, ms);
                return 0;
        }
        return ops->watch_wait(ops->data, w, ms, why, size) > 0;
}

/* Observe until the gates pass or the deadline, again whenever the watch
 * wakes and between, polling; the first failing gate names the failure.
 * The step says how many observations it took and what woke the last. */
static bool gates(struct exec_run *x) {
        const struct exec_ops *ops = x->ops;
        const enum gate_id *ids;
        struct exec_watch *w = NULL;
        struct exec_step *st;
        char watching[EXEC_DETAIL_MAX / 2], woken[EXEC_DETAIL_MAX / 2] = "";
        unsigned watched, n = 0, wakes = 0;
        long long start, deadline;
        bool ok;

        if (gate_set(gate_kind(x), &ids) == 0)
                return true;   /* unrevoke: its step checked what it did */
        st = exec_step_begin(x, "gates");
        start = ops->now_ms(ops->data);
        deadline = start + (long long) x->req->timeout_s * 1000;
        watched = watch_start(x, &w, watching, sizeof watching);   /* before the first look: nothing is missed */

        for (;;) {
                exec_observe(x);
                n++;
                ok = gates_pass(x);
                if (ok || ops->now_ms(ops->data) >= deadline)
                        break;
                wakes += gates_wait(x, w, watched, start, deadline, woken, sizeof woken);
        }
        if (w)
                ops->watch_end(ops->data, w);
        x->res->gates_checked = true;
        if (!ok)
                for (size_t i = 0; i < x->res->n_gates; i++)
                        if (x->res->gates[i].verdict != VERDICT_PASS) {
                                const char *name = gate_id_to_string(x->res->gates[i].id);

                                exec_step_end(x, st, false, "%s: %s", name, x->res->gates[i].detail);
                                x->res->failed = name;
                                return false;
                        }
        if (n == 1)
                return exec_step_end(x, st, true, "all gates passed at the first observation");
        return exec_step_end(x, st, true, "all gates passed at observation %u (%u woken by an event%s%s; %s)", n, wakes,
                             *woken ? ", the last: " : "", woken, watching);
}

static bool perform(struct exec_run *x) {
        const struct observation *o = &x->res->o;

        switch (x->res->p.action) {
        case ACTION_CREATE:
                return exec_create(x);
        case ACTION_ADOPT:
                return exec_install_unit(x) && exec_helper_step(x, "enable-now", PROTO_VERB_ENABLE_NOW);
        case ACTION_RECONCILE:
                /* GitHub lists no runner for a lane that is configured here:
                 * its registration was deleted; the labels API cannot help,
                 * register it again. */
                if (o->github_known && o->n_runners == 0)
                        return exec_create(x);
                return exec_reconcile(x);
        case ACTION_RESTART:
                if (x->req->clear_actions || x->req->reset_work)
                        return exec_clear_actions(x);
                return exec_helper_step(x, "restart", PROTO_VERB_RESTART);
        case ACTION_NOOP:
                return true;   /* nothing to do: the gates say whether that is so */
        case ACTION_REMOVE:
                if (x->req->cmd == EXEC_REMOVE)
                        return exec_remove(x);
                break;
        case ACTION_DRAIN:
                return exec_drain(x);
        case ACTION_UNDRAIN:
                return exec_undrain(x);
        case ACTION_ROTATE:
                return exec_rotate(x);
        case ACTION_REVOKE:
                return exec_revoke(x);
        case ACTION_UNREVOKE:
                return exec_unrevoke(x);
        }
        return exec_step_end(x, exec_step_begin(x, "action"), false, "%s does not %s", cmd_names[x->req->cmd],
                             plan_action_to_string(x->res->p.action));
}

/* The job the lane's busy runner runs, into BUF (a repository lane's;
 * GitHub does not list an organisation's jobs in one place). */
void exec_busy_job(struct exec_run *x, char *buf, size_t size) {
        const struct observation *o = &x->res->o;
        const struct lane_desired *d = x->req->lane;
        char err[512];
        int r;

        if (o->n_runners != 1 || !o->runners[0].busy)
                return;
        if (!x->ops->github_data || !d->repository[0])
                r = -EOPNOTSUPP;
        else
                r = x->ops->github->runner_job(x->ops->github_data, d->repository, o->runners[0].id, buf, size, err,
                                               sizeof err);
        if (r < 0)
                snprintf(buf, size, "runner %lld is busy; the job %s", o->runners[0].id,
                         r == -ENOENT ? "is not listed among the repository's running jobs yet"
                         : r == -EOPNOTSUPP ? "cannot be named for an organisation's runner"
                                            : "could not be read from GitHub");
        else
                snprintf(buf + strlen(buf), size - strlen(buf), " runs on runner %lld", o->runners[0].id);
}

/* apply --smoke: the gates passed; the lane proved by a real job, or not
 * (it stays applied; the record says so). */
static void prove(struct exec_run *x) {
        const struct exec_ops *ops = x->ops;
        struct exec_result *res = x->res;
        long long start = ops->now_ms(ops->data), id = res->o.n_runners == 1 ? res->o.runners[0].id : 0;
        bool ok;

        ok = x->req->prove->run(x->req->prove->data, x->req->lane, id, &x->proof, res->proof_detail,
                                sizeof res->proof_detail);
        res->proof = ok ? PROOF_PROVEN : PROOF_NOT_PROVEN;
        res->proof_ms = ops->now_ms(ops->data) - start;
}

/* Write the record with STATUS; the outcome stays unless it cannot be
 * written (then nothing is claimed: EXEC_ERROR). */
static void record(struct exec_run *x, const char *status) {
        const struct exec_ops *ops = x->ops;
        struct exec_result *res = x->res;
        struct json_object *rec;
        char when[32];
        int r;

        proto_utc_iso(ops->wall_time(ops->data), when, sizeof when);
        res->duration_ms = ops->now_ms(ops->data) - res->started_ms;
        rec = exec_record(x->req, res, status, when);
        if (rec && res->proof != PROOF_NOT_ASKED) {
                json_object_object_add(rec, "proven", json_object_new_boolean(res->proof == PROOF_PROVEN));
                json_object_object_add(rec, "smoke", x->proof);
                x->proof = NULL;
        }
        r = rec ? ops->append_record(ops->data, rec, &res->seq) : -ENOMEM;
        json_object_put(rec);
        json_object_put(x->proof);   /* not taken when there was no record */
        x->proof = NULL;
        if (r < 0) {
                snprintf(res->error, sizeof res->error, "cannot write the audit record: %s%s", strerror(-r),
                         strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ?
                         "; the result is not recorded" : "");
                res->outcome = EXEC_ERROR;
        }
}

/* Lock, then the key: a key seen for this lane and command is the first
 * result again; for another, an error. */
static bool admit(struct exec_run *x, int *ret_lock) {
        const struct exec_ops *ops = x->ops;
        struct exec_result *res = x->res;
        const char *lane = x->req->lane->name, *cmd = cmd_names[x->req->cmd];
        int r;

        r = ops->lock(ops->data, lane, ret_lock);
        if (r == -EBUSY)
                return res->outcome = EXEC_BUSY, false;
        if (r < 0) {
                snprintf(res->error, sizeof res->error, "cannot lock the lane: %s", strerror(-r));
                return res->outcome = EXEC_ERROR, false;
        }
        r = ops->key_lookup(ops->data, x->req->key, lane, cmd, &res->prev);
        if (r == 0)
                return res->outcome = EXEC_REPEATED, false;
        if (r == -EEXIST)
                snprintf(res->error, sizeof res->error, "the idempotency key was used for another lane or command");
        else if (r != -ENOENT)
                snprintf(res->error, sizeof res->error, "cannot read the idempotency record: %s", strerror(-r));
        if (r != -ENOENT)
                return res->outcome = EXEC_ERROR, false;
        if (ops->user_uid(ops->data, x->req->lane->user, &res->uid) < 0) {
                snprintf(res->error, sizeof res->error, "no user %s on this host", x->req->lane->user);
                return res->outcome = EXEC_ERROR, false;
        }
        return true;
}

static void remember_key(struct exec_run *x) {
        struct idempotency_result k = { .exit_status = exec_exit_status(x->res), .audit_seq = x->res->seq };
        int r;

        snprintf(k.lane, sizeof k.lane, "%s", x->req->lane->name);
        snprintf(k.command, sizeof k.command, "%s", cmd_names[x->req->cmd]);
        snprintf(k.status, sizeof k.status, "%s", x->res->outcome == EXEC_COMPLETED ? "completed" : "failed");
        r = x->ops->key_record(x->ops->data, x->req->key, &k);
        if (r < 0 && r != -EEXIST)   /* the record exists: the key is only a shortcut to it */
                snprintf(x->res->error, sizeof x->res->error, "cannot record the idempotency key: %s", strerror(-r));
}

enum exec_outcome exec_lane(const struct exec_ops *ops, const struct exec_request *req, struct exec_result *res) {
        static const enum plan_intent intents[_EXEC_CMD_MAX] = {
                INTENT_APPLY, INTENT_RESTART, INTENT_REMOVE, INTENT_DRAIN,
                INTENT_UNDRAIN, INTENT_ROTATE, INTENT_REVOKE, INTENT_UNREVOKE,
        };
        struct exec_run x = { .ops = ops, .req = req, .res = res };
        _cleanup_(closep) int lock = -EBADF;
        struct plan_request preq = req->plan;

        memset(res, 0, sizeof *res);
        res->started_ms = ops->now_ms(ops->data);
        preq.intent = intents[req->cmd];
        preq.idle_only = req->clear_actions || req->reset_work;
        preq.credential_fp = req->credential_fp;
        if (req->dry_run) {
                /* a dry run needs no confirmation: it is not asked what was not asked for */
                preq.confirmed = true;
                preq.idempotency_key = "dry-run";
        } else if (!admit(&x, &lock))
                return res->outcome;
        exec_observe(&x);
        plan_lane(req->lane, &res->o, req->pol, &preq, &res->p);
        res->planned = true;
        /* a remove or rotate refused because the runner is busy says with which job */
        if ((req->dry_run || res->p.status == PLAN_BLOCKED) && (req->cmd == EXEC_REMOVE || req->cmd == EXEC_ROTATE))
                exec_busy_job(&x, res->busy_job, sizeof res->busy_job);
        ops->legacy_unit(ops->data, req->lane->name, res->legacy_unit, sizeof res->legacy_unit, &res->legacy_enabled);
        res->outcome = res->p.status == PLAN_BLOCKED ? EXEC_BLOCKED : EXEC_COMPLETED;
        if (req->dry_run || res->p.status == PLAN_BLOCKED) {
                /* Nothing was done: a plan, or refused; the key stays free
                 * for the same request once the blockers are resolved. */
                record(&x, req->dry_run ? "planned" : "refused");
                return res->outcome;
        }
        if (perform(&x) && gates(&x)) {
                if (req->cmd == EXEC_ROTATE)
                        (void) exec_rotated(&x);
                else if (req->cmd == EXEC_APPLY && req->prove)
                        prove(&x);
        }
        res->outcome = res->failed ? EXEC_FAILED : EXEC_COMPLETED;
        record(&x, res->failed ? "failed" : "completed");
        if (res->outcome == EXEC_ERROR)
                return res->outcome;   /* no record, no claim: the key stays free for the same request */
        remember_key(&x);
        return res->outcome;
}
