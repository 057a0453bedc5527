/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "audit.h"
#include "gh-api.h"
#include "gh-client.h"
#include "health-gather.h"
#include "health.h"
#include "inventory.h"
#include "macro.h"
#include "observe.h"
#include "proto-time.h"
#include "store-file.h"
#include "sup-scaleset.h"
#include "supervisor.h"

/* Slots 1..max of every pool that are not open yet: their sockets. */
int sup_open(struct pool_sup *s, char *err, size_t errlen) {
        for (size_t i = 0; i < s->n_pools; i++) {
                struct sup_pool *sp = &s->pools[i];
                struct passwd *pw = sp->uid ? NULL : getpwnam(sp->p.lane.user);

                if (!sp->uid && !pw)
                        return snprintf(err, errlen, "pool %s: no user %s", sp->p.lane.name, sp->p.lane.user), -ENOENT;
                if (pw)
                        sp->uid = pw->pw_uid;
                for (unsigned n = 1; n <= sp->p.max; n++) {
                        char name[PROTO_LANE_NAME_MAX + 16];
                        int r;

                        if (sp->slots[n - 1].srv.fd >= 0)
                                continue;
                        snprintf(name, sizeof name, "%s-%u", sp->p.lane.name, n);
                        r = slot_server_open(&sp->slots[n - 1].srv, s->register_dir, name, sp->uid, err, errlen);
                        if (r < 0)
                                return r;
                        sp->n_slots = n > sp->n_slots ? n : sp->n_slots;
                }
        }
        return 0;
}

void sup_close(struct pool_sup *s) {
        for (size_t i = 0; i < s->n_pools; i++)
                for (unsigned n = 0; n < POOL_MAX_SLOTS; n++)
                        slot_server_close(&s->pools[i].slots[n].srv);
}

static void add_str(struct json_object *o, const char *k, const char *v) {
        if (v)
                json_object_object_add(o, k, json_object_new_string(v));
}

void sup_record(struct pool_sup *s, const struct sup_pool *sp, const char *slot, const char *action,
                   const char *status, const char *detail) {
        struct json_object *rec = json_object_new_object();
        const struct pool_decision *d = &sp->last;
        char now[32];

        proto_utc_iso(time(NULL), now, sizeof now);
        add_str(rec, "status", status);
        add_str(rec, "time", now);
        add_str(rec, "host", s->host);
        add_str(rec, "command", "pool-supervise");
        add_str(rec, "pool", sp->p.lane.name);
        add_str(rec, "lane", slot);
        add_str(rec, "action", action);
        add_str(rec, "detail", detail);
        json_object_object_add(rec, "target", json_object_new_int64(d->target));
        json_object_object_add(rec, "busy", json_object_new_int64(d->busy));
        json_object_object_add(rec, "queued", json_object_new_int64(d->queued));
        json_object_object_add(rec, "spare", json_object_new_int64(d->spare));
        add_str(rec, "clamp", d->clamp);
        if (audit_append(s->store, rec, NULL) < 0)
                fprintf(stderr, "lanectl pool supervise: %s: the audit record of %s could not be written\n",
                        slot ?: sp->p.lane.name, action);
        json_object_put(rec);
}

/* ---- the JIT hook ---- */

