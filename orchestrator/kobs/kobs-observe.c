/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One observed window: attach, (start the job,) read until the job ended
 * and its worker exited or the duration passed, drain, detach; then the
 * artifacts. GitHub is asked about the job every KOBS_JOB_POLL_MS; the ring
 * buffer is read in between, so it never waits on GitHub. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gh-client.h"
#include "gh-json.h"
#include "kobs-observe.h"
#include "kobs-write.h"
#include "macro.h"
#include "proto-unit.h"

#define KOBS_JOB_POLL_MS 500
#define KOBS_WORKER_GRACE_MS 5000     /* after the job completed, for its worker's exit */
#define KOBS_DRAIN_DEADLINE_MS 2000
#define KOBS_READ_EVERY_MS 5     /* the programs wake lanectl only for a filling ring: it reads this often */

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static uint64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

int kobs_job_get(struct gh_client *gh, const char *repo, long long id, struct kobs_job *ret, char *err, size_t errlen) {
        struct gh_response resp = {};
        struct json_object *o;
        char path[256];
        int r;

        snprintf(path, sizeof path, "/repos/%s/actions/jobs/%lld", repo, id);
        r = gh_request(gh, "GET", path, NULL, &resp, err, errlen);
        if (r < 0)
                return r;
        o = resp.status == 200 ? json_tokener_parse(resp.body ?: "") : NULL;
        if (!o) {
                snprintf(err, errlen, "GitHub answered %ld for job %lld", resp.status, id);
                gh_response_free(&resp);
                return resp.status == 404 ? -ENOENT : -EPROTO;
        }
        *ret = (struct kobs_job) { .id = gh_json_int(o, "id"), .run_id = gh_json_int(o, "run_id"),
                                   .attempt = (unsigned) gh_json_int(o, "run_attempt"),
                                   .started = gh_json_time(o, "started_at"),
                                   .completed = gh_json_time(o, "completed_at") };
        snprintf(ret->name, sizeof ret->name, "%s", gh_json_str(o, "name") ?: "");
        snprintf(ret->status, sizeof ret->status, "%s", gh_json_str(o, "status") ?: "");
        snprintf(ret->conclusion, sizeof ret->conclusion, "%s", gh_json_str(o, "conclusion") ?: "");
        snprintf(ret->runner_name, sizeof ret->runner_name, "%s", gh_json_str(o, "runner_name") ?: "");
        snprintf(ret->head_sha, sizeof ret->head_sha, "%s", gh_json_str(o, "head_sha") ?: "");
        snprintf(ret->head_branch, sizeof ret->head_branch, "%s", gh_json_str(o, "head_branch") ?: "");
        json_object_put(o);
        gh_response_free(&resp);
        return ret->id == id ? 0 : -EPROTO;
}

/* The worker's start and exit, from the records taken since *SEEN. */
static void track_worker(struct kobs_observe *o, size_t *seen) {
        for (; *seen < o->s.n_ev; (*seen)++) {
                const struct lk_obs_event *e = &o->s.ev[*seen];
                const char *base = strrchr(e->path, '/');

                if (e->kind == LK_EV_EXEC && !o->worker && strcmp(base ? base + 1 : e->path, KOBS_WORKER) == 0)
                        o->worker = e->pid;
                else if (e->kind == LK_EV_EXIT && o->worker && e->pid == o->worker)
                        o->worker_exited = true;
        }
}

/* Read until the window closes; 0, or -errno with ERR (the window is then
 * what was read: the caller still writes it). */
static int watch(struct kobs_observe *o, char *err, size_t errlen) {
        uint64_t start = now_ms(), next_poll = start, completed_at = 0;
        uint64_t deadline = start + (uint64_t) (o->job_id ? o->timeout_s : o->duration_s) * 1000;
        size_t seen = 0;
        int r;

        for (;;) {
                uint64_t t = now_ms();

                if (kobs_pump(&o->s, KOBS_READ_EVERY_MS) < 0)
                        return snprintf(err, errlen, "out of memory for the records"), -ENOMEM;
                track_worker(o, &seen);
                if (!o->job_id) {
                        if (t >= deadline)
                                return 0;
                        continue;
                }
                if (t >= next_poll && !completed_at) {
                        r = kobs_job_get(o->gh, o->repo, o->job_id, &o->job, err, errlen);
                        if (r < 0 && r != -EIO)
                                return r;
                        next_poll = t + KOBS_JOB_POLL_MS;
                        if (strcmp(o->job.status, "completed") == 0)
                                completed_at = t;
                }
                if (completed_at && (o->worker_exited || t >= completed_at + KOBS_WORKER_GRACE_MS))
                        return 0;
                if (t >= deadline)
                        return snprintf(err, errlen, "job %lld did not complete within %u s", o->job_id, o->timeout_s),
                               -ETIME;
        }
}

