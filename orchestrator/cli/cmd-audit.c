/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl audit list | show SEQ | verify: read the audit store. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "macro.h"
#include "proto-time.h"
#include "settings.h"
#include "store-file.h"

static const char *field(struct json_object *o, const char *key) {
        struct json_object *f;
        return json_object_object_get_ex(o, key, &f) ? json_object_get_string(f) : "-";
}

static int list(struct audit_store *st) {
        struct audit_verify_result v;
        int r = audit_verify(st, &v);

        if (r < 0 && r != -EBADMSG)
                return fprintf(stderr, "lanectl audit: %s\n", strerror(-r)), 1;
        printf("%-8s %-10s %-24s %s\n", "SEQ", "STATUS", "LANE", "TIME");
        for (uint64_t seq = v.first_seq ? v.first_seq : 1; seq <= v.head_seq; seq++) {
                _cleanup_(freep) char *text = NULL;
                struct json_object *o;

                if (audit_read(st, seq, &text) < 0 || !(o = json_tokener_parse(text))) {
                        printf("%-8" PRIu64 " (unreadable)\n", seq);
                        continue;
                }
                printf("%-8" PRIu64 " %-10s %-24s %s\n", seq, field(o, "status"), field(o, "lane"), field(o, "time"));
                json_object_put(o);
        }
        if (r < 0)
                fprintf(stderr, "lanectl audit: the chain is broken: %s\n", v.problem);
        return r < 0 ? 1 : 0;
}

static bool hex_name(const char *name, size_t n_hex, const char *suffix) {
        return strlen(name) == n_hex + strlen(suffix) && strspn(name, "0123456789abcdef") == n_hex &&
               strcmp(name + n_hex, suffix) == 0;
}

/* STORE/keys: SHA256(key).json */
static bool key_file(const char *name) {
        return hex_name(name, 64, ".json");
}

/* STORE/github-cache: SHA256(token id, URL), and a writer's leftover .tmp */
static bool cache_file(const char *name) {
        return hex_name(name, 64, "") || hex_name(name, 64, ".tmp");
}

static int prune_dir(const char *store_dir, const char *sub, time_t before, bool (*ok)(const char *),
                     unsigned long *ret_n) {
        char path[PROTO_PATH_MAX + 32];
        _cleanup_(closep) int fd = -EBADF;

        snprintf(path, sizeof path, "%s/%s", store_dir, sub);
        *ret_n = 0;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        return store_prune_files(fd, before, ok, ret_n);
}

/* lanectl audit prune [--older-than DURATION] [--output json]: the audit
 * records (a checkpoint keeps the chain verifiable), idempotency keys and
 * the HTTP cache older than DURATION ([retention] days by default). */
