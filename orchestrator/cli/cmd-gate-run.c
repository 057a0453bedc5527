/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl gate run --lane LANE --workflow FILE --ref REF [--input K=V]...
 * [--runs N] --out DIR [--gate NAME] [--object NAME] [--ringbuf-size BYTES]
 * [--timeout D]: the determinism gate of ../shared/reference/
 * determinism-gates.md on a lane marked dedicated = true. Before each run
 * the executor resets the lane (stopped, its cgroup seen empty, _work
 * emptied by its own unit as the lane's user, started again with the
 * gates); the workflow is dispatched once the programs are attached and
 * its job observed into DIR/run-N; each run must pass single-run
 * acceptance (kobs_gate_accept); runs 2..N are compared with run 1
 * (kobs_gate_compare). What it prints is kept in DIR/gate.log, the result
 * in DIR/gate.json (lanectl proof pack reads both). Exit 0 every gate
 * passed, 1 one failed, 2 usage or the lane not dedicated, 3 the helper or
 * GitHub refused or unreachable. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli-gate.h"
#include "exec.h"
#include "kobs-gate.h"
#include "kobs-observe.h"
#include "kobs-write.h"
#include "macro.h"
#include "proto-register.h"

#define GATE_RUNS_MAX 10

struct gate_run {
        struct cli_exec x;
        const char *policy, *lanes_dir, *out, *gate, *object;
        const char *lane;
        unsigned runs, timeout_s;
        uint32_t ring;
        struct kobs_dispatch d;
        struct lane_entry e;
        size_t same_name;
        char bpf_socket[PROTO_PATH_MAX + 32], gate_buf[64];
        int dir;
        FILE *log;                       /* DIR/gate.log: all that is said */
        struct json_object *result;      /* DIR/gate.json */
        long long run1_job;
        char run1_sha[48];
};

static void say(struct gate_run *g, const char *fmt, ...) _printf_(2, 3);
static void say(struct gate_run *g, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        if (g->log) {
                va_start(ap, fmt);
                vfprintf(g->log, fmt, ap);
                va_end(ap);
        }
        fflush(stdout);
}

static void usage(void) {
        fputs("usage: lanectl gate run --lane LANE --workflow FILE --ref REF [--input K=V]... [--runs N]\n"
              "                        --out DIR [--gate NAME] [--object NAME] [--ringbuf-size BYTES]\n"
              "                        [--timeout D] [--policy FILE] [--lanes-dir DIR]\n",
              stderr);
}

static int parse_one(struct gate_run *g, int opt, const char *arg) {
        const char *why;
        char *end;
        unsigned long v;
        int r;

        switch (opt) {
        case 'l':
                if (proto_validate_lane_name(arg, &why) < 0)
                        return fprintf(stderr, "lanectl gate run: lane name %s\n", why), -EINVAL;
                g->lane = arg;
                return 0;
        case 'n':
                errno = 0;
                v = strtoul(arg, &end, 10);
                if (errno || *end || v < 1 || v > GATE_RUNS_MAX)
                        return fprintf(stderr, "lanectl gate run: --runs is from 1 to %d\n", GATE_RUNS_MAX), -EINVAL;
                g->runs = (unsigned) v;
                return 0;
        case 'g':
                if (!arg[0] || strlen(arg) > 60 || strpbrk(arg, "/\"\\ \t\n:"))
                        return fprintf(stderr, "lanectl gate run: --gate is 1-60 characters, no '/', ':', quote, "
                                               "backslash or space\n"), -EINVAL;
                g->gate = arg;
                return 0;
        default:
                r = cli_gate_observe_option(opt, arg, "gate run", &g->timeout_s, &g->ring, &g->object);
                return r <= 0 ? r : cli_gate_dispatch_option(&g->d, opt, arg, "gate run");
        }
}

