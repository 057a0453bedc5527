/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gh-auth.h"
#include "macro.h"
#include "store-file.h"
#include "sup-scaleset.h"
#include "supervisor.h"

#define POLL_BUF_MAX (8u << 20)

static void state_name(const struct sup_pool *sp, char *buf, size_t size) {
        snprintf(buf, size, "pool-%s.scaleset", sp->p.lane.name);
}

/* The store's record: the last message handled, and what status shows. */
static void save(struct pool_sup *s, struct sup_pool *sp) {
        const struct sup_ss *x = sp->ss;
        const struct gh_ss_stats *t = &x->stats;
        char name[PROTO_LANE_NAME_MAX + 32], text[1200];
        int n, r;

        state_name(sp, name, sizeof name);
        n = snprintf(text, sizeof text,
                     "set=%s\nset_id=%lld\nlast_message=%lld\nsession=%s\nowner=%s\nproblem=%s\nstatistics_at=%lld\n"
                     "available=%lld\nacquired=%lld\nassigned=%lld\nrunning=%lld\nregistered=%lld\nbusy=%lld\nidle=%lld\n",
                     x->conn.set_name, x->conn.set_id, x->last_id, x->conn.session, x->conn.owner, x->problem,
                     (long long) x->stats_at, t->available, t->acquired, t->assigned, t->running, t->registered, t->busy,
                     t->idle);
        r = store_write_atomic(s->store_fd, name, text, (size_t) (n < (int) sizeof text ? n : (int) sizeof text - 1), true);
        if (r < 0)
                fprintf(stderr, "lanectl pool supervise: %s: cannot keep the last message: %s\n", sp->p.lane.name,
                        strerror(-r));
}

char *sup_ss_status_read(int store_fd, const char *pool) {
        char name[PROTO_LANE_NAME_MAX + 32], *text = NULL;
        size_t len;

        snprintf(name, sizeof name, "pool-%s.scaleset", pool);
        return store_read_file(store_fd, name, 8192, &text, &len) < 0 ? NULL : text;
}

/* The store's record of SP's set into X (a record of another set: none). */
static void load(struct pool_sup *s, const struct sup_pool *sp, struct sup_ss *x, bool all) {
        _cleanup_(freep) char *text = sup_ss_status_read(s->store_fd, sp->p.lane.name);
        struct gh_ss_stats *t = &x->stats;
        char *save_ptr = NULL;
        bool ours = false;

        for (char *l = text ? strtok_r(text, "\n", &save_ptr) : NULL; l; l = strtok_r(NULL, "\n", &save_ptr)) {
                char *v = strchr(l, '=');
                long long n;

                if (!v)
                        continue;
                *v++ = '\0';
                n = strtoll(v, NULL, 10);
                if (strcmp(l, "set") == 0)
                        ours = strcmp(v, sp->p.scale_set) == 0;
                if (!ours)
                        continue;
                if (strcmp(l, "last_message") == 0)
                        x->last_id = n;
                if (!all)
                        continue;
                if (strcmp(l, "set_id") == 0)
                        x->conn.set_id = n;
                else if (strcmp(l, "session") == 0)
                        snprintf(x->conn.session, sizeof x->conn.session, "%s", v);
                else if (strcmp(l, "owner") == 0)
                        snprintf(x->conn.owner, sizeof x->conn.owner, "%s", v);
                else if (strcmp(l, "problem") == 0)
                        snprintf(x->problem, sizeof x->problem, "%s", v);
                else if (strcmp(l, "statistics_at") == 0)
                        x->stats_known = (x->stats_at = (time_t) n) > 0;
                else {
                        static const char *const keys[] = { "available", "acquired", "assigned", "running",
                                                            "registered", "busy", "idle" };
                        long long *dst[] = { &t->available, &t->acquired, &t->assigned, &t->running,
                                             &t->registered, &t->busy, &t->idle };

                        for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                                if (strcmp(l, keys[k]) == 0)
                                        *dst[k] = n;
                }
        }
}

int sup_ss_new(struct pool_sup *s, struct sup_pool *sp, bool observer) {
        if (sp->p.mode != POOL_MODE_SCALE_SET)
                return 0;
        sp->ss = calloc(1, sizeof *sp->ss);
        if (!sp->ss)
                return -ENOMEM;
        gh_ss_init(&sp->ss->conn, sp->scope, sp->p.scale_set);
        sp->ss->poll_fd = -1;
        sp->ss->observer = observer;
        load(s, sp, sp->ss, observer);
        return 0;
}

