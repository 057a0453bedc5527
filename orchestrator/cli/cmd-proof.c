/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl proof pack DIR [--out PACK] [--expect GATE]... [--retention-days N]
 * lanectl proof verify PACK [--require-passed] [--output text|json]
 * (kobs-proof.h). pack: exit 0 every gate passed, 1 packed but a gate did
 * not pass (or is missing), 2 usage, 3 DIR unreadable or PACK not
 * writable. verify: exit 0 intact (and, with --require-passed, every gate
 * passed), 1 not, 2 usage, 3 unreadable or not a pack. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kobs-proof.h"
#include "kobs-write.h"
#include "macro.h"

static void usage(void) {
        fputs("usage: lanectl proof pack DIR [--out PACK] [--expect GATE]... [--retention-days N]\n"
              "       lanectl proof verify PACK|PACK.tar.gz [--require-passed] [--output text|json]\n", stderr);
}

static const char *jstr(struct json_object *o, const char *key) {
        return json_object_get_string(json_object_object_get(o, key)) ?: "";
}

/* When the pack was made: SOURCE_DATE_EPOCH if set (a pack made again from
 * the same directory is then the same bytes), else now. */
static time_t created(void) {
        const char *e = getenv("SOURCE_DATE_EPOCH");
        char *end;
        long long v;

        if (e && *e) {
                errno = 0;
                v = strtoll(e, &end, 10);
                if (!errno && !*end && v >= 0)
                        return (time_t) v;
        }
        return time(NULL);
}

static void print_gates(struct json_object *gates) {
        for (size_t i = 0; i < kobs_json_len(gates); i++) {
                struct json_object *g = json_object_array_get_idx(gates, i), *runs = json_object_object_get(g, "runs");

                printf("  gate %s: %s", jstr(g, "name"), jstr(g, "status"));
                if (*jstr(g, "dir"))
                        printf(" in %s", jstr(g, "dir"));
                if (json_object_object_get(g, "runs_requested"))
                        printf(" (%d of %d runs accepted, determinism %s) %s at %s", json_object_get_int(
                               json_object_object_get(g, "runs_passed")),
                               json_object_get_int(json_object_object_get(g, "runs_requested")), jstr(g, "determinism"),
                               jstr(g, "workflow"), jstr(g, "ref"));
                for (size_t j = 0; j < kobs_json_len(runs); j++) {
                        struct json_object *r = json_object_array_get_idx(runs, j);

                        printf("%s%s", j ? ", " : "; runs ", jstr(r, "run_id"));
                }
                putchar('\n');
        }
}

static int pack(int argc, char **argv) {
        static const struct option opts[] = {
                { "out", required_argument, NULL, 'O' }, { "expect", required_argument, NULL, 'e' },
                { "retention-days", required_argument, NULL, 'r' }, {},
        };
        const char *expect[KOBS_PACK_MAX_GATES], *out = NULL, *src;
        struct kobs_pack_opts o = { .expect = expect, .retention_days = KOBS_PACK_RETENTION_DAYS, .created = created() };
        _cleanup_(closep) int sfd = -EBADF, dfd = -EBADF, pfd = -EBADF;
        char outbuf[4096], tarball[300], parent[4096], err[600];
        struct json_object *m = NULL;
        const char *base;
        char *end;
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (opt == 'O')
                        out = optarg;
                else if (opt == 'e' && o.n_expect < KOBS_PACK_MAX_GATES && optarg[0] && !strpbrk(optarg, "/ "))
                        expect[o.n_expect++] = optarg;
                else if (opt == 'r') {
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);

                        if (errno || *end || v < 1 || v > 3650)
                                return fprintf(stderr, "lanectl proof pack: --retention-days is from 1 to 3650\n"), 2;
                        o.retention_days = (unsigned) v;
                } else
                        return usage(), 2;
        }
        if (optind + 1 != argc)
                return usage(), 2;
        src = argv[optind];
        snprintf(outbuf, sizeof outbuf, "%.*s-proof", (int) (strlen(src) - (strlen(src) > 1 && src[strlen(src) - 1] == '/')),
                 src);
        out = out ?: outbuf;
        base = strrchr(out, '/') && strrchr(out, '/')[1] ? strrchr(out, '/') + 1 : out;
        snprintf(parent, sizeof parent, "%.*s", (int) (base - out), out);
        if (strlen(base) > 200 || !base[0])
                return fprintf(stderr, "lanectl proof pack: the pack's name must be 1-200 characters\n"), 2;
        snprintf(tarball, sizeof tarball, "%.200s.tar.gz", base);
        o.src_name = strrchr(src, '/') && strrchr(src, '/')[1] ? strrchr(src, '/') + 1 : src;
        sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0)
                return fprintf(stderr, "lanectl proof pack: cannot open %s: %m\n", src), 3;
        if (mkdir(out, 0755) < 0)
                return fprintf(stderr, "lanectl proof pack: cannot make %s: %m (the pack goes into a new "
                                       "directory)\n", out), 3;
        dfd = open(out, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        pfd = open(parent[0] ? parent : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || pfd < 0)
                return fprintf(stderr, "lanectl proof pack: cannot open %s: %m\n", dfd < 0 ? out : parent), 3;
        r = kobs_proof_pack(sfd, dfd, pfd, tarball, &o, &m, err, sizeof err);
        if (r < 0)
                return fprintf(stderr, "lanectl proof pack: %s: %s\n", src, err), 3;
        printf("proof pack %s and %s%s: %s, %zu subjects, %lld bytes%s, retention %u days\n", out, parent, tarball,
               jstr(m, "status"), kobs_json_len(json_object_object_get(m, "subjects")),
               (long long) json_object_get_int64(json_object_object_get(json_object_object_get(m, "size"), "bytes")),
               json_object_get_boolean(json_object_object_get(json_object_object_get(m, "size"), "over_soft_cap")) ?
               " (over the 50 MiB soft cap)" : "", o.retention_days);
        print_gates(json_object_object_get(m, "gates"));
        r = strcmp(jstr(m, "status"), "passed") == 0 ? 0 : 1;
        json_object_put(m);
        return r;
}

