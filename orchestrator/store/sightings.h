/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* STORE/runner-sightings: since when lanekeeper has seen each runner of a
 * scope offline. GitHub's runner object has no "last seen" field, so the
 * age of an offline registration is counted from lanekeeper's own first
 * sighting of it offline, and restarts whenever it is seen online. Text,
 * one runner a line ("SCOPE<TAB>ID<TAB>OFFLINE_SINCE"), written atomically.
 * A damaged file is an error: the caller starts counting afresh, which
 * makes every registration young again (never older than it is). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define SIGHTINGS_FILE "runner-sightings"
#define SIGHTINGS_SCOPE_MAX 200
#define SIGHTINGS_MAX 100000

struct sighting {
        char scope[SIGHTINGS_SCOPE_MAX + 1];
        long long id;
        time_t offline_since;
        bool seen;                      /* in this run's listing */
};

struct sightings {
        size_t n, cap;
        struct sighting *v;
};

/* Load DIRFD's file: 0 (a missing file is empty), -EBADMSG when damaged,
 * or another -errno. */
int sightings_load(int dirfd, struct sightings *ret);

/* Runner ID of SCOPE seen now: online forgets it (0 returned); offline
 * keeps the first sighting or makes NOW one, and returns it. -ENOMEM as
 * (time_t) -1. */
time_t sightings_note(struct sightings *s, const char *scope, long long id, bool online, time_t now);

/* Forget SCOPE's runners this run's listing did not show (deleted). */
void sightings_forget_unseen(struct sightings *s, const char *scope);

int sightings_save(int dirfd, const struct sightings *s);
void sightings_free(struct sightings *s);
