/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl pool status [POOL...] [--output text|json] [--last N]
 * [--never-online DURATION] [--pools-dir DIR] [--policy FILE]: each pool
 * read as the supervisor reads it (a dry pass: GitHub's runners and
 * queue, systemd's units, the decision and the actions it would take,
 * none taken), its slots with state, runner and job, the target with its
 * reasons, and the supervisor's last decisions from the audit records;
 * a scale-set pool's set, session and the service's statistics as the
 * supervisor last recorded them (its store record: status opens no
 * session of its own). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "macro.h"
#include "proto-time.h"
#include "sup-scaleset.h"
#include "supervisor.h"

#define DECISIONS_LOOKBACK 5000   /* audit records read back for the last decisions */

struct decision {
        char time[32], lane[PROTO_LANE_NAME_MAX + 1], action[16], status[16], detail[300];
        long long target;
};

struct pool_view {
        struct sup_pool sp;
        int r;
        size_t n_decisions;
        struct decision decisions[50];
};

struct status_cmd {
        struct cli_exec x;
        struct pool_sup sup;
        bool json;
        unsigned last;
        const char *pools_dir, *policy;
        size_t n;
        struct pool_view *v;
};

static const char *jstr(struct json_object *o, const char *k) {
        struct json_object *f;

        return json_object_object_get_ex(o, k, &f) && json_object_is_type(f, json_type_string) ? json_object_get_string(f) : "";
}

/* The supervisor's last decisions on each pool: newest first. */
static void scan_audit(struct status_cmd *c) {
        uint64_t head = 0, stop;
        size_t left = c->n;

        if (audit_head(&c->x.store, &head) < 0 || c->last == 0)
                return;
        stop = head > DECISIONS_LOOKBACK ? head - DECISIONS_LOOKBACK : 0;
        for (uint64_t seq = head; seq > stop && left > 0; seq--) {
                _cleanup_(freep) char *text = NULL;
                struct json_object *o, *t;
                const char *st;

                if (audit_read(&c->x.store, seq, &text) < 0 || !(o = json_tokener_parse(text)))
                        continue;
                st = jstr(o, "status");
                for (size_t i = 0; i < c->n && strcmp(jstr(o, "command"), "pool-supervise") == 0 &&
                                   strcmp(st, "planned") != 0; i++) {
                        struct pool_view *pv = &c->v[i];
                        struct decision *d = &pv->decisions[pv->n_decisions];

                        if (pv->n_decisions >= c->last || strcasecmp(jstr(o, "pool"), pv->sp.p.lane.name) != 0)
                                continue;
                        snprintf(d->time, sizeof d->time, "%s", jstr(o, "time"));
                        snprintf(d->lane, sizeof d->lane, "%s", jstr(o, "lane"));
                        snprintf(d->action, sizeof d->action, "%s", jstr(o, "action"));
                        snprintf(d->status, sizeof d->status, "%s", st);
                        snprintf(d->detail, sizeof d->detail, "%s", jstr(o, "detail"));
                        d->target = json_object_object_get_ex(o, "target", &t) ? json_object_get_int64(t) : -1;
                        left -= ++pv->n_decisions == c->last;
                }
                json_object_put(o);
        }
}

static const char *reasons(const struct pool_decision *d, char *buf, size_t size) {
        snprintf(buf, size, "busy %u + queued %u + spare %u, min %u, max %u%s%s", d->busy, d->queued, d->spare, d->min,
                 d->max, d->clamp ? ": set by " : "", d->clamp ?: "");
        return buf;
}

/* The set, its session and the service's statistics, as the supervisor
 * last recorded them (lanekeeper's own view follows: target and slots). */
