/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl pool scale POOL [--min N] [--max N] [--spare N] [--reason TEXT]:
 * the pool file's counts rewritten (the other lines as they were), the
 * result checked as lanectl pool validate would, then put in place
 * atomically with the file's mode and owner; the running supervisor takes
 * it at its next pass. lanectl pool drain POOL --reason TEXT and pool
 * undrain POOL: the drain file in the store, which the supervisor reads
 * every pass (nothing started, idle slots stopped, busy ones finish).
 * Each change audited; run as root, the store's files are written as the
 * store's owner, so that the maintainer account can still write after. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "macro.h"
#include "pool-file.h"
#include "store-file.h"
#include "supervisor.h"

struct counts {
        long v[3];                     /* min, max, spare; -1: unchanged */
        int line[3];                   /* where the file sets each, 0: nowhere */
        int last_line;                 /* the [pool] section's last key */
};

static const char *const count_keys[] = { "min", "max", "spare" };

static int find_counts(void *user, int line, const char *section, const char *key, const char *value) {
        struct counts *c = user;

        (void) value;
        if (strcmp(section, "pool") != 0)
                return 1;
        c->last_line = line;
        for (size_t k = 0; k < ELEMENTSOF(count_keys); k++)
                if (strcmp(key, count_keys[k]) == 0)
                        c->line[k] = line;
        return 1;
}

/* TEXT with C's counts set: each on its own line, or after the section's
 * last key when the file had none. NULL: out of memory. */
static char *rewrite(const char *text, const struct counts *c) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        const char *p = text;

        if (!f)
                return NULL;
        for (int line = 1; *p; line++) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t) (nl - p) + 1 : strlen(p);
                bool replaced = false;

                for (size_t k = 0; k < ELEMENTSOF(count_keys); k++)
                        if (c->v[k] >= 0 && c->line[k] == line) {
                                const char *comment = memmem(p, n, " ;", 2);   /* an inline comment kept */
                                int keep = comment ? (int) (n - (size_t) (comment - p)) - (nl ? 1 : 0) : 0;

                                fprintf(f, "%s = %ld%.*s\n", count_keys[k], c->v[k], keep, comment ?: "");
                                replaced = true;
                        }
                if (!replaced)
                        fprintf(f, "%.*s%s", (int) n, p, nl ? "" : "\n");
                for (size_t k = 0; k < ELEMENTSOF(count_keys); k++)
                        if (c->v[k] >= 0 && !c->line[k] && line == c->last_line)
                                fprintf(f, "%s = %ld\n", count_keys[k], c->v[k]);
                p += n;
        }
        return fclose(f) == 0 ? out : (free(out), NULL);
}

/* Run FN(DATA) as the owner of the store directory when root (a child that
 * becomes that user), else here. */
static int as_store_owner(const char *store_dir, int (*fn)(void *data), void *data) {
        struct stat st;
        pid_t pid;
        int status;

        if (geteuid() != 0 || stat(store_dir, &st) < 0 || st.st_uid == 0)
                return fn(data);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0)
                        _exit(EPERM);
                _exit(-fn(data) & 0xff);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? -WEXITSTATUS(status) : -EINTR;
}

struct change {
        const struct settings *s;
        const char *host, *command, *pool, *reason, *detail;
        bool drain, set_drain;
};

