/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Paged listings (Link: rel="next"), their items, and a failed answer
 * described for a person: built on gh_request() alone. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh-client.h"
#include "gh-exchange.h"
#include "gh-wire.h"
#include "macro.h"

int gh_get_pages(struct gh_client *c, const char *path, char **ret, size_t *ret_len, char *err, size_t errlen) {
        char next[2048];
        char *all = NULL;
        size_t len = 0;
        int pages = 0, r;

        snprintf(next, sizeof next, "%s%sper_page=100", path, strchr(path, '?') ? "&" : "?");
        for (;;) {
                struct gh_response resp;
                char *grown;

                r = gh_request(c, "GET", next, NULL, &resp, err, errlen);
                if (r < 0)
                        break;
                if (resp.status != 200 || !resp.body) {
                        gh_describe_error(&resp, err, errlen);
                        gh_response_free(&resp);
                        r = resp.status == 404 ? -ENOENT : -EACCES;
                        break;
                }
                grown = realloc(all, len + resp.len + 2);
                if (!grown) {
                        gh_response_free(&resp);
                        r = -ENOMEM;
                        break;
                }
                all = grown;
                memcpy(all + len, resp.body, resp.len);
                len += resp.len;
                all[len++] = '\n';
                all[len] = '\0';
                r = gh_link_next(resp.link, next, sizeof next);
                gh_response_free(&resp);
                if (r < 0) {
                        snprintf(err, errlen, "GitHub's Link header does not parse");
                        break;
                }
                if (r == 0)
                        break;
                if (++pages >= 1000) {
                        snprintf(err, errlen, "more than 1000 pages");
                        r = -E2BIG;
                        break;
                }
        }
        if (r < 0) {
                free(all);
                return r;
        }
        *ret = all;
        *ret_len = len;
        return 0;
}

struct json_object *gh_pages_items(const char *text, size_t len, const char *key) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *all = json_object_new_array();
        size_t off = 0;

        while (tok && all && off < len) {
                struct json_object *page, *items;

                while (off < len && strchr(" \t\r\n", text[off]))
                        off++;
                if (off >= len)
                        break;
                json_tokener_reset(tok);
                page = json_tokener_parse_ex(tok, text + off, (int) (len - off));
                if (!page || !json_object_object_get_ex(page, key, &items) || !json_object_is_type(items, json_type_array)) {
                        json_object_put(page);
                        json_object_put(all);
                        all = NULL;
                        break;
                }
                off += json_tokener_get_parse_end(tok);
                for (size_t i = 0; i < json_object_array_length(items); i++)
                        json_object_array_add(all, json_object_get(json_object_array_get_idx(items, i)));
                json_object_put(page);
        }
        if (tok)
                json_tokener_free(tok);
        return all;
}

int gh_get_items(struct gh_client *c, const char *path, const char *key, struct json_object **ret, char *err,
                 size_t errlen) {
        char *text = NULL;
        size_t len;
        int r;

        r = gh_get_pages(c, path, &text, &len, err, errlen);
        if (r < 0)
                return r;
        *ret = gh_pages_items(text, len, key);
        free(text);
        if (!*ret)
                return snprintf(err, errlen, "GET %s: the answer does not parse", path), -EPROTO;
        return 0;
}

int gh_list_runners(struct gh_client *c, const char *scope, const char *name, struct inventory *ret, char *err,
                    size_t errlen) {
        char path[512], *text = NULL, perr[256];
        const char *reason;
        size_t len = 0;
        int r;

        if (name && proto_validate_runner_name(name, &reason) < 0)
                return snprintf(err, errlen, "runner name %s", reason), -EINVAL;
        /* runner names need no escaping: letters, digits, '.', '_', '-' */
        snprintf(path, sizeof path, "/%s/actions/runners%s%s", scope, name ? "?name=" : "", name ?: "");
        r = gh_get_pages(c, path, &text, &len, err, errlen);
        if (r < 0)
                return r;
        r = inventory_parse(text, len, ret, perr, sizeof perr);
        if (r < 0)
                snprintf(err, errlen, "GitHub's runner list for %s: %s", scope, perr);
        free(text);
        return r;
}

void gh_describe_error(const struct gh_response *r, char *buf, size_t size) {
        struct json_object *o = r->body ? json_tokener_parse(r->body) : NULL, *m, *errs;
        const char *msg = NULL, *first = NULL;
        char raw[600];

        if (o && json_object_object_get_ex(o, "message", &m) && json_object_is_type(m, json_type_string))
                msg = json_object_get_string(m);
        if (o && json_object_object_get_ex(o, "errors", &errs) && json_object_is_type(errs, json_type_array) &&
            json_object_array_length(errs) > 0) {
                struct json_object *e = json_object_array_get_idx(errs, 0), *f;

                if (json_object_is_type(e, json_type_string))
                        first = json_object_get_string(e);
                else if (json_object_object_get_ex(e, "code", &f))
                        first = json_object_get_string(f);
        }
        snprintf(raw, sizeof raw, "%ld %s%s%s", r->status, msg ? msg : r->status ? "(no message)" : "no answer",
                 first ? ": " : "", first ? first : "");
        gh_redact_into(raw, buf, size);
        json_object_put(o);
}

int gh_check_url(const char *url, char *err, size_t errlen) {
        const char *host = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;

        if (strncmp(url, "https://", 8) != 0 &&
            !(host && (strncmp(host, "127.0.0.1", 9) == 0 || strncmp(host, "[::1]", 5) == 0 ||
                       strncmp(host, "localhost", 9) == 0) && strchr(":/", host[host[0] == '[' ? 5 : 9])))
                return snprintf(err, errlen, "refusing %.80s: not https", url), -EPERM;
        if (strlen(url) >= 4096)
                return snprintf(err, errlen, "URL too long"), -ENAMETOOLONG;
        return 0;
}

int gh_fetch_signed(struct gh_client *c, const char *url, struct gh_response *ret, char *err, size_t errlen) {
        int r = gh_check_url(url, err, errlen);

        *ret = (struct gh_response) {};
        return r < 0 ? r : gh_request_raw(c, "GET", url, NULL, NULL, NULL, ret, err, errlen);
}

void gh_response_free(struct gh_response *r) {
        free(r->body);
        *r = (struct gh_response) {};
}
