/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "pool-file.h"

struct parse_ctx {
        struct pool_desired *p;
        struct ini_diags *diags;
        unsigned seen, seen_counts;   /* the lane keys (lane_key()), min/max/spare */
        int mode_line, set_line, labels_line;
};

static const char *const counts[] = { "min", "max", "spare" };

static void set_count(struct parse_ctx *c, int line, size_t k, const char *value) {
        unsigned *dst = k == 0 ? &c->p->min : k == 1 ? &c->p->max : &c->p->spare;
        char *end;
        unsigned long v;

        if (c->seen_counts & (1u << k))
                return ini_diag(c->diags, line, "'%s' is set twice", counts[k]);
        c->seen_counts |= 1u << k;
        errno = 0;
        v = strtoul(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || *end || errno || v > POOL_MAX_SLOTS)
                ini_diag(c->diags, line, "'%s' must be a number from 0 to %d", counts[k], POOL_MAX_SLOTS);
        else
                *dst = (unsigned) v;
}

static void mode_key(struct parse_ctx *c, int line, const char *key, const char *value) {
        const char *reason;

        if (strcmp(key, "mode") == 0) {
                if (c->mode_line)
                        return ini_diag(c->diags, line, "'mode' is set twice");
                c->mode_line = line;
                if (strcmp(value, "labels") == 0 || strcmp(value, "scale-set") == 0)
                        c->p->mode = value[0] == 's' ? POOL_MODE_SCALE_SET : POOL_MODE_LABELS;
                else
                        ini_diag(c->diags, line, "'mode' is 'labels' or 'scale-set', not '%.64s'", value);
                return;
        }
        if (c->set_line)
                return ini_diag(c->diags, line, "'scale_set' is set twice");
        c->set_line = line;
        if (proto_validate_label(value, &reason) < 0)
                ini_diag(c->diags, line, "'scale_set' '%.64s' %s (the set's name is the label jobs ask for)", value, reason);
        else
                snprintf(c->p->scale_set, sizeof c->p->scale_set, "%s", value);
}

/* A scale set's runners carry one label, the set's name: it stands for
 * the labels a labels pool lists (and is what jobs' runs-on names). */
static void check_scale_set(struct parse_ctx *c) {
        struct pool_desired *p = c->p;
        char labels[PROTO_LABEL_MAX + 16];

        if (p->mode != POOL_MODE_SCALE_SET) {
                if (c->set_line)
                        ini_diag(c->diags, c->set_line, "'scale_set' needs 'mode = scale-set'");
                return;
        }
        if (c->labels_line)
                return ini_diag(c->diags, c->labels_line,
                                "'labels' is not a key of a scale-set pool: its runners' one label is the set's name "
                                "('scale_set', the pool's name by default)");
        if (!p->scale_set[0])
                snprintf(p->scale_set, sizeof p->scale_set, "%.*s", (int) sizeof p->scale_set - 1, p->lane.name);
        snprintf(labels, sizeof labels, "self-hosted %s", p->scale_set);
        (void) lane_key(&p->lane, &c->seen, "labels", labels, c->diags, 0);
}

static int entry(void *user, int line, const char *section, const char *key, const char *value) {
        struct parse_ctx *c = user;

        if (strcmp(section, "pool") != 0) {
                ini_diag(c->diags, line, "unknown section [%.64s] (a pool file has one [pool] section)", section);
                return 1;
        }
        for (size_t k = 0; k < ELEMENTSOF(counts); k++)
                if (strcmp(key, counts[k]) == 0)
                        return set_count(c, line, k, value), 1;
        if (strcmp(key, "mode") == 0 || strcmp(key, "scale_set") == 0)
                return mode_key(c, line, key, value), 1;
        if (strcmp(key, "labels") == 0)
                c->labels_line = line;
        /* a slot is always managed: the key is not a pool's */
        if (strcmp(key, "managed") == 0 || !lane_key(&c->p->lane, &c->seen, key, value, c->diags, line))
                ini_diag(c->diags, line, "unknown key '%.64s'", key);
        return 1;
}

static void check_complete(struct parse_ctx *c) {
        struct pool_desired *p = c->p;
        char slot[PROTO_LANE_NAME_MAX + 32];
        const char *reason;

        check_scale_set(c);
        lane_keys_complete(&p->lane, c->seen, c->diags);
        if (!(c->seen_counts & 2u))
                ini_diag(c->diags, 0, "required key 'max' is missing");
        else if (p->max == 0)
                ini_diag(c->diags, 0, "'max' must be at least 1");
        if (p->min > p->max || p->spare > p->max)
                ini_diag(c->diags, 0, "'min' (%u) and 'spare' (%u) cannot exceed 'max' (%u)", p->min, p->spare, p->max);
        /* the slots are lanes: NAME-max must be a valid lane name too */
        snprintf(slot, sizeof slot, "%.64s-%u", p->lane.name, p->max ? p->max : 1);
        if (p->lane.name[0] && proto_validate_lane_name(slot, &reason) < 0)
                ini_diag(c->diags, 0, "slot name '%s' %s: shorten 'name'", slot, reason);
}

int pool_file_parse(FILE *f, struct pool_desired *ret, struct ini_diags *diags) {
        struct parse_ctx c = { .p = ret, .diags = diags };
        size_t before = diags->n + diags->dropped;

        *ret = (struct pool_desired) { .lane = { .version.kind = VERSION_ANY, .managed = true } };
        snprintf(ret->lane.group, sizeof ret->lane.group, "Default");
        (void) ini_parse_lines(f, entry, &c, diags);
        check_complete(&c);
        ini_diags_sort(diags);
        return diags->n + diags->dropped == before ? 0 : -EINVAL;
}

void pool_slot_lane(const struct pool_desired *p, unsigned n, struct lane_desired *ret) {
        *ret = p->lane;
        snprintf(ret->name, sizeof ret->name, "%.60s-%u", p->lane.name, n % 1000);
}
