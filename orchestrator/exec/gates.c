/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gates.h"
#include "macro.h"

static const char *const gate_names[_GATE_ID_MAX] = {
        [GATE_UNIT_ACTIVE] = "unit_active",
        [GATE_GITHUB_ONLINE] = "github_online",
        [GATE_BASELINE_READY] = "baseline_ready",
        [GATE_UNIT_REMOVED] = "unit_removed",
        [GATE_GITHUB_DEREGISTERED] = "github_deregistered",
        [GATE_UNIT_STOPPED] = "unit_stopped",
        [GATE_GITHUB_UNROUTED] = "github_unrouted",
        [GATE_CREDENTIALS_GONE] = "credentials_gone",
};

static const char *const verdict_names[_VERDICT_MAX] = {
        [VERDICT_PASS] = "pass",
        [VERDICT_SYSTEMD_UNREADABLE] = "systemd_unreadable",
        [VERDICT_NO_MANAGED_UNIT] = "no_managed_unit",
        [VERDICT_UNIT_NOT_RUNNING] = "unit_not_running",
        [VERDICT_UNIT_NOT_ENABLED] = "unit_not_enabled",
        [VERDICT_WRONG_USER] = "wrong_user",
        [VERDICT_GITHUB_UNREADABLE] = "github_unreadable",
        [VERDICT_RUNNER_COUNT] = "runner_count",
        [VERDICT_RUNNER_OFFLINE] = "runner_offline",
        [VERDICT_LABELS_DIFFER] = "labels_differ",
        [VERDICT_BASELINE_NOT_READY] = "baseline_not_ready",
        [VERDICT_UNIT_STILL_THERE] = "unit_still_there",
        [VERDICT_STILL_LISTED] = "still_listed",
        [VERDICT_UNIT_RUNNING] = "unit_running",
        [VERDICT_STILL_ROUTED] = "still_routed",
        [VERDICT_DIRECTORY_UNREADABLE] = "directory_unreadable",
        [VERDICT_CREDENTIALS_LEFT] = "credentials_left",
};

const char *gate_id_to_string(enum gate_id g) {
        return g >= 0 && g < _GATE_ID_MAX ? gate_names[g] : NULL;
}

const char *gate_verdict_to_string(enum gate_verdict v) {
        return v >= 0 && v < _VERDICT_MAX ? verdict_names[v] : NULL;
}

size_t gate_set(enum gate_kind k, const enum gate_id **ret) {
        static const enum gate_id up[] = { GATE_UNIT_ACTIVE, GATE_GITHUB_ONLINE, GATE_BASELINE_READY };
        static const enum gate_id gone[] = { GATE_UNIT_REMOVED, GATE_GITHUB_DEREGISTERED };
        static const enum gate_id drained[] = { GATE_UNIT_STOPPED, GATE_GITHUB_UNROUTED };
        static const enum gate_id draining[] = { GATE_GITHUB_UNROUTED };
        static const enum gate_id revoked[] = { GATE_UNIT_REMOVED, GATE_CREDENTIALS_GONE, GATE_GITHUB_DEREGISTERED };
        static const struct {
                const enum gate_id *ids;
                size_t n;
        } sets[] = {
                [GATES_UP] = { up, ELEMENTSOF(up) },
                [GATES_GONE] = { gone, ELEMENTSOF(gone) },
                [GATES_DRAINED] = { drained, ELEMENTSOF(drained) },
                [GATES_DRAINING] = { draining, ELEMENTSOF(draining) },
                [GATES_REVOKED] = { revoked, ELEMENTSOF(revoked) },
                [GATES_NONE] = { NULL, 0 },
        };

        if ((unsigned) k >= ELEMENTSOF(sets))
                k = GATES_NONE;
        *ret = sets[k].ids;
        return sets[k].n;
}

bool gate_routing_label(const struct gate_ctx *c, const char *label) {
        static const char *const defaults[] = { "self-hosted", "linux", "windows", "macos", "x64", "x86", "arm", "arm64" };

        if (strcasecmp(label, c->managed_label ? c->managed_label : LANE_MANAGED_LABEL) == 0)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++)
                if (strcasecmp(label, defaults[i]) == 0)
                        return false;
        return true;
}

bool labels_exact(const struct lane_desired *d, const char (*labels)[PROTO_LABEL_MAX + 1], size_t n) {
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

void label_list(const char (*labels)[PROTO_LABEL_MAX + 1], size_t n, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n && len < size; i++)
                len += (size_t) snprintf(buf + len, size - len, "%s%s", i ? "," : "", labels[i]);
}

