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

static int entry(void *user, int line, const char *section, const char *key, const char *value) {
        struct parse_ctx *c = user;

        if (strcmp(section, "pool") != 0) {
                ini_diag(c->diags, line, "unknown section [%.64s] (a pool file has one [pool] section)", section);
                return 1;
        }
        for (size_t k = 0; k < ELEMENTSOF(counts); k++)
                if (strcmp(key, counts[k]) == 0)
                        return set_count(c, line, k, value), 1;
        /* a slot is always managed: the key is not a pool's */
        if (strcmp(key, "managed") == 0 || !lane_key(&c->p->lane, &c->seen, key, value, c->diags, line))
                ini_diag(c->diags, line, "unknown key '%.64s'", key);
        return 1;
}

static void check_complete(struct parse_ctx *c) {
        struct pool_desired *p = c->p;
        char slot[PROTO_LANE_NAME_MAX + 32];
        const char *reason;

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