static void poll_stop(struct sup_ss *x) {
        if (x->poll_pid > 0) {
                kill(x->poll_pid, SIGKILL);
                (void) waitpid(x->poll_pid, NULL, 0);
        }
        x->poll_pid = 0;
        if (x->poll_fd >= 0)
                close(x->poll_fd);
        x->poll_fd = -1;
        free(x->buf);
        x->buf = NULL;
        x->len = x->cap = 0;
}

void sup_ss_close(struct pool_sup *s, struct sup_pool *sp) {
        char err[600];

        if (!sp->ss)
                return;
        poll_stop(sp->ss);
        if (sp->ss->conn.session[0] && s->real->gh && !sp->ss->observer) {
                if (gh_ss_session_close(s->real->gh, &sp->ss->conn, err, sizeof err) < 0)
                        sup_record(s, sp, NULL, "session-close", "failed", err);
                else
                        sup_record(s, sp, NULL, "session-close", "completed", NULL);
                save(s, sp);
        }
        gh_ss_free(&sp->ss->conn);
        free(sp->ss);
        sp->ss = NULL;
}

static void take_stats(struct sup_ss *x, const struct gh_ss_stats *t) {
        x->stats = *t;
        x->stats_known = true;
        x->stats_at = time(NULL);
}

int sup_ss_ensure(struct pool_sup *s, struct sup_pool *sp, time_t now) {
        struct sup_ss *x = sp->ss;
        char err[600] = "", owner[200];
        bool created = false;
        int r = 0;

        if (x->conn.session[0] || x->observer)
                return 0;
        if (now < x->retry_at)
                return snprintf(sp->problem, sizeof sp->problem, "%s", x->problem), -EAGAIN;
        if (!x->conn.set_id) {
                r = gh_ss_set_ensure(s->real->gh, &x->conn, sp->p.lane.group, &created, err, sizeof err);
                if (r == 0)
                        sup_record(s, sp, NULL, "scale-set", created ? "created" : "found", x->conn.set_name);
        }
        snprintf(owner, sizeof owner, "%s/%s", s->host, sp->p.lane.name);
        if (r == 0)
                r = gh_ss_session_open(s->real->gh, &x->conn, owner, err, sizeof err);
        if (r == -EBUSY) {
                x->conflicts++;
                sup_record(s, sp, NULL, "session", "conflict", err);
                snprintf(x->problem, sizeof x->problem, "the set's session is held elsewhere (a killed supervisor's "
                                                        "until the service times it out): asked again every %d s",
                         SUP_SS_CONFLICT_RETRY_S);
        } else if (r < 0)
                snprintf(x->problem, sizeof x->problem, "scale set %s: %s", x->conn.set_name, err);
        if (r < 0) {
                x->retry_at = now + SUP_SS_CONFLICT_RETRY_S;
                save(s, sp);
                return snprintf(sp->problem, sizeof sp->problem, "%s", x->problem), r;
        }
        x->sessions++;
        x->problem[0] = '\0';
        take_stats(x, &x->conn.stats);
        sup_record(s, sp, NULL, "session", "opened", x->conn.session);
        /* a message handled but not deleted when the last supervisor stopped */
        if (x->last_id > 0)
                (void) gh_ss_message_delete(s->real->gh, &x->conn, x->last_id, err, sizeof err);
        save(s, sp);
        return 0;
}

bool sup_ss_need_runners(const struct sup_pool *sp) {
        if (!sp->ss->rebuilt)
                return true;
        for (unsigned n = 0; n < sp->n_slots; n++) {
                const struct slot_seen *seen = &sp->slots[n].seen;
                bool running = pool_unit_up(seen->active);

                if (running && !seen->online)
                        return true;
                if (!running && sp->slots[n].handed)
                        return true;   /* handed a JIT configuration, then down: is its registration left? */
        }
        return false;
}

unsigned sup_ss_queued(const struct sup_pool *sp) {
        long long busy = 0, assigned = sp->ss->stats.assigned;

        for (unsigned n = 0; n < sp->n_slots; n++)
                busy += sp->slots[n].seen.busy;
        return assigned > busy ? (unsigned) (assigned - busy > POOL_MAX_SLOTS ? POOL_MAX_SLOTS : assigned - busy) : 0;
}

/* ---- the long poll, in a child ---- */