static int parse(struct gate_run *g, int argc, char **argv) {
        static const struct option opts[] = {
                { "lane", required_argument, NULL, 'l' }, { "workflow", required_argument, NULL, 'W' },
                { "ref", required_argument, NULL, 'f' }, { "input", required_argument, NULL, 'i' },
                { "runs", required_argument, NULL, 'n' }, { "out", required_argument, NULL, 'O' },
                { "gate", required_argument, NULL, 'g' }, { "object", required_argument, NULL, 'b' },
                { "ringbuf-size", required_argument, NULL, 'R' }, { "timeout", required_argument, NULL, 't' },
                { "policy", required_argument, NULL, 'p' }, { "lanes-dir", required_argument, NULL, 'd' }, {},
        };
        int opt;

        optind = 0;
        g->runs = 3;
        g->timeout_s = 3600;
        g->object = KOBS_OBJECT_DEFAULT;
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (opt == 'O')
                        g->out = optarg;
                else if (opt == 'p')
                        g->policy = optarg;
                else if (opt == 'd')
                        g->lanes_dir = optarg;
                else if (opt == '?' || parse_one(g, opt, optarg) < 0)
                        return -EINVAL;
        }
        if (optind != argc || !g->lane || !g->out || !g->d.workflow || !g->d.ref)
                return fprintf(stderr, "lanectl gate run: --lane, --workflow, --ref and --out are required\n"),
                       -EINVAL;
        if (!g->gate) {   /* the workflow file's stem */
                snprintf(g->gate_buf, sizeof g->gate_buf, "%.*s", (int) strcspn(g->d.workflow, "."), g->d.workflow);
                g->gate = g->gate_buf;
        }
        return 0;
}

/* The lane's file: dedicated, with a repository. 0, or an exit status. */
static int find_lane(struct gate_run *g) {
        for (size_t i = 0; i < g->x.n_files; i++) {
                snprintf(g->e.path, sizeof g->e.path, "%s", g->x.files[i].path);
                if (lane_entry_load(&g->e, stderr) && strcasecmp(g->e.lane.name, g->lane) == 0) {
                        g->same_name = g->x.files[i].same_name;
                        if (!g->e.lane.dedicated)
                                return fprintf(stderr, "lanectl gate run: lane %s is not dedicated: a gate empties the "
                                                       "lane's _work before each run; set 'dedicated = true' in %s "
                                                       "(lanekeeper-lane(5)) for a lane whose jobs are all gated\n",
                                               g->lane, g->e.path), 2;
                        if (!g->e.lane.repository[0])
                                return fprintf(stderr, "lanectl gate run: lane %s names an organisation, not a "
                                                       "repository: its workflow cannot be dispatched\n", g->lane), 2;
                        return 0;
                }
        }
        return fprintf(stderr, "lanectl gate run: no valid lane file names lane '%s'\n", g->lane), 2;
}

/* The destructive reset before run N, through the executor. */
static bool reset(struct gate_run *g, unsigned n) {
        _cleanup_(freep) struct exec_result *res = calloc(1, sizeof *res);
        char key[IDEMPOTENCY_KEY_MAX + 1], web[PROTO_REGISTER_URL_MAX + 1];
        struct exec_request req;

        if (!res)
                return say(g, "FAIL: %s reset before run %u: out of memory\n", g->gate, n), false;
        snprintf(key, sizeof key, "gate-%s-%lld-%d-run-%u", g->e.lane.name, (long long) time(NULL), (int) getpid(), n);
        exec_web_url(g->x.s->api_url, &g->e.lane, web, sizeof web);
        req = (struct exec_request) {
                .cmd = EXEC_RESTART, .lane = &g->e.lane, .pol = &g->x.pol, .key = key, .host = g->x.host,
                .web_url = web, .timeout_s = EXEC_DEFAULT_TIMEOUT_S, .reset_work = true,
                .plan = { .this_host = g->x.host, .same_name_lanes = g->same_name, .idempotency_key = key,
                          .confirmed = true },
        };
        (void) exec_lane(&g->x.ops, &req, res);
        if (res->outcome == EXEC_COMPLETED) {
                const char *what = "";

                for (size_t i = 0; i < res->n_steps; i++)
                        if (strcmp(res->steps[i].name, "reset-work") == 0)
                                what = res->steps[i].detail;
                say(g, "  run %u: reset in %lld ms (record #%llu): %s; %s\n", n, res->duration_ms,
                    (unsigned long long) res->seq, what, res->n_steps ? res->steps[res->n_steps - 1].detail : "");
                return true;
        }
        if (res->outcome == EXEC_FAILED && res->n_steps)
                say(g, "FAIL: %s reset before run %u failed at %s: %s\n", g->gate, n, res->failed ?: "?",
                    res->steps[res->n_steps - 1].detail);
        else if (res->outcome == EXEC_BLOCKED)
                say(g, "FAIL: %s reset before run %u refused by the plan: %s\n", g->gate, n,
                    res->p.n_blockers ? res->p.blockers[0].detail : "blocked");
        else
                say(g, "FAIL: %s reset before run %u: %s\n", g->gate, n,
                    res->outcome == EXEC_BUSY ? "another lanectl command holds the lane" : res->error);
        return false;
}

