/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What lanectl slo and lanectl route share (cli-route.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli-route.h"
#include "gh-client.h"
#include "health.h"
#include "proto-validate.h"
#include "supervisor.h"

int cli_route_open(struct cli *cli, struct route_ctx *rc, const char *repo, const char *cmd, bool write) {
        char cache[PROTO_PATH_MAX + 32], err[512] = "", dir[PROTO_PATH_MAX + 16];
        const char *reason;
        long long offset;
        int r;

        *rc = (struct route_ctx) { .store_fd = -EBADF, .lock_fd = -EBADF, .audit = { .dirfd = -EBADF } };
        if (proto_validate_repository(repo, &reason) < 0)
                return fprintf(stderr, "lanectl %s: '%s' is not a repository (OWNER/NAME): %s\n", cmd, repo, reason),
                       -EINVAL;
        snprintf(rc->repo, sizeof rc->repo, "%s", repo);
        if (cli_settings(cli, &rc->s) < 0)
                return -EINVAL;
        if ((r = cli_become_store_owner(rc->s->store_dir)) < 0)
                return fprintf(stderr, "lanectl %s: cannot become the owner of %s: %s\n", cmd, rc->s->store_dir,
                               strerror(-r)), r;
        (void) gethostname(rc->host, sizeof rc->host - 1);
        snprintf(cache, sizeof cache, "%s/github-cache", rc->s->store_dir);
        if (gh_client_new(rc->s, cache, &rc->c, err, sizeof err) < 0)
                return fprintf(stderr, "lanectl %s: %s\n", cmd, err), -EIO;
        rc->store_fd = open(rc->s->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rc->store_fd < 0)
                return fprintf(stderr, "lanectl %s: cannot open the store %s: %m\n", cmd, rc->s->store_dir), -errno;
        snprintf(dir, sizeof dir, "%s/audit", rc->s->store_dir);
        if (write && (r = audit_open(dir, &rc->audit)) < 0)
                return fprintf(stderr, "lanectl %s: cannot open the audit store %s: %s\n", cmd, dir, strerror(-r)), r;
        if (write && (rc->lock_fd = route_state_lock(rc->store_fd, repo)) < 0)
                return fprintf(stderr, "lanectl %s: cannot lock the routing record of %s: %s\n", cmd, repo,
                               strerror(-rc->lock_fd)), rc->lock_fd;
        r = route_state_load(rc->store_fd, repo, rc->s->route.variable, &rc->st);
        if (r == -EBADMSG)
                fprintf(stderr, "lanectl %s: the routing record of %s is damaged; its history begins again\n", cmd, repo);
        else if (r < 0 && r != -ENOENT)
                return fprintf(stderr, "lanectl %s: cannot read the routing record of %s: %s\n", cmd, repo,
                               strerror(-r)), r;
        rc->had_history = rc->st.n_history > 0;
        r = route_read_variable(rc->c, repo, rc->s->route.variable, &rc->value, err, sizeof err);
        if (r < 0)
                return fprintf(stderr, "lanectl %s: cannot read %s of %s: %s\n", cmd, rc->s->route.variable, repo, err), r;
        rc->now = time(NULL);
        if (gh_clock_offset(rc->c, &offset))
                rc->now += (time_t) offset;
        route_state_observe(&rc->st, rc->value, rc->now, "observed", "read by lanectl");
        return 0;
}

int cli_route_gather(struct route_ctx *rc, unsigned last, const char *cmd) {
        char err[512] = "";
        int r = route_gather(rc->c, rc->repo, last, &rc->s->route, rc->now, &rc->in, err, sizeof err);

        if (r < 0)
                return fprintf(stderr, "lanectl %s: the runs of %s cannot be read: %s\n", cmd, rc->repo, err), r;
        route_state_apply(&rc->st, &rc->in);
        return 0;
}

void cli_route_close(struct route_ctx *rc) {
        route_input_free(&rc->in);
        audit_close(&rc->audit);
        if (rc->lock_fd >= 0)
                close(rc->lock_fd);
        if (rc->store_fd >= 0)
                close(rc->store_fd);
        gh_client_free(rc->c);
        rc->c = NULL;
        rc->store_fd = rc->lock_fd = -EBADF;
}

/* Lane I of the snapshot is offline: none of its runners online on GitHub. */
static bool lane_offline(const struct health_snapshot *snap, size_t i) {
        for (size_t k = 0; k < snap->n_runners; k++)
                if (snap->runners[k].lane == (int) i && snap->runners[k].online)
                        return false;
        return true;
}

static bool lane_recovery(const struct health_plan *plan, size_t i) {
        for (size_t k = 0; k < plan->n_actions; k++) {
                const struct health_action *a = &plan->actions[k];

                if (a->lane == (int) i && (a->verb == HV_RESTART || a->verb == HV_REREGISTER) &&
                    (a->result == HR_COMPLETED || a->result == HR_FAILED))
                        return true;
        }
        return false;
}

void cli_route_after_health(const struct settings *s, struct gh_client *gh, const struct health_snapshot *snap,
                            const struct health_plan *plan, const char *host) {
        struct route_guard_result *res;
        time_t now = time(NULL);
        long long offset;
        int fd, r;

        if (s->route.n_repositories == 0 || !gh)
                return;
        if (gh_clock_offset(gh, &offset))
                now += (time_t) offset;         /* the guard's clock: GitHub's */
        fd = open(s->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (size_t g = 0; fd >= 0 && snap->runners_known && g < s->route.n_repositories; g++)
                for (size_t i = 0; i < snap->n_lanes; i++)
                        if (snap->lanes[i].enabled && lane_serves_repository(snap->lanes[i].d, s->route.repositories[g]))
                                (void) route_note_offline(fd, s->route.repositories[g], s->route.variable,
                                                          snap->lanes[i].d->name, lane_offline(snap, i),
                                                          lane_recovery(plan, i), now);
        if (fd >= 0)
                close(fd);
        res = calloc(s->route.n_repositories, sizeof *res);
        if (!res)
                return;
        r = route_guard_repos(gh, s, (char (*)[ROUTE_REPO_MAX]) s->route.repositories, s->route.n_repositories, host,
                              "health route guard", time(NULL), res);
        for (size_t g = 0; g < s->route.n_repositories; g++) {
                if (res[g].problem[0])
                        fprintf(stderr, "lanectl health: route guard: %s: %s\n", s->route.repositories[g],
                                res[g].problem);
                else if (res[g].turned_off)
                        fprintf(stderr, "lanectl health: route guard: %s: routing turned off: %s\n",
                                s->route.repositories[g], route_verdict_first(&res[g].verdict));
                route_guard_result_free(&res[g]);
        }
        (void) r;
        free(res);
}

struct route_tick {
        struct cli_exec *x;
        const struct pool_sup *sup;
};

/* The supervisor's pools serving [route] repositories, offline or not,
 * at NOW (GitHub's clock), told to the routing records. */
static void note_pools(const struct settings *s, const struct pool_sup *sup, time_t now) {
        int fd = open(s->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char name[128];
        bool recovery;

        for (size_t i = 0; fd >= 0 && i < sup->n_pools; i++) {
                const struct sup_pool *sp = &sup->pools[i];
                int off = sup_pool_offline(sp, &recovery);

                snprintf(name, sizeof name, "pool %.100s", sp->p.lane.name);
                for (size_t g = 0; off >= 0 && g < s->route.n_repositories; g++)
                        if (lane_serves_repository(&sp->p.lane, s->route.repositories[g]))
                                (void) route_note_offline(fd, s->route.repositories[g], s->route.variable, name,
                                                          off, recovery, now);
        }
        if (fd >= 0)
                close(fd);
}

static int on_guard(sd_event_source *es, uint64_t usec, void *userdata) {
        struct route_tick *t = userdata;
        struct cli_exec *x = t->x;
        const struct settings *s = x->s;
        struct route_guard_result *res = calloc(s->route.n_repositories, sizeof *res);
        time_t now = time(NULL);
        long long offset;

        (void) usec;
        if (res && x->real.gh) {
                if (gh_clock_offset(x->real.gh, &offset))
                        now += (time_t) offset;         /* the guard's clock: GitHub's */
                note_pools(s, t->sup, now);
                (void) route_guard_repos(x->real.gh, s, (char (*)[ROUTE_REPO_MAX]) s->route.repositories,
                                         s->route.n_repositories, x->host, "pool supervise route guard", time(NULL), res);
                for (size_t g = 0; g < s->route.n_repositories; g++) {
                        if (res[g].problem[0])
                                fprintf(stderr, "lanectl pool supervise: route guard: %s: %s\n",
                                        s->route.repositories[g], res[g].problem);
                        else if (res[g].turned_off)
                                fprintf(stderr, "lanectl pool supervise: route guard: %s: routing turned off: %s\n",
                                        s->route.repositories[g], route_verdict_first(&res[g].verdict));
                        route_guard_result_free(&res[g]);
                }
        }
        free(res);
        return sd_event_source_set_time_relative(es, (uint64_t) s->route.interval_s * 1000000);
}

int cli_route_supervise(sd_event *e, struct cli_exec *x, const struct pool_sup *sup, sd_event_source **ret) {
        struct route_tick *t;
        int r;

        *ret = NULL;
        if (x->s->route.n_repositories == 0)
                return 0;
        t = malloc(sizeof *t);
        if (!t)
                return -ENOMEM;
        *t = (struct route_tick) { .x = x, .sup = sup };
        r = sd_event_add_time_relative(e, ret, CLOCK_MONOTONIC, (uint64_t) x->s->route.interval_s * 1000000, 0,
                                       on_guard, t);
        if (r < 0)
                return free(t), r;
        r = sd_event_source_set_destroy_callback(*ret, free);
        if (r >= 0)
                r = sd_event_source_set_enabled(*ret, SD_EVENT_ON);
        return r;
}