static int jit(void *data, const char *slot, char **ret, char *err, size_t errlen) {
        struct pool_sup *s = data;
        struct sup_pool *sp;
        struct sup_slot *ss = sup_find(s, slot, &sp);
        const char *labels[LANE_MAX_LABELS];
        struct inventory inv = {};
        size_t len;
        long long id = 0;
        int r;

        if (!ss || !s->real->gh)
                return snprintf(err, errlen, "%s: %s", slot, ss ? s->real->gh_problem : "not a slot"), -ENOENT;
        if (sp->draining)
                return snprintf(err, errlen, "%s: the pool is draining", slot), -ECANCELED;
        if ((unsigned) (ss - sp->slots) >= sp->p.max)
                return snprintf(err, errlen, "%s: the pool's max is %u now", slot, sp->p.max), -ECANCELED;
        if (sp->ss) {
                r = sup_ss_jit(s, sp, slot, &id, ret, err, errlen);
                goto done;
        }
        /* a registration of the slot's name left by an earlier run: gone first */
        r = gh_list_runners(s->real->gh, sp->scope, slot, &inv, err, errlen);
        for (size_t i = 0; r == 0 && i < inv.n; i++) {
                if (strcasecmp(inv.runners[i].name, slot) != 0)
                        continue;
                if (inv.runners[i].busy || inv.runners[i].online)
                        r = -EBUSY, snprintf(err, errlen, "%s: runner %lld of this name is still %s", slot,
                                             inv.runners[i].id, inv.runners[i].busy ? "busy" : "online");
                else
                        r = gh_runner_delete(s->real->gh, sp->scope, inv.runners[i].id, err, errlen);
        }
        inventory_free(&inv);
        if (r == 0 && sp->group_id == 0)
                r = gh_runner_group_id(s->real->gh, sp->p.lane.organisation, sp->p.lane.group[0] ? sp->p.lane.group : "Default",
                                       &sp->group_id, err, errlen);
        for (size_t i = 0; i < sp->p.lane.n_labels; i++)
                labels[i] = sp->p.lane.labels[i];
        if (r == 0)
                r = gh_jit_config(s->real->gh, sp->scope, slot, sp->group_id, labels, sp->p.lane.n_labels, &id, ret, &len,
                                  err, errlen);
done:
        if (r < 0) {
                s->c.jit_failed++;
                sup_record(s, sp, slot, "jit", "failed", err);
                return r;
        }
        s->c.jit_issued++;
        ss->handed = time(NULL);
        ss->handed_runner = id;
        return 0;
}

static void verdict(void *data, const char *slot, bool refused, const char *reason) {
        struct pool_sup *s = data;
        struct sup_pool *sp;
        struct sup_slot *ss = sup_find(s, slot, &sp);

        if (!ss || !refused)
                return;
        s->c.refused++;
        ss->refused = true;
        snprintf(ss->refusal, sizeof ss->refusal, "%s", reason);
        sup_record(s, sp, slot, "refuse", "refused", reason);
}

/* A JIT configuration made for SLOT did not reach it (its unit went
 * away meanwhile): the registration it made goes, or it is an orphan. */
static void lost(void *data, const char *slot) {
        struct pool_sup *s = data;
        struct sup_pool *sp;
        struct sup_slot *ss = sup_find(s, slot, &sp);
        char detail[600] = "";
        int r;

        if (!ss || !ss->handed_runner || !s->real->gh)
                return;
        r = sp->ss ? sup_ss_runner_delete(s, sp, ss->handed_runner, detail, sizeof detail)
                   : gh_runner_delete(s->real->gh, sp->scope, ss->handed_runner, detail, sizeof detail);
        if (r < 0 && r != -ENOENT) {
                sup_record(s, sp, slot, "jit", "failed", detail);
                return;   /* seen again by a later pass: its unit down, forgotten then */
        }
        s->c.jit_lost++;
        snprintf(detail, sizeof detail, "the slot did not take its JIT configuration: registration %lld removed",
                 ss->handed_runner);
        sup_record(s, sp, slot, "jit", "failed", detail);
        ss->handed = ss->handed_runner = 0;
}

struct slot_hooks sup_hooks(struct pool_sup *s) {
        return (struct slot_hooks) { .jit = jit, .verdict = verdict, .lost = lost, .store_fd = s->store_fd, .data = s };
}

/* The helper's VERB for SLOT N of SP: 0, or -errno with DETAIL. */
static int helper_changed(struct pool_sup *s, const struct sup_pool *sp, unsigned n, enum proto_verb verb,
                          char *detail, size_t size, int *ret_changed) {
        struct helper_request req = { .lane = sp->slots[n - 1].srv.slot };
        _cleanup_(freep) struct helper_reply *reply = calloc(1, sizeof *reply);
        int r;

        if (!reply)
                return snprintf(detail, size, "out of memory"), -ENOMEM;
        if (verb == PROTO_VERB_INSTALL_UNIT) {
                req.user = sp->p.lane.user;
                req.root = sp->p.lane.root;
        }
        if (verb == PROTO_VERB_DAEMON_RELOAD)
                req.lane = NULL;
        r = helper_ops_call(&helper_socket_ops, &s->real->helper, verb, &req, reply);
        if (r < 0)
                helper_reply_error(reply, detail, size);
        if (ret_changed)
                *ret_changed = r < 0 ? -1 : reply->changed;
        return r;
}

