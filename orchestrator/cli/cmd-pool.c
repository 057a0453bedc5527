/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl runners | queue [--output json]: the pool as GitHub and this host
 * see it, read only (the same snapshot as lanectl status: one listing of
 * each lane scope's runners, the lanes' repositories' queued and running
 * jobs, each lane's observation and hold). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli-health.h"
#include "proto-time.h"

#define RUNNERS_SCHEMA "lanekeeper.runners/1"
#define QUEUE_SCHEMA "lanekeeper.queue/1"

static int parse_args(struct health_cmd *hc, int argc, char **argv, const char *what) {
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", cli_health_read_options, NULL)) >= 0)
                if (cli_health_option(hc, opt, optarg, what) <= 0)
                        goto usage;
        if (optind < argc)
                goto usage;
        return 0;
usage:
        fprintf(stderr, "usage: lanectl %s [--output text|json] [--policy FILE] [--lanes-dir DIR]\n", what);
        return -EINVAL;
}

static void labels_text(const struct hlabels *l, char *buf, size_t size) {
        buf[0] = '\0';
        for (size_t k = 0; k < l->n; k++)
                snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", k ? "," : "", l->v[k]);
}

static struct json_object *labels_json(const struct hlabels *l) {
        struct json_object *a = json_object_new_array();

        for (size_t k = 0; k < l->n; k++)
                json_object_array_add(a, json_object_new_string(l->v[k]));
        return a;
}

static bool has_label(const struct hlabels *l, const char *label) {
        for (size_t k = 0; k < l->n; k++)
                if (strcasecmp(l->v[k], label) == 0)
                        return true;
        return false;
}

/* The job runner ID runs, as "OWNER/REPO run R \"NAME\"", or "". */
static void runner_job(const struct health_snapshot *s, long long id, char *buf, size_t size) {
        buf[0] = '\0';
        for (size_t k = 0; k < s->n_jobs; k++)
                if (s->jobs[k].runner_id == id && strcmp(s->jobs[k].status, "in_progress") == 0) {
                        const struct hrun *run = NULL;

                        for (size_t r = 0; r < s->n_runs && !run; r++)
                                if (s->runs[r].id == s->jobs[k].run_id)
                                        run = &s->runs[r];
                        snprintf(buf, size, "%.100s run %lld \"%.60s\"", run ? s->repos[run->repo].name : "?",
                                 s->jobs[k].run_id, s->jobs[k].name);
                        return;
                }
}

/* One row: a runner GitHub lists (R) and/or a lane of this host (L). */
struct row {
        const struct hrunner *r;
        const struct hlane *l;
        bool managed;
        char job[256];
};

static void fill_row(const struct health_cmd *hc, const struct hrunner *r, const struct hlane *l, struct row *row) {
        const char *managed = plan_managed_label(&hc->x.pol);

        *row = (struct row) { .r = r, .l = l };
        /* managed only when it carries the site's label and is a lane here */
        row->managed = l && (!r || has_label(&r->labels, managed));
        if (r && r->busy)
                runner_job(&hc->snap, r->id, row->job, sizeof row->job);
}

static const char *state_text(const struct row *w, char *buf, size_t size) {
        if (!w->r)
                snprintf(buf, size, "not registered");
        else
                snprintf(buf, size, "%s, %s", w->r->online ? "online" : "offline", w->r->busy ? "busy" : "idle");
        return buf;
}

static void last_seen(const struct row *w, char *buf, size_t size) {
        const struct observation *o = w->l ? &w->l->o : NULL;

        buf[0] = '\0';
        if (w->r && w->r->online)
                snprintf(buf, size, "now");
        else if (o && o->state_since_us)
                proto_utc_iso((time_t) (o->state_since_us / 1000000), buf, size);
}

static void row_json(const struct health_cmd *hc, const struct row *w, struct json_object *a) {
        struct json_object *o = json_object_new_object();
        const struct observation *ob = w->l ? &w->l->o : NULL;
        char seen[32];

        json_object_object_add(o, "id", w->r ? json_object_new_int64(w->r->id) : NULL);
        json_object_object_add(o, "name", json_object_new_string(w->r ? w->r->name : w->l->d->name));
        json_object_object_add(o, "lane", w->l ? json_object_new_string(w->l->d->name) : NULL);
        json_object_object_add(o, "labels", w->r ? labels_json(&w->r->labels) : json_object_new_array());
        json_object_object_add(o, "status", json_object_new_string(w->r ? (w->r->online ? "online" : "offline")
                                                                         : "not_registered"));
        json_object_object_add(o, "busy", json_object_new_boolean(w->r && w->r->busy));
        json_object_object_add(o, "job", w->job[0] ? json_object_new_string(w->job) : NULL);
        json_object_object_add(o, "runner_version", ob && ob->runner_version[0] ?
                               json_object_new_string(ob->runner_version) : NULL);
        json_object_object_add(o, "host", w->l ? json_object_new_string(hc->x.host) : NULL);
        json_object_object_add(o, "hold", ob && ob->hold[0] ? json_object_new_string(ob->hold) : NULL);
        json_object_object_add(o, "hold_reason", ob && ob->hold[0] ? json_object_new_string(ob->hold_reason) : NULL);
        json_object_object_add(o, "unit", ob && ob->unit_exists ? json_object_new_string(ob->unit_active) : NULL);
        last_seen(w, seen, sizeof seen);
        json_object_object_add(o, "last_seen", seen[0] ? json_object_new_string(seen) : NULL);
        json_object_object_add(o, "managed", json_object_new_boolean(w->managed));
        json_object_array_add(a, o);
}

static void row_text(const struct health_cmd *hc, const struct row *w) {
        const struct observation *ob = w->l ? &w->l->o : NULL;
        char labels[512] = "", state[48], id[24] = "-";

        (void) hc;
        if (w->r) {
                labels_text(&w->r->labels, labels, sizeof labels);
                snprintf(id, sizeof id, "%lld", w->r->id);
        }
        printf("%-20.20s %8s %-15s %-12.12s %-8s %s\n", w->r ? w->r->name : w->l->d->name, id,
               state_text(w, state, sizeof state), w->l ? w->l->d->name : w->managed ? "" : "(not ours)",
               ob && ob->hold[0] ? ob->hold : "-", labels);
        if (w->job[0])
                printf("%-20s job %s\n", "", w->job);
        if (ob && ob->hold[0] && ob->hold_reason[0])
                printf("%-20s %s since %s: %.100s\n", "", ob->hold, ob->hold_since, ob->hold_reason);
}

static void rows(const struct health_cmd *hc, bool json) {
        const struct health_snapshot *s = &hc->snap;
        struct json_object *doc = NULL, *a = NULL;
        struct row w;
        char t[32];

        if (json) {
                doc = json_object_new_object();
                a = json_object_new_array();
        } else
                printf("%-20s %8s %-15s %-12s %-8s %s\n", "RUNNER", "ID", "STATE", "LANE", "HOLD", "LABELS");
        for (size_t i = 0; i < s->n_runners; i++) {
                fill_row(hc, &s->runners[i], s->runners[i].lane >= 0 ? &s->lanes[s->runners[i].lane] : NULL, &w);
                json ? row_json(hc, &w, a) : row_text(hc, &w);
        }
        for (size_t l = 0; l < s->n_lanes; l++) {
                bool listed = false;

                for (size_t i = 0; i < s->n_runners && !listed; i++)
                        listed = s->runners[i].lane == (int) l;
                if (listed)
                        continue;
                fill_row(hc, NULL, &s->lanes[l], &w);
                json ? row_json(hc, &w, a) : row_text(hc, &w);
        }
        if (!json) {
                if (!s->runners_known)
                        printf("(GitHub's runners could not all be read: %s)\n", s->runners_problem);
                return;
        }
        proto_utc_iso(s->now, t, sizeof t);
        json_object_object_add(doc, "schema", json_object_new_string(RUNNERS_SCHEMA));
        json_object_object_add(doc, "host", json_object_new_string(hc->x.host));
        json_object_object_add(doc, "generated_at", json_object_new_string(t));
        json_object_object_add(doc, "managed_label", json_object_new_string(plan_managed_label(&hc->x.pol)));
        json_object_object_add(doc, "complete", json_object_new_boolean(s->runners_known));
        json_object_object_add(doc, "runners", a);
        printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
}

int cmd_runners(struct cli *cli, int argc, char **argv) {
        struct health_cmd *hc = cli_health_new();
        int ret = 2;

        if (!hc)
                return 2;
        hc->status = true;
        if (parse_args(hc, argc, argv, "runners") == 0 && cli_health_prepare(cli, hc, "runners") == 0) {
                rows(hc, hc->json);
                ret = hc->snap.runners_known ? 0 : 2;
        }
        cli_health_free(hc);
        return ret;
}

static void queue_text(const struct health_cmd *hc) {
        struct health_labelset sets[64];
        size_t n = health_queue(&hc->snap, &hc->x.s->health, sets, 64);

        printf("%-36s %6s %8s %7s  %s\n", "LABELS (runs-on)", "QUEUED", "OLDEST", "RUNNERS", "REPOSITORIES");
        if (!n)
                printf("(no job waits)\n");
        for (size_t i = 0; i < n; i++) {
                char labels[512];
                long long wait = hc->snap.now > sets[i].oldest ? (long long) (hc->snap.now - sets[i].oldest) : 0;

                labels_text(&sets[i].labels, labels, sizeof labels);
                printf("%-36.36s %6zu %7llds %7zu  %.60s\n", labels, sets[i].queued, wait, sets[i].online_runners,
                       sets[i].repos);
                if (sets[i].online_runners == 0)
                        printf("  waiting for a runner with labels: %s\n", labels);
        }
}

int cmd_queue(struct cli *cli, int argc, char **argv) {
        struct health_cmd *hc = cli_health_new();
        int ret = 2;

        if (!hc)
                return 2;
        hc->status = true;
        if (parse_args(hc, argc, argv, "queue") == 0 && cli_health_prepare(cli, hc, "queue") == 0) {
                if (hc->json) {
                        struct json_object *doc = json_object_new_object();
                        char t[32];

                        proto_utc_iso(hc->snap.now, t, sizeof t);
                        json_object_object_add(doc, "schema", json_object_new_string(QUEUE_SCHEMA));
                        json_object_object_add(doc, "generated_at", json_object_new_string(t));
                        json_object_object_add(doc, "label_sets", cli_health_queue_json(hc));
                        printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
                        json_object_put(doc);
                } else
                        queue_text(hc);
                ret = 0;
                for (size_t r = 0; r < hc->snap.n_repos; r++)
                        if (!hc->snap.repos[r].known)
                                ret = 2;
        }
        cli_health_free(hc);
        return ret;
}
