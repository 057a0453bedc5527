/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl emergency stop-claims|revoke-all|pause-repo REPO|resume-repo
 * REPO|cancel-active REPO --reason TEXT [--apply --confirm WHAT]: the
 * controls an operator reaches for, each a dry run (what it would do,
 * read from GitHub and the lane files) unless --apply with --confirm
 * naming it; each audited (planned, then completed or failed). A paused
 * repository's Actions permissions are kept in the store
 * (STORE/pause-OWNER+REPO.json) until resume-repo puts them back as they
 * were. Exit 0 done (or the dry run), 1 a part failed, 2 usage, 3 GitHub
 * or the store could not be reached. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "gh-api.h"
#include "gh-client.h"
#include "gh-json.h"
#include "store-file.h"

struct em {
        struct cli *cli;
        struct cli_exec x;
        const char *verb, *repo, *reason, *confirm, *policy, *lanes_dir;
        bool apply, json;
};

static void usage(void) {
        fputs("usage: lanectl emergency stop-claims|revoke-all --reason TEXT [--apply --confirm VERB]\n"
              "       lanectl emergency pause-repo|resume-repo|cancel-active OWNER/REPO --reason TEXT\n"
              "                         [--apply --confirm OWNER/REPO]\n", stderr);
}

static bool needs_repo(const char *verb) {
        return !strcmp(verb, "pause-repo") || !strcmp(verb, "resume-repo") || !strcmp(verb, "cancel-active");
}

static int parse(struct em *m, int argc, char **argv) {
        static const struct option opts[] = {
                { "reason", required_argument, NULL, 'r' }, { "apply", no_argument, NULL, 'a' },
                { "confirm", required_argument, NULL, 'c' }, { "policy", required_argument, NULL, 'p' },
                { "lanes-dir", required_argument, NULL, 'd' }, {},
        };
        const char *why;
        int opt;

        optind = 0;     /* 0: getopt starts afresh (lanectl.c scanned with "+") */
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (opt) {
                case 'r': m->reason = optarg; break;
                case 'a': m->apply = true; break;
                case 'c': m->confirm = optarg; break;
                case 'p': m->policy = optarg; break;
                case 'd': m->lanes_dir = optarg; break;
                default: return -EINVAL;
                }
        if (optind >= argc)
                return -EINVAL;
        m->verb = argv[optind++];
        if (strcmp(m->verb, "stop-claims") && strcmp(m->verb, "revoke-all") && !needs_repo(m->verb))
                return fprintf(stderr, "lanectl emergency: no control '%s'\n", m->verb), -EINVAL;
        if (needs_repo(m->verb)) {
                if (optind >= argc)
                        return fprintf(stderr, "lanectl emergency %s: which repository (OWNER/REPO)?\n", m->verb), -EINVAL;
                m->repo = argv[optind++];
                if (proto_validate_repository(m->repo, &why) < 0)
                        return fprintf(stderr, "lanectl emergency: '%s' is not a repository: %s\n", m->repo, why), -EINVAL;
        }
        if (optind != argc)
                return -EINVAL;
        if (!m->reason || !m->reason[0])
                return fprintf(stderr, "lanectl emergency %s: --reason is required (it goes into the audit record)\n",
                               m->verb), -EINVAL;
        if (m->apply && (!m->confirm || strcasecmp(m->confirm, m->repo ?: m->verb) != 0))
                return fprintf(stderr, "lanectl emergency %s: --apply needs --confirm %s\n", m->verb, m->repo ?: m->verb),
                       -EINVAL;
        return 0;
}

static int record(struct em *m, const char *status, const char *detail, struct json_object *extra) {
        struct json_object *rec = extra ?: json_object_new_object();
        int r;

        json_object_object_add(rec, "action", json_object_new_string(m->verb));
        if (m->repo)
                json_object_object_add(rec, "repository", json_object_new_string(m->repo));
        json_object_object_add(rec, "reason", json_object_new_string(m->reason));
        if (detail)
                json_object_object_add(rec, "detail", json_object_new_string(detail));
        r = audit_append_command(&m->x.store, status, m->x.host, "emergency", rec, NULL);
        if (r < 0)
                fprintf(stderr, "lanectl emergency: the audit record could not be written: %s\n", strerror(-r));
        return r;
}

/* stop-claims and revoke-all: this host's lanes, then drain or revoke
 * --all, as those commands do (each lane audited by them). */
