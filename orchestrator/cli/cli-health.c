/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A health cycle as JSON: the snapshot's summary, the queue per label set,
 * every action with its result and record, every finding. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cli-health.h"
#include "health-metrics.h"
#include "store-file.h"
#include "macro.h"

static void add_str(struct json_object *o, const char *key, const char *v) {
        json_object_object_add(o, key, json_object_new_string(v));
}

static struct json_object *labels_json(const struct hlabels *l) {
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < l->n; i++)
                json_object_array_add(a, json_object_new_string(l->v[i]));
        return a;
}

const struct option cli_health_read_options[] = {
        { "output", required_argument, NULL, 'o' },
        { "policy", required_argument, NULL, 'p' },
        { "lanes-dir", required_argument, NULL, 'd' },
        {}
};

struct json_object *cli_health_queue_json(const struct health_cmd *hc) {
        struct health_labelset sets[64];
        size_t n = health_queue(&hc->snap, &hc->x.s->health, sets, 64);
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_new_object();

                json_object_object_add(o, "labels", labels_json(&sets[i].labels));
                json_object_object_add(o, "queued", json_object_new_int64((long long) sets[i].queued));
                json_object_object_add(o, "stale", json_object_new_int64((long long) sets[i].stale));
                json_object_object_add(o, "oldest_wait_s",
                                       json_object_new_int64(hc->snap.now > sets[i].oldest ?
                                                                     (long long) (hc->snap.now - sets[i].oldest) : 0));
                json_object_object_add(o, "online_runners", json_object_new_int64((long long) sets[i].online_runners));
                json_object_object_add(o, "busy_runners", json_object_new_int64((long long) sets[i].busy_runners));
                json_object_object_add(o, "served_here", json_object_new_boolean(sets[i].served));
                add_str(o, "repositories", sets[i].repos);
                json_object_array_add(a, o);
        }
        return a;
}

static struct json_object *action_json(const struct health_snapshot *s, const struct health_action *a, bool heal) {
        struct json_object *o = json_object_new_object();

        add_str(o, "check", health_check_to_string(a->check));
        add_str(o, "action", health_verb_to_string(a->verb));
        if (a->repo >= 0)
                add_str(o, "repository", s->repos[a->repo].name);
        if (a->run_id)
                json_object_object_add(o, "run_id", json_object_new_int64(a->run_id));
        if (a->job_id)
                json_object_object_add(o, "job_id", json_object_new_int64(a->job_id));
        if (a->lane >= 0)
                add_str(o, "lane", s->lanes[a->lane].d->name);
        add_str(o, "reason", a->reason);
        add_str(o, "result", a->result == HR_PLANNED && !heal ? "would" : health_result_to_string(a->result));
        if (a->detail[0])
                add_str(o, "detail", a->detail);
        if (a->seq)
                json_object_object_add(o, "record", json_object_new_int64((long long) a->seq));
        return o;
}

static struct json_object *repos_json(const struct health_snapshot *s) {
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < s->n_repos; i++) {
                struct json_object *o = json_object_new_object();

                add_str(o, "name", s->repos[i].name);
                add_str(o, "default_branch", s->repos[i].default_branch);
                json_object_object_add(o, "read", json_object_new_boolean(s->repos[i].known));
                if (!s->repos[i].known)
                        add_str(o, "problem", s->repos[i].problem);
                json_object_array_add(a, o);
        }
        return a;
}

struct json_object *cli_health_findings_json(const struct health_cmd *hc) {
        struct json_object *f = json_object_new_array();

        for (size_t i = 0; i < hc->plan.n_findings; i++) {
                struct json_object *o = json_object_new_object();
                const struct health_finding *hf = &hc->plan.findings[i];

                add_str(o, "check", health_check_to_string(hf->check));
                if (hf->lane >= 0)
                        add_str(o, "lane", hc->snap.lanes[hf->lane].d->name);
                json_object_object_add(o, "degraded", json_object_new_boolean(hf->degraded));
                add_str(o, "text", hf->text);
                json_object_array_add(f, o);
        }
        return f;
}