static int helper(struct pool_sup *s, const struct sup_pool *sp, unsigned n, enum proto_verb verb, char *detail,
                  size_t size) {
        return helper_changed(s, sp, n, verb, detail, size, NULL);
}

/* Whether the units just written need a daemon-reload: only one that
 * systemd holds loaded from an older file does (observe_unit_needs_reload);
 * a new slot's unit is read from disk when it starts. In the child: a bus
 * connection of its own (the parent's cannot cross a fork). */
static bool reload_needed(struct pool_sup *s) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        char unit[128], why[256];

        if (sd_bus_open_system(&bus) < 0)
                return true;
        for (size_t i = 0; i < s->n_items; i++) {
                const struct sup_child_item *it = &s->items[i];

                if (it->a.act != PA_INSTALL || it->r != 0 || it->changed == 0)
                        continue;
                if (proto_unit_name_for_lane(s->pools[it->pool].slots[it->a.slot - 1].srv.slot, unit, sizeof unit) < 0 ||
                    observe_unit_needs_reload(bus, unit, why, sizeof why) != 0)
                        return true;
        }
        return false;
}

/* GitHub's part of A (the runner deleted before its slot stops or starts
 * again): false when the action stops there. */
static bool act_github(struct pool_sup *s, struct sup_pool *sp, const struct pool_action *a) {
        const char *what = pool_act_to_string(a->act), *slot = sp->slots[a->slot - 1].srv.slot;
        char detail[600] = "";
        int r;

        sup_record(s, sp, slot, what, "planned", NULL);
        if ((a->act != PA_STOP && a->act != PA_RECYCLE && a->act != PA_FORGET) || !a->runner_id)
                return true;
        /* GitHub refuses to delete a busy runner (422): the slot then stays */
        r = sp->ss ? sup_ss_runner_delete(s, sp, a->runner_id, detail, sizeof detail)
                   : gh_runner_delete(s->real->gh, sp->scope, a->runner_id, detail, sizeof detail);
        if (r == -EBUSY) {
                s->c.stop_skipped_busy++;
                sup_record(s, sp, slot, what, "skipped", "the runner took a job: it stays");
                return false;
        }
        if (r < 0 && r != -ENOENT) {   /* gone already: an ephemeral runner after its job */
                s->c.actions_failed++;
                sup_record(s, sp, slot, what, "failed", detail);
                return false;
        }
        if (a->act != PA_FORGET)
                return true;
        snprintf(detail, sizeof detail, "registration %lld removed: its unit is down", a->runner_id);
        sup_record(s, sp, slot, what, "completed", detail);
        sp->slots[a->slot - 1].handed = sp->slots[a->slot - 1].handed_runner = 0;
        s->c.forgotten++;
        return false;   /* nothing for the helper */
}

/* The helper's part of IT after its unit is installed (in the child). */
static void act_helper(struct pool_sup *s, struct sup_child_item *it) {
        const struct sup_pool *sp = &s->pools[it->pool];
        unsigned n = it->a.slot;

        switch (it->a.act) {
        case PA_INSTALL:
        case PA_START:
        case PA_RESET:
        case PA_RECYCLE:
                it->r = helper(s, sp, n, PROTO_VERB_RESTART, it->detail, sizeof it->detail);
                break;
        case PA_STOP:
                it->r = helper(s, sp, n, PROTO_VERB_STOP, it->detail, sizeof it->detail);
                break;
        case PA_FORGET:
        case _PA_MAX:
                break;
        }
}

/* New units first, all of them, then one daemon-reload for them if one
 * needs it (reload_needed: a pool scaling up from nothing needs none),
 * then each slot started or stopped. Each result written as it is known. */
static void child_run(struct pool_sup *s, int fd) {
        char detail[600] = "";
        bool installed = false;
        int reload = 0;

        for (size_t i = 0; i < s->n_items; i++) {
                struct sup_child_item *it = &s->items[i];

                if (it->a.act != PA_INSTALL)
                        continue;
                it->r = helper_changed(s, &s->pools[it->pool], it->a.slot, PROTO_VERB_INSTALL_UNIT, it->detail,
                                       sizeof it->detail, &it->changed);
                installed = installed || (it->r == 0 && it->changed != 0);
        }
        if (installed && reload_needed(s))
                reload = helper(s, &s->pools[0], 1, PROTO_VERB_DAEMON_RELOAD, detail, sizeof detail);
        for (size_t i = 0; i < s->n_items; i++) {
                struct sup_child_item *it = &s->items[i];

                if (it->a.act == PA_INSTALL && it->r == 0 && reload < 0) {
                        it->r = reload;
                        snprintf(it->detail, sizeof it->detail, "%s", detail);
                }
                if (it->a.act != PA_INSTALL || it->r == 0)
                        act_helper(s, it);
                if (write(fd, it, sizeof *it) != (ssize_t) sizeof *it)
                        _exit(1);
        }
        _exit(0);
}