static int all_lanes(struct em *m) {
        bool stop = strcmp(m->verb, "stop-claims") == 0;
        char *dargv[] = { "drain", "--all", "--reason", (char *) m->reason, NULL };
        char *rargv[] = { "revoke", "--all", "--reason", (char *) m->reason, "--confirm", "all", NULL };
        struct lane_entry *e = calloc(1, sizeof *e);
        size_t n = 0;
        int r;

        if (!e)
                return 3;
        printf("%s: every lane of this host (%s):", m->verb, m->x.host);
        for (size_t i = 0; i < m->x.n_files; i++) {
                snprintf(e->path, sizeof e->path, "%s", m->x.files[i].path);
                if (lane_entry_load(e, stderr) && strcasecmp(e->lane.host, m->x.host) == 0)
                        printf(" %s", e->lane.name), n++;
        }
        free(e);
        printf("%s\n", n ? "" : " none");
        printf(stop ? "  each drained: its routing labels off, the job it runs finishes, no new claim\n"
                    : "  each revoked: stopped at once (a running job is killed), credentials purged, deregistered\n");
        if (!m->apply)
                return printf("dry run: nothing done (--apply --confirm %s)\n", m->verb), 0;
        if (record(m, "planned", NULL, NULL) < 0)
                return 3;
        fflush(stdout);
        r = stop ? cmd_drain(m->cli, 4, dargv) : cmd_revoke(m->cli, 6, rargv);
        (void) record(m, r == 0 ? "completed" : "failed", r == 0 ? NULL : "a lane was not done: see its records", NULL);
        return r == 0 ? 0 : r == 2 ? 2 : 1;
}

static void pause_name(const char *repo, char *buf, size_t size) {
        size_t i, o = (size_t) snprintf(buf, size, "pause-");

        for (i = 0; repo[i] && o + 1 < size; i++)
                buf[o++] = repo[i] == '/' ? '+' : repo[i];
        snprintf(buf + o, size - o, ".json");
}

static struct json_object *perms_json(const struct gh_actions_perms *p) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "enabled", json_object_new_boolean(p->enabled));
        if (p->allowed[0])
                json_object_object_add(o, "allowed_actions", json_object_new_string(p->allowed));
        if (p->have_sha)
                json_object_object_add(o, "sha_pinning_required", json_object_new_boolean(p->sha_pinning));
        return o;
}

static struct json_object *change(const struct gh_actions_perms *from, const struct gh_actions_perms *to) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "from", perms_json(from));
        json_object_object_add(o, "to", perms_json(to));
        return o;
}


/* The repository's Actions permissions set from NOW to TO through the
 * permissions API, audited (planned, then completed or failed): 0, 1
 * GitHub refused, 3 the record could not be written. */
static int set_perms(struct em *m, const struct gh_actions_perms *now, const struct gh_actions_perms *to) {
        char err[512] = "";
        int r;

        if (record(m, "planned", NULL, change(now, to)) < 0)
                return 3;
        r = gh_actions_perms_set(m->x.real.gh, m->repo, to, err, sizeof err);
        (void) record(m, r < 0 ? "failed" : "completed", r < 0 ? err : NULL, change(now, to));
        if (r < 0)
                return fprintf(stderr, "lanectl emergency: %s\n", err), 1;
        return 0;
}
/* pause-repo: what Actions was, kept (never over an earlier pause's), then disabled. */
static int pause_repo(struct em *m, int store, const char *name) {
        struct gh_actions_perms now, off = {};
        _cleanup_(freep) char *kept = NULL;
        char err[512] = "";
        const char *text;
        struct json_object *o;
        size_t len;
        int r;

        if (gh_actions_perms_get(m->x.real.gh, m->repo, &now, err, sizeof err) < 0)
                return fprintf(stderr, "lanectl emergency: the Actions permissions of %s: %s\n", m->repo, err), 3;
        r = store_read_file(store, name, 4096, &kept, &len);
        printf("pause-repo %s: Actions now %s%s%s; to be disabled (its queued jobs stay queued, untouched)\n", m->repo,
               now.enabled ? "enabled" : "disabled", now.allowed[0] ? ", allowed_actions " : "", now.allowed);
        if (r == 0)
                printf("  paused before by lanekeeper: what it was then stays kept: %s\n", kept);
        if (!m->apply)
                return printf("dry run: nothing done (--apply --confirm %s)\n", m->repo), 0;
        if (r < 0) {
                o = perms_json(&now);
                text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                r = store_write_atomic(store, name, text, strlen(text), false);
                json_object_put(o);
                if (r < 0)
                        return fprintf(stderr, "lanectl emergency: cannot keep %s's permissions: %s\n", m->repo,
                                       strerror(-r)), 3;
        }
        if ((r = set_perms(m, &now, &off)) != 0)
                return r;
        return printf("paused: Actions disabled for %s\n", m->repo), 0;
}