void cli_health_print_json(const struct health_cmd *hc, const struct health_counts *counts) {
        const struct health_snapshot *s = &hc->snap;
        struct json_object *doc = json_object_new_object(), *a = json_object_new_array();
        struct json_object *c = json_object_new_object();

        add_str(doc, "schema", "lanekeeper.health/1");
        add_str(doc, "cycle", hc->cycle);
        json_object_object_add(doc, "heal", json_object_new_boolean(hc->heal));
        if (s->have_offset)
                json_object_object_add(doc, "clock_offset_s", json_object_new_int64(s->clock_offset_s));
        if (s->have_rate)
                json_object_object_add(doc, "rate_limit_remaining", json_object_new_int64(s->rate_remaining));
        json_object_object_add(doc, "repositories", repos_json(s));
        json_object_object_add(doc, "active_runs", json_object_new_int64((long long) s->n_runs));
        json_object_object_add(doc, "queue", cli_health_queue_json(hc));
        for (size_t i = 0; i < hc->plan.n_actions; i++)
                json_object_array_add(a, action_json(s, &hc->plan.actions[i], hc->heal));
        json_object_object_add(doc, "actions", a);
        json_object_object_add(doc, "findings", cli_health_findings_json(hc));
        for (int r = HR_COMPLETED; r < _HR_MAX; r++)
                json_object_object_add(c, health_result_to_string((enum health_result) r),
                                       json_object_new_int64(counts->n[r]));
        json_object_object_add(doc, "counts", c);
        printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
}

/* When a cycle last read everything: STORE/health.last-success. */
static long long last_success(const struct health_cmd *hc, bool ok) {
        char path[PROTO_PATH_MAX + 32], buf[32] = "";
        long long t = 0;
        FILE *f;

        snprintf(path, sizeof path, "%s/health.last-success", hc->x.s->store_dir);
        if (ok) {
                t = (long long) time(NULL);
                snprintf(buf, sizeof buf, "%lld\n", t);
                if (store_write_path(path, buf, strlen(buf), 0640, (uid_t) -1, (gid_t) -1) < 0)
                        fprintf(stderr, "lanectl health: cannot write %s: %m\n", path);
                return t;
        }
        f = fopen(path, "re");
        if (f && fscanf(f, "%lld", &t) != 1)
                t = 0;
        if (f)
                fclose(f);
        return t;
}

/* The textfile: metrics_file, or STORE/metrics/lanekeeper.prom (its
 * directory made, 0755, for node_exporter). */
static const char *metrics_path(const struct health_cmd *hc, char *path, size_t size) {
        const struct health_settings *h = &hc->x.s->health;

        if (h->metrics_file[0])
                snprintf(path, size, "%s", h->metrics_file);
        else {
                snprintf(path, size, "%s/metrics", hc->x.s->store_dir);
                (void) mkdir(path, 0755);
                snprintf(path, size, "%s/metrics/lanekeeper.prom", hc->x.s->store_dir);
        }
        return path;
}

static char *read_text(const char *path) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = fopen(path, "re");

        if (!f)
                return NULL;
        if (getdelim(&text, &size, '\0', f) < 0) {
                free(text);
                text = NULL;
        }
        fclose(f);
        return text;
}

void cli_health_refresh_metrics(struct cli *cli, const char *policy, const char *lanes_dir) {
        struct health_cmd *hc = cli_health_new();

        if (!hc)
                return;
        hc->status = hc->refresh = true;
        hc->policy = policy;
        hc->lanes_dir = lanes_dir;
        if (cli_health_prepare(cli, hc, "metrics") == 0 && !hc->x.s->health.metrics_off)
                (void) cli_health_metrics(hc, false, false);
        cli_health_free(hc);
}

int cli_health_metrics(const struct health_cmd *hc, bool ok, bool to_stdout) {
        const struct health_settings *h = &hc->x.s->health;
        struct audit_verify_result v = {};
        struct health_metrics_in in = { .snap = &hc->snap, .settings = h, .plan = &hc->plan,
                                        .managed_label = policy_managed_label(&hc->x.hp),
                                        .host_label = hc->x.hp.host[0] ? hc->x.hp.host : NULL };
        char path[PROTO_PATH_MAX + 32], *text = NULL, *old = NULL;
        size_t len;
        int r;

        if (hc->refresh) {   /* another command's: the last cycle's actions stay as they were */
                in.plan = NULL;
                in.carry = old = read_text(metrics_path(hc, path, sizeof path));
        }
        in.audit_intact = audit_verify((struct audit_store *) &hc->x.store, &v) == 0;
        in.audit_records = v.records;
        in.last_success = last_success(hc, ok && !to_stdout);
        r = health_metrics_render(&in, &text, &len);
        free(old);
        if (r < 0)
                return fprintf(stderr, "lanectl: cannot render the metrics: %s\n", strerror(-r)), r;
        if (to_stdout) {
                fwrite(text, 1, len, stdout);
                free(text);
                return 0;
        }
        if (h->metrics_off) {
                free(text);
                return 0;
        }
        metrics_path(hc, path, sizeof path);
        r = store_write_path(path, text, strlen(text), 0644, (uid_t) -1, (gid_t) -1);
        free(text);
        if (r < 0)
                fprintf(stderr, "lanectl health: cannot write the metrics to %s: %s\n", path, strerror(-r));
        return r;
}
