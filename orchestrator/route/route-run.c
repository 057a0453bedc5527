/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One guard cycle over several repositories (route.h): what lanectl route
 * guard, the health timer and the pool supervisor each run. The store's
 * records are the state; the metrics textfile is written whole after. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "route.h"
#include "store-file.h"

void route_metrics_path(const struct settings *s, char *path, size_t size) {
        if (s->route.metrics_file[0])
                snprintf(path, size, "%s", s->route.metrics_file);
        else
                snprintf(path, size, "%s/metrics/lanekeeper-route.prom", s->store_dir);
}

static int write_metrics(const struct settings *s, const struct route_metrics *m, size_t n) {
        char path[PROTO_PATH_MAX + 64], *text = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        if (s->route.metrics_off)
                return 0;
        if (!s->route.metrics_file[0]) {
                snprintf(path, sizeof path, "%s/metrics", s->store_dir);
                (void) mkdir(path, 0755);
        }
        route_metrics_path(s, path, sizeof path);
        f = open_memstream(&text, &len);
        if (!f)
                return -ENOMEM;
        route_metrics_write(f, m, n);
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        r = store_write_path(path, text, len, 0644, (uid_t) -1, (gid_t) -1);
        free(text);
        return r;
}

int route_guard_repos(struct gh_client *c, const struct settings *s, char (*repos)[ROUTE_REPO_MAX], size_t n,
                      const char *host, const char *command, time_t now, struct route_guard_result *res) {
        struct route_metrics *m = calloc(n ? n : 1, sizeof *m);
        struct route_state *st = calloc(n ? n : 1, sizeof *st);
        struct audit_store audit = { .dirfd = -EBADF };
        char dir[PROTO_PATH_MAX + 16];
        int fd = -EBADF, r = 0, held = 0;

        if (!m || !st) {
                r = -ENOMEM;
                goto out;
        }
        fd = open(s->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        snprintf(dir, sizeof dir, "%s/audit", s->store_dir);
        if (fd < 0 || (r = audit_open(dir, &audit)) < 0) {
                r = fd < 0 ? -errno : r;
                for (size_t i = 0; i < n; i++)
                        snprintf(res[i].problem, sizeof res[i].problem, "the store cannot be opened: %s",
                                 strerror(-r));
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                int lock = route_state_lock(fd, repos[i]), k;

                if (lock < 0) {
                        k = lock;
                        res[i] = (struct route_guard_result) {};
                        snprintf(res[i].problem, sizeof res[i].problem, "the routing record cannot be locked: %s",
                                 strerror(-k));
                } else {
                        k = route_guard(c, fd, &audit, s, repos[i], host, command, now, &res[i]);
                        close(lock);
                }

                if (k < 0 && r == 0)
                        r = k;
                held += res[i].was_on && res[i].verdict.n_held > 0;
                (void) route_state_load(fd, repos[i], s->route.variable, &st[i]);
                m[i] = (struct route_metrics) { .st = &st[i], .res = &res[i] };
        }
        (void) write_metrics(s, m, n);
out:
        audit_close(&audit);
        if (fd >= 0)
                close(fd);
        free(m);
        free(st);
        return r < 0 ? r : held;
}
