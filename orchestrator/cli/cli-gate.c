/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl gate run's options, output directory and result file
 * (cli-gate.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli-gate.h"
#include "kobs-write.h"
#include "macro.h"

int cli_gate_dispatch_option(struct kobs_dispatch *d, int opt, const char *arg, const char *cmd) {
        if (opt == 'W') {
                if (!arg[0] || strlen(arg) > 200 || strpbrk(arg, "/?#% "))
                        return fprintf(stderr, "lanectl %s: the workflow is a file name in .github/workflows or an "
                                               "id\n", cmd), -EINVAL;
                d->workflow = arg;
        } else if (opt == 'f') {
                if (!arg[0] || strlen(arg) > 200 || strpbrk(arg, " ?#%\\\"") || strstr(arg, ".."))
                        return fprintf(stderr, "lanectl %s: --ref is a branch or tag name\n", cmd), -EINVAL;
                d->ref = arg;
        } else if (opt == 'i') {
                const char *eq = strchr(arg, '=');

                if (!eq || eq == arg || eq - arg > 100 || d->n_inputs == KOBS_MAX_INPUTS)
                        return fprintf(stderr, "lanectl %s: --input is KEY=VALUE (at most %d)\n", cmd,
                                       KOBS_MAX_INPUTS), -EINVAL;
                for (size_t i = 0; i < d->n_inputs; i++)
                        if (strncmp(d->inputs[i], arg, (size_t) (eq - arg) + 1) == 0)
                                return fprintf(stderr, "lanectl %s: --input %.*s is given twice\n", cmd,
                                               (int) (eq - arg), arg), -EINVAL;
                d->inputs[d->n_inputs++] = arg;
        } else
                return -EINVAL;
        return 0;
}

int cli_gate_observe_option(int opt, const char *arg, const char *cmd, unsigned *timeout_s, uint32_t *ring,
                            const char **object) {
        const char *why;
        unsigned long v;
        char *end;

        if (opt == 't') {
                if (cli_parse_duration(arg, 24 * 3600, timeout_s) < 0 || *timeout_s < 5)
                        return fprintf(stderr, "lanectl %s: --timeout must be from 5s to 24h\n", cmd), -EINVAL;
        } else if (opt == 'R') {
                errno = 0;
                v = strtoul(arg, &end, 0);
                if (errno || *end || v > UINT32_MAX || proto_validate_ringbuf_size((uint32_t) v, &why) < 0)
                        return fprintf(stderr, "lanectl %s: --ringbuf-size is not a power of two from 4096 to "
                                               "268435456\n", cmd), -EINVAL;
                *ring = (uint32_t) v;
        } else if (opt == 'b') {
                if (proto_validate_bpf_object_name(arg, &why) < 0)
                        return fprintf(stderr, "lanectl %s: --object %s\n", cmd, why), -EINVAL;
                *object = arg;
        } else
                return 1;
        return 0;
}

/* Whether NAME is what a gate writes into its directory. */
static bool gate_entry(const char *name) {
        unsigned n;
        char c;

        return strcmp(name, KOBS_GATE_RESULT_FILE) == 0 || strcmp(name, KOBS_GATE_LOG_FILE) == 0 ||
               (sscanf(name, "run-%u%c", &n, &c) == 1 && n >= 1);
}

int cli_gate_open_out(const char *path, int *ret_dir, FILE **ret_log, char *err, size_t errlen) {
        _cleanup_(closep) int dir = -EBADF, fd = -EBADF;
        struct dirent *de;
        DIR *d;

        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return snprintf(err, errlen, "cannot make %s: %m", path), -errno;
        dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0 || !(d = fdopendir(fcntl(dir, F_DUPFD_CLOEXEC, 3))))
                return snprintf(err, errlen, "cannot open %s: %m", path), -errno;
        /* a directory of something else is not emptied: refused */
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && !gate_entry(de->d_name)) {
                        snprintf(err, errlen, "%s holds %s, which no gate wrote: give an empty or new directory",
                                 path, de->d_name);
                        closedir(d);
                        return -EEXIST;
                }
        closedir(d);
        fd = openat(dir, KOBS_GATE_LOG_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || !(*ret_log = fdopen(fd, "w")))
                return snprintf(err, errlen, "cannot write %s/%s: %m", path, KOBS_GATE_LOG_FILE), -errno;
        TAKE_FD(fd);
        if (unlinkat(dir, KOBS_GATE_RESULT_FILE, 0) < 0 && errno != ENOENT)
                return snprintf(err, errlen, "cannot replace %s/%s: %m", path, KOBS_GATE_RESULT_FILE), -errno;
        *ret_dir = TAKE_FD(dir);
        return 0;
}

