/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl status shown: an 80-column dashboard (colour only on a
 * terminal), or JSON (schema lanekeeper.status/1) for scripts. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "cli-status.h"
#include "proto-time.h"

enum tone { PLAIN, GOOD, WARN, BAD };

/* WORD, coloured by TONE when the view is. */
static const char *paint(const struct status_view *v, enum tone t, const char *word, char *buf, size_t size) {
        static const char *const esc[] = { "", "\033[32m", "\033[33m", "\033[31m" };

        if (!v->color || t == PLAIN)
                return word;
        snprintf(buf, size, "%s%s\033[0m", esc[t], word);
        return buf;
}

/* "3d04h", "2h05m", "5m12s", "9s". */
static void duration(long long s, char *buf, size_t size) {
        if (s < 0)
                s = 0;
        if (s >= 86400)
                snprintf(buf, size, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
        else if (s >= 3600)
                snprintf(buf, size, "%lldh%02lldm", s / 3600, s % 3600 / 60);
        else if (s >= 60)
                snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
        else
                snprintf(buf, size, "%llds", s);
}

static void bytes(unsigned long long b, char *buf, size_t size) {
        if (b >= 1ULL << 30)
                snprintf(buf, size, "%.1f GiB", (double) b / (double) (1ULL << 30));
        else if (b >= 1ULL << 20)
                snprintf(buf, size, "%.1f MiB", (double) b / (double) (1ULL << 20));
        else if (b >= 1024)
                snprintf(buf, size, "%.1f KiB", (double) b / 1024.0);
        else
                snprintf(buf, size, "%llu B", b);
}

/* The job lane L's runner runs, as "acme/site run 12 \"build\"". */
static bool lane_job(const struct health_snapshot *s, size_t l, char *buf, size_t size) {
        for (size_t k = 0; k < s->n_jobs; k++) {
                const struct hjob *j = &s->jobs[k];

                if (strcmp(j->status, "in_progress") || health_runner_lane(s, j) != (int) l)
                        continue;
                for (size_t r = 0; r < s->n_runs; r++)
                        if (s->runs[r].id == j->run_id)
                                return snprintf(buf, size, "%s run %lld \"%s\"", s->repos[s->runs[r].repo].name,
                                                j->run_id, j->name), true;
                return snprintf(buf, size, "run %lld \"%s\"", j->run_id, j->name), true;
        }
        return false;
}

static void print_lane(const struct status_view *v, size_t l) {
        const struct health_snapshot *s = &v->hc->snap;
        const struct hlane *ln = &s->lanes[l];
        const struct observation *o = &ln->o;
        const struct status_record *last = &v->lane_last[l];
        char unit[48], since[32] = "-", gh[64], job[160], p1[128], p2[96], cache[96], size[24], age[32];
        bool one = o->n_runners == 1, active = !strcmp(o->unit_active, "active");

        if (!o->unit_known)
                snprintf(unit, sizeof unit, "unknown");
        else if (!o->unit_exists)
                snprintf(unit, sizeof unit, "no unit");
        else
                snprintf(unit, sizeof unit, "%.20s/%.20s", o->unit_active, o->unit_sub);
        if (o->state_since_us)
                duration((long long) v->now - (long long) (o->state_since_us / 1000000), since, sizeof since);
        if (!o->github_known)
                snprintf(gh, sizeof gh, "unknown");
        else if (!one)
                snprintf(gh, sizeof gh, o->n_runners ? "%zu runners of its name" : "not registered", o->n_runners);
        else
                snprintf(gh, sizeof gh, "%s, %s", o->runners[0].online ? "online" : "offline",
                         o->runners[0].busy ? "busy" : "idle");
        printf("%-15.15s %-26s %8u %7s  %s\n", ln->d->name,
               paint(v, active ? GOOD : o->unit_exists ? BAD : WARN, unit, p1, sizeof p1), o->n_restarts, since,
               paint(v, !one ? WARN : o->runners[0].online ? GOOD : BAD, gh, p2, sizeof p2));
        if (one && o->runners[0].busy && lane_job(s, l, job, sizeof job))
                printf("%-15s job %.60s\n", "", job);
        printf("%-15s %s; %.40s/%.20s%s%s\n", "", health_lane_labels_drift(ln) ? "labels DIFFER from the file" :
               one ? "labels as desired" : "labels unknown", ln->d->root, ln->d->name,
               o->local_configured ? "" : " (not configured)", o->runner_version[0] ? "" : "");
        if (ln->have_cache) {
                bytes(ln->cache.bytes, size, sizeof size);
                duration(ln->cache.oldest ? (long long) (v->now - ln->cache.oldest) : 0, age, sizeof age);
                snprintf(cache, sizeof cache, "cache %llu entries, %s, oldest %s, %llu damaged", ln->cache.entries, size,
                         ln->cache.oldest ? age : "-", ln->cache.damaged);
        } else
                snprintf(cache, sizeof cache, "cache not measured yet (the unit measures it as it starts)");
        printf("%-15s %s\n", "", paint(v, ln->have_cache && ln->cache.damaged ? BAD : PLAIN, cache, p1, sizeof p1));
        if (last->seq)
                printf("%-15s last #%llu %.20s %.12s %.10s\n", "", (unsigned long long) last->seq, last->time,
                       last->command, last->status);
}

static void print_queue(const struct status_view *v) {
        struct health_labelset sets[32];
        size_t n = health_queue(&v->hc->snap, &v->hc->x.s->health, sets, 32);

        printf("\n%-40s %6s %8s %5s %7s %s\n", "QUEUE (label set)", "QUEUED", "OLDEST", "STALE", "ONLINE", "HERE");
        if (!n)
                printf("(no job waits)\n");
        for (size_t i = 0; i < n; i++) {
                char labels[256] = "", wait[32];

                for (size_t k = 0; k < sets[i].labels.n; k++)
                        snprintf(labels + strlen(labels), sizeof labels - strlen(labels), "%s%s", k ? "," : "",
                                 sets[i].labels.v[k]);
                duration((long long) (v->hc->snap.now - sets[i].oldest), wait, sizeof wait);
                printf("%-40.40s %6zu %8s %5zu %3zu/%-3zu %s\n", labels, sets[i].queued, wait, sets[i].stale,
                       sets[i].online_runners, sets[i].busy_runners, sets[i].served ? "yes" : "no");
        }
}

void status_print_text(const struct status_view *v) {
        const struct health_cmd *hc = v->hc;
        const struct health_snapshot *s = &hc->snap;
        static const char *const verdict[] = { "HEALTHY", "DEGRADED", "ERROR" };
        char t[32], p[48];

        proto_utc_iso(v->now, t, sizeof t);
        printf("lanekeeper status  host %.30s  %s  %s\n", hc->x.host, t,
               paint(v, v->exit_status == 0 ? GOOD : v->exit_status == 1 ? WARN : BAD, verdict[v->exit_status], p,
                     sizeof p));
        printf("github: ");
        if (s->have_offset)
                printf("clock %+lld s, ", s->clock_offset_s);
        if (s->have_rate)
                printf("rate limit %lld/%lld, ", s->rate_remaining, s->rate_limit);
        printf("%zu repositories, %zu active runs\naudit: %llu records, chain %s\n", s->n_repos, s->n_runs,
               (unsigned long long) v->audit.records, v->audit_intact ? "intact" : "BROKEN");
        for (size_t i = 0; i < s->n_repos; i++)
                if (!s->repos[i].known)
                        printf("error: %s: %.200s\n", s->repos[i].name, s->repos[i].problem);
        if (!s->runners_known)
                printf("error: runners: %.200s\n", s->runners_problem);
        printf("\n%-15s %-26s %8s %7s  %s\n", "LANE", "UNIT", "RESTARTS", "SINCE", "GITHUB");
        for (size_t l = 0; l < s->n_lanes; l++)
                if (v->shown[l])
                        print_lane(v, l);
        if (!s->n_lanes)
                printf("(no lane file names this host)\n");
        print_queue(v);
        printf("\nLAST SELF-HEAL\n");
        if (!v->n_heal)
                printf("(none recorded)\n");
        for (size_t i = 0; i < v->n_heal; i++)
                printf("#%-5llu %.20s %-10.10s %-17.17s %-9.9s %.40s\n", (unsigned long long) v->heal[i].seq,
                       v->heal[i].time, v->heal[i].check, v->heal[i].action, v->heal[i].status, v->heal[i].target);
        if (hc->plan.n_findings || hc->plan.n_actions)
                printf("\nNOW\n");
        for (size_t i = 0; i < hc->plan.n_actions; i++)
                printf("%-11s would %s: %.60s\n", health_check_to_string(hc->plan.actions[i].check),
                       health_verb_to_string(hc->plan.actions[i].verb), hc->plan.actions[i].reason);
        for (size_t i = 0; i < hc->plan.n_findings; i++)
                printf("%-11s %s%.*s\n", health_check_to_string(hc->plan.findings[i].check),
                       hc->plan.findings[i].degraded ? "DEGRADED " : "", hc->plan.findings[i].degraded ? 58 : 67,
                       hc->plan.findings[i].text);
}

/* ---- JSON ---- */

static void add_str(struct json_object *o, const char *k, const char *v) {
        json_object_object_add(o, k, json_object_new_string(v));
}

static void add_int(struct json_object *o, const char *k, long long v) {
        json_object_object_add(o, k, json_object_new_int64(v));
}

static struct json_object *record_json(const struct status_record *r) {
        struct json_object *o;

        if (!r->seq)
                return NULL;
        o = json_object_new_object();
        add_int(o, "seq", (long long) r->seq);
        add_str(o, "time", r->time);
        add_str(o, "command", r->command);
        add_str(o, "status", r->status);
        if (r->check[0])
                add_str(o, "check", r->check);
        if (r->action[0])
                add_str(o, "action", r->action);
        if (r->target[0])
                add_str(o, "target", r->target);
        if (r->detail[0])
                add_str(o, "detail", r->detail);
        return o;
}

static struct json_object *lane_json(const struct status_view *v, size_t l) {
        const struct hlane *ln = &v->hc->snap.lanes[l];
        const struct observation *o = &ln->o;
        struct json_object *j = json_object_new_object(), *u = json_object_new_object(), *g = json_object_new_object();
        struct json_object *d = json_object_new_object(), *c = NULL;
        char job[160], path[PROTO_PATH_MAX + PROTO_LANE_NAME_MAX + 2];
        bool one = o->n_runners == 1;

        add_str(j, "name", ln->d->name);
        json_object_object_add(u, "known", json_object_new_boolean(o->unit_known));
        json_object_object_add(u, "exists", json_object_new_boolean(o->unit_exists));
        add_str(u, "name", o->unit_name);
        add_str(u, "active", o->unit_active);
        add_str(u, "sub", o->unit_sub);
        add_int(u, "restarts", o->n_restarts);
        add_int(u, "since", (long long) (o->state_since_us / 1000000));
        json_object_object_add(j, "unit", u);
        json_object_object_add(g, "known", json_object_new_boolean(o->github_known));
        add_int(g, "runners", (long long) o->n_runners);
        if (one) {
                add_int(g, "runner_id", o->runners[0].id);
                json_object_object_add(g, "online", json_object_new_boolean(o->runners[0].online));
                json_object_object_add(g, "busy", json_object_new_boolean(o->runners[0].busy));
                if (o->runners[0].busy && lane_job(&v->hc->snap, l, job, sizeof job))
                        add_str(g, "job", job);
        }
        json_object_object_add(g, "labels_drift", json_object_new_boolean(health_lane_labels_drift(ln)));
        json_object_object_add(j, "github", g);
        snprintf(path, sizeof path, "%s/%s", ln->d->root, ln->d->name);
        add_str(d, "path", path);
        json_object_object_add(d, "exists", json_object_new_boolean(o->local_exists));
        json_object_object_add(d, "configured", json_object_new_boolean(o->local_configured));
        add_str(d, "runner_version", o->runner_version);
        json_object_object_add(j, "directory", d);
        if (ln->have_cache) {
                c = json_object_new_object();
                add_int(c, "entries", (long long) ln->cache.entries);
                add_int(c, "bytes", (long long) ln->cache.bytes);
                add_int(c, "damaged", (long long) ln->cache.damaged);
                add_int(c, "oldest", ln->cache.oldest);
                add_int(c, "measured", ln->cache.measured);
        }
        json_object_object_add(j, "actions_cache", c);
        json_object_object_add(j, "last_audit", record_json(&v->lane_last[l]));
        return j;
}

void status_print_json(const struct status_view *v) {
        static const char *const verdict[] = { "healthy", "degraded", "error" };
        const struct health_snapshot *s = &v->hc->snap;
        struct json_object *doc = json_object_new_object(), *lanes = json_object_new_array();
        struct json_object *heal = json_object_new_array(), *a = json_object_new_object();
        char t[32];

        add_str(doc, "schema", "lanekeeper.status/1");
        add_str(doc, "host", v->hc->x.host);
        proto_utc_iso(v->now, t, sizeof t);
        add_str(doc, "time", t);
        add_str(doc, "status", verdict[v->exit_status]);
        if (s->have_offset)
                add_int(doc, "clock_offset_s", s->clock_offset_s);
        if (s->have_rate)
                add_int(doc, "rate_limit_remaining", s->rate_remaining);
        for (size_t l = 0; l < s->n_lanes; l++)
                if (v->shown[l])
                        json_object_array_add(lanes, lane_json(v, l));
        json_object_object_add(doc, "lanes", lanes);
        json_object_object_add(doc, "queue", cli_health_queue_json(v->hc));
        for (size_t i = 0; i < v->n_heal; i++)
                json_object_array_add(heal, record_json(&v->heal[i]));
        json_object_object_add(doc, "last_heal", heal);
        add_int(a, "records", (long long) v->audit.records);
        json_object_object_add(a, "intact", json_object_new_boolean(v->audit_intact));
        json_object_object_add(doc, "audit", a);
        json_object_object_add(doc, "findings", cli_health_findings_json(v->hc));
        printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
}
