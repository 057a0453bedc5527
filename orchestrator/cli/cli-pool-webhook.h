/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pool supervisor's webhook receiver in its sd-event loop: [pools]
 * webhook_listen and webhook_secret_file of lanekeeper.conf(5); every
 * verified workflow_job delivery calls WAKE, every request is counted by
 * its result (COUNTS[enum webhook_result]). */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

#include "settings.h"
#include "webhook.h"

struct pool_webhook {
        struct webhook *w;
        sd_event_source *io, *timer;
        void (*wake)(void *data, const char *action);
        void *data;
        unsigned long long *counts;    /* _WEBHOOK_RESULT_MAX of them, the caller's */
};

/* Nothing when S configures no webhook (0, h->w NULL); else the secret
 * read (a file the group may read at most, 16 to 512 bytes, trailing
 * white space not part of it) and the receiver listening: 0 or -errno
 * with ERR. */
int pool_webhook_open(sd_event *e, const struct settings *s, struct pool_webhook *h, char *err, size_t errlen);
void pool_webhook_close(struct pool_webhook *h);
