/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "gh-client.h"
#include "macro.h"
#include "proto-time.h"
#include "stale.h"

static const char *const verdicts[_STALE_VERDICT_MAX] = { "delete", "unmanaged", "other_host", "has_lane", "online",
                                                         "busy", "too_recent" };
static const char *const results[] = { "none", "deleted", "failed", "skipped" };

const char *stale_verdict_to_string(enum stale_verdict v) {
        return v >= 0 && v < _STALE_VERDICT_MAX ? verdicts[v] : NULL;
}

const char *stale_result_to_string(enum stale_result r) {
        return r >= 0 && r < (int) ELEMENTSOF(results) ? results[r] : NULL;
}

static bool has_label(const struct gh_runner *r, const char *label) {
        for (size_t i = 0; label && i < r->n_labels; i++)
                if (strcasecmp(r->labels[i], label) == 0)
                        return true;
        return false;
}

static void verdict(struct stale_runner *r, enum stale_verdict v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void verdict(struct stale_runner *r, enum stale_verdict v, const char *fmt, ...) {
        va_list ap;

        r->verdict = v;
        va_start(ap, fmt);
        vsnprintf(r->why, sizeof r->why, fmt, ap);
        va_end(ap);
}

void stale_classify(struct stale_runner *r, const struct stale_rules *rules) {
        long long age = r->offline_since && rules->now > r->offline_since ? (long long) (rules->now - r->offline_since) : 0;

        if (!has_label(&r->r, rules->managed_label))
                return verdict(r, STALE_KEEP_UNMANAGED, "no '%s' label: not lanekeeper's, never touched",
                               rules->managed_label);
        for (size_t i = 0; i < rules->n_lanes; i++)
                if (strcasecmp(rules->lanes[i], r->r.name) == 0)
                        return verdict(r, STALE_KEEP_LANE, "lane '%s' of this host has this name", rules->lanes[i]);
        if (!rules->host_label || !has_label(&r->r, rules->host_label))
                return verdict(r, STALE_KEEP_OTHER_HOST, "no '%s' label: another host's", rules->host_label ?: "(no host)");
        if (r->r.online)
                return verdict(r, STALE_KEEP_ONLINE, "online");
        if (r->r.busy)
                return verdict(r, STALE_KEEP_BUSY, "busy running a job");
        if (age < (long long) rules->older_than_s)
                return verdict(r, STALE_KEEP_RECENT, "offline %llds by lanekeeper's sightings, under the limit of %us",
                               age, rules->older_than_s);
        verdict(r, STALE_DELETE, "offline %llds (limit %us), managed, this host's, no lane", age, rules->older_than_s);
}

static void add_str(struct json_object *o, const char *k, const char *v) {
        json_object_object_add(o, k, json_object_new_string(v));
}

static void record(const struct stale_env *env, struct stale_runner *r, const char *status) {
        struct json_object *rec = json_object_new_object(), *labels = json_object_new_array();
        char now[32];
        uint64_t seq;

        proto_utc_iso(time(NULL), now, sizeof now);
        add_str(rec, "status", status);
        add_str(rec, "time", now);
        add_str(rec, "host", env->host);
        add_str(rec, "command", "cleanup-stale");
        add_str(rec, "run", env->run);
        add_str(rec, "scope", r->scope);
        json_object_object_add(rec, "runner_id", json_object_new_int64(r->r.id));
        add_str(rec, "runner", r->r.name);
        for (size_t i = 0; i < r->r.n_labels; i++)
                json_object_array_add(labels, json_object_new_string(r->r.labels[i]));
        json_object_object_add(rec, "labels", labels);
        proto_utc_iso(r->offline_since, now, sizeof now);
        add_str(rec, "offline_since", now);
        add_str(rec, "reason", r->why);
        if (r->detail[0])
                add_str(rec, "detail", r->detail);
        if (audit_append(env->store, rec, &seq) < 0) {
                snprintf(r->detail + strlen(r->detail), sizeof r->detail - strlen(r->detail),
                         "%s(the audit record could not be written)", r->detail[0] ? " " : "");
                seq = 0;
        }
        r->seq = seq;
        json_object_put(rec);
}

static void done(const struct stale_env *env, struct stale_runner *r, enum stale_result res, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void done(const struct stale_env *env, struct stale_runner *r, enum stale_result res, const char *fmt, ...) {
        va_list ap;

        r->result = res;
        va_start(ap, fmt);
        vsnprintf(r->detail, sizeof r->detail, fmt, ap);
        va_end(ap);
        record(env, r, res == STALE_DELETED ? "completed" : res == STALE_SKIPPED ? "skipped" : "failed");
}

/* The gate: GitHub answers 404 for the runner. */
static bool gone(const struct stale_env *env, const struct stale_runner *r, char *err, size_t errlen) {
        long long deadline = proto_now_ms() + env->gone_wait_ms;
        struct gh_runner again;

        for (;;) {
                int q = gh_runner_get(env->gh, r->scope, r->r.id, &again, err, errlen);

                if (q == -ENOENT)
                        return true;
                if (q == 0)
                        snprintf(err, errlen, "GitHub still lists runner %lld", r->r.id);
                if (proto_now_ms() >= deadline)
                        return false;
                proto_sleep_ms(500);
        }
}

void stale_delete(const struct stale_env *env, const struct stale_rules *rules, struct stale_runner *r) {
        struct stale_runner now = *r;
        char err[512];
        int q;

        record(env, r, "planned");
        /* re-read: it may have come back, started a job or changed labels since the listing */
        q = gh_runner_get(env->gh, r->scope, r->r.id, &now.r, err, sizeof err);
        if (q == -ENOENT)
                return done(env, r, STALE_SKIPPED, "nothing done: GitHub no longer lists runner %lld", r->r.id);
        if (q < 0)
                return done(env, r, STALE_FAILED, "re-reading runner %lld: %s", r->r.id, err);
        stale_classify(&now, rules);
        if (now.verdict != STALE_DELETE)
                return done(env, r, STALE_SKIPPED, "nothing done: now %s (%s)", stale_verdict_to_string(now.verdict),
                            now.why);
        q = gh_runner_delete(env->gh, r->scope, r->r.id, err, sizeof err);
        if (q < 0 && q != -ENOENT)
                return done(env, r, STALE_FAILED, "deleting runner %lld: %s", r->r.id, err);
        if (!gone(env, r, err, sizeof err))
                return done(env, r, STALE_FAILED, "gate runner_gone: %s", err);
        done(env, r, STALE_DELETED, "runner %lld deleted; gate runner_gone passed", r->r.id);
}
