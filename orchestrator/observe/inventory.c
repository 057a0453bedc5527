/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <strings.h>

#include "inventory.h"
#include "macro.h"

static void json_object_putp(struct json_object **o) {
        json_object_put(*o);
}

/* Parse exactly LEN bytes as one JSON value (no trailing garbage). */
static struct json_object *parse_json(const char *text, size_t len, char *err, size_t errlen) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o;

        if (!tok)
                return snprintf(err, errlen, "out of memory"), NULL;
        o = len > 0 && len <= (size_t) INT32_MAX ? json_tokener_parse_ex(tok, text, (int) len) : NULL;
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != len) {
                snprintf(err, errlen, "not valid JSON%s%s", o ? " (trailing data)" : ": ",
                         o ? "" : json_tokener_error_desc(json_tokener_get_error(tok)));
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        return o;
}

static struct json_object *member(struct json_object *o, const char *key, enum json_type type) {
        struct json_object *m;

        if (!json_object_object_get_ex(o, key, &m) || !json_object_is_type(m, type))
                return NULL;
        return m;
}

static int copy_str(struct json_object *o, const char *key, char *dst, size_t size) {
        struct json_object *m = member(o, key, json_type_string);

        if (!m || (size_t) json_object_get_string_len(m) >= size)
                return -EINVAL;
        memcpy(dst, json_object_get_string(m), (size_t) json_object_get_string_len(m) + 1);
        return strlen(dst) == (size_t) json_object_get_string_len(m) ? 0 : -EINVAL;   /* no NUL inside */
}

struct arena {
        char *buf;
        size_t len, size;
};

static int arena_add(struct arena *a, const char *s, size_t n) {
        if (a->len + n + 1 > a->size) {
                size_t size = (a->size ? a->size * 2 : 4096) + n + 1;
                char *b = realloc(a->buf, size);

                if (!b)
                        return -ENOMEM;
                a->buf = b;
                a->size = size;
        }
        memcpy(a->buf + a->len, s, n);
        a->buf[a->len + n] = '\0';
        a->len += n + 1;
        return 0;
}

static int parse_runner(struct json_object *j, size_t i, struct inventory_runner *r, struct arena *a, char *err,
                        size_t errlen) {
        struct json_object *id = member(j, "id", json_type_int), *busy = member(j, "busy", json_type_boolean);
        struct json_object *status = member(j, "status", json_type_string), *labels = member(j, "labels", json_type_array);
        struct json_object *name = member(j, "name", json_type_string);

        *r = (struct inventory_runner) { .labels = a->len };
        if (!json_object_is_type(j, json_type_object))
                return snprintf(err, errlen, "runners[%zu] is not an object", i), -EINVAL;
        if (!id || json_object_get_int64(id) <= 0)
                return snprintf(err, errlen, "runners[%zu].id is missing or not a positive integer", i), -EINVAL;
        /* GitHub's name is data: kept (escaped where it must be), never a
         * reason to refuse the whole list */
        if (!name)
                return snprintf(err, errlen, "runners[%zu].name is missing or not a string", i), -EINVAL;
        (void) proto_keep_foreign_name(json_object_get_string(name), (size_t) json_object_get_string_len(name), r->name,
                                       sizeof r->name);
        if (!member(j, "os", json_type_string))
                return snprintf(err, errlen, "runners[%zu].os is missing or not a string", i), -EINVAL;
        if (!status || (strcmp(json_object_get_string(status), "online") && strcmp(json_object_get_string(status), "offline")))
                return snprintf(err, errlen, "runners[%zu].status is not \"online\" or \"offline\"", i), -EINVAL;
        if (!busy)
                return snprintf(err, errlen, "runners[%zu].busy is missing or not a boolean", i), -EINVAL;
        if (!labels)
                return snprintf(err, errlen, "runners[%zu].labels is missing or not an array", i), -EINVAL;
        r->id = json_object_get_int64(id);
        r->online = strcmp(json_object_get_string(status), "online") == 0;
        r->busy = json_object_get_boolean(busy);
        for (size_t k = 0; k < json_object_array_length(labels); k++) {
                struct json_object *l = json_object_array_get_idx(labels, k);
                char label[PROTO_LABEL_MAX + 1];

                if (!json_object_is_type(l, json_type_object) || copy_str(l, "name", label, sizeof label) < 0)
                        return snprintf(err, errlen, "runners[%zu].labels[%zu] has no name", i, k), -EINVAL;
                if (r->n_labels >= LANE_MAX_LABELS)
                        return snprintf(err, errlen, "runners[%zu] has more than %d labels", i, LANE_MAX_LABELS), -EINVAL;
                if (arena_add(a, label, strlen(label)) < 0)
                        return snprintf(err, errlen, "out of memory"), -ENOMEM;
                r->n_labels++;
        }
        return 0;
}

