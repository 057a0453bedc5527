/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl status [LANE...] [--output json]: what an operator looks at
 * first. A dry health cycle (the same snapshot and checks, nothing acted
 * on, nothing written, no job log read) plus, per lane, its unit's
 * restarts and since when, the job it runs, its label drift, its runner
 * directory, its actions cache and its last audit record; and the last
 * self-heal actions. Exit 0 healthy, 1 degraded, 2 error (lanectl(1)). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "audit.h"
#include "cli-status.h"

#define AUDIT_LOOKBACK 2000   /* records read back for the lanes' last and the heal actions */

static const char *jstr(struct json_object *o, const char *key) {
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
                       json_object_get_string(v) : "";
}

static void fill(struct status_record *r, uint64_t seq, struct json_object *o) {
        struct json_object *v;

        *r = (struct status_record) { .seq = seq };
        snprintf(r->time, sizeof r->time, "%s", jstr(o, "time"));
        snprintf(r->command, sizeof r->command, "%s", jstr(o, "command"));
        snprintf(r->status, sizeof r->status, "%s", jstr(o, "status"));
        snprintf(r->lane, sizeof r->lane, "%s", jstr(o, "lane"));
        snprintf(r->check, sizeof r->check, "%s", jstr(o, "check"));
        snprintf(r->action, sizeof r->action, "%s", jstr(o, "action"));
        snprintf(r->detail, sizeof r->detail, "%s", jstr(o, "detail"));
        if (r->lane[0])
                snprintf(r->target, sizeof r->target, "lane %s", r->lane);
        else if (json_object_object_get_ex(o, "run_id", &v))
                snprintf(r->target, sizeof r->target, "%.60s run %lld", jstr(o, "repository"),
                         (long long) json_object_get_int64(v));
}

/* Read the store back from its head: each lane's last record, the last
 * health actions that ended (completed, failed, skipped). */
static void scan_audit(struct status_view *v) {
        struct health_cmd *hc = v->hc;
        size_t lanes_left = hc->snap.n_lanes;
        uint64_t stop = v->audit.head_seq > AUDIT_LOOKBACK ? v->audit.head_seq - AUDIT_LOOKBACK : 0;

        for (uint64_t seq = v->audit.head_seq; seq > stop && (lanes_left || v->n_heal < STATUS_HEAL_SHOWN); seq--) {
                struct json_object *o;
                char *text = NULL;
                const char *lane, *st;

                if (audit_read(&hc->x.store, seq, &text) < 0)
                        continue;
                o = json_tokener_parse(text);
                free(text);
                if (!o)
                        continue;
                lane = jstr(o, "lane");
                st = jstr(o, "status");
                for (size_t l = 0; lane[0] && l < hc->snap.n_lanes; l++)
                        if (!v->lane_last[l].seq && strcasecmp(lane, hc->snap.lanes[l].d->name) == 0) {
                                fill(&v->lane_last[l], seq, o);
                                lanes_left--;
                        }
                if (v->n_heal < STATUS_HEAL_SHOWN && strcmp(jstr(o, "command"), "health") == 0 &&
                    (!strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "skipped")))
                        fill(&v->heal[v->n_heal++], seq, o);
                json_object_put(o);
        }
}

/* LANE arguments: each a lane of this host; none: all. */
static int select_lanes(struct status_view *v, char **names, size_t n) {
        const struct health_snapshot *s = &v->hc->snap;

        for (size_t l = 0; l < s->n_lanes; l++)
                v->shown[l] = n == 0;
        for (size_t i = 0; i < n; i++) {
                bool found = false;

                for (size_t l = 0; l < s->n_lanes; l++)
                        if (strcasecmp(names[i], s->lanes[l].d->name) == 0)
                                found = v->shown[l] = true;
                if (!found)
                        return fprintf(stderr, "lanectl status: no lane of this host is named '%.64s' (see lanectl "
                                       "lane list)\n", names[i]), -ENOENT;
        }
        return 0;
}

static int parse_args(struct health_cmd *hc, int argc, char **argv) {
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", cli_health_read_options, NULL)) >= 0)
                if (cli_health_option(hc, opt, optarg, "status") <= 0)
                        return fprintf(stderr, "usage: lanectl status [LANE...] [--output text|json] [--policy FILE] "
                                               "[--lanes-dir DIR]\n"), -EINVAL;
        return 0;
}

static bool want_color(void) {
        const char *term = getenv("TERM");

        return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;
}

int cmd_status(struct cli *cli, int argc, char **argv) {
        struct health_cmd *hc = cli_health_new();
        struct status_view v = {};
        struct health_counts none = {};
        int ret = 2;

        if (!hc)
                return 2;
        hc->status = true;
        if (parse_args(hc, argc, argv) < 0 || cli_health_prepare(cli, hc, "status") < 0)
                goto out;
        v = (struct status_view) { .hc = hc, .color = want_color() && !hc->json, .now = time(NULL),
                                   .shown = calloc(hc->snap.n_lanes ?: 1, sizeof *v.shown),
                                   .lane_last = calloc(hc->snap.n_lanes ?: 1, sizeof *v.lane_last) };
        if (!v.shown || !v.lane_last) {
                fprintf(stderr, "lanectl: out of memory\n");
                goto out;
        }
        if (select_lanes(&v, argv + optind, (size_t) (argc - optind)) < 0)
                goto out;
        v.audit_intact = audit_verify(&hc->x.store, &v.audit) == 0;
        scan_audit(&v);
        v.exit_status = cli_health_exit_status(hc, &none);
        if (!v.audit_intact && v.exit_status == 0)
                v.exit_status = 1;
        if (hc->json)
                status_print_json(&v);
        else
                status_print_text(&v);
        ret = v.exit_status;
out:
        free(v.shown);
        free(v.lane_last);
        cli_health_free(hc);
        return ret;
}