static int prune(const struct settings *s, struct audit_store *st, int argc, char **argv) {
        static const struct option options[] = {
                { "older-than", required_argument, NULL, 't' }, { "output", required_argument, NULL, 'o' }, {}
        };
        unsigned age = (unsigned) (s->retention_days * 86400);
        struct audit_prune_result pr;
        unsigned long keys = 0, cache = 0;
        struct json_object *rec;
        bool json = false;
        char host[256] = "unknown", t[32];
        time_t before;
        int opt, r, rk, rc;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if (opt == 't' && cli_parse_duration(optarg, 3650u * 86400u, &age) == 0)
                        continue;
                else if (opt == 'o' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "text") == 0))
                        json = strcmp(optarg, "json") == 0;
                else
                        goto usage;
        if (optind != argc)
                goto usage;
        before = time(NULL) - (time_t) age;
        (void) gethostname(host, sizeof host - 1);
        proto_utc_iso(time(NULL), t, sizeof t);
        rec = json_object_new_object();
        json_object_object_add(rec, "time", json_object_new_string(t));
        json_object_object_add(rec, "host", json_object_new_string(host));
        proto_utc_iso(before, t, sizeof t);
        json_object_object_add(rec, "older_than", json_object_new_string(t));
        r = audit_prune(st, before, rec, &pr);
        if (r < 0) {
                fprintf(stderr, "lanectl audit prune: %s; nothing pruned\n", r == -EBADMSG ? pr.problem : strerror(-r));
                return r == -EBADMSG ? 1 : 2;
        }
        rk = prune_dir(s->store_dir, "keys", before, key_file, &keys);
        rc = prune_dir(s->store_dir, "github-cache", before, cache_file, &cache);
        if (json) {
                struct json_object *o = json_object_new_object();

                json_object_object_add(o, "schema", json_object_new_string("lanekeeper.audit-prune/1"));
                json_object_object_add(o, "older_than", json_object_new_string(t));
                json_object_object_add(o, "records_pruned", json_object_new_uint64(pr.last ? pr.last - pr.first + 1 : 0));
                json_object_object_add(o, "first", pr.last ? json_object_new_uint64(pr.first) : NULL);
                json_object_object_add(o, "last", pr.last ? json_object_new_uint64(pr.last) : NULL);
                json_object_object_add(o, "last_digest", pr.last ? json_object_new_string(pr.last_digest) : NULL);
                json_object_object_add(o, "checkpoint", pr.last ? json_object_new_uint64(pr.checkpoint) : NULL);
                json_object_object_add(o, "idempotency_keys_pruned", json_object_new_uint64(keys));
                json_object_object_add(o, "http_cache_pruned", json_object_new_uint64(cache));
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else if (pr.last)
                printf("pruned audit records %" PRIu64 "-%" PRIu64 " (older than %s); checkpoint record %" PRIu64
                       " carries sha256:%s\n", pr.first, pr.last, t, pr.checkpoint, pr.last_digest);
        else
                printf("no audit record older than %s to prune\n", t);
        if (!json)
                printf("pruned %lu idempotency key%s and %lu HTTP cache entr%s\n", keys, keys == 1 ? "" : "s", cache,
                       cache == 1 ? "y" : "ies");
        if (rk < 0 || rc < 0)
                fprintf(stderr, "lanectl audit prune: %s: %s\n", rk < 0 ? "keys" : "github-cache", strerror(-(rk < 0 ? rk : rc)));
        return rk < 0 || rc < 0 ? 1 : 0;
usage:
        fprintf(stderr, "usage: lanectl audit prune [--older-than DURATION] [--output text|json]\n");
        return 2;
}

int cmd_audit(struct cli *cli, int argc, char **argv) {
        const struct settings *s;
        struct audit_store st = { .dirfd = -EBADF };
        struct audit_verify_result v;
        char dir[PROTO_PATH_MAX + 16];
        int r, ret;

        bool is_prune = argc >= 2 && strcmp(argv[1], "prune") == 0;

        if (!is_prune && (argc < 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "show") && strcmp(argv[1], "verify")) ||
                          (strcmp(argv[1], "show") == 0) != (argc == 3) || argc > 3)) {
                fprintf(stderr, "usage: lanectl audit list | show SEQ | verify | prune [--older-than DURATION]\n");
                return 2;
        }
        if (cli_settings(cli, &s) < 0)
                return 1;
        snprintf(dir, sizeof dir, "%s/audit", s->store_dir);
        r = audit_open(dir, &st);
        if (r < 0)
                return fprintf(stderr, "lanectl audit: cannot open %s: %s\n", dir, strerror(-r)), 1;
        if (is_prune)
                ret = prune(s, &st, argc - 1, argv + 1);
        else if (strcmp(argv[1], "list") == 0)
                ret = list(&st);
        else if (strcmp(argv[1], "show") == 0) {
                _cleanup_(freep) char *text = NULL;
                char *end;
                unsigned long long seq = strtoull(argv[2], &end, 10);

                if (*end || seq == 0) {
                        fprintf(stderr, "lanectl audit show: SEQ is a record number\n");
                        ret = 2;
                } else if ((r = audit_read(&st, seq, &text)) < 0) {
                        fprintf(stderr, "lanectl audit show: record %llu: %s\n", seq,
                                r == -ENOENT ? "no such record" : strerror(-r));
                        ret = 1;
                } else {
                        printf("%s\n", text);
                        ret = 0;
                }
        } else {
                r = audit_verify(&st, &v);
                if (r == 0 && v.first_seq > 1)
                        printf("%" PRIu64 " records (%" PRIu64 "-%" PRIu64 "; the ones before pruned, checkpointed), "
                               "chain intact, head %" PRIu64 " sha256:%s\n", v.records, v.first_seq, v.head_seq,
                               v.head_seq, v.head_digest);
                else if (r == 0)
                        printf("%" PRIu64 " records, chain intact, head %" PRIu64 " sha256:%s\n", v.records, v.head_seq,
                               v.head_digest);
                else
                        printf("chain broken: %s\n", r == -EBADMSG ? v.problem : strerror(-r));
                ret = r == 0 ? 0 : 1;
        }
        audit_close(&st);
        return ret;
}