static void print_scale_set(const struct sup_ss *x) {
        const struct gh_ss_stats *t = &x->stats;
        char when[32] = "never";

        if (x->stats_known)
                proto_utc_iso(x->stats_at, when, sizeof when);
        printf("  scale set %s (id %lld): session %s%s%s%s\n", x->conn.set_name, x->conn.set_id,
               x->conn.session[0] ? x->conn.session : "none", x->conn.owner[0] ? " (owner " : "", x->conn.owner,
               x->conn.owner[0] ? ")" : "");
        if (x->problem[0])
                printf("  problem: %s\n", x->problem);
        printf("  service at %s: assigned %lld, running %lld, available %lld, acquired %lld; runners %lld "
               "(busy %lld, idle %lld); last message %lld\n",
               when, t->assigned, t->running, t->available, t->acquired, t->registered, t->busy, t->idle, x->last_id);
}

static void print_text(const struct status_cmd *c) {
        for (size_t i = 0; i < c->n; i++) {
                const struct pool_view *pv = &c->v[i];
                const struct sup_pool *sp = &pv->sp;
                const struct pool_decision *d = &sp->last;
                char why[200];

                printf("%spool %s (%s)%s\n", i ? "\n" : "", sp->p.lane.name, sp->scope, sp->draining ? ": draining" : "");
                if (sp->ss)
                        print_scale_set(sp->ss);
                if (!sp->known) {
                        printf("  not read: %s\n", sp->problem);
                        continue;
                }
                printf("  target %u (%s)\n", d->target, reasons(d, why, sizeof why));
                printf("  %-24s %-9s %-13s %-10s %s\n", "SLOT", "STATE", "UNIT", "RUNNER", "JOB");
                for (unsigned n = 0; n < sp->n_slots; n++) {
                        const struct sup_slot *ss = &sp->slots[n];
                        char runner[24] = "-";

                        if (ss->seen.runner_id)
                                snprintf(runner, sizeof runner, "%lld", ss->seen.runner_id);
                        printf("  %-24s %-9s %-13s %-10s ", ss->srv.slot, slot_state_to_string(pool_slot_state(&ss->seen)),
                               ss->seen.installed ? ss->seen.active : "not installed", runner);
                        if (ss->job_id)
                                printf("%s (job %lld, run %lld)\n", ss->job, ss->job_id, ss->run_id);
                        else
                                printf("%s\n", ss->refused ? "refused: the runner install changed" : "-");
                }
                for (size_t k = 0; k < d->n_actions; k++)
                        printf("  next pass: %s %s-%u\n", pool_act_to_string(d->actions[k].act), sp->p.lane.name,
                               d->actions[k].slot);
                if (pv->n_decisions)
                        printf("  last decisions:\n");
                for (size_t k = 0; k < pv->n_decisions; k++) {
                        const struct decision *x = &pv->decisions[k];

                        printf("    %s  %-10s %-8s %-9s target %lld%s%s\n", x->time, x->lane, x->action, x->status,
                               x->target, x->detail[0] ? "  " : "", x->detail);
                }
        }
}