static void poll_child(struct pool_sup *s, struct sup_pool *sp, int fd) {
        struct gh_response r = {};
        char err[600], head[32];
        int n;

        /* nothing of the parent's but the answer's pipe (as the helper's
         * child): the event loop's and the slots' fds stay the parent's */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1 || dup2(fd, 3) < 0 || close_range(4, ~0U, 0) < 0 ||
            gh_client_detach(s->real->gh) < 0)
                _exit(1);
        fd = 3;
        if (gh_ss_poll(s->real->gh, &sp->ss->conn, sp->ss->last_id, sp->p.max, SUP_SS_POLL_MS, &r, err, sizeof err) < 0) {
                /* no answer: why, for the record (the client's errors are redacted) */
                n = snprintf(head, sizeof head, "0\n");
                if (write(fd, head, (size_t) n) != n || write(fd, err, strlen(err)) != (ssize_t) strlen(err))
                        _exit(1);
                _exit(0);
        }
        n = snprintf(head, sizeof head, "%ld\n", r.status);
        if (write(fd, head, (size_t) n) != n || (r.body && write(fd, r.body, r.len) != (ssize_t) r.len))
                _exit(1);
        _exit(0);
}

int sup_ss_poll_start(struct pool_sup *s, struct sup_pool *sp) {
        struct sup_ss *x = sp->ss;
        int p[2];
        pid_t pid;

        if (!x || x->poll_pid || !x->conn.session[0] || !s->real->gh || time(NULL) < x->poll_after)
                return -1;
        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return -1;
        }
        if (pid == 0) {
                close(p[0]);
                poll_child(s, sp, p[1]);
        }
        close(p[1]);
        (void) fcntl(p[0], F_SETFL, O_NONBLOCK);
        x->poll_pid = pid;
        x->poll_fd = p[0];
        x->polls++;
        return p[0];
}

/* A slot's runner took a job or finished one. */
static void note_job(struct pool_sup *s, struct sup_pool *sp, const struct gh_ss_job *j) {
        unsigned n = sup_slot_number(sp, j->runner_name);
        struct sup_slot *ss = n ? &sp->slots[n - 1] : NULL;

        if (!ss)
                return;
        if (j->kind == GH_SS_STARTED) {
                ss->seen.busy = ss->seen.online = true;
                ss->seen.runner_id = j->runner_id;
                ss->handed = ss->seen.handed = 0;
                ss->job_id = j->request_id;
                ss->run_id = j->run_id;
                snprintf(ss->job, sizeof ss->job, "%s", j->name);
                if (j->queued)
                        sup_note_claim(s, j->request_id, (double) (time(NULL) - j->queued));
        } else if (j->kind == GH_SS_COMPLETED && (!ss->seen.runner_id || ss->seen.runner_id == j->runner_id)) {
                /* the ephemeral runner is gone with its job: the unit starts a new one */
                ss->seen.busy = ss->seen.online = false;
                ss->seen.runner_id = 0;
                ss->job_id = ss->run_id = 0;
                ss->job[0] = '\0';
        }
}

/* Message M: its jobs (unless handled before), its statistics. An
 * acquisition that failed fails it: the message is read again. */
static int handle(struct pool_sup *s, struct sup_pool *sp, const struct gh_ss_message *m) {
        struct sup_ss *x = sp->ss;
        long long ids[256];
        size_t n_ids = 0, got = 0;
        char err[600], detail[160];
        int r;

        take_stats(x, &m->stats);
        if (m->id <= x->last_id) {   /* read again after a restart: handled already */
                x->duplicates++;
                sup_record(s, sp, NULL, "message", "skipped", "handled before a restart: deleted only");
                return 0;
        }
        x->messages++;
        for (size_t i = 0; i < m->n_jobs; i++) {
                if (m->jobs[i].kind == GH_SS_AVAILABLE && n_ids < ELEMENTSOF(ids))
                        ids[n_ids++] = m->jobs[i].request_id;
                note_job(s, sp, &m->jobs[i]);
        }
        if (n_ids > 0 && !sp->draining) {
                r = gh_ss_acquire(s->real->gh, &x->conn, ids, n_ids, &got, err, sizeof err);
                x->acquired += got;
                /* the jobs acquired are the set's: counted as assigned now, so
                 * that this message's pass starts their runners, until the
                 * service's next statistics (which count them) replace these */
                x->stats.assigned += (long long) got;
                x->stats.available -= x->stats.available > (long long) got ? (long long) got : x->stats.available;
                snprintf(detail, sizeof detail, "%zu of %zu available jobs", got, n_ids);
                sup_record(s, sp, NULL, "acquire", r < 0 ? "failed" : "completed", r < 0 ? err : detail);
                if (r < 0)
                        return r;   /* not deleted: offered again with the message */
        }
        snprintf(detail, sizeof detail, "message %lld: %zu job events; assigned %lld, running %lld", m->id, m->n_jobs,
                 m->stats.assigned, m->stats.running);
        sup_record(s, sp, NULL, "message", "handled", detail);
        return 0;
}

