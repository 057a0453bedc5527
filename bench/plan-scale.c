/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench/plan-scale: plan 1,000 and 10,000 lanes against inventories of the
 * same size, both read from files (the inventory as pages of 100 runners,
 * as GitHub serves them): lane files parsed one by one, the
 * list-runners response parsed and indexed, GitHub and the runner directory
 * observed by the real adapters, the plan made and rendered as the JSON
 * lanectl prints. The unit and baseline adapters are constants here: over
 * D-Bus and on the host they cost per lane what the system does, not what
 * the planner does. Each size runs in its own process for its peak RSS.
 * Prints figures and the 10k/1k ratio; asserts nothing.
 * Goal: 10,000 lanes in <= 100 ms and <= 64 MiB, growth linear. */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inventory.h"
#include "lane-file.h"
#include "observe.h"
#include "plan-json.h"
#include "plan.h"

static char work[128] = "/tmp/lanekeeper-plan-scale-XXXXXX";

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* N lane files and an N-runner inventory: most lanes supervised and
 * matching, some with other labels, some absent from GitHub. */
static void generate(int n) {
        char path[512];
        FILE *inv;

        snprintf(path, sizeof path, "%s/lanes-%d", work, n);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                exit(1);
        for (int i = 0; i < n; i++) {
                FILE *f;

                snprintf(path, sizeof path, "%s/lanes-%d/lane-%05d.conf", work, n, i);
                f = fopen(path, "we");
                if (!f)
                        exit(1);
                fprintf(f, "[lane]\nname = lane-%05d\nrepository = acme/site-%d\nhost = ci-1\nroot = %s/runners\n"
                           "user = ghrunner\nlabels = self-hosted, linux, X64, lanekeeper-managed\nversion = any\n"
                           "managed = true\n", i, i % 3, work);
                fclose(f);
        }
        snprintf(path, sizeof path, "%s/inventory-%d.json", work, n);
        inv = fopen(path, "we");
        if (!inv)
                exit(1);
        /* 100 runners a page, as GitHub serves them and 'gh api --paginate' prints them */
        for (int i = 0; i < n; i++) {
                if (i % 100 == 0)
                        fprintf(inv, "%s{\"total_count\":%d,\"runners\":[", i ? "]}\n" : "", n);
                fprintf(inv, "%s{\"id\":%d,\"name\":\"%s-%05d\",\"os\":\"linux\",\"status\":\"%s\",\"busy\":%s,"
                             "\"ephemeral\":false,\"runner_group_id\":1,\"labels\":["
                             "{\"id\":1,\"name\":\"self-hosted\",\"type\":\"read-only\"},"
                             "{\"id\":2,\"name\":\"Linux\",\"type\":\"read-only\"},"
                             "{\"id\":3,\"name\":\"%s\",\"type\":\"read-only\"},"
                             "{\"id\":4,\"name\":\"lanekeeper-managed\",\"type\":\"custom\"}]}",
                        i % 100 ? "," : "", i + 1, i % 10 == 9 ? "gone" : "lane", i, i % 3 ? "online" : "offline",
                        i % 7 ? "false" : "true", i % 20 == 3 ? "ARM64" : "X64");
        }
        fprintf(inv, "]}\n");
        fclose(inv);
}

static void unit_const(const struct observe_env *e, const struct lane_desired *d, struct observation *o) {
        (void) e;
        o->unit_known = o->unit_exists = o->unit_managed = true;
        (void) proto_unit_name_for_lane(d->name, o->unit_name, sizeof o->unit_name);
        strcpy(o->unit_active, "active");
        strcpy(o->unit_user, "ghrunner");
}

static void baseline_const(const struct observe_env *e, const struct lane_desired *d, struct observation *o) {
        (void) e, (void) d;
        o->n_checks = 1;
        o->checks[0] = (struct baseline_check) { .name = "cgroup_v2", .state = BASELINE_READY };
}

static int conf_filter(const struct dirent *d) {
        return d->d_name[0] != '.';
}

