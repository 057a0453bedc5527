/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl audit list | show SEQ | verify: read the audit store. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "macro.h"
#include "settings.h"

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
        for (uint64_t seq = 1; seq <= v.head_seq; seq++) {
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

int cmd_audit(struct cli *cli, int argc, char **argv) {
        const struct settings *s;
        struct audit_store st = { .dirfd = -EBADF };
        struct audit_verify_result v;
        char dir[PROTO_PATH_MAX + 16];
        int r, ret;

        if (argc < 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "show") && strcmp(argv[1], "verify")) ||
            (strcmp(argv[1], "show") == 0) != (argc == 3) || argc > 3) {
                fprintf(stderr, "usage: lanectl audit list | show SEQ | verify\n");
                return 2;
        }
        if (cli_settings(cli, &s) < 0)
                return 1;
        snprintf(dir, sizeof dir, "%s/audit", s->store_dir);
        r = audit_open(dir, &st);
        if (r < 0)
                return fprintf(stderr, "lanectl audit: cannot open %s: %s\n", dir, strerror(-r)), 1;
        if (strcmp(argv[1], "list") == 0)
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
                if (r == 0)
                        printf("%" PRIu64 " records, chain intact, head %" PRIu64 " sha256:%s\n", v.records, v.head_seq,
                               v.head_digest);
                else
                        printf("chain broken: %s\n", r == -EBADMSG ? v.problem : strerror(-r));
                ret = r == 0 ? 0 : 1;
        }
        audit_close(&st);
        return ret;
}