static void add_str(struct json_object *o, const char *k, const char *v) {
        json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void add_int(struct json_object *o, const char *k, long long v) {
        json_object_object_add(o, k, json_object_new_int64(v));
}

static struct json_object *slot_json(const struct sup_slot *ss) {
        struct json_object *o = json_object_new_object();

        add_str(o, "name", ss->srv.slot);
        add_str(o, "state", slot_state_to_string(pool_slot_state(&ss->seen)));
        add_str(o, "unit", ss->seen.installed ? ss->seen.active : "not-installed");
        add_int(o, "runner_id", ss->seen.runner_id);
        add_int(o, "job_id", ss->job_id);
        add_int(o, "run_id", ss->run_id);
        add_str(o, "job", ss->job_id ? ss->job : NULL);
        json_object_object_add(o, "refused", json_object_new_boolean(ss->refused));
        return o;
}

static struct json_object *scale_set_json(const struct sup_ss *x) {
        const struct gh_ss_stats *t = &x->stats;
        struct json_object *o = json_object_new_object(), *st = json_object_new_object();
        char when[32];

        add_str(o, "name", x->conn.set_name);
        add_int(o, "id", x->conn.set_id);
        add_str(o, "session", x->conn.session[0] ? x->conn.session : NULL);
        add_str(o, "owner", x->conn.owner[0] ? x->conn.owner : NULL);
        add_str(o, "problem", x->problem[0] ? x->problem : NULL);
        add_int(o, "last_message", x->last_id);
        proto_utc_iso(x->stats_at, when, sizeof when);
        add_str(o, "statistics_at", x->stats_known ? when : NULL);
        add_int(st, "available", t->available);
        add_int(st, "acquired", t->acquired);
        add_int(st, "assigned", t->assigned);
        add_int(st, "running", t->running);
        add_int(st, "registered", t->registered);
        add_int(st, "busy", t->busy);
        add_int(st, "idle", t->idle);
        json_object_object_add(o, "statistics", x->stats_known ? st : (json_object_put(st), NULL));
        return o;
}

static struct json_object *pool_json(const struct pool_view *pv) {
        const struct sup_pool *sp = &pv->sp;
        const struct pool_decision *d = &sp->last;
        struct json_object *o = json_object_new_object(), *why = json_object_new_object(), *a;

        add_str(o, "name", sp->p.lane.name);
        add_str(o, "scope", sp->scope);
        json_object_object_add(o, "known", json_object_new_boolean(sp->known));
        add_str(o, "problem", sp->known ? NULL : sp->problem);
        json_object_object_add(o, "draining", json_object_new_boolean(sp->draining));
        add_int(o, "target", d->target);
        add_int(why, "busy", d->busy);
        add_int(why, "queued", d->queued);
        add_int(why, "spare", d->spare);
        add_int(why, "min", d->min);
        add_int(why, "max", d->max);
        add_str(why, "clamp", d->clamp);
        add_int(why, "above_max", d->beyond);
        json_object_object_add(o, "reasons", why);
        if (sp->ss)
                json_object_object_add(o, "scale_set", scale_set_json(sp->ss));
        json_object_object_add(o, "slots", a = json_object_new_array());
        for (unsigned n = 0; n < sp->n_slots && sp->known; n++)
                json_object_array_add(a, slot_json(&sp->slots[n]));
        json_object_object_add(o, "next", a = json_object_new_array());
        for (size_t k = 0; k < d->n_actions; k++) {
                struct json_object *x = json_object_new_object();

                add_str(x, "action", pool_act_to_string(d->actions[k].act));
                add_str(x, "slot", sp->slots[d->actions[k].slot - 1].srv.slot);
                json_object_array_add(a, x);
        }
        json_object_object_add(o, "decisions", a = json_object_new_array());
        for (size_t k = 0; k < pv->n_decisions; k++) {
                const struct decision *x = &pv->decisions[k];
                struct json_object *j = json_object_new_object();

                add_str(j, "time", x->time);
                add_str(j, "slot", x->lane[0] ? x->lane : NULL);
                add_str(j, "action", x->action);
                add_str(j, "status", x->status);
                add_str(j, "detail", x->detail[0] ? x->detail : NULL);
                add_int(j, "target", x->target);
                json_object_array_add(a, j);
        }
        return o;
}

static void print_json(const struct status_cmd *c) {
        struct json_object *doc = json_object_new_object(), *a = json_object_new_array();

        for (size_t i = 0; i < c->n; i++)
                json_object_array_add(a, pool_json(&c->v[i]));
        json_object_object_add(doc, "pools", a);
        printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
}

static int parse_args(struct status_cmd *c, int argc, char **argv) {
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },    { "last", required_argument, NULL, 'l' },
                { "never-online", required_argument, NULL, 'n' }, { "pools-dir", required_argument, NULL, 'd' },
                { "policy", required_argument, NULL, 'p' },    {}
        };
        char *end;
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if (opt == 'o' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "text") == 0))
                        c->json = strcmp(optarg, "json") == 0;
                else if (opt == 'l' && (c->last = (unsigned) strtoul(optarg, &end, 10)) <= 50 && optarg[0] && !*end)
                        continue;
                else if (opt == 'n' && cli_parse_duration(optarg, 86400, &c->sup.never_online_s) == 0)
                        continue;
                else if (opt == 'd')
                        c->pools_dir = optarg;
                else if (opt == 'p')
                        c->policy = optarg;
                else
                        return fprintf(stderr, "usage: lanectl pool status [POOL...] [--output text|json] [--last N (0-50)] "
                                               "[--never-online DURATION] [--pools-dir DIR] [--policy FILE]\n"), -EINVAL;
        return 0;
}

