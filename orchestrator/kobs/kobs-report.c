/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kobs-report.h"
#include "macro.h"
#include "proto-validate.h"

const char *const kobs_file_names[_KOBS_FILE_MAX] = {
        [KOBS_EVENTS] = "events.ndjson",
        [KOBS_HEALTH] = "observation-health.json",
        [KOBS_SURFACE] = "capability-surface.json",
        [KOBS_CORRELATION] = "correlation-report.json",
};

static const char *const kind_names[] = { NULL, "exec", "open", "connect", "fork", "exit" };

bool kobs_noise_path(const char *path) {
        static const char *const prefixes[] = {
                "/lib/", "/lib64/", "/lib32/", "/usr/lib/", "/usr/lib64/", "/usr/lib32/", "/usr/local/lib/",
                "/proc/", "/sys/", "/dev/", "/usr/share/locale/", "/usr/share/zoneinfo/", "/usr/share/i18n/",
                "/etc/ld.so.", "/etc/localtime", "/etc/locale.alias", "/etc/nsswitch.conf", "/etc/passwd",
                "/etc/group", "/usr/lib/locale/", "/usr/share/terminfo/", "/etc/terminfo/",
        };
        size_t len = strlen(path);

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        /* toolchain and runtime shared objects wherever they are */
        return (len > 3 && strcmp(path + len - 3, ".so") == 0) || strstr(path, ".so.") != NULL;
}

