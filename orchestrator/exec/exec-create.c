/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* create, reconcile and registering again: what puts a runner on GitHub. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "gh-api.h"
#include "macro.h"
#include "proto-register.h"

static bool unit_running(const struct observation *o) {
        return o->unit_exists && (strcmp(o->unit_active, "active") == 0 || strcmp(o->unit_active, "activating") == 0 ||
                                  strcmp(o->unit_active, "reloading") == 0);
}

/* A registration token, into REG with the lane's registration details. */
static bool fetch_registration(struct exec_run *x, struct proto_register *reg) {
        const struct exec_ops *ops = x->ops;
        const struct lane_desired *d = x->req->lane;
        struct exec_step *st = exec_step_begin(x, "token");
        _cleanup_(freep) char *token = NULL;
        size_t token_len = 0;
        char scope[160], err[512];
        int r;

        if (!ops->github_data)
                return exec_step_end(x, st, false, "no GitHub client: %s", ops->github_problem);
        lane_scope(d, scope, sizeof scope);
        r = ops->github->registration_token(ops->github_data, scope, &token, &token_len, err, sizeof err);
        if (!exec_step_end(x, st, r == 0, r == 0 ? "registration token for %s" : "%s", r == 0 ? scope : err))
                return false;
        *reg = (struct proto_register) {};
        snprintf(reg->url, sizeof reg->url, "%s", x->req->web_url);
        snprintf(reg->name, sizeof reg->name, "%s", d->name);
        label_list(d->labels, d->n_labels, reg->labels, sizeof reg->labels);
        snprintf(reg->group, sizeof reg->group, "%s", d->group);
        if (token_len >= sizeof reg->token) {
                explicit_bzero(token, token_len);
                return exec_step_end(x, exec_step_begin(x, "offer"), false,
                                     "the registration token is longer than %zu bytes", sizeof reg->token - 1);
        }
        memcpy(reg->token, token, token_len + 1);
        explicit_bzero(token, token_len);
        return true;
}

/* create: a registration token, offered to the lane's own unit, which the
 * helper installs and starts; its ExecStartPre= takes the offer as it
 * starts. */
bool exec_create(struct exec_run *x) {
        const struct exec_ops *ops = x->ops;
        _cleanup_(freep) struct proto_register *reg = calloc(1, sizeof *reg);
        struct exec_offer *offer = NULL;
        struct exec_step *st;
        char err[512];
        bool ok, taken, running = unit_running(&x->res->o);
        int r;

        if (!reg)
                return exec_step_end(x, exec_step_begin(x, "token"), false, "out of memory");
        if (!fetch_registration(x, reg)) {
                explicit_bzero(reg, sizeof *reg);
                return false;
        }
        st = exec_step_begin(x, "offer");
        r = ops->offer_start(ops->data, x->req->lane, x->res->uid, reg, &offer, err, sizeof err);
        explicit_bzero(reg, sizeof *reg);   /* the offer's server holds the only copy */
        if (!exec_step_end(x, st, r == 0, "%s", err))
                return false;
        /* A running unit (re-registering a lane whose registration GitHub
         * deleted) takes the offer only when it starts again. */
        ok = exec_install_unit(x) &&
             (running ? exec_helper_step(x, "restart", PROTO_VERB_RESTART)
                      : exec_helper_step(x, "enable-now", PROTO_VERB_ENABLE_NOW));
        st = exec_step_begin(x, "config.sh");
        taken = ops->offer_end(ops->data, offer, !ok, err, sizeof err);   /* a step failed: nothing will ask */
        if (!ok) {
                x->res->n_steps--;   /* the helper step that failed is the failure */
                return false;
        }
        return exec_step_end(x, st, taken, taken ? "registration handed to %s's unit" : "%s",
                             taken ? x->req->lane->name : err[0] ? err : "the offer's server died");
}

/* Labels the labels API could not make exact: GitHub's read-only labels
 * (self-hosted, the OS, the architecture config.sh added without
 * --no-default-labels) stay whatever one sets. Only a new registration
 * changes them: take the runner down and off GitHub, then register it
 * as for a create (lanekeeper-register forgets the stale .runner). */
static bool reregister(struct exec_run *x) {
        const struct observation *o = &x->res->o;

        if (o->n_runners == 1 && o->runners[0].busy)
                /* never under a running job: the gates then say the labels
                 * are wrong, and a later apply registers it again */
                return exec_step_end(x, exec_step_begin(x, "reregister"), true, "deferred: runner %lld is busy; "
                                     "registering it again waits for its job to end", o->runners[0].id);
        return exec_take_down(x, o->unit_exists && o->unit_managed, false) && exec_create(x);
}

bool exec_reconcile(struct exec_run *x) {
        const struct exec_ops *ops = x->ops;
        const struct lane_desired *d = x->req->lane;
        const struct observation *o = &x->res->o;
        const char *labels[LANE_MAX_LABELS];
        _cleanup_(freep) struct gh_runner *got = calloc(1, sizeof *got);
        struct exec_step *st = exec_step_begin(x, "labels");
        char scope[160], err[512], have[200];
        int r;

        if (!got)
                return exec_step_end(x, st, false, "out of memory");
        if (!ops->github_data || o->n_runners != 1)
                return exec_step_end(x, st, false, "%s", !ops->github_data ? ops->github_problem
                                                                          : "no single GitHub runner to set labels on");
        for (size_t i = 0; i < d->n_labels; i++)
                labels[i] = d->labels[i];
        lane_scope(d, scope, sizeof scope);
        r = ops->github->set_labels(ops->github_data, scope, o->runners[0].id, labels, d->n_labels, got, err, sizeof err);
        if (r < 0)
                return exec_step_end(x, st, false, "%s", err);
        if (!labels_exact(d, got->labels, got->n_labels)) {
                label_list(got->labels, got->n_labels, have, sizeof have);
                exec_step_end(x, st, true, "runner %lld keeps labels %s that the labels API cannot remove: registering "
                              "it again", o->runners[0].id, have);
                return reregister(x);
        }
        exec_step_end(x, st, true, "labels set on runner %lld", o->runners[0].id);
        if (o->unit_exists && strcmp(o->unit_active, "active") != 0)
                return exec_helper_step(x, "enable-now", PROTO_VERB_ENABLE_NOW);
        return true;
}