static const struct inventory_runner *sort_base;

static int by_name_cmp(const void *a, const void *b) {
        const size_t *x = a, *y = b;
        int c = strcasecmp(sort_base[*x].name, sort_base[*y].name);

        return c ? c : (*x > *y) - (*x < *y);   /* stable: response order among equals */
}

static void json_tokener_freep(struct json_tokener **t) {
        if (*t)
                json_tokener_free(*t);
}

/* One page: {total_count, runners[]}, its runners appended to INV. */
static int parse_page(struct json_object *page, size_t pageno, struct inventory *inv, size_t *cap, struct arena *a,
                      char *err, size_t errlen) {
        struct json_object *runners, *total;
        char where[32] = "";
        size_t n;

        if (pageno > 1)
                snprintf(where, sizeof where, "page %zu: ", pageno);
        if (!json_object_is_type(page, json_type_object))
                return snprintf(err, errlen, "%snot a list-runners response (expected an object)", where), -EINVAL;
        total = member(page, "total_count", json_type_int);
        runners = member(page, "runners", json_type_array);
        if (!total || !runners)
                return snprintf(err, errlen, "%snot a list-runners response (needs total_count and runners[])", where),
                       -EINVAL;
        n = json_object_array_length(runners);
        if (inv->n + n > INVENTORY_MAX_RUNNERS)
                return snprintf(err, errlen, "more than %d runners", INVENTORY_MAX_RUNNERS), -E2BIG;
        /* total_count counts every page's runners */
        if (json_object_get_int64(total) < (int64_t) (inv->n + n))
                return snprintf(err, errlen, "%stotal_count %lld is less than the %zu runners listed", where,
                                (long long) json_object_get_int64(total), inv->n + n), -EINVAL;
        if (inv->n + n > *cap) {
                size_t c = *cap ? *cap : 128;
                struct inventory_runner *rs;
                size_t *bn;

                while (c < inv->n + n)
                        c *= 2;
                rs = realloc(inv->runners, c * sizeof *rs);
                if (rs)
                        inv->runners = rs;
                bn = realloc(inv->by_name, c * sizeof *bn);
                if (bn)
                        inv->by_name = bn;
                if (!rs || !bn)
                        return snprintf(err, errlen, "out of memory"), -ENOMEM;
                *cap = c;
        }
        for (size_t i = 0; i < n; i++) {
                int r = parse_runner(json_object_array_get_idx(runners, i), i, &inv->runners[inv->n], a, err, errlen);

                if (r < 0) {
                        if (where[0]) {   /* name the page too */
                                char inner[256];

                                snprintf(inner, sizeof inner, "%s", err);
                                snprintf(err, errlen, "%s%s", where, inner);
                        }
                        return r;
                }
                inv->by_name[inv->n] = inv->n;
                inv->n++;
        }
        return 0;
}

/* One response, or several pages one after the other as 'gh api
 * --paginate' prints them: each page is parsed and freed before the next,
 * so memory follows the runners kept, not the text. */