static void item_done(struct pool_sup *s, const struct sup_child_item *it) {
        struct sup_pool *sp = &s->pools[it->pool];
        struct sup_slot *ss = &sp->slots[it->a.slot - 1];
        const char *what = pool_act_to_string(it->a.act);

        if (it->r == 0 && it->a.act == PA_STOP)
                s->c.stopped++;
        else if (it->r == 0) {
                s->c.started++;
                s->c.never_online += it->a.act == PA_RECYCLE;
                ss->handed = 0;
        }
        s->c.actions_failed += it->r < 0;
        sup_record(s, sp, ss->srv.slot, what, it->r == 0 ? "completed" : "failed", it->r == 0 ? NULL : it->detail);
}

int sup_child_read(struct pool_sup *s) {
        struct sup_child_item it;
        ssize_t n;

        while ((n = read(s->child_fd, &it, sizeof it)) == (ssize_t) sizeof it) {
                if (it.pool < s->n_pools && it.a.slot >= 1 && it.a.slot <= s->pools[it.pool].n_slots)
                        item_done(s, &it);
                s->n_done++;
        }
        return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : 1;
}

void sup_child_finish(struct pool_sup *s) {
        for (size_t i = s->n_done; i < s->n_items; i++) {   /* the child died before these */
                s->items[i].r = -ECHILD;
                snprintf(s->items[i].detail, sizeof s->items[i].detail, "the helper's calls stopped before this one");
                item_done(s, &s->items[i]);
        }
        close(s->child_fd);
        s->child_fd = -1;
        (void) waitpid(s->child, NULL, 0);
        s->child = 0;
        s->n_items = s->n_done = 0;
}

static void start_child(struct pool_sup *s) {
        int p[2];
        pid_t pid;

        if (s->n_items == 0)
                return;
        if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
                for (size_t i = 0; i < s->n_items; i++) {
                        s->items[i].r = -errno;
                        snprintf(s->items[i].detail, sizeof s->items[i].detail, "cannot start the helper's calls: %m");
                        item_done(s, &s->items[i]);
                }
                s->n_items = 0;
                return;
        }
        if (pid == 0) {
                /* nothing of the parent's but the results pipe: a slot's
                 * connection or the event loop's fds held here would keep
                 * their epoll registrations alive after the parent closed
                 * them (the helper's calls connect anew each time) */
                if (dup2(p[1], 3) < 0 || close_range(4, ~0U, 0) < 0)
                        _exit(1);
                child_run(s, 3);
        }
        close(p[1]);
        (void) fcntl(p[0], F_SETFL, O_NONBLOCK);
        s->child = pid;
        s->child_fd = p[0];
        s->n_done = 0;
}

void sup_pass(struct pool_sup *s, time_t now) {
        if (s->child)
                return;   /* the last pass still acts */
        s->c.passes++;
        for (size_t i = 0; i < s->n_pools; i++) {
                struct sup_pool *sp = &s->pools[i];

                if (sup_observe(s, sp, now) < 0)
                        continue;
                for (size_t k = 0; k < sp->last.n_actions && s->n_items < ELEMENTSOF(s->items); k++)
                        if (act_github(s, sp, &sp->last.actions[k]))
                                s->items[s->n_items++] = (struct sup_child_item) { .pool = i, .a = sp->last.actions[k] };
        }
        start_child(s);
}

int sup_pool_offline(const struct sup_pool *sp, bool *recovery) {
        const struct pool_decision *d = &sp->last;
        bool off;

        *recovery = false;
        if (!sp->known)
                return -1;
        off = !sp->draining && d->target > 0 && d->busy + d->idle == 0;
        for (size_t k = 0; off && k < d->n_actions; k++)
                *recovery = *recovery || (d->actions[k].act != PA_STOP && d->actions[k].act != PA_FORGET);
        *recovery = off && (*recovery || d->starting > 0 || d->failed > 0);
        return off;
}