static enum gate_verdict unit_active(const struct observation *o, uid_t uid) {
        if (!o->unit_known)
                return VERDICT_SYSTEMD_UNREADABLE;
        if (!o->unit_exists || !o->unit_managed)
                return VERDICT_NO_MANAGED_UNIT;
        if (strcmp(o->unit_active, "active") != 0 || strcmp(o->unit_sub, "running") != 0)
                return VERDICT_UNIT_NOT_RUNNING;
        if (strcmp(o->unit_file_state, "enabled") != 0)
                return VERDICT_UNIT_NOT_ENABLED;
        if (o->main_uid != (long long) uid)
                return VERDICT_WRONG_USER;
        return VERDICT_PASS;
}

static enum gate_verdict github_online(const struct observation *o, const struct lane_desired *d) {
        if (!o->github_known)
                return VERDICT_GITHUB_UNREADABLE;
        if (o->n_runners != 1)
                return VERDICT_RUNNER_COUNT;
        if (!o->runners[0].online)
                return VERDICT_RUNNER_OFFLINE;
        if (!labels_exact(d, o->runners[0].labels, o->runners[0].n_labels))
                return VERDICT_LABELS_DIFFER;
        return VERDICT_PASS;
}

static enum gate_verdict unit_stopped(const struct observation *o) {
        if (!o->unit_known)
                return VERDICT_SYSTEMD_UNREADABLE;
        if (!o->unit_exists || !o->unit_managed)
                return VERDICT_NO_MANAGED_UNIT;
        if (strcmp(o->unit_active, "inactive") != 0 && strcmp(o->unit_active, "failed") != 0)
                return VERDICT_UNIT_RUNNING;
        return VERDICT_PASS;
}

static enum gate_verdict github_unrouted(const struct observation *o, const struct gate_ctx *c) {
        if (!o->github_known)
                return VERDICT_GITHUB_UNREADABLE;
        if (o->n_runners > 1)
                return VERDICT_RUNNER_COUNT;
        if (o->n_runners == 0)
                return VERDICT_PASS;
        for (size_t i = 0; i < o->runners[0].n_labels; i++)
                if (gate_routing_label(c, o->runners[0].labels[i]))
                        return VERDICT_STILL_ROUTED;
        return VERDICT_PASS;
}

static enum gate_verdict credentials_gone(const struct observation *o) {
        if (!o->local_known)
                return VERDICT_DIRECTORY_UNREADABLE;
        return o->local_configured || o->local_credentials || o->local_rsaparams ? VERDICT_CREDENTIALS_LEFT : VERDICT_PASS;
}

enum gate_verdict gate_eval(enum gate_id g, const struct observation *o, const struct gate_ctx *c) {
        switch (g) {
        case GATE_UNIT_ACTIVE:
                return unit_active(o, c->uid);
        case GATE_GITHUB_ONLINE:
                return github_online(o, c->d);
        case GATE_UNIT_STOPPED:
                return unit_stopped(o);
        case GATE_GITHUB_UNROUTED:
                return github_unrouted(o, c);
        case GATE_CREDENTIALS_GONE:
                return credentials_gone(o);
        case GATE_BASELINE_READY:
                return o->baseline == BASELINE_READY ? VERDICT_PASS : VERDICT_BASELINE_NOT_READY;
        case GATE_UNIT_REMOVED:
                return !o->unit_known ? VERDICT_SYSTEMD_UNREADABLE : o->unit_exists ? VERDICT_UNIT_STILL_THERE : VERDICT_PASS;
        case GATE_GITHUB_DEREGISTERED:
                return !o->github_known ? VERDICT_GITHUB_UNREADABLE : o->n_runners ? VERDICT_STILL_LISTED : VERDICT_PASS;
        case _GATE_ID_MAX:
        case _GATE_ID_INVALID:
                break;
        }
        return _VERDICT_INVALID;
}

static void describe_baseline(const struct observation *o, enum gate_verdict v, char *buf, size_t size) {
        size_t len;

        if (v == VERDICT_PASS) {
                snprintf(buf, size, "%zu checks ready", o->n_checks);
                return;
        }
        len = (size_t) snprintf(buf, size, "%s:", baseline_state_to_string(o->baseline));
        for (size_t i = 0; i < o->n_checks && len < size; i++)
                if (o->checks[i].state != BASELINE_READY)
                        len += (size_t) snprintf(buf + len, size - len, " %s (%s)", o->checks[i].name, o->checks[i].detail);
}