int inventory_parse(const char *text, size_t len, struct inventory *ret, char *err, size_t errlen) {
        _cleanup_(json_tokener_freep) struct json_tokener *tok = json_tokener_new();
        struct inventory inv = {};
        struct arena a = {};
        size_t off = 0, pages = 0, cap = 0;
        int r = 0;

        *ret = (struct inventory) {};
        if (!tok)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        for (;;) {
                struct json_object *page;
                enum json_tokener_error e;

                while (off < len && strchr(" \t\r\n", text[off]))
                        off++;
                if (off == len && pages > 0)
                        break;
                if (len - off > (size_t) INT32_MAX) {
                        r = -E2BIG, snprintf(err, errlen, "larger than 2 GiB");
                        break;
                }
                json_tokener_reset(tok);
                page = json_tokener_parse_ex(tok, text + off, (int) (len - off));
                e = json_tokener_get_error(tok);
                if (!page || e != json_tokener_success) {
                        json_object_put(page);
                        r = -EINVAL;
                        if (pages == 0)
                                snprintf(err, errlen, "not valid JSON: %s",
                                         off == len ? "empty input" : e == json_tokener_continue ?
                                         "the text ends inside a value" : json_tokener_error_desc(e));
                        else
                                snprintf(err, errlen, "trailing data after page %zu: not valid JSON: %s", pages,
                                         e == json_tokener_continue ? "the text ends inside a value" :
                                         json_tokener_error_desc(e));
                        break;
                }
                off += json_tokener_get_parse_end(tok);
                r = parse_page(page, ++pages, &inv, &cap, &a, err, errlen);
                json_object_put(page);
                if (r < 0)
                        break;
        }
        inv.arena = a.buf;
        inv.arena_len = a.len;
        if (r < 0) {
                inventory_free(&inv);
                return r;
        }
        sort_base = inv.runners;
        if (inv.n)
                qsort(inv.by_name, inv.n, sizeof *inv.by_name, by_name_cmp);
        *ret = inv;
        return 0;
}

void inventory_free(struct inventory *inv) {
        free(inv->runners);
        free(inv->by_name);
        free(inv->arena);
        *inv = (struct inventory) {};
}

const char *inventory_label(const struct inventory *inv, const struct inventory_runner *r, unsigned k) {
        const char *s = inv->arena + r->labels;

        if (k >= r->n_labels)
                return NULL;
        while (k--)
                s += strlen(s) + 1;
        return s;
}

void inventory_observe(const struct inventory *inv, const char *lane, struct observation *o) {
        size_t lo = 0, hi = inv->n;

        o->github_known = true;
        o->n_runners = 0;
        while (lo < hi) {   /* the first entry not below LANE */
                size_t mid = lo + (hi - lo) / 2;

                if (strcasecmp(inv->runners[inv->by_name[mid]].name, lane) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (size_t i = lo; i < inv->n && o->n_runners < OBS_MAX_RUNNERS; i++) {
                const struct inventory_runner *r = &inv->runners[inv->by_name[i]];
                struct obs_runner *d = &o->runners[o->n_runners];

                if (strcasecmp(r->name, lane) != 0)
                        break;
                *d = (struct obs_runner) { .id = r->id, .online = r->online, .busy = r->busy, .n_labels = r->n_labels };
                snprintf(d->name, sizeof d->name, "%.*s", (int) sizeof d->name - 1, r->name);   /* equals LANE: it fits */
                for (unsigned k = 0; k < r->n_labels; k++)
                        snprintf(d->labels[k], sizeof d->labels[k], "%s", inventory_label(inv, r, k));
                o->n_runners++;
        }
}

int runner_file_parse(const char *text, size_t len, struct runner_file *ret, char *err, size_t errlen) {
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        struct json_object *id;
        const char *reason;

        *ret = (struct runner_file) {};
        if (len > RUNNER_FILE_MAX)
                return snprintf(err, errlen, ".runner is larger than 64 KiB"), -E2BIG;
        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)   /* the .NET writer's BOM */
                text += 3, len -= 3;
        root = parse_json(text, len, err, errlen);
        if (!root)
                return -EINVAL;
        if (!json_object_is_type(root, json_type_object))
                return snprintf(err, errlen, ".runner is not a JSON object"), -EINVAL;
        id = member(root, "agentId", json_type_int);
        if (!id || json_object_get_int64(id) <= 0)
                return snprintf(err, errlen, ".runner: agentId is missing or not a positive integer"), -EINVAL;
        if (copy_str(root, "agentName", ret->agent_name, sizeof ret->agent_name) < 0 ||
            proto_validate_runner_name(ret->agent_name, &reason) < 0)
                return snprintf(err, errlen, ".runner: agentName is missing or not a runner name"), -EINVAL;
        if (copy_str(root, "gitHubUrl", ret->github_url, sizeof ret->github_url) < 0 ||
            !proto_is_printable_ascii(ret->github_url, strlen(ret->github_url)))
                return snprintf(err, errlen, ".runner: gitHubUrl is missing or not printable"), -EINVAL;
        ret->agent_id = json_object_get_int64(id);
        return 0;
}