static int dispatch(void *data, struct kobs_observe *o, char *err, size_t errlen) {
        struct gate_run *g = data;
        long long run;

        return kobs_dispatch(o->gh, &g->d, &run, &o->job_id, err, errlen);
}

/* Run N: observed into DIR/run-N and accepted or not. 1 passed, 0 failed,
 * -1 the helper or GitHub refused (exit 3). */
static int observe_one(struct gate_run *g, unsigned n, struct json_object *runs) {
        _cleanup_(freep) struct kobs_observe *o = calloc(1, sizeof *o);
        _cleanup_(closep) int dir = -EBADF;
        struct kobs_report rep = {};
        char name[32], run_id[64], err[600], why[2048] = "";
        int r, w;
        bool ok;

        if (!o)
                return say(g, "FAIL: %s run %u: out of memory\n", g->gate, n), 0;
        *o = (struct kobs_observe) { .bpf_socket = g->bpf_socket, .lane = g->e.lane.name, .object = g->object,
                                     .repo = g->e.lane.repository, .ring = g->ring, .timeout_s = g->timeout_s,
                                     .gh = g->x.real.gh, .started = dispatch, .data = g };
        r = kobs_observe_run(o, err, sizeof err);
        if (r == -EPERM || r == -EHOSTDOWN || r == -EPROTO || (r < 0 && !o->job_id)) {
                say(g, "FAIL: %s run %u: %s\n", g->gate, n, err);
                kobs_free(&o->s);
                return -1;
        }
        snprintf(name, sizeof name, "run-%u", n);
        snprintf(run_id, sizeof run_id, "%lld-%u", o->job.run_id, o->job.attempt);
        if ((mkdirat(g->dir, name, 0755) < 0 && errno != EEXIST) ||
            (dir = openat(g->dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                w = -errno, snprintf(err, sizeof err, "cannot make %s/%s: %s", g->out, name, strerror(-w));
        else
                w = kobs_observe_write(o, run_id, dir, &rep, err, sizeof err);
        if (w < 0) {
                say(g, "FAIL: %s run %u: %s\n", g->gate, n, err);
                kobs_free(&o->s);
                kobs_report_free(&rep);
                return 0;
        }
        ok = kobs_gate_accept(dir, &rep, &o->job, why, sizeof why);
        if (r < 0)
                snprintf(why + strlen(why), sizeof why - strlen(why), "%s%s", why[0] ? "; " : "", err), ok = false;
        if (n == 1) {
                g->run1_job = o->job.id;
                snprintf(g->run1_sha, sizeof g->run1_sha, "%s", o->job.head_sha);
        } else if (strcmp(o->job.head_sha, g->run1_sha) != 0) {
                snprintf(why + strlen(why), sizeof why - strlen(why), "%sthe ref moved: run 1 ran %s, run %u ran %s",
                         why[0] ? "; " : "", g->run1_sha, n, o->job.head_sha);
                ok = false;
        }
        if (ok)
                say(g, "PASS: %s acceptance\n", g->gate);
        else
                say(g, "FAIL: %s acceptance (run %u): %s\n", g->gate, n, why);
        say(g, "  run %u: run %lld attempt %u, job %lld %s on %s, commit %.12s; %zu records (%zu the job's), "
            "%llu drops, ring %u bytes (most used %llu), attach %llu ms, drain %llu us\n", n, o->job.run_id, o->job.attempt, o->job.id,
            o->job.conclusion[0] ? o->job.conclusion : o->job.status, o->job.runner_name[0] ? o->job.runner_name : "-",
            o->job.head_sha, o->s.n_ev, rep.job_events, (unsigned long long) rep.drops, o->s.ring_size,
            (unsigned long long) o->high_water, (unsigned long long) o->s.attach_us / 1000, (unsigned long long) o->drain_us);
        json_object_array_add(runs, cli_gate_run_json(n, name, run_id, &o->job, ok, why));
        kobs_free(&o->s);
        kobs_report_free(&rep);
        return ok;
}

static const char *runs_word(unsigned n) {
        static const char *const words[] = { "zero", "one", "two", "three", "four", "five",
                                             "six", "seven", "eight", "nine", "ten" };

        return n < ELEMENTSOF(words) ? words[n] : "many";
}

/* Runs 2..N against run 1: 1 all the same, 0 a difference. */
static int determinism(struct gate_run *g, struct json_object *changed) {
        _cleanup_(closep) int d1 = openat(g->dir, "run-1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int same = 1;

        for (unsigned n = 2; n <= g->runs; n++) {
                _cleanup_(closep) int dn = -EBADF;
                _cleanup_(freep) char *text = NULL;
                size_t len = 0;
                char label[32], err[400];
                FILE *f = open_memstream(&text, &len);
                int r;

                snprintf(label, sizeof label, "run-%u", n);
                dn = openat(g->dir, label, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = f && d1 >= 0 && dn >= 0 ? kobs_gate_compare(d1, dn, "run-1", label, f, err, sizeof err) : -EIO;
                if (f)
                        fclose(f);
                if (r < 0) {
                        say(g, "FAIL: %s comparing run 1 with run %u: %s\n", g->gate, n, r == -EIO ? "out of memory or "
                            "a run directory missing" : err);
                        return 0;
                }
                if (r > 0) {
                        say(g, "%s", text);
                        for (size_t i = 0; i < KOBS_GATE_FILES; i++)
                                if (strstr(text, kobs_gate_files[i]))
                                        cli_gate_changed(changed, n, kobs_gate_files[i]);
                        same = 0;
                }
        }
        return same;
}

static int gate(struct gate_run *g) {
        struct json_object *runs = json_object_new_array(), *changed = json_object_new_array();
        unsigned passed = 0, n;
        int r = 0, same = -1;

        say(g, "gate %s: %u runs of %s at %s on lane %s (%s), out %s\n", g->gate, g->runs, g->d.workflow, g->d.ref,
            g->e.lane.name, g->e.lane.repository, g->out);
        for (n = 1; n <= g->runs; n++) {
                if (!reset(g, n))
                        break;
                r = observe_one(g, n, runs);
                if (r <= 0)
                        break;
                passed++;
        }
        if (passed == g->runs && g->runs > 1) {
                same = determinism(g, changed);
                if (same)
                        say(g, "PASS: %s %s-run determinism\n", g->gate, runs_word(g->runs));
                else
                        say(g, "FAIL: %s %s-run determinism\n", g->gate, runs_word(g->runs));
        } else if (g->runs > 1)
                say(g, "FAIL: %s %s-run determinism not evaluated: run %u did not pass\n", g->gate, runs_word(g->runs),
                    n);
        cli_gate_result(g->result, runs, changed, passed, g->runs, same);
        if (r < 0)
                return 3;
        return passed == g->runs && same != 0 ? 0 : 1;
}

int cmd_gate_run(struct cli *cli, int argc, char **argv) {
        _cleanup_(freep) struct gate_run *g = calloc(1, sizeof *g);
        char err[400];
        int ret = 3;

        if (!g)
                return 3;
        g->dir = -EBADF;
        cli_exec_init(&g->x);
        if (parse(g, argc - 1, argv + 1) < 0)
                return usage(), 2;
        if (cli_exec_open(cli, &g->x, g->policy, g->lanes_dir, "gate run") < 0)
                goto out;
        if ((ret = find_lane(g)) != 0)
                goto out;
        ret = 3;
        if (!g->x.real.gh) {
                fprintf(stderr, "lanectl gate run: GitHub: %s\n", g->x.real.gh_problem);
                goto out;
        }
        g->d.repo = g->e.lane.repository;
        helper_bpf_socket(g->x.real.helper.socket_path, g->bpf_socket, sizeof g->bpf_socket);
        if (cli_gate_open_out(g->out, &g->dir, &g->log, err, sizeof err) < 0) {
                fprintf(stderr, "lanectl gate run: %s\n", err);
                goto out;
        }
        g->result = cli_gate_result_new(g->gate, &g->e.lane, g->x.host, &g->d, g->runs, g->object);
        ret = gate(g);
        if (cli_gate_write_result(g->dir, g->result, &g->log, err, sizeof err) < 0) {
                fprintf(stderr, "lanectl gate run: %s\n", err);
                ret = 3;
        }
out:
        json_object_put(g->result);
        if (g->log)
                fclose(g->log);
        closep(&g->dir);
        cli_exec_close(&g->x);
        return ret;
}