static bool hexrun(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

void kobs_normalise_path(const char *path, char *buf, size_t size) {
        size_t o = 0;

        for (const char *p = path; *p && o + 1 < size;) {
                size_t n = strlen(p);

                if (n >= 36 && hexrun(p, 8) && p[8] == '-' && hexrun(p + 9, 4) && p[13] == '-' && hexrun(p + 14, 4) &&
                    p[18] == '-' && hexrun(p + 19, 4) && p[23] == '-' && hexrun(p + 24, 12)) {
                        o += (size_t) snprintf(buf + o, size - o, "<uuid>");
                        p += 36;
                } else if (strncmp(p, "/proc/", 6) == 0 && isdigit((unsigned char) p[6])) {
                        o += (size_t) snprintf(buf + o, size - o, "/proc/<pid>");
                        for (p += 6; isdigit((unsigned char) *p); p++)
                                ;
                } else
                        buf[o++] = *p++;
                if (o >= size)
                        o = size - 1;
        }
        buf[o < size ? o : size - 1] = '\0';
}

/* The processes of the job: descendants of the first worker. */
struct scope {
        uint32_t *pids;
        size_t n, cap;
        uint32_t worker;
        size_t workers;                    /* Runner.Worker execs seen */
        bool worker_exit;
};

static bool in_scope(const struct scope *s, uint32_t pid) {
        for (size_t i = 0; i < s->n; i++)
                if (s->pids[i] == pid)
                        return true;
        return false;
}

static int scope_add(struct scope *s, uint32_t pid) {
        if (in_scope(s, pid))
                return 0;
        if (s->n == s->cap) {
                size_t cap = s->cap ? 2 * s->cap : 64;
                uint32_t *p = realloc(s->pids, cap * sizeof *p);

                if (!p)
                        return -ENOMEM;
                s->pids = p;
                s->cap = cap;
        }
        s->pids[s->n++] = pid;
        return 0;
}

static bool is_worker_exec(const struct lk_obs_event *e) {
        const char *base = strrchr(e->path, '/');

        return e->kind == LK_EV_EXEC && strcmp(base ? base + 1 : e->path, KOBS_WORKER) == 0;
}

/* Which records are the job's: 1 the job's, 0 the runner's (or the lane's). */
static int classify(struct scope *s, const struct lk_obs_event *e, bool with_job) {
        if (!with_job)
                return 1;
        if (is_worker_exec(e)) {
                if (s->workers++ == 0)
                        s->worker = e->pid;
                return 0;
        }
        if (s->worker && e->pid == s->worker) {
                if (e->kind == LK_EV_FORK && scope_add(s, e->child) < 0)
                        return -ENOMEM;
                if (e->kind == LK_EV_EXIT)
                        s->worker_exit = true;
                return 0;   /* the worker is the runner's own process */
        }
        if (!in_scope(s, e->pid))
                return 0;
        if (e->kind == LK_EV_FORK && scope_add(s, e->child) < 0)
                return -ENOMEM;
        return 1;
}

static void add_int(struct json_object *o, const char *k, int64_t v) {
        json_object_object_add(o, k, json_object_new_int64(v));
}

static void add_str(struct json_object *o, const char *k, const char *v) {
        json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static const char *access_mode(uint32_t flags) {
        return (flags & 3) == 0 ? "read" : (flags & 3) == 1 ? "write" : "read-write";
}

static void endpoint(const struct lk_obs_event *e, char *buf, size_t size) {
        char addr[INET6_ADDRSTRLEN] = "";

        if (e->family == AF_INET)
                snprintf(buf, size, "inet:%s:%u", inet_ntop(AF_INET, e->addr, addr, sizeof addr) ?: "?", e->port);
        else if (e->family == AF_INET6)
                snprintf(buf, size, "inet6:[%s]:%u", inet_ntop(AF_INET6, e->addr, addr, sizeof addr) ?: "?", e->port);
        else if (e->family == AF_UNIX)
                snprintf(buf, size, "unix:%s", e->path[0] ? e->path : "(abstract or unnamed)");
        else
                snprintf(buf, size, "family-%u", e->family);
}

static struct json_object *event_json(const struct lk_obs_event *e, size_t seq, const struct kobs_input *in,
                                      int job) {
        struct json_object *o = json_object_new_object();
        char ep[PROTO_PATH_MAX + 64];

        add_int(o, "seq", (int64_t) seq);
        add_str(o, "kind", kind_names[e->kind]);
        add_int(o, "pid", e->pid);
        add_int(o, "ppid", e->ppid);
        add_str(o, "comm", e->comm);
        add_str(o, "scope", job ? "job" : in->job && in->job->id ? "runner" : "lane");
        add_int(o, "cgroup_id", (int64_t) e->cgroup_id);
        if (e->kind == LK_EV_EXEC) {
                add_str(o, "path", e->path);
                add_str(o, "argv0", e->arg0);
        } else if (e->kind == LK_EV_OPEN) {
                add_str(o, "path", e->path);
                add_str(o, "access", access_mode(e->flags));
                json_object_object_add(o, "create", json_object_new_boolean(e->flags & O_CREAT));
                json_object_object_add(o, "truncate", json_object_new_boolean(e->flags & O_TRUNC));
                add_int(o, "result", e->result);
        } else if (e->kind == LK_EV_CONNECT) {
                endpoint(e, ep, sizeof ep);
                add_str(o, "endpoint", ep);
                add_int(o, "result", e->result);
        } else if (e->kind == LK_EV_FORK)
                add_int(o, "child", e->child);
        else
                add_int(o, "status", e->result);
        return o;
}

/* A sorted set of strings, as a JSON array. */
struct set {
        char **v;
        size_t n, cap;
};

static int set_add(struct set *s, const char *str) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i], str) == 0)
                        return 0;
        if (s->n == s->cap) {
                size_t cap = s->cap ? 2 * s->cap : 32;
                char **v = realloc(s->v, cap * sizeof *v);

                if (!v)
                        return -ENOMEM;
                s->v = v;
                s->cap = cap;
        }
        s->v[s->n] = strdup(str);
        if (!s->v[s->n])
                return -ENOMEM;
        s->n++;
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static struct json_object *set_json(struct set *s) {
        struct json_object *a = json_object_new_array();

        if (s->n > 0)   /* an empty set has no array at all */
                qsort(s->v, s->n, sizeof *s->v, cmp_str);
        for (size_t i = 0; i < s->n; i++) {
                json_object_array_add(a, json_object_new_string(s->v[i]));
                free(s->v[i]);
        }
        free(s->v);
        *s = (struct set) {};
        return a;
}

enum { S_EXEC, S_WRITTEN, S_CREATED, S_READ, S_NET, _S_MAX };