/* The measured part, in a child. Prints "MS READY BLOCKED BYTES". */
static int run(int n) {
        static const char *const repos[] = { "acme/site-0", "acme/site-1", "acme/site-2" };
        static const char *const roots[1], *const users[] = { "ghrunner" };
        static const struct observe_ops ops = { observe_github, observe_local, unit_const, baseline_const };
        static struct lane_desired d;
        static struct observation o;
        static struct plan p;
        const char *root_list[1];
        char path[512], err[256], runners[256];
        struct inventory inv;
        struct observe_env env = {};
        struct plan_policy pol;
        struct dirent **ents;
        size_t ready = 0, blocked = 0, bytes = 0, len;
        char *text;
        FILE *f;
        int m;
        double t0 = now_ms(), t_inv, phase[4] = {};

        (void) roots;
        snprintf(runners, sizeof runners, "%s/runners", work);
        root_list[0] = runners;
        pol = (struct plan_policy) { .host = "ci-1", .repositories = repos, .n_repositories = 3, .roots = root_list,
                                     .n_roots = 1, .users = users, .n_users = 1 };
        snprintf(path, sizeof path, "%s/inventory-%d.json", work, n);
        f = fopen(path, "re");
        if (!f || fseek(f, 0, SEEK_END) < 0 || (len = (size_t) ftell(f)) == 0 || fseek(f, 0, SEEK_SET) < 0)
                return 1;
        text = malloc(len);
        if (!text || fread(text, 1, len, f) != len)
                return 1;
        fclose(f);
        if (inventory_parse(text, len, &inv, err, sizeof err) < 0)
                return fprintf(stderr, "plan-scale: %s\n", err), 1;
        free(text);
        env.inventory = &inv;
        t_inv = now_ms() - t0;

        snprintf(path, sizeof path, "%s/lanes-%d", work, n);
        m = scandir(path, &ents, conf_filter, alphasort);
        if (m != n)
                return 1;
        for (int i = 0; i < m; i++) {
                struct ini_diags diags = {};
                struct plan_request req = { .intent = INTENT_PLAN, .this_host = "ci-1", .same_name_lanes = 1 };
                struct json_object *j;

                double t = now_ms();

                snprintf(path, sizeof path, "%s/lanes-%d/%s", work, n, ents[i]->d_name);
                free(ents[i]);
                f = fopen(path, "re");
                if (!f || lane_file_parse(f, &d, &diags) < 0)
                        return fprintf(stderr, "plan-scale: %s does not parse\n", path), 1;
                fclose(f);
                phase[0] += now_ms() - t, t = now_ms();
                observe_lane(&ops, &env, &d, &o);
                phase[1] += now_ms() - t, t = now_ms();
                plan_lane(&d, &o, &pol, &req, &p);
                phase[2] += now_ms() - t, t = now_ms();
                j = lane_plan_to_json(&d, &o, &p);
                bytes += strlen(json_object_to_json_string_ext(j, JSON_C_TO_STRING_SPACED));
                json_object_put(j);
                phase[3] += now_ms() - t;
                if (p.status == PLAN_READY)
                        ready++;
                else
                        blocked++;
        }
        free(ents);
        inventory_free(&inv);
        printf("%.1f %zu %zu %zu %.1f %.1f %.1f %.1f %.1f\n", now_ms() - t0, ready, blocked, bytes, t_inv, phase[0],
               phase[1], phase[2], phase[3]);
        return 0;
}

struct result {
        double ms, rss_mib, inv_ms, phase[4];
        size_t ready, blocked, bytes;
};

static int measure(int n, struct result *r) {
        int pipefd[2], status, m;
        struct rusage ru;
        char buf[128] = "";
        pid_t pid;
        ssize_t k;

        if (pipe(pipefd) < 0)
                return -1;
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
                close(pipefd[0]);
                dup2(pipefd[1], STDOUT_FILENO);
                m = run(n);
                fflush(stdout);
                _exit(m);
        }
        close(pipefd[1]);
        k = read(pipefd[0], buf, sizeof buf - 1);
        close(pipefd[0]);
        if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || k <= 0)
                return -1;
        buf[k] = '\0';
        if (sscanf(buf, "%lf %zu %zu %zu %lf %lf %lf %lf %lf", &r->ms, &r->ready, &r->blocked, &r->bytes, &r->inv_ms,
                   &r->phase[0], &r->phase[1], &r->phase[2], &r->phase[3]) != 9)
                return -1;
        r->rss_mib = (double) ru.ru_maxrss / 1024.0;
        return 0;
}

int main(int argc, char **argv) {
        static const int sizes[] = { 1000, 10000 };
        struct result res[2], best[2];
        char cmd[160];

        if (argc > 2) {   /* plan-scale N DIR: one size, in this process, on DIR made by a run before (profiling) */
                snprintf(work, sizeof work, "%s", argv[2]);
                return run(atoi(argv[1]));
        }
        if (!mkdtemp(work))
                return perror("mkdtemp"), 1;
        if (argc > 1) {   /* plan-scale N: generate and run one size, in this process, and keep the files */
                generate(atoi(argv[1]));
                fprintf(stderr, "plan-scale: files in %s\n", work);
                return run(atoi(argv[1]));
        }
        for (int s = 0; s < 2; s++)
                generate(sizes[s]);
        for (int s = 0; s < 2; s++) {
                best[s].ms = 1e18;
                for (int rep = 0; rep < 5; rep++) {   /* the best of five: the page cache is warm after the first */
                        if (measure(sizes[s], &res[s]) < 0) {
                                fprintf(stderr, "plan-scale: the run of %d lanes failed\n", sizes[s]);
                                return 1;
                        }
                        if (res[s].ms < best[s].ms)
                                best[s] = res[s];
                }
                printf("plan-scale: %5d lanes, inventory of %d runners: %7.1f ms (inventory %.1f ms), peak RSS %5.1f MiB "
                       "(%zu ready, %zu blocked, %zu bytes of JSON)\n",
                       sizes[s], sizes[s], best[s].ms, best[s].inv_ms, best[s].rss_mib, best[s].ready, best[s].blocked,
                       best[s].bytes);
                printf("plan-scale:        where: inventory %.1f, lane files %.1f, observe %.1f, plan %.1f, JSON %.1f ms\n",
                       best[s].inv_ms, best[s].phase[0], best[s].phase[1], best[s].phase[2], best[s].phase[3]);
        }
        printf("plan-scale: 10k/1k time %.2fx (linear: 10x), 10k: %.1f ms of the 100 ms goal, %.1f MiB of 64 MiB\n",
               best[1].ms / best[0].ms, best[1].ms, best[1].rss_mib);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
        return system(cmd) == 0 ? 0 : 1;
}
