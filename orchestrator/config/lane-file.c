/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ini-diag.h"
#include "lane-file.h"
#include "macro.h"

struct parse_ctx {
        int line;
        struct lane_desired *l;
        struct ini_diags *diags;
        unsigned seen;   /* bit per key, for duplicates and required keys */
        bool seen_dedicated;
};

static int parse_uint(const char **p, unsigned *ret) {
        char *end;
        unsigned long v;

        if (**p < '0' || **p > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(*p, &end, 10);
        if (errno || v > 99999)
                return -EINVAL;
        *ret = (unsigned) v;
        *p = end;
        return 0;
}

int version_policy_parse(const char *s, struct version_policy *ret) {
        struct version_policy v = {};
        const char *p;

        if (strcmp(s, "any") == 0) {
                *ret = v;
                return 0;
        }
        if (strncmp(s, "minimum:", 8) == 0)
                v.kind = VERSION_MINIMUM, p = s + 8;
        else if (strncmp(s, "pinned:", 7) == 0)
                v.kind = VERSION_PINNED, p = s + 7;
        else
                return -EINVAL;
        if (parse_uint(&p, &v.major) < 0 || *p++ != '.' || parse_uint(&p, &v.minor) < 0 || *p++ != '.' ||
            parse_uint(&p, &v.patch) < 0 || *p != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

const char *version_policy_format(const struct version_policy *v, char *buf, size_t size) {
        if (v->kind == VERSION_ANY)
                snprintf(buf, size, "any");
        else
                snprintf(buf, size, "%s:%u.%u.%u", v->kind == VERSION_PINNED ? "pinned" : "minimum", v->major, v->minor,
                         v->patch);
        return buf;
}

static bool in_labels(char (*labels)[PROTO_LABEL_MAX + 1], size_t n, const char *label);

bool lane_has_label(const struct lane_desired *l, const char *label) {
        return in_labels((char (*)[PROTO_LABEL_MAX + 1]) l->labels, l->n_labels, label);
}

bool lane_serves_repository(const struct lane_desired *l, const char *repo) {
        size_t n = strlen(l->organisation);

        if (l->repository[0])
                return strcasecmp(l->repository, repo) == 0;
        return n && strncasecmp(repo, l->organisation, n) == 0 && repo[n] == '/';
}

typedef int (*validate_fn)(const char *, const char **);

int lane_group_validate(const char *s, const char **ret_reason) {
        if (!*s || strlen(s) > LANE_GROUP_MAX || !proto_is_printable_ascii(s, strlen(s)) || s[0] == ' ' || s[0] == '-')
                return *ret_reason = "is not a runner group name (printable ASCII, up to 64 characters)", -EINVAL;
        return 0;
}

enum key {
        KEY_NAME, KEY_REPOSITORY, KEY_ORGANISATION, KEY_HOST, KEY_ROOT, KEY_USER, KEY_GROUP,
        KEY_LABELS, KEY_VERSION, KEY_MANAGED, _KEY_MAX,
};

static const struct {
        const char *name;
        validate_fn validate;   /* NULL: handled specially */
        size_t offset, size;
} keys[_KEY_MAX] = {
#define STR(k, f, fn) [k] = { #f, fn, offsetof(struct lane_desired, f), sizeof(((struct lane_desired *) 0)->f) }
        STR(KEY_NAME, name, proto_validate_lane_name),
        STR(KEY_REPOSITORY, repository, proto_validate_repository),
        STR(KEY_ORGANISATION, organisation, proto_validate_organisation),
        STR(KEY_HOST, host, proto_validate_host_name),
        STR(KEY_ROOT, root, proto_validate_abs_subpath),
        STR(KEY_USER, user, proto_validate_user_name),
        STR(KEY_GROUP, group, lane_group_validate),
        [KEY_LABELS] = { "labels", NULL, 0, 0 },
        [KEY_VERSION] = { "version", NULL, 0, 0 },
        [KEY_MANAGED] = { "managed", NULL, 0, 0 },
#undef STR
};

static bool in_labels(char (*labels)[PROTO_LABEL_MAX + 1], size_t n, const char *label) {
        for (size_t i = 0; i < n; i++)
                if (strcasecmp(labels[i], label) == 0)   /* GitHub's labels are case-insensitive */
                        return true;
        return false;
}

void lane_labels_parse(const char *value, char (*labels)[PROTO_LABEL_MAX + 1], size_t *n, struct ini_diags *diags,
                       int line) {
        char buf[4096], *save = NULL;
        const char *reason;

        snprintf(buf, sizeof buf, "%s", value);
        for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
                if (proto_validate_label(t, &reason) < 0)
                        ini_diag(diags, line, "label '%.100s' %s", t, reason);
                else if (in_labels(labels, *n, t))
                        ini_diag(diags, line, "label '%s' is listed twice (labels are case-insensitive)", t);
                else if (*n >= LANE_MAX_LABELS)
                        return ini_diag(diags, line, "more than %d labels", LANE_MAX_LABELS);
                else
                        strcpy(labels[(*n)++], t);
        }
}

int lane_key(struct lane_desired *l, unsigned *seen, const char *key, const char *value, struct ini_diags *diags,
             int line) {
        const char *reason = NULL;
        int k;

        for (k = 0; k < _KEY_MAX && strcmp(keys[k].name, key) != 0; k++)
                ;
        if (k == _KEY_MAX)
                return 0;
        if (*seen & (1u << k))
                return ini_diag(diags, line, "'%s' is set twice", key), 1;
        *seen |= 1u << k;
        if (keys[k].validate) {
                if (strlen(value) >= keys[k].size || keys[k].validate(value, &reason) < 0)
                        ini_diag(diags, line, "'%s' %s", key, reason ?: "is too long");
                else
                        strcpy((char *) l + keys[k].offset, value);
        } else if (k == KEY_LABELS)
                lane_labels_parse(value, l->labels, &l->n_labels, diags, line);
        else if (k == KEY_VERSION) {
                if (version_policy_parse(value, &l->version) < 0)
                        ini_diag(diags, line, "'version' must be any, minimum:X.Y.Z or pinned:X.Y.Z");
        } else if (k == KEY_MANAGED) {
                if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
                        l->managed = strcmp(value, "true") == 0;
                else
                        ini_diag(diags, line, "'managed' must be true or false");
        }
        return 1;
}

void lane_keys_complete(const struct lane_desired *l, unsigned seen, struct ini_diags *diags) {
        static const enum key required[] = { KEY_NAME, KEY_HOST, KEY_ROOT, KEY_USER, KEY_LABELS };
        bool repo = seen & (1u << KEY_REPOSITORY), org = seen & (1u << KEY_ORGANISATION);

        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                if (!(seen & (1u << required[i])))
                        ini_diag(diags, 0, "required key '%s' is missing", keys[required[i]].name);
        if (repo == org)
                ini_diag(diags, 0, "set exactly one of 'repository' and 'organisation'");
        /* the managed label is the site's (policy.conf): the planner checks it (missing_managed_label) */
        if ((seen & (1u << KEY_LABELS)) && !lane_has_label(l, "self-hosted"))
                ini_diag(diags, 0, "labels must include 'self-hosted' (GitHub gives every self-hosted runner that label)");
}

static int entry(void *user, int line, const char *section, const char *key, const char *value) {
        struct parse_ctx *c = user;

        c->line = line;
        if (strcmp(section, "lane") != 0)
                ini_diag(c->diags, line, "unknown section [%.64s] (a lane file has one [lane] section)", section);
        else if (strcmp(key, "dedicated") == 0) {   /* a lane file's own: a pool's slots are never gated */
                if (c->seen_dedicated)
                        ini_diag(c->diags, line, "'dedicated' is set twice");
                else if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
                        ini_diag(c->diags, line, "'dedicated' must be true or false");
                c->seen_dedicated = true;
                c->l->dedicated = strcmp(value, "true") == 0;
        } else if (!lane_key(c->l, &c->seen, key, value, c->diags, line))
                ini_diag(c->diags, line, "unknown key '%.64s'", key);
        return 1;   /* keep going: report every error */
}

static void check_complete(struct parse_ctx *c) {
        lane_keys_complete(c->l, c->seen, c->diags);
        if (!(c->seen & (1u << KEY_MANAGED)))
                ini_diag(c->diags, 0, "required key 'managed' is missing");
}

int lane_file_parse(FILE *f, struct lane_desired *ret, struct ini_diags *diags) {
        struct parse_ctx c = { .l = ret, .diags = diags };
        size_t before = diags->n + diags->dropped;

        *ret = (struct lane_desired) { .version.kind = VERSION_ANY };
        snprintf(ret->group, sizeof ret->group, "Default");
        (void) ini_parse_lines(f, entry, &c, diags);
        check_complete(&c);
        ini_diags_sort(diags);
        return diags->n + diags->dropped == before ? 0 : -EINVAL;
}

void lane_scope(const struct lane_desired *l, char *buf, size_t size) {
        snprintf(buf, size, "%s/%s", l->repository[0] ? "repos" : "orgs", l->repository[0] ? l->repository : l->organisation);
}