static int surface_add(struct set sets[_S_MAX], const struct lk_obs_event *e) {
        char path[LK_OBS_PATH_MAX + 16], ep[PROTO_PATH_MAX + 64];
        int r = 0;

        kobs_normalise_path(e->path, path, sizeof path);
        if (e->kind == LK_EV_EXEC)
                return set_add(&sets[S_EXEC], path);
        if (e->kind == LK_EV_CONNECT) {
                endpoint(e, ep, sizeof ep);
                return set_add(&sets[S_NET], ep);
        }
        if (e->kind != LK_EV_OPEN || e->result < 0 || strncmp(path, "/dev/", 5) == 0)
                return 0;
        if ((e->flags & 3) != 0)
                r = set_add(&sets[S_WRITTEN], path);
        if (r >= 0 && (e->flags & O_CREAT))
                r = set_add(&sets[S_CREATED], path);
        if (r >= 0 && (e->flags & 3) != 1 && !kobs_noise_path(path))
                r = set_add(&sets[S_READ], path);
        return r;
}

static struct json_object *surface_json(const struct kobs_input *in, struct set sets[_S_MAX]) {
        static const char *const keys[_S_MAX] = { "process_execs", "files_written", "files_created",
                                                  "files_read", "network_endpoints" };
        struct json_object *o = json_object_new_object();

        add_str(o, "schema", "lanekeeper.capability-surface/1");
        add_str(o, "run_id", in->run_id);
        add_str(o, "lane", in->lane);
        for (unsigned i = 0; i < _S_MAX; i++)
                json_object_object_add(o, keys[i], set_json(&sets[i]));
        return o;
}

static struct json_object *health_json(const struct kobs_input *in, const struct kobs_report *r,
                                       const size_t counts[LK_EV_EXIT + 1]) {
        struct json_object *o = json_object_new_object(), *m = json_object_new_object(),
                           *by = json_object_new_object(), *c = json_object_new_object();

        add_str(o, "schema", "lanekeeper.observation-health/1");
        add_str(o, "run_id", in->run_id);
        add_str(o, "lane", in->lane);
        add_str(o, "kernel_layer", r->complete ? "complete" : in->n_ev || r->drops ? "partial_ringbuf_drops" : "absent");
        add_int(o, "ringbuf_drops", (int64_t) r->drops);
        add_int(o, "records_refused", (int64_t) in->bad);
        add_str(o, "cgroup_correlation", json_object_get_string(json_object_object_get(r->obj[KOBS_CORRELATION],
                                                                                        "status")));
        add_str(o, "bpf_object", in->object);
        add_str(o, "bpf_object_sha256", in->digest);
        for (unsigned h = 0; h < LK_HOOK_MAX; h++) {
                add_int(by, kind_names[h + 1], (int64_t) in->drops[h]);
                add_int(c, kind_names[h + 1], (int64_t) counts[h + 1]);
        }
        json_object_object_add(m, "drops_by_hook", by);
        json_object_object_add(m, "job_events_by_kind", c);
        add_int(m, "records", (int64_t) in->n_ev);
        add_int(m, "ring_buffer_bytes", in->ring_size);
        add_int(m, "ring_buffer_high_water", (int64_t) in->high_water);
        add_int(m, "attach_us", (int64_t) in->attach_us);
        add_int(m, "drain_us", (int64_t) in->drain_us);
        json_object_object_add(o, "measurements", m);
        return o;
}

static void iso_ms(uint64_t ms, char *buf, size_t size) {
        time_t t = (time_t) (ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
                 tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100, (unsigned) (ms % 1000));
}

