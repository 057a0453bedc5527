/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A repository's routing record (route.h): STORE/route-OWNER+REPO.json,
 * written atomically. What routing was when matters to the guard: a
 * trusted run is judged by the value routing had when it was made, and a
 * run made between a reading and the next one that saw the value change
 * is not judged at all (someone else may have flipped it in between). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "gh-wire.h"
#include "proto-time.h"
#include "route.h"
#include "store-file.h"

#define RECORD_MAX (256 * 1024)

void route_state_init(struct route_state *st, const char *repo, const char *variable) {
        *st = (struct route_state) {};
        snprintf(st->repo, sizeof st->repo, "%s", repo);
        snprintf(st->variable, sizeof st->variable, "%s", variable);
}

void route_state_name(const char *repo, char *buf, size_t size) {
        size_t i;

        for (i = 0; repo[i] && i + 1 < size; i++)
                buf[i] = repo[i] == '/' ? '+' : (repo[i] >= 'A' && repo[i] <= 'Z') ? (char) (repo[i] - 'A' + 'a') : repo[i];
        if (size)
                buf[i] = 0;
}

bool route_state_observe(struct route_state *st, bool value, time_t now, const char *by, const char *reason) {
        struct route_change *c;
        bool changed = !st->have_value || st->value != value;

        if (changed) {
                if (st->n_history == ROUTE_HISTORY_MAX) {
                        memmove(st->history, st->history + 1, (ROUTE_HISTORY_MAX - 1) * sizeof st->history[0]);
                        st->n_history--;
                }
                c = &st->history[st->n_history++];
                *c = (struct route_change) { .from = st->have_value ? st->checked : 0, .at = now, .value = value };
                snprintf(c->by, sizeof c->by, "%s", by);
                snprintf(c->reason, sizeof c->reason, "%s", reason ?: "");
        }
        st->have_value = true;
        st->value = value;
        st->checked = now;
        return changed;
}

int route_state_expect(const struct route_state *st, time_t t) {
        size_t i;

        for (i = st->n_history; i > 0 && st->history[i - 1].at > t; i--)
                ;
        if (i == 0)
                return -1;                      /* before the first reading */
        if (i < st->n_history && t >= st->history[i].from)
                return -1;                      /* it may have changed already */
        return st->history[i - 1].value;
}

time_t route_state_enabled_since(const struct route_state *st) {
        if (!st->have_value || !st->value || st->n_history == 0)
                return 0;
        return st->history[st->n_history - 1].at;
}

void route_state_offline(struct route_state *st, const char *name, bool offline, bool recovery, time_t now) {
        size_t i;

        for (i = 0; i < st->n_offline && strcmp(st->offline[i].name, name) != 0; i++)
                ;
        if (!offline) {
                if (i < st->n_offline)
                        memmove(st->offline + i, st->offline + i + 1, (st->n_offline-- - i - 1) * sizeof st->offline[0]);
                return;
        }
        if (i == st->n_offline) {
                if (i == ROUTE_OFFLINE_MAX)
                        return;
                st->offline[st->n_offline++] = (struct route_offline) { .since = now };
                snprintf(st->offline[i].name, sizeof st->offline[i].name, "%s", name);
        }
        if (recovery && !st->offline[i].recovery)
                st->offline[i].recovery = now;
}

void route_state_apply(const struct route_state *st, struct slo_input *in) {
        for (size_t i = 0; i < in->n_runs; i++)
                in->runs[i].expect_self_hosted = route_state_expect(st, in->runs[i].created);
}

/* ---- the record's JSON ---- */

static struct json_object *stamp(time_t t) {
        char buf[32];

        if (!t)
                return NULL;
        proto_utc_iso(t, buf, sizeof buf);
        return json_object_new_string(buf);
}

static void add(struct json_object *o, const char *key, struct json_object *v) {
        json_object_object_add(o, key, v);
}

static struct json_object *to_json(const struct route_state *st) {
        struct json_object *o = json_object_new_object(), *h = json_object_new_array(), *off = json_object_new_array(),
                           *trips = json_object_new_object();