/* resume-repo: what pause-repo kept, put back exactly, then forgotten. */
static int resume_repo(struct em *m, int store, const char *name) {
        struct gh_actions_perms now, was;
        _cleanup_(freep) char *kept = NULL;
        char err[512] = "";
        size_t len;
        int r;

        r = store_read_file(store, name, 4096, &kept, &len);
        if (r == -ENOENT)
                return fprintf(stderr, "lanectl emergency: %s was not paused by lanekeeper: nothing to put back\n",
                               m->repo), 1;
        if (r < 0 || gh_actions_perms_parse(kept, &was) < 0)
                return fprintf(stderr, "lanectl emergency: %s/%s cannot be read\n", m->x.s->store_dir, name), 3;
        if (gh_actions_perms_get(m->x.real.gh, m->repo, &now, err, sizeof err) < 0)
                return fprintf(stderr, "lanectl emergency: the Actions permissions of %s: %s\n", m->repo, err), 3;
        printf("resume-repo %s: Actions now %s; to be put back as it was before the pause: %s\n", m->repo,
               now.enabled ? "enabled" : "disabled", kept);
        if (!m->apply)
                return printf("dry run: nothing done (--apply --confirm %s)\n", m->repo), 0;
        if ((r = set_perms(m, &now, &was)) != 0)
                return r;
        if (unlinkat(store, name, 0) < 0)
                fprintf(stderr, "lanectl emergency: %s/%s stays: %m\n", m->x.s->store_dir, name);
        return printf("resumed: Actions of %s as before the pause\n", m->repo), 0;
}

/* cancel-active: every run not yet ended, cancelled (each in the record). */
static int cancel_active(struct em *m) {
        _cleanup_(freep) long long *ids = NULL;
        struct json_object *done = json_object_new_array(), *failed = json_object_new_array(), *o;
        char err[512] = "";
        size_t n = 0;

        if (gh_active_runs(m->x.real.gh, m->repo, &ids, &n, err, sizeof err) < 0) {
                json_object_put(done), json_object_put(failed);
                return fprintf(stderr, "lanectl emergency: the runs of %s: %s\n", m->repo, err), 3;
        }
        printf("cancel-active %s: %zu run%s not ended:", m->repo, n, n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
                printf(" %lld", ids[i]);
        printf("\n");
        if (!m->apply || record(m, "planned", NULL, NULL) < 0) {
                json_object_put(done), json_object_put(failed);
                return m->apply ? 3 : (printf("dry run: nothing done (--apply --confirm %s)\n", m->repo), 0);
        }
        for (size_t i = 0; i < n; i++) {
                int r = gh_run_cancel(m->x.real.gh, m->repo, ids[i], false, err, sizeof err);

                json_object_array_add(r < 0 && r != -ENOENT ? failed : done, json_object_new_int64(ids[i]));
                if (r < 0 && r != -ENOENT)
                        fprintf(stderr, "lanectl emergency: run %lld: %s\n", ids[i], err);
        }
        n = json_object_array_length(failed);
        printf("cancelled %zu, %zu not\n", json_object_array_length(done), n);
        o = json_object_new_object();
        json_object_object_add(o, "cancelled", done);
        json_object_object_add(o, "not_cancelled", failed);
        (void) record(m, n ? "failed" : "completed", NULL, o);   /* takes O, and the arrays with it */
        return n ? 1 : 0;
}

int cmd_emergency(struct cli *cli, int argc, char **argv) {
        _cleanup_(freep) struct em *m = calloc(1, sizeof *m);
        char name[PROTO_OWNER_MAX + PROTO_REPO_NAME_MAX + 16];
        int ret = 3, store = -EBADF;

        if (!m)
                return 3;
        m->cli = cli;
        cli_exec_init(&m->x);
        if (parse(m, argc, argv) < 0)
                return usage(), 2;
        if (cli_exec_open(cli, &m->x, m->policy, m->lanes_dir, "emergency") < 0)
                goto out;
        if (!needs_repo(m->verb)) {
                ret = all_lanes(m);
                goto out;
        }
        if (!m->x.real.gh) {
                fprintf(stderr, "lanectl emergency: GitHub: %s\n", m->x.real.gh_problem);
                goto out;
        }
        pause_name(m->repo, name, sizeof name);
        store = open(m->x.s->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (store < 0) {
                fprintf(stderr, "lanectl emergency: cannot open the store %s: %m\n", m->x.s->store_dir);
                goto out;
        }
        ret = !strcmp(m->verb, "pause-repo")  ? pause_repo(m, store, name)
              : !strcmp(m->verb, "resume-repo") ? resume_repo(m, store, name)
                                                 : cancel_active(m);
out:
        if (store >= 0)
                close(store);
        cli_exec_close(&m->x);
        return ret;
}