static void describe_pass(enum gate_id g, const struct observation *o, const struct gate_ctx *c, char *buf,
                          size_t size) {
        const struct obs_runner *r = &o->runners[0];

        switch (g) {
        case GATE_UNIT_ACTIVE:
                snprintf(buf, size, "%s active (running), enabled, main process %u as %s", o->unit_name, o->main_pid,
                         c->d->user);
                return;
        case GATE_GITHUB_ONLINE:
                snprintf(buf, size, "runner %lld online with exactly the desired labels", r->id);
                return;
        case GATE_BASELINE_READY:
                describe_baseline(o, VERDICT_PASS, buf, size);
                return;
        case GATE_UNIT_REMOVED:
                snprintf(buf, size, "no unit for the lane");
                return;
        case GATE_UNIT_STOPPED:
                snprintf(buf, size, "%s is %s: no runner, no job", o->unit_name, o->unit_active);
                return;
        case GATE_GITHUB_UNROUTED:
                if (o->n_runners == 0)
                        snprintf(buf, size, "GitHub lists no runner named %s", c->d->name);
                else
                        snprintf(buf, size, "runner %lld has none of the lane's routing labels left", r->id);
                return;
        case GATE_CREDENTIALS_GONE:
                snprintf(buf, size, "no .runner, .credentials or .credentials_rsaparams in %s/%s", c->d->root, c->d->name);
                return;
        case GATE_GITHUB_DEREGISTERED:
        case _GATE_ID_MAX:
        case _GATE_ID_INVALID:
                break;
        }
        snprintf(buf, size, "GitHub lists no runner named %s", c->d->name);
}

void gate_describe(enum gate_id g, enum gate_verdict v, const struct observation *o, const struct gate_ctx *c,
                   char *buf, size_t size) {
        const struct obs_runner *r = &o->runners[0];
        const struct lane_desired *d = c->d;
        uid_t uid = c->uid;
        char have[1024];

        switch (v) {
        case VERDICT_PASS:
                describe_pass(g, o, c, buf, size);
                return;
        case VERDICT_SYSTEMD_UNREADABLE:
                snprintf(buf, size, "systemd could not be read: %s", o->unit_detail);
                return;
        case VERDICT_NO_MANAGED_UNIT:
                snprintf(buf, size, "no lanekeeper unit for the lane");
                return;
        case VERDICT_UNIT_NOT_RUNNING:
                snprintf(buf, size, "%s is %s (%s)", o->unit_name, o->unit_active, o->unit_sub);
                return;
        case VERDICT_UNIT_NOT_ENABLED:
                snprintf(buf, size, "%s is %s, not enabled", o->unit_name, o->unit_file_state);
                return;
        case VERDICT_WRONG_USER:
                snprintf(buf, size, "main process %u runs as uid %lld, not %s (%u)", o->main_pid, o->main_uid, d->user,
                         (unsigned) uid);
                return;
        case VERDICT_GITHUB_UNREADABLE:
                snprintf(buf, size, "GitHub could not be read: %s", o->github_detail);
                return;
        case VERDICT_RUNNER_COUNT:
                snprintf(buf, size, "%zu runners named %s", o->n_runners, d->name);
                return;
        case VERDICT_RUNNER_OFFLINE:
                snprintf(buf, size, "runner %lld is offline", r->id);
                return;
        case VERDICT_LABELS_DIFFER:
                label_list(r->labels, r->n_labels, have, sizeof have);
                snprintf(buf, size, "runner %lld has labels %.200s", r->id, have);
                return;
        case VERDICT_BASELINE_NOT_READY:
                describe_baseline(o, v, buf, size);
                return;
        case VERDICT_UNIT_STILL_THERE:
                snprintf(buf, size, "%s is still there (%s, %s)", o->unit_name, o->unit_load, o->unit_active);
                return;
        case VERDICT_STILL_LISTED:
                snprintf(buf, size, "GitHub still lists runner %lld (%s)", r->id, r->online ? "online" : "offline");
                return;
        case VERDICT_UNIT_RUNNING:
                snprintf(buf, size, "%s is %s (%s)", o->unit_name, o->unit_active, o->unit_sub);
                return;
        case VERDICT_STILL_ROUTED:
                label_list(r->labels, r->n_labels, have, sizeof have);
                snprintf(buf, size, "runner %lld still has routing labels: %.200s", r->id, have);
                return;
        case VERDICT_DIRECTORY_UNREADABLE:
                snprintf(buf, size, "the runner directory could not be read: %s", o->local_detail);
                return;
        case VERDICT_CREDENTIALS_LEFT:
                snprintf(buf, size, "%s/%s still holds%s%s%s", d->root, d->name, o->local_configured ? " .runner" : "",
                         o->local_credentials ? " .credentials" : "", o->local_rsaparams ? " .credentials_rsaparams" : "");
                return;
        case _VERDICT_MAX:
        case _VERDICT_INVALID:
                break;
        }
        snprintf(buf, size, "no verdict");
}
