/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl observe LANE [--job ID | --dispatch WORKFLOW --ref REF [--input
 * K=V]... | --duration D] --out DIR [--object NAME]
 * [--ringbuf-size BYTES] [--timeout D] [--run-id ID] [--output text|json]:
 * what a lane's job does, seen from the kernel (kobs-observe.h). Exit 0
 * the kernel layer complete and the correlation clean, 1 artifacts written
 * but not so, 2 usage, 3 the helper or GitHub refused or unreachable. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli-gate.h"
#include "kobs-observe.h"
#include "kobs-write.h"
#include "macro.h"

struct observe_cmd {
        struct cli_exec x;
        const char *policy, *lanes_dir, *out, *run_id;
        bool json;
        struct kobs_observe o;
        struct kobs_dispatch d;
        long long dispatched_run;
        struct lane_entry e;
        char bpf_socket[PROTO_PATH_MAX + 32];
};

static void usage(void) {
        fputs("usage: lanectl observe LANE --job ID | --dispatch WORKFLOW --ref REF [--input K=V]... | --duration D\n"
              "                       --out DIR [--object NAME]\n"
              "                       [--ringbuf-size BYTES] [--timeout D] [--run-id ID] [--output text|json]\n",
              stderr);
}

static int parse(struct observe_cmd *c, int argc, char **argv) {
        static const struct option opts[] = {
                { "job", required_argument, NULL, 'j' }, { "duration", required_argument, NULL, 'u' },
                { "out", required_argument, NULL, 'O' }, { "object", required_argument, NULL, 'b' },
                { "ringbuf-size", required_argument, NULL, 'R' }, { "timeout", required_argument, NULL, 't' },
                { "run-id", required_argument, NULL, 'I' }, { "output", required_argument, NULL, 'o' },
                { "policy", required_argument, NULL, 'p' }, { "lanes-dir", required_argument, NULL, 'd' },
                { "dispatch", required_argument, NULL, 'W' }, { "ref", required_argument, NULL, 'f' },
                { "input", required_argument, NULL, 'i' }, {},
        };
        const char *why;
        char *end;
        int opt, k;

        optind = 0;
        c->o.timeout_s = 3600;
        c->o.object = KOBS_OBJECT_DEFAULT;
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if ((k = cli_common_option(opt, optarg, &c->json, &c->policy, &c->lanes_dir)) != 0) {
                        if (k < 0)
                                return -EINVAL;
                } else if (opt == 'j') {
                        errno = 0;
                        c->o.job_id = strtoll(optarg, &end, 10);
                        if (errno || *end || c->o.job_id <= 0)
                                return fprintf(stderr, "lanectl observe: --job takes a job id\n"), -EINVAL;
                } else if (opt == 'u') {
                        if (cli_parse_duration(optarg, 24 * 3600, &c->o.duration_s) < 0 || c->o.duration_s == 0)
                                return fprintf(stderr, "lanectl observe: --duration must be from 1s to 24h\n"), -EINVAL;
                } else if ((k = cli_gate_observe_option(opt, optarg, "observe", &c->o.timeout_s, &c->o.ring,
                                                        &c->o.object)) <= 0) {
                        if (k < 0)
                                return -EINVAL;                } else if (opt == 'O')
                        c->out = optarg;
                else if (opt == 'W' || opt == 'f' || opt == 'i') {
                        if (cli_gate_dispatch_option(&c->d, opt, optarg, "observe") < 0)
                                return -EINVAL;
                }
                else if (opt == 'I') {
                        if (!optarg[0] || strlen(optarg) > 64 || strpbrk(optarg, "/\"\\ \t\n"))
                                return fprintf(stderr, "lanectl observe: --run-id is 1-64 characters, no '/', "
                                                       "quote, backslash or space\n"), -EINVAL;
                        c->run_id = optarg;
                } else
                        return -EINVAL;
        }
        if (optind + 1 != argc || !c->out)
                return -EINVAL;
        c->o.lane = argv[optind];
        if ((c->o.job_id != 0) + (c->d.workflow != NULL) + (c->o.duration_s != 0) != 1)
                return fprintf(stderr, "lanectl observe: give one of --job ID, --dispatch WORKFLOW, --duration D\n"),
                       -EINVAL;
        if (!c->d.workflow != !c->d.ref || (c->d.n_inputs && !c->d.workflow))
                return fprintf(stderr, "lanectl observe: --dispatch needs --ref, --ref and --input need "
                                       "--dispatch\n"), -EINVAL;
        return proto_validate_lane_name(c->o.lane, &why) < 0 ?
               fprintf(stderr, "lanectl observe: lane name %s\n", why), -EINVAL : 0;
}

/* The lane's file: its repository, for the job. */
static int find_lane(struct observe_cmd *c) {
        for (size_t i = 0; i < c->x.n_files; i++) {
                snprintf(c->e.path, sizeof c->e.path, "%s", c->x.files[i].path);
                if (lane_entry_load(&c->e, stderr) && strcasecmp(c->e.lane.name, c->o.lane) == 0)
                        return 0;
        }
        return fprintf(stderr, "lanectl observe: no valid lane file names lane '%s'\n", c->o.lane), -ENOENT;
}