static void print_verify(const char *path, const struct kobs_verify *v) {
        struct json_object *m = v->manifest, *ver = json_object_object_get(m, "verification");

        printf("proof pack %s: %s, made %s, %zu of %zu subjects match (%llu bytes)\n", path,
               v->n_problems ? "NOT INTACT" : "intact", jstr(m, "created_at"), v->matched, v->subjects,
               (unsigned long long) v->bytes);
        for (size_t i = 0; i < v->n_problems && i < ELEMENTSOF(v->problems); i++)
                printf("  PROBLEM %s\n", v->problems[i]);
        if (v->n_problems > ELEMENTSOF(v->problems))
                printf("  ... and %zu more problems\n", v->n_problems - ELEMENTSOF(v->problems));
        printf("  source   %s at %s, commit %s\n", jstr(m, "repository"), jstr(m, "ref"), jstr(m, "commit"));
        print_gates(json_object_object_get(m, "gates"));
        printf("  status   %s\n", jstr(m, "status"));
        if (v->n_problems) {
                printf("What it proves: nothing until the problems above are explained: the files are not what the "
                       "manifest says.\n");
                return;
        }
        printf("What it proves: every file is byte for byte what the manifest says (sha256).\n  %s\n",
               jstr(ver, "historical"));
        printf("What it does not prove: who made it (the manifest and SHA256SUMS are not signed: a pack made "
               "again with other files verifies too; compare its manifest's digest with one kept elsewhere).\n"
               "  %s\n  Claim ceiling: %s\n", jstr(ver, "current_state"), jstr(m, "claim_ceiling"));
}

static int verify(int argc, char **argv) {
        static const struct option opts[] = {
                { "require-passed", no_argument, NULL, 'P' }, { "output", required_argument, NULL, 'o' }, {},
        };
        struct kobs_pack_files f = {};
        struct kobs_verify v = {};
        bool require = false, json = false;
        _cleanup_(closep) int fd = -EBADF;
        struct stat st;
        char err[400];
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (opt == 'P')
                        require = true;
                else if (opt == 'o' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "text") == 0))
                        json = strcmp(optarg, "json") == 0;
                else
                        return usage(), 2;
        }
        if (optind + 1 != argc)
                return usage(), 2;
        fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return fprintf(stderr, "lanectl proof verify: cannot open %s: %m\n", argv[optind]), 3;
        r = S_ISDIR(st.st_mode) ? kobs_pack_files_dir(fd, &f, err, sizeof err) :
            kobs_pack_files_tarball(fd, &f, err, sizeof err);
        if (r >= 0)
                r = kobs_proof_verify(&f, &v);
        else
                fprintf(stderr, "lanectl proof verify: %s: %s\n", argv[optind], err);
        kobs_pack_files_free(&f);
        if (r == -EBADMSG)
                fprintf(stderr, "lanectl proof verify: %s: no %s of schema %s: not a proof pack\n", argv[optind],
                        KOBS_PACK_MANIFEST, KOBS_PACK_SCHEMA);
        if (r < 0) {
                json_object_put(v.manifest);
                return 3;
        }
        if (json) {
                struct json_object *o = json_object_new_object(), *p = json_object_new_array(), *keep;

                for (size_t i = 0; i < v.n_problems && i < ELEMENTSOF(v.problems); i++)
                        json_object_array_add(p, json_object_new_string(v.problems[i]));
                json_object_object_add(o, "intact", json_object_new_boolean(v.n_problems == 0));
                json_object_object_add(o, "subjects", json_object_new_int64((int64_t) v.subjects));
                json_object_object_add(o, "matched", json_object_new_int64((int64_t) v.matched));
                json_object_object_add(o, "problems", p);
                json_object_object_add(o, "all_passed", json_object_new_boolean(v.all_passed));
                json_object_object_add(o, "manifest", json_object_get(v.manifest));
                printf("%s\n", kobs_json_text(o, true, &keep));
                json_object_put(keep);
                json_object_put(o);
        } else
                print_verify(argv[optind], &v);
        json_object_put(v.manifest);
        return r == 0 && (!require || v.all_passed) ? 0 : 1;
}

int cmd_proof(struct cli *cli, int argc, char **argv) {
        (void) cli;
        if (argc >= 2 && strcmp(argv[1], "pack") == 0)
                return pack(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "verify") == 0)
                return verify(argc - 1, argv + 1);
        return usage(), 2;
}