        add(o, "schema", json_object_new_int(1));
        add(o, "repository", json_object_new_string(st->repo));
        add(o, "variable", json_object_new_string(st->variable));
        add(o, "stage", json_object_new_int((int) st->stage));
        add(o, "stage_started", stamp(st->stage_started));
        add(o, "checked", stamp(st->checked));
        add(o, "value", st->have_value ? json_object_new_boolean(st->value) : NULL);
        for (size_t i = 0; i < st->n_history; i++) {
                struct json_object *c = json_object_new_object();

                add(c, "from", stamp(st->history[i].from));
                add(c, "at", stamp(st->history[i].at));
                add(c, "value", json_object_new_boolean(st->history[i].value));
                add(c, "by", json_object_new_string(st->history[i].by));
                add(c, "reason", json_object_new_string(st->history[i].reason));
                json_object_array_add(h, c);
        }
        add(o, "history", h);
        for (int t = 0; t < _RT_MAX; t++)
                add(trips, route_trigger_to_string(t), json_object_new_int64((int64_t) st->trips[t]));
        add(o, "trips", trips);
        add(o, "last_trip", stamp(st->last_trip));
        add(o, "last_trip_trigger", json_object_new_string(st->last_trip_trigger));
        add(o, "last_trip_evidence", json_object_new_string(st->last_trip_evidence));
        for (size_t i = 0; i < st->n_offline; i++) {
                struct json_object *x = json_object_new_object();

                add(x, "name", json_object_new_string(st->offline[i].name));
                add(x, "since", stamp(st->offline[i].since));
                add(x, "recovery", stamp(st->offline[i].recovery));
                json_object_array_add(off, x);
        }
        add(o, "offline", off);
        add(o, "last_guard", stamp(st->last_guard));
        add(o, "last_guard_result", json_object_new_string(st->last_guard_result));
        return o;
}

int route_state_save(int store_fd, const struct route_state *st) {
        struct json_object *o = to_json(st);
        char name[ROUTE_REPO_MAX + 16], stem[ROUTE_REPO_MAX];
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        int r;

        route_state_name(st->repo, stem, sizeof stem);
        snprintf(name, sizeof name, "route-%s.json", stem);
        r = store_write_atomic(store_fd, name, text, strlen(text), true);
        json_object_put(o);
        return r;
}

static const char *get_str(struct json_object *o, const char *key) {
        struct json_object *m;

        return json_object_object_get_ex(o, key, &m) && json_object_is_type(m, json_type_string) ?
                       json_object_get_string(m) : NULL;
}

static time_t get_time(struct json_object *o, const char *key) {
        const char *s = get_str(o, key);
        time_t t = 0;

        return s && gh_parse_timestamp(s, &t) == 0 ? t : 0;
}

static void get_text(struct json_object *o, const char *key, char *buf, size_t size) {
        snprintf(buf, size, "%s", get_str(o, key) ?: "");
}