int kobs_observe_run(struct kobs_observe *o, char *err, size_t errlen) {
        char why[256];
        uint64_t id = 0;
        int r;

        o->from_ms = wall_ms();
        r = kobs_attach(&o->s, o->bpf_socket, o->lane, o->object, o->ring, err, errlen);
        if (r < 0)
                return r;
        /* The cgroup the helper resolved, seen from here: the same id. */
        o->verified = proto_cgroup_id(o->s.cgroup_path, &id, why, sizeof why) == 0 && id == o->s.cgroup_id;
        if (o->started && (r = o->started(o->data, o, err, errlen)) < 0) {
                kobs_detach(&o->s);
                return r;
        }
        r = watch(o, err, errlen);
        o->to_ms = wall_ms();
        if (kobs_drain(&o->s, KOBS_DRAIN_DEADLINE_MS, &o->drain_us) < 0 && r >= 0) {
                snprintf(err, errlen, "the ring buffer did not drain within %d ms", KOBS_DRAIN_DEADLINE_MS);
                r = -ETIME;
        }
        o->high_water = o->s.ring.high_water;
        kobs_counts(&o->s, o->drops, o->sent);
        kobs_detach(&o->s);
        return r;
}

/* Every file, canonical and compact, then the manifest and the tarball. */
int kobs_observe_write(struct kobs_observe *o, const char *run_id, int dir, struct kobs_report *rep, char *err,
                       size_t errlen) {
        const char *names[_KOBS_FILE_MAX + 1];
        struct kobs_input in = { .lane = o->lane, .run_id = run_id, .ev = o->s.ev, .n_ev = o->s.n_ev, .bad = o->s.bad,
                                 .cgroup_id = o->s.cgroup_id, .cgroup_path = o->s.cgroup_path,
                                 .cgroup_verified = o->verified, .job = o->job_id ? &o->job : NULL,
                                 .object = o->object, .digest = o->s.digest, .ring_size = o->s.ring_size,
                                 .high_water = o->high_water, .attach_us = o->s.attach_us, .drain_us = o->drain_us,
                                 .from_ms = o->from_ms, .to_ms = o->to_ms };
        struct json_object *manifest, *files, *keep;
        const char *text;
        int r;

        memcpy(in.drops, o->drops, sizeof in.drops);
        memcpy(in.sent, o->sent, sizeof in.sent);
        r = kobs_report_build(&in, rep);
        if (r < 0)
                return snprintf(err, errlen, "out of memory"), r;
        r = kobs_write_events(dir, &in, rep, err, errlen);
        for (unsigned i = KOBS_HEALTH; i < _KOBS_FILE_MAX && r >= 0; i++) {
                _cleanup_(freep) char *line = NULL;

                text = kobs_json_text(rep->obj[i], false, &keep);
                line = text ? malloc(strlen(text) + 2) : NULL;
                if (line) {
                        sprintf(line, "%s\n", text);
                        r = kobs_write_file(dir, kobs_file_names[i], line, strlen(line), err, errlen);
                } else
                        r = -ENOMEM;
                json_object_put(keep);
        }
        if (r < 0)
                return r;
        /* names in byte order: the manifest's and the tarball's */
        names[0] = kobs_file_names[KOBS_SURFACE];
        names[1] = kobs_file_names[KOBS_CORRELATION];
        names[2] = kobs_file_names[KOBS_EVENTS];
        names[3] = "manifest.json";
        names[4] = kobs_file_names[KOBS_HEALTH];
        manifest = json_object_new_object();
        files = json_object_new_array();
        json_object_object_add(manifest, "schema", json_object_new_string("lanekeeper.observation-manifest/1"));
        json_object_object_add(manifest, "run_id", json_object_new_string(run_id));
        for (unsigned i = 0; i < 5; i++)
                if (i != 3)
                        json_object_array_add(files, kobs_manifest_entry(dir, names[i], NULL));
        json_object_object_add(manifest, "files", files);
        text = kobs_json_text(manifest, false, &keep);
        r = kobs_write_file(dir, "manifest.json", text, strlen(text), err, errlen);
        json_object_put(keep);
        json_object_put(manifest);
        return r < 0 ? r : kobs_write_tarball(dir, KOBS_TARBALL, names, 5, err, errlen);
}

int kobs_write_events(int dir, const struct kobs_input *in, const struct kobs_report *rep, char *err, size_t errlen) {
        const char *name = kobs_file_names[KOBS_EVENTS];
        char tmp[64];
        int fd, r = 0;
        FILE *f;

        snprintf(tmp, sizeof tmp, ".%s.tmp", name);
        fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 || !(f = fdopen(fd, "w"))) {
                r = -errno;
                if (fd >= 0)
                        close(fd);
                return snprintf(err, errlen, "cannot create %s: %s", name, strerror(-r)), r;
        }
        for (size_t i = 0; i < in->n_ev && r == 0; i++) {
                struct json_object *e = kobs_event_json(in, rep, i), *keep;
                const char *text = e ? kobs_json_text(e, false, &keep) : NULL;

                if (!text || fputs(text, f) == EOF || fputc('\n', f) == EOF)
                        r = text ? -EIO : -ENOMEM;
                if (text)
                        json_object_put(keep);
                json_object_put(e);
        }
        if (r == 0 && (fflush(f) != 0 || fsync(fileno(f)) < 0))
                r = -errno;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(dir, tmp, dir, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir, tmp, 0);
                snprintf(err, errlen, "cannot write %s: %s", name, strerror(-r));
        }
        return r;
}