static void print_text(const struct observe_cmd *c, const struct kobs_report *rep, const char *run_id) {
        printf("observed %s (%s): kernel layer %s, %llu ring buffer drops, correlation %s\n", c->o.lane, run_id,
               json_object_get_string(json_object_object_get(rep->obj[KOBS_HEALTH], "kernel_layer")),
               (unsigned long long) rep->drops,
               json_object_get_string(json_object_object_get(rep->obj[KOBS_CORRELATION], "status")));
        printf("  cgroup   %s (id %llu%s)\n", c->o.s.cgroup_path, (unsigned long long) c->o.s.cgroup_id,
               c->o.verified ? ", confirmed" : ", NOT confirmed");
        printf("  records  %zu (%zu the job's), attach %llu ms, drain %llu us, ring %u bytes (most used %llu)\n",
               c->o.s.n_ev, rep->job_events, (unsigned long long) c->o.s.attach_us / 1000,
               (unsigned long long) c->o.drain_us, c->o.s.ring_size, (unsigned long long) c->o.high_water);
        if (c->o.job_id)
                printf("  job      %lld (%s) run %lld attempt %u on %s: %s %s\n", c->o.job.id, c->o.job.name,
                       c->o.job.run_id, c->o.job.attempt, c->o.job.runner_name[0] ? c->o.job.runner_name : "-",
                       c->o.job.status, c->o.job.conclusion);
        printf("  wrote    %s/{events.ndjson,observation-health.json,capability-surface.json,"
               "correlation-report.json,manifest.json," KOBS_TARBALL "}\n", c->out);
}

/* Once attached: the workflow run the window is for. */
static int dispatch(void *data, struct kobs_observe *o, char *err, size_t errlen) {
        struct observe_cmd *c = data;

        return kobs_dispatch(o->gh, &c->d, &c->dispatched_run, &o->job_id, err, errlen);
}

static int observe(struct observe_cmd *c) {
        struct kobs_report rep = {};
        _cleanup_(closep) int dir = -EBADF;
        char err[600], run_id[96];
        int r, w;

        if (mkdir(c->out, 0755) < 0 && errno != EEXIST)
                return fprintf(stderr, "lanectl observe: cannot make %s: %m\n", c->out), 3;
        dir = open(c->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return fprintf(stderr, "lanectl observe: cannot open %s: %m\n", c->out), 3;
        c->o.bpf_socket = helper_bpf_socket(c->x.real.helper.socket_path, c->bpf_socket, sizeof c->bpf_socket);
        c->o.repo = c->d.repo = c->e.lane.repository;
        c->o.gh = c->x.real.gh;
        if (c->d.workflow) {
                c->o.started = dispatch;
                c->o.data = c;
        }
        r = kobs_observe_run(&c->o, err, sizeof err);
        if (r == -EPERM || r == -EHOSTDOWN || r == -EPROTO) {
                fprintf(stderr, "lanectl observe: %s: %s\n", c->o.lane, err);
                return 3;
        }
        if (r < 0)
                fprintf(stderr, "lanectl observe: %s (the window is written as it is)\n", err);
        if (c->run_id)
                snprintf(run_id, sizeof run_id, "%s", c->run_id);
        else if (c->o.job_id && c->o.job.run_id)
                snprintf(run_id, sizeof run_id, "%lld-%u", c->o.job.run_id, c->o.job.attempt);
        else
                snprintf(run_id, sizeof run_id, "%s-%llu", c->o.lane, (unsigned long long) c->o.from_ms);
        w = kobs_observe_write(&c->o, run_id, dir, &rep, err, sizeof err);
        if (w < 0) {
                fprintf(stderr, "lanectl observe: %s\n", err);
                kobs_report_free(&rep);
                return 3;
        }
        if (c->json) {
                struct json_object *keep;

                printf("%s\n", kobs_json_text(rep.obj[KOBS_HEALTH], true, &keep));
                json_object_put(keep);
        } else
                print_text(c, &rep, run_id);
        r = r == 0 && rep.complete && rep.clean ? 0 : 1;
        kobs_report_free(&rep);
        return r;
}

int cmd_observe(struct cli *cli, int argc, char **argv) {
        _cleanup_(freep) struct observe_cmd *c = calloc(1, sizeof *c);
        int ret = 3;

        if (!c)
                return 3;
        cli_exec_init(&c->x);
        if (parse(c, argc, argv) < 0)
                return usage(), 2;
        if (cli_exec_open(cli, &c->x, c->policy, c->lanes_dir, "observe") < 0)
                goto out;
        if (find_lane(c) < 0) {
                ret = 2;
                goto out;
        }
        if ((c->o.job_id || c->d.workflow) && !c->e.lane.repository[0]) {
                fprintf(stderr, "lanectl observe: lane %s names an organisation, not a repository: its jobs "
                                "cannot be found\n", c->o.lane);
                ret = 2;
                goto out;
        }
        if ((c->o.job_id || c->d.workflow) && !c->x.real.gh) {
                fprintf(stderr, "lanectl observe: GitHub: %s\n", c->x.real.gh_problem);
                goto out;
        }
        ret = observe(c);
out:
        kobs_free(&c->o.s);
        cli_exec_close(&c->x);
        return ret;
}