/* The binding of the window to the job (or the lane) and how clean it is. */
static struct json_object *correlation_json(const struct kobs_input *in, const struct scope *sc, size_t job_events,
                                            size_t other) {
        struct json_object *o = json_object_new_object(), *amb = json_object_new_array(),
                           *bindings = json_object_new_array(), *b = json_object_new_object(),
                           *m = json_object_new_object(), *cg = json_object_new_object();
        const struct kobs_job *j = in->job && in->job->id ? in->job : NULL;
        const char *status = "clean";
        char when[40];

        if (!in->cgroup_verified)
                json_object_array_add(amb, json_object_new_string("the lane unit's cgroup id could not be confirmed "
                                                                  "by lanectl"));
        if (j) {
                if (sc->workers == 0)
                        json_object_array_add(amb, json_object_new_string("no " KOBS_WORKER " began in the window: "
                                                                          "the job's processes are unknown"));
                if (sc->workers > 1)
                        json_object_array_add(amb, json_object_new_string("more than one " KOBS_WORKER " began in "
                                                                          "the window: the first was taken"));
                if (sc->workers && !sc->worker_exit)
                        json_object_array_add(amb, json_object_new_string("the worker did not exit in the window"));
                if (strcmp(j->runner_name, in->lane) != 0)
                        json_object_array_add(amb, json_object_new_string("GitHub says another runner ran the job"));
                if (strcmp(j->status, "completed") != 0)
                        json_object_array_add(amb, json_object_new_string("the job had not completed when the "
                                                                          "window closed"));
        }
        if (json_object_array_length(amb) > 0)
                status = (j && (sc->workers == 0 || strcmp(j->runner_name, in->lane) != 0)) ? "failed" : "partial";
        add_str(o, "schema", "lanekeeper.correlation-report/1");
        add_str(o, "run_id", in->run_id);
        add_str(o, "status", status);
        json_object_object_add(o, "ambiguities", amb);
        add_str(b, "kind", j ? "job" : "lane");
        add_str(b, "decision", strcmp(status, "failed") == 0 ? "unbound" : "bound");
        add_str(b, "lane", in->lane);
        if (j) {
                add_str(b, "job_name", j->name);
                add_str(b, "runner_name", j->runner_name);
                add_str(b, "conclusion", j->conclusion[0] ? j->conclusion : NULL);
                add_str(b, "processes", "descendants of " KOBS_WORKER);
        }
        json_object_array_add(bindings, b);
        json_object_object_add(o, "bindings", bindings);
        add_str(cg, "path", in->cgroup_path);
        json_object_object_add(cg, "verified", json_object_new_boolean(in->cgroup_verified));
        json_object_object_add(o, "cgroup", cg);
        if (j) {
                add_int(m, "job_id", j->id);
                add_int(m, "run_id", j->run_id);
                add_int(m, "run_attempt", j->attempt);
        }
        add_int(m, "cgroup_id", (int64_t) in->cgroup_id);
        add_int(m, "job_processes", (int64_t) sc->n);
        add_int(m, "job_events", (int64_t) job_events);
        add_int(m, "other_events", (int64_t) other);
        iso_ms(in->from_ms, when, sizeof when);
        add_str(m, "window_from", when);
        iso_ms(in->to_ms, when, sizeof when);
        add_str(m, "window_to", when);
        json_object_object_add(o, "measurements", m);
        return o;
}

int kobs_report_build(const struct kobs_input *in, struct kobs_report *ret) {
        struct set sets[_S_MAX] = {};
        struct scope sc = {};
        size_t counts[LK_EV_EXIT + 1] = {}, other = 0;
        bool with_job = in->job && in->job->id;
        int r = 0;

        *ret = (struct kobs_report) {};
        ret->job = calloc(in->n_ev + 1, 1);
        if (!ret->job)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_ev && r >= 0; i++) {
                const struct lk_obs_event *e = &in->ev[i];
                int job = classify(&sc, e, with_job);

                if (job < 0) {
                        r = job;
                        break;
                }
                ret->job[i] = (unsigned char) job;
                if (!job) {
                        other++;
                        continue;
                }
                ret->job_events++;
                counts[e->kind]++;
                r = surface_add(sets, e);
        }
        for (unsigned h = 0; h < LK_HOOK_MAX; h++)
                ret->drops += in->drops[h];
        ret->complete = ret->drops == 0 && in->bad == 0 && in->n_ev > 0;
        ret->obj[KOBS_CORRELATION] = correlation_json(in, &sc, ret->job_events, other);
        ret->clean = strcmp(json_object_get_string(json_object_object_get(ret->obj[KOBS_CORRELATION], "status")),
                            "clean") == 0;
        ret->obj[KOBS_SURFACE] = surface_json(in, sets);
        ret->obj[KOBS_HEALTH] = health_json(in, ret, counts);
        free(sc.pids);
        if (r < 0)
                kobs_report_free(ret);
        return r;
}

struct json_object *kobs_event_json(const struct kobs_input *in, const struct kobs_report *rep, size_t i) {
        return event_json(&in->ev[i], i, in, rep->job[i]);
}

void kobs_report_free(struct kobs_report *r) {
        for (unsigned i = 0; i < _KOBS_FILE_MAX; i++)
                json_object_put(r->obj[i]);
        free(r->job);
        *r = (struct kobs_report) {};
}
