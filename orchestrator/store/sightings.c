/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sightings.h"
#include "store-file.h"

#define HEADER "lanekeeper.sightings/1\n"
#define FILE_MAX (SIGHTINGS_MAX * 240)

static struct sighting *find(struct sightings *s, const char *scope, long long id) {
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i].id == id && strcmp(s->v[i].scope, scope) == 0)
                        return &s->v[i];
        return NULL;
}

static struct sighting *add(struct sightings *s) {
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 64;
                struct sighting *v;

                if (s->n >= SIGHTINGS_MAX || !(v = realloc(s->v, cap * sizeof *v)))
                        return NULL;
                s->v = v;
                s->cap = cap;
        }
        s->v[s->n] = (struct sighting) {};
        return &s->v[s->n++];
}

/* "SCOPE\tID\tSINCE": every field present, numbers positive, the scope printable. */
static int parse_line(char *line, struct sightings *s) {
        char *id_text = strchr(line, '\t'), *since_text, *end;
        struct sighting *g;
        long long id, since;

        if (!id_text || !(since_text = strchr(id_text + 1, '\t')))
                return -EBADMSG;
        *id_text++ = '\0';
        *since_text++ = '\0';
        if (!line[0] || strlen(line) > SIGHTINGS_SCOPE_MAX || strspn(line, "abcdefghijklmnopqrstuvwxyz"
                                                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") != strlen(line))
                return -EBADMSG;
        errno = 0;
        id = strtoll(id_text, &end, 10);
        if (errno || *end || id <= 0)
                return -EBADMSG;
        since = strtoll(since_text, &end, 10);
        if (errno || *end || since <= 0)
                return -EBADMSG;
        if (find(s, line, id))
                return -EBADMSG;
        if (!(g = add(s)))
                return -ENOMEM;
        snprintf(g->scope, sizeof g->scope, "%s", line);
        g->id = id;
        g->offline_since = (time_t) since;
        return 0;
}

int sightings_load(int dirfd, struct sightings *ret) {
        _cleanup_(freep) char *text = NULL;
        size_t len;
        char *line, *save = NULL;
        int r;

        *ret = (struct sightings) {};
        r = store_read_file(dirfd, SIGHTINGS_FILE, FILE_MAX, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (strlen(text) != len || strncmp(text, HEADER, strlen(HEADER)) != 0 || (len && text[len - 1] != '\n'))
                return -EBADMSG;
        for (line = strtok_r(text + strlen(HEADER), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                r = parse_line(line, ret);
                if (r < 0) {
                        sightings_free(ret);
                        return r;
                }
        }
        return 0;
}

time_t sightings_note(struct sightings *s, const char *scope, long long id, bool online, time_t now) {
        struct sighting *g = find(s, scope, id);

        if (online) {
                if (g)
                        *g = s->v[--s->n];
                return 0;
        }
        if (!g) {
                if (!(g = add(s)))
                        return (time_t) -1;
                snprintf(g->scope, sizeof g->scope, "%s", scope);
                g->id = id;
                g->offline_since = now;
        }
        g->seen = true;
        return g->offline_since;
}

void sightings_forget_unseen(struct sightings *s, const char *scope) {
        for (size_t i = 0; i < s->n;)
                if (!s->v[i].seen && strcmp(s->v[i].scope, scope) == 0)
                        s->v[i] = s->v[--s->n];
                else
                        i++;
}

int sightings_save(int dirfd, const struct sightings *s) {
        _cleanup_(freep) char *text = NULL;
        size_t size = strlen(HEADER) + s->n * (SIGHTINGS_SCOPE_MAX + 48) + 1, len;

        if (!(text = malloc(size)))
                return -ENOMEM;
        len = (size_t) snprintf(text, size, "%s", HEADER);
        for (size_t i = 0; i < s->n; i++)
                len += (size_t) snprintf(text + len, size - len, "%s\t%lld\t%lld\n", s->v[i].scope, s->v[i].id,
                                         (long long) s->v[i].offline_since);
        return store_write_atomic(dirfd, SIGHTINGS_FILE, text, len, true);
}

void sightings_free(struct sightings *s) {
        free(s->v);
        *s = (struct sightings) {};
}