/* The poll's answer STATUS with BODY. */
static void poll_done(struct pool_sup *s, struct sup_pool *sp, long status, const char *body) {
        struct sup_ss *x = sp->ss;
        struct gh_ss_message m;
        char err[600] = "";
        int r = 0;

        if (status == 202) {
                x->backoff_s = 0;
                return;
        }
        if (status == 200 && gh_ss_parse_message(body, &m) == 0) {
                r = handle(s, sp, &m);
                if (r == 0 && m.id > x->last_id)
                        x->last_id = m.id;
                if (r == 0) {
                        save(s, sp);   /* kept before the delete: a restart between them deletes it only */
                        r = gh_ss_message_delete(s->real->gh, &x->conn, m.id, err, sizeof err);
                } else
                        snprintf(err, sizeof err, "message %lld: its jobs were not acquired: read again", m.id);
                gh_ss_message_free(&m);
        } else if (status == 401) {   /* the queue token expired */
                x->refreshes++;
                r = gh_ss_session_refresh(s->real->gh, &x->conn, err, sizeof err);
        } else {
                x->poll_errors++;
                if (status)
                        snprintf(err, sizeof err, "the message poll answered %ld", status);
                else
                        snprintf(err, sizeof err, "the message poll had no answer: %.500s", body && *body ? body : "(the poll's process ended)");
                r = status == 404 ? -ENOENT : -EIO;
        }
        if (r == 0 && status != 401) {
                x->backoff_s = 0;
                return;
        }
        /* the next poll waits: a service that fails at once is not asked in a loop */
        x->backoff_s = x->backoff_s ? (x->backoff_s * 2 > SUP_SS_BACKOFF_MAX_S ? SUP_SS_BACKOFF_MAX_S : x->backoff_s * 2) : 1;
        x->poll_after = time(NULL) + x->backoff_s;
        if (r < 0) {
                sup_record(s, sp, NULL, "poll", "failed", err);
                if (r == -ENOENT) {   /* the session is gone: a new one at the next pass */
                        x->conn.session[0] = '\0';
                        x->retry_at = 0;
                }
        }
}

int sup_ss_poll_read(struct pool_sup *s, struct sup_pool *sp) {
        struct sup_ss *x = sp->ss;
        ssize_t n;

        (void) s;
        for (;;) {
                if (x->len + 65536 + 1 > x->cap) {
                        char *grown = x->cap + 65536 + 1 > POLL_BUF_MAX ? NULL : realloc(x->buf, x->cap + 65536 + 1);

                        if (!grown)
                                return 1;
                        x->buf = grown;
                        x->cap += 65536 + 1;
                }
                n = read(x->poll_fd, x->buf + x->len, x->cap - x->len - 1);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n <= 0)
                        return 1;
                x->len += (size_t) n;
        }
}

void sup_ss_poll_finish(struct pool_sup *s, struct sup_pool *sp) {
        struct sup_ss *x = sp->ss;
        char *nl = x->buf ? (x->buf[x->len] = '\0', strchr(x->buf, '\n')) : NULL;
        long status = nl ? strtol(x->buf, NULL, 10) : 0;
        pid_t pid = x->poll_pid;

        x->poll_pid = 0;   /* reaped here: not killed */
        (void) waitpid(pid, NULL, 0);
        close(x->poll_fd);
        x->poll_fd = -1;
        poll_done(s, sp, status, nl ? nl + 1 : NULL);
        if (x->buf)
                explicit_bzero(x->buf, x->len);
        free(x->buf);
        x->buf = NULL;
        x->len = x->cap = 0;
}

/* ---- runners ---- */

int sup_ss_jit(struct pool_sup *s, struct sup_pool *sp, const char *slot, long long *ret_id, char **ret, char *err,
               size_t errlen) {
        struct sup_ss *x = sp->ss;
        long long old = 0;
        size_t len;
        bool created;
        int r = 0;

        if (!x->conn.set_id)
                r = gh_ss_set_ensure(s->real->gh, &x->conn, sp->p.lane.group, &created, err, errlen);
        if (r == 0)
                r = gh_ss_runner_find(s->real->gh, &x->conn, slot, &old, err, errlen);
        if (r == 0) {   /* an earlier run's registration of this name */
                r = gh_ss_runner_delete(s->real->gh, &x->conn, old, err, errlen);
                if (r == -EBUSY)
                        snprintf(err, errlen, "%s: runner %lld of this name still runs a job", slot, old);
                if (r == -ENOENT)
                        r = 0;
        } else if (r == -ENOENT)
                r = 0;
        if (r == 0)
                r = gh_ss_jit(s->real->gh, &x->conn, slot, "_work", ret_id, ret, &len, err, errlen);
        return r;
}

int sup_ss_runner_delete(struct pool_sup *s, struct sup_pool *sp, long long id, char *err, size_t errlen) {
        return gh_ss_runner_delete(s->real->gh, &sp->ss->conn, id, err, errlen);
}