static int write_change(void *data) {
        struct change *ch = data;
        struct audit_store store = { .dirfd = -EBADF };
        struct json_object *rec;
        char dir[PATH_MAX];
        int r = 0, fd;

        if (ch->set_drain) {
                fd = open(ch->s->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = fd < 0 ? -errno : sup_pool_set_draining(fd, ch->pool, ch->drain);
                if (fd >= 0)
                        close(fd);
                if (r < 0)
                        return r;
        }
        snprintf(dir, sizeof dir, "%s/audit", ch->s->store_dir);
        r = audit_open(dir, &store);
        if (r < 0)
                return r;
        rec = json_object_new_object();
        json_object_object_add(rec, "pool", json_object_new_string(ch->pool));
        if (ch->reason)
                json_object_object_add(rec, "reason", json_object_new_string(ch->reason));
        if (ch->detail)
                json_object_object_add(rec, "detail", json_object_new_string(ch->detail));
        r = audit_append_command(&store, "completed", ch->host, ch->command, rec, NULL);
        audit_close(&store);
        return r;
}

static int record(const struct settings *s, struct change *ch) {
        char host[256] = "unknown";
        int r;

        (void) gethostname(host, sizeof host - 1);
        ch->s = s;
        ch->host = host;
        r = as_store_owner(s->store_dir, write_change, ch);
        if (r < 0)
                fprintf(stderr, "lanectl pool %s: %s: %s in the store %s: %s\n", ch->command + 5, ch->pool,
                        ch->set_drain ? "the drain or its audit record could not be written" :
                                        "the audit record could not be written", s->store_dir, strerror(-r));
        return r;
}

/* The pool file PATH with C's counts: checked, then put in place. */
static int scale_file(const char *path, struct counts *c, char *detail, size_t size) {
        _cleanup_(freep) char *text = NULL, *out = NULL;
        _cleanup_(fclosep) FILE *f = NULL, *g = NULL;
        struct pool_desired before = {}, after = {};
        struct ini_diags d = {};
        struct stat st;
        int r;

        if (!(f = fopen(path, "re")) || fstat(fileno(f), &st) < 0)
                return fprintf(stderr, "lanectl pool scale: cannot open %s: %m\n", path), -errno;
        if (pool_file_parse(f, &before, &d) < 0) {
                ini_diags_print(stderr, path, &d);
                return fprintf(stderr, "lanectl pool scale: %s is not valid now: nothing changed\n", path), -EINVAL;
        }
        rewind(f);
        if (getdelim(&text, &(size_t) { 0 }, '\0', f) < 0)
                return -EIO;
        rewind(f);
        (void) ini_parse_lines(f, find_counts, c, &(struct ini_diags) {});
        if (!(out = rewrite(text, c)) || !(g = fmemopen(out, strlen(out), "r")))
                return -ENOMEM;
        d = (struct ini_diags) {};
        if (pool_file_parse(g, &after, &d) < 0) {
                ini_diags_print(stderr, path, &d);
                return fprintf(stderr, "lanectl pool scale: the new counts are refused: nothing changed\n"), -EINVAL;
        }
        snprintf(detail, size, "min %u -> %u, max %u -> %u, spare %u -> %u", before.min, after.min, before.max, after.max,
                 before.spare, after.spare);
        r = store_write_path(path, out, strlen(out), st.st_mode & 07777, st.st_uid, st.st_gid);
        if (r < 0)
                return fprintf(stderr, "lanectl pool scale: cannot write %s: %s%s\n", path, strerror(-r),
                               r == -EACCES || r == -EPERM ? " (the pool files are root's)" : ""), r;
        return 0;
}

static int parse_count(const char *s, long *ret) {
        char *end;
        long v = strtol(s, &end, 10);

        if (s[0] < '0' || s[0] > '9' || *end || v > POOL_MAX_SLOTS)
                return fprintf(stderr, "lanectl pool scale: '%s' is not a count from 0 to %d\n", s, POOL_MAX_SLOTS), -EINVAL;
        *ret = v;
        return 0;
}

static int usage(void) {
        fprintf(stderr, "usage: lanectl pool scale POOL [--min N] [--max N] [--spare N] [--reason TEXT] [--pools-dir DIR]\n"
                        "       lanectl pool drain POOL --reason TEXT [--pools-dir DIR]\n"
                        "       lanectl pool undrain POOL [--pools-dir DIR]\n");
        return 2;
}

int cmd_pool_change(struct cli *cli, int argc, char **argv) {
        static const struct option options[] = {
                { "min", required_argument, NULL, 0 },   { "max", required_argument, NULL, 1 },
                { "spare", required_argument, NULL, 2 }, { "reason", required_argument, NULL, 'r' },
                { "pools-dir", required_argument, NULL, 'd' }, {}
        };
        struct counts c = { .v = { -1, -1, -1 } };
        struct change ch = {};
        const struct settings *s;
        const char *dir = getenv("LANEKEEPER_POOLS_DIR"), *what = argv[0];
        char path[PATH_MAX], detail[200], *reason = NULL;
        bool scale = strcmp(what, "scale") == 0;
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if (opt >= 0 && opt <= 2 && scale) {
                        if (parse_count(optarg, &c.v[opt]) < 0)
                                return 2;
                } else if (opt == 'r' && strcmp(what, "undrain") != 0)
                        reason = optarg;
                else if (opt == 'd')
                        dir = optarg;
                else
                        return usage();
        if (optind + 1 != argc || (scale && c.v[0] < 0 && c.v[1] < 0 && c.v[2] < 0) ||
            (strcmp(what, "drain") == 0 && (!reason || !reason[0])))
                return usage();
        if (proto_validate_lane_name(argv[optind], &(const char *) { NULL }) < 0)
                return fprintf(stderr, "lanectl pool %s: '%.64s' is not a pool name\n", what, argv[optind]), 2;
        if (cli_settings(cli, &s) < 0)
                return 2;
        ch = (struct change) { .command = scale ? "pool-scale" : strcmp(what, "drain") == 0 ? "pool-drain" : "pool-undrain",
                               .pool = argv[optind], .reason = reason };
        snprintf(path, sizeof path, "%s/%s.conf", dir ?: s->pools_dir, argv[optind]);
        if (access(path, F_OK) < 0)
                return fprintf(stderr, "lanectl pool %s: no pool file %s: %m\n", what, path), 1;
        if (!scale) {
                ch.set_drain = true;
                ch.drain = strcmp(what, "drain") == 0;
                if (record(s, &ch) < 0)
                        return 1;
                printf("pool %s: %s\n", ch.pool, ch.drain ? "draining (nothing starts; busy slots finish)" : "undrained");
                return 0;
        }
        if (scale_file(path, &c, detail, sizeof detail) < 0)
                return 1;
        ch.detail = detail;
        (void) record(s, &ch);
        printf("pool %s: %s (the supervisor takes it at its next pass)\n", ch.pool, detail);
        return 0;
}