#define ADD(o, k, v) json_object_object_add(o, k, v)

struct json_object *cli_gate_result_new(const char *gate, const struct lane_desired *lane, const char *host,
                                        const struct kobs_dispatch *d, unsigned runs, const char *object) {
        struct json_object *r = json_object_new_object(), *in = json_object_new_object();
        char now[32];

        cli_now_utc(now, sizeof now);
        for (size_t i = 0; i < d->n_inputs; i++) {
                const char *eq = strchr(d->inputs[i], '=');
                char key[128];

                snprintf(key, sizeof key, "%.*s", (int) (eq - d->inputs[i]), d->inputs[i]);
                ADD(in, key, json_object_new_string(eq + 1));
        }
        ADD(r, "schema", json_object_new_string(KOBS_GATE_RESULT_SCHEMA));
        ADD(r, "gate", json_object_new_string(gate));
        ADD(r, "lane", json_object_new_string(lane->name));
        ADD(r, "host", json_object_new_string(host));
        ADD(r, "repository", json_object_new_string(lane->repository));
        ADD(r, "workflow", json_object_new_string(d->workflow));
        ADD(r, "ref", json_object_new_string(d->ref));
        ADD(r, "inputs", in);
        ADD(r, "bpf_object", json_object_new_string(object));
        ADD(r, "runs_requested", json_object_new_int((int) runs));
        ADD(r, "started_at", json_object_new_string(now));
        return r;
}

struct json_object *cli_gate_run_json(unsigned n, const char *dir, const char *run_id, const struct kobs_job *job,
                                      bool accepted, const char *why) {
        struct json_object *o = json_object_new_object();

        ADD(o, "run", json_object_new_int((int) n));
        ADD(o, "dir", json_object_new_string(dir));
        ADD(o, "run_id", json_object_new_string(run_id));
        ADD(o, "workflow_run_id", json_object_new_int64(job->run_id));
        ADD(o, "attempt", json_object_new_int((int) job->attempt));
        ADD(o, "job_id", json_object_new_int64(job->id));
        ADD(o, "commit", json_object_new_string(job->head_sha));
        ADD(o, "runner", json_object_new_string(job->runner_name));
        ADD(o, "conclusion", json_object_new_string(job->conclusion[0] ? job->conclusion : job->status));
        ADD(o, "acceptance", json_object_new_string(accepted ? "passed" : "failed"));
        ADD(o, "reasons", json_object_new_string(why));
        return o;
}

void cli_gate_changed(struct json_object *changed, unsigned n, const char *file) {
        struct json_object *o = json_object_new_object();

        ADD(o, "run", json_object_new_int((int) n));
        ADD(o, "file", json_object_new_string(file));
        json_object_array_add(changed, o);
}

void cli_gate_result(struct json_object *result, struct json_object *runs, struct json_object *changed,
                     unsigned passed, unsigned requested, int same) {
        size_t made = json_object_array_length(runs);
        bool failed = same == 0, skipped = false;
        char now[32];

        for (size_t i = 0; i < made; i++) {
                struct json_object *r = json_object_array_get_idx(runs, i);

                failed |= strcmp(json_object_get_string(json_object_object_get(r, "acceptance")), "passed") != 0;
                skipped |= strcmp(json_object_get_string(json_object_object_get(r, "conclusion")), "skipped") == 0;
        }
        cli_now_utc(now, sizeof now);
        ADD(result, "finished_at", json_object_new_string(now));
        ADD(result, "runs", runs);
        ADD(result, "runs_passed", json_object_new_int((int) passed));
        ADD(result, "determinism", json_object_new_string(requested == 1 ? "not_applicable" : same < 0 ?
                                                          "not_evaluated" : same ? "passed" : "failed"));
        ADD(result, "changed", changed);
        /* a skip is a failure of the gate, named as such */
        ADD(result, "status", json_object_new_string(skipped ? "skipped" : failed ? "failed" :
                                                     passed == requested ? "passed" : "incomplete"));
}

int cli_gate_write_result(int dir, struct json_object *result, FILE **log, char *err, size_t errlen) {
        struct json_object *keep;
        const char *text = kobs_json_text(result, false, &keep);
        int r;

        if (*log) {
                r = fflush(*log) == 0 && fsync(fileno(*log)) == 0 ? 0 : -errno;
                fclose(*log);
                *log = NULL;
                if (r < 0) {
                        json_object_put(keep);
                        return snprintf(err, errlen, "cannot write %s: %s", KOBS_GATE_LOG_FILE, strerror(-r)), r;
                }
        }
        r = text ? kobs_write_file(dir, KOBS_GATE_RESULT_FILE, text, strlen(text), err, errlen) : -ENOMEM;
        json_object_put(keep);
        return r;
}