static int from_json(struct json_object *o, struct route_state *st) {
        struct json_object *m, *h = NULL, *off = NULL, *trips = NULL;

        if (!json_object_object_get_ex(o, "schema", &m) || json_object_get_int(m) != 1)
                return -EBADMSG;
        if (json_object_object_get_ex(o, "stage", &m) && json_object_get_int(m) >= 0 &&
            json_object_get_int(m) <= ROUTE_STAGE_MAX)
                st->stage = (unsigned) json_object_get_int(m);
        st->stage_started = get_time(o, "stage_started");
        st->checked = get_time(o, "checked");
        if (json_object_object_get_ex(o, "value", &m) && json_object_is_type(m, json_type_boolean))
                st->have_value = true, st->value = json_object_get_boolean(m);
        (void) json_object_object_get_ex(o, "history", &h);
        for (size_t i = 0; h && json_object_is_type(h, json_type_array) && i < json_object_array_length(h) &&
                           st->n_history < ROUTE_HISTORY_MAX; i++) {
                struct json_object *c = json_object_array_get_idx(h, i), *v;
                struct route_change *x = &st->history[st->n_history++];

                x->from = get_time(c, "from");
                x->at = get_time(c, "at");
                x->value = json_object_object_get_ex(c, "value", &v) && json_object_get_boolean(v);
                get_text(c, "by", x->by, sizeof x->by);
                get_text(c, "reason", x->reason, sizeof x->reason);
        }
        (void) json_object_object_get_ex(o, "trips", &trips);
        for (int t = 0; trips && t < _RT_MAX; t++)
                if (json_object_object_get_ex(trips, route_trigger_to_string(t), &m))
                        st->trips[t] = (unsigned long) json_object_get_int64(m);
        st->last_trip = get_time(o, "last_trip");
        get_text(o, "last_trip_trigger", st->last_trip_trigger, sizeof st->last_trip_trigger);
        get_text(o, "last_trip_evidence", st->last_trip_evidence, sizeof st->last_trip_evidence);
        (void) json_object_object_get_ex(o, "offline", &off);
        for (size_t i = 0; off && json_object_is_type(off, json_type_array) && i < json_object_array_length(off) &&
                           st->n_offline < ROUTE_OFFLINE_MAX; i++) {
                struct json_object *x = json_object_array_get_idx(off, i);
                struct route_offline *y = &st->offline[st->n_offline++];

                get_text(x, "name", y->name, sizeof y->name);
                y->since = get_time(x, "since");
                y->recovery = get_time(x, "recovery");
        }
        st->last_guard = get_time(o, "last_guard");
        get_text(o, "last_guard_result", st->last_guard_result, sizeof st->last_guard_result);
        return 0;
}

int route_state_load(int store_fd, const char *repo, const char *variable, struct route_state *st) {
        char name[ROUTE_REPO_MAX + 16], stem[ROUTE_REPO_MAX];
        struct json_object *o;
        char *text = NULL;
        size_t len;
        int r;

        route_state_init(st, repo, variable);
        route_state_name(repo, stem, sizeof stem);
        snprintf(name, sizeof name, "route-%s.json", stem);
        r = store_read_file(store_fd, name, RECORD_MAX, &text, &len);
        if (r < 0)
                return r;
        o = json_tokener_parse(text);
        free(text);
        r = o ? from_json(o, st) : -EBADMSG;
        if (r == 0 && strcmp(get_str(o, "variable") ?: "", variable) != 0)
                r = -ENOENT;            /* another variable's history: begun again */
        json_object_put(o);
        if (r < 0)
                route_state_init(st, repo, variable);
        return r;
}

int route_state_lock(int store_fd, const char *repo) {
        char name[ROUTE_REPO_MAX + 16], stem[ROUTE_REPO_MAX];
        int fd;

        route_state_name(repo, stem, sizeof stem);
        snprintf(name, sizeof name, "route-%s.lock", stem);
        fd = openat(store_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        for (int i = 0; i < 600; i++) {         /* 600 x 50 ms */
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        return fd;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        break;
                usleep(50 * 1000);
        }
        int r = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(fd);
        return r;
}

int route_note_offline(int store_fd, const char *repo, const char *variable, const char *name, bool offline,
                       bool recovery, time_t now) {
        struct route_state *st = malloc(sizeof *st);
        int lock, r;

        if (!st)
                return -ENOMEM;
        if ((lock = route_state_lock(store_fd, repo)) < 0)
                return free(st), lock;
        r = route_state_load(store_fd, repo, variable, st);
        if (r >= 0 || r == -ENOENT) {
                size_t before = st->n_offline;
                time_t rec = 0;

                for (size_t i = 0; i < st->n_offline; i++)
                        if (strcmp(st->offline[i].name, name) == 0)
                                rec = st->offline[i].recovery;
                route_state_offline(st, name, offline, recovery, now);
                r = 0;
                if (before != st->n_offline || (offline && recovery && !rec))
                        r = route_state_save(store_fd, st);
        }
        close(lock);
        free(st);
        return r;
}
