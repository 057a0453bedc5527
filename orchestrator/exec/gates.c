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
};

const char *gate_id_to_string(enum gate_id g) {
        return g >= 0 && g < _GATE_ID_MAX ? gate_names[g] : NULL;
}

const char *gate_verdict_to_string(enum gate_verdict v) {
        return v >= 0 && v < _VERDICT_MAX ? verdict_names[v] : NULL;
}

size_t gate_set(bool remove, const enum gate_id **ret) {
        static const enum gate_id apply_gates[] = { GATE_UNIT_ACTIVE, GATE_GITHUB_ONLINE, GATE_BASELINE_READY };
        static const enum gate_id remove_gates[] = { GATE_UNIT_REMOVED, GATE_GITHUB_DEREGISTERED };

        *ret = remove ? remove_gates : apply_gates;
        return remove ? ELEMENTSOF(remove_gates) : ELEMENTSOF(apply_gates);
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

enum gate_verdict gate_eval(enum gate_id g, const struct observation *o, const struct lane_desired *d, uid_t uid) {
        switch (g) {
        case GATE_UNIT_ACTIVE:
                return unit_active(o, uid);
        case GATE_GITHUB_ONLINE:
                return github_online(o, d);
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

void gate_describe(enum gate_id g, enum gate_verdict v, const struct observation *o, const struct lane_desired *d,
                   uid_t uid, char *buf, size_t size) {
        const struct obs_runner *r = &o->runners[0];
        char have[1024];

        switch (v) {
        case VERDICT_PASS:
                if (g == GATE_UNIT_ACTIVE)
                        snprintf(buf, size, "%s active (running), enabled, main process %u as %s", o->unit_name,
                                 o->main_pid, d->user);
                else if (g == GATE_GITHUB_ONLINE)
                        snprintf(buf, size, "runner %lld online with exactly the desired labels", r->id);
                else if (g == GATE_BASELINE_READY)
                        describe_baseline(o, v, buf, size);
                else if (g == GATE_UNIT_REMOVED)
                        snprintf(buf, size, "no unit for the lane");
                else
                        snprintf(buf, size, "GitHub lists no runner named %s", d->name);
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
        case _VERDICT_MAX:
        case _VERDICT_INVALID:
                break;
        }
        snprintf(buf, size, "no verdict");
}
