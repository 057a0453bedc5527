/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "pool-file.h"

struct parse_ctx {
        int line;
        struct pool_desired *p;
        struct ini_diags *diags;
        unsigned seen;
};

enum key {
        KEY_NAME, KEY_REPOSITORY, KEY_ORGANISATION, KEY_HOST, KEY_ROOT, KEY_USER, KEY_GROUP,
        KEY_LABELS, KEY_VERSION, KEY_MIN, KEY_MAX, KEY_SPARE, _KEY_MAX,
};

typedef int (*validate_fn)(const char *, const char **);

static const struct {
        const char *name;
        validate_fn validate;   /* NULL: handled specially */
        size_t offset, size;
} keys[_KEY_MAX] = {
#define STR(k, f, fn) [k] = { #f, fn, offsetof(struct pool_desired, f), sizeof(((struct pool_desired *) 0)->f) }
        STR(KEY_NAME, name, proto_validate_lane_name),
        STR(KEY_REPOSITORY, repository, proto_validate_repository),
        STR(KEY_ORGANISATION, organisation, proto_validate_organisation),
        STR(KEY_HOST, host, proto_validate_host_name),
        STR(KEY_ROOT, root, proto_validate_abs_subpath),
        STR(KEY_USER, user, proto_validate_user_name),
        STR(KEY_GROUP, group, lane_group_validate),
        [KEY_LABELS] = { "labels", NULL, 0, 0 },
        [KEY_VERSION] = { "version", NULL, 0, 0 },
        [KEY_MIN] = { "min", NULL, 0, 0 },
        [KEY_MAX] = { "max", NULL, 0, 0 },
        [KEY_SPARE] = { "spare", NULL, 0, 0 },
#undef STR
};

static bool has_label(const struct pool_desired *p, const char *label) {
        for (size_t i = 0; i < p->n_labels; i++)
                if (strcasecmp(p->labels[i], label) == 0)
                        return true;
        return false;
}

static void set_count(struct parse_ctx *c, const char *key, const char *value, unsigned *dst) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || *end || errno || v > POOL_MAX_SLOTS)
                ini_diag(c->diags, c->line, "'%s' must be a number from 0 to %d", key, POOL_MAX_SLOTS);
        else
                *dst = (unsigned) v;
}

static int entry(void *user, int line, const char *section, const char *key, const char *value) {
        struct parse_ctx *c = user;
        const char *reason = NULL;
        int k;

        c->line = line;
        if (strcmp(section, "pool") != 0) {
                ini_diag(c->diags, line, "unknown section [%.64s] (a pool file has one [pool] section)", section);
                return 1;
        }
        for (k = 0; k < _KEY_MAX && strcmp(keys[k].name, key) != 0; k++)
                ;
        if (k == _KEY_MAX)
                return ini_diag(c->diags, line, "unknown key '%.64s'", key), 1;
        if (c->seen & (1u << k))
                return ini_diag(c->diags, line, "'%s' is set twice", key), 1;
        c->seen |= 1u << k;
        if (keys[k].validate) {
                if (strlen(value) >= keys[k].size || keys[k].validate(value, &reason) < 0)
                        ini_diag(c->diags, line, "'%s' %s", key, reason ?: "is too long");
                else
                        strcpy((char *) c->p + keys[k].offset, value);
        } else if (k == KEY_LABELS)
                lane_labels_parse(value, c->p->labels, &c->p->n_labels, c->diags, line);
        else if (k == KEY_VERSION) {
                if (version_policy_parse(value, &c->p->version) < 0)
                        ini_diag(c->diags, line, "'version' must be any, minimum:X.Y.Z or pinned:X.Y.Z");
        } else
                set_count(c, key, value, k == KEY_MIN ? &c->p->min : k == KEY_MAX ? &c->p->max : &c->p->spare);
        return 1;
}

static void check_complete(struct parse_ctx *c) {
        static const enum key required[] = { KEY_NAME, KEY_HOST, KEY_ROOT, KEY_USER, KEY_LABELS, KEY_MAX };
        bool repo = c->seen & (1u << KEY_REPOSITORY), org = c->seen & (1u << KEY_ORGANISATION);
        char slot[PROTO_LANE_NAME_MAX + 32];
        const char *reason;

        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                if (!(c->seen & (1u << required[i])))
                        ini_diag(c->diags, 0, "required key '%s' is missing", keys[required[i]].name);
        if (repo == org)
                ini_diag(c->diags, 0, "set exactly one of 'repository' and 'organisation'");
        if ((c->seen & (1u << KEY_LABELS)) && !has_label(c->p, "self-hosted"))
                ini_diag(c->diags, 0, "labels must include 'self-hosted' (GitHub gives every self-hosted runner that label)");
        if ((c->seen & (1u << KEY_MAX)) && c->p->max == 0)
                ini_diag(c->diags, 0, "'max' must be at least 1");
        if (c->p->min > c->p->max || c->p->spare > c->p->max)
                ini_diag(c->diags, 0, "'min' (%u) and 'spare' (%u) cannot exceed 'max' (%u)", c->p->min, c->p->spare,
                         c->p->max);
        /* the slots are lanes: NAME-max must be a valid lane name too */
        snprintf(slot, sizeof slot, "%.64s-%u", c->p->name, c->p->max ? c->p->max : 1);
        if (c->p->name[0] && proto_validate_lane_name(slot, &reason) < 0)
                ini_diag(c->diags, 0, "slot name '%s' %s: shorten 'name'", slot, reason);
}

int pool_file_parse(FILE *f, struct pool_desired *ret, struct ini_diags *diags) {
        struct parse_ctx c = { .p = ret, .diags = diags };
        size_t before = diags->n + diags->dropped;

        *ret = (struct pool_desired) { .version.kind = VERSION_ANY };
        snprintf(ret->group, sizeof ret->group, "Default");
        (void) ini_parse_lines(f, entry, &c, diags);
        check_complete(&c);
        ini_diags_sort(diags);
        return diags->n + diags->dropped == before ? 0 : -EINVAL;
}

void pool_slot_lane(const struct pool_desired *p, unsigned n, struct lane_desired *ret) {
        *ret = (struct lane_desired) { .version = p->version, .managed = true, .n_labels = p->n_labels };
        snprintf(ret->name, sizeof ret->name, "%.60s-%u", p->name, n % 1000);
        snprintf(ret->repository, sizeof ret->repository, "%s", p->repository);
        snprintf(ret->organisation, sizeof ret->organisation, "%s", p->organisation);
        snprintf(ret->host, sizeof ret->host, "%s", p->host);
        snprintf(ret->root, sizeof ret->root, "%s", p->root);
        snprintf(ret->user, sizeof ret->user, "%s", p->user);
        snprintf(ret->group, sizeof ret->group, "%s", p->group);
        memcpy(ret->labels, p->labels, sizeof ret->labels);
}