/* The pools NAMES select (all when none): each read and decided. */
static int read_pools(struct status_cmd *c, const struct pool_desired *pools, size_t n, char **names, size_t n_names) {
        for (size_t k = 0; k < n_names; k++) {
                bool found = false;

                for (size_t i = 0; i < n; i++)
                        found = found || strcasecmp(names[k], pools[i].lane.name) == 0;
                if (!found)
                        return fprintf(stderr, "lanectl pool status: no valid pool is named '%.64s' in %s\n", names[k],
                                       c->pools_dir), -ENOENT;
        }
        c->v = calloc(n ? n : 1, sizeof *c->v);
        if (!c->v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                bool want = n_names == 0;

                for (size_t k = 0; k < n_names; k++)
                        want = want || strcasecmp(names[k], pools[i].lane.name) == 0;
                if (!want)
                        continue;
                sup_pool_init(&c->v[c->n].sp, &pools[i], &c->x.hp);
                if (sup_ss_new(&c->sup, &c->v[c->n].sp, true) < 0)
                        return -ENOMEM;
                c->v[c->n].sp.draining = sup_pool_draining(c->sup.store_fd, pools[i].lane.name);
                c->v[c->n].r = sup_observe(&c->sup, &c->v[c->n].sp, time(NULL));
                c->n++;
        }
        return 0;
}

int cmd_pool_status(struct cli *cli, int argc, char **argv) {
        _cleanup_(freep) struct status_cmd *c = calloc(1, sizeof *c);
        _cleanup_(freep) struct pool_desired *pools = NULL;
        const struct settings *s;
        size_t n = 0;
        int ret = 2, r;

        if (!c)
                return 2;
        c->last = 5;
        c->sup.never_online_s = 120;
        c->sup.store_fd = -EBADF;
        cli_exec_init(&c->x);
        if (parse_args(c, argc, argv) < 0 || cli_settings(cli, &s) < 0)
                goto out;
        if ((r = cli_become_store_owner(s->store_dir)) < 0) {
                fprintf(stderr, "lanectl pool status: cannot become the store's owner: %s\n", strerror(-r));
                goto out;
        }
        if (cli_exec_open(cli, &c->x, c->policy, NULL, "pool status") < 0)
                goto out;
        c->pools_dir = c->pools_dir ?: getenv("LANEKEEPER_POOLS_DIR") ?: c->x.s->pools_dir;
        c->sup.real = &c->x.real;
        c->sup.store = &c->x.store;
        c->sup.store_fd = open(c->x.s->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cli_load_pools(c->pools_dir, &c->x.hp, stderr, &pools, &n) < 0 ||
            read_pools(c, pools, n, argv + optind, (size_t) (argc - optind)) < 0)
                goto out;
        scan_audit(c);
        if (c->json)
                print_json(c);
        else
                print_text(c);
        ret = 0;
        for (size_t i = 0; i < c->n; i++)
                ret = c->v[i].r < 0 ? 1 : ret;
out:
        for (size_t i = 0; c->v && i < c->n; i++)
                sup_ss_close(&c->sup, &c->v[i].sp);
        if (c->sup.store_fd >= 0)
                close(c->sup.store_fd);
        free(c->v);
        cli_exec_close(&c->x);
        return ret;
}
