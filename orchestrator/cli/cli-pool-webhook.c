/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli-pool-webhook.h"
#include "macro.h"

static void on_delivery(void *data, enum webhook_result r, const char *action) {
        struct pool_webhook *h = data;

        h->counts[r]++;
        if (r == WEBHOOK_ACCEPTED)
                h->wake(h->data, action);
        else if (r == WEBHOOK_BAD_SIGNATURE)
                fprintf(stderr, "lanectl pool supervise: a webhook request without a valid signature was refused\n");
}

/* MHD's next deadline (idle connections) as a one-shot timer. */
static void rearm(struct pool_webhook *h) {
        long long ms = webhook_timeout_ms(h->w);

        if (ms < 0)
                (void) sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
        else if (sd_event_source_set_time_relative(h->timer, (uint64_t) ms * 1000) >= 0)
                (void) sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        (void) es, (void) fd, (void) revents;
        webhook_run(((struct pool_webhook *) userdata)->w);
        rearm(userdata);
        return 0;
}

static int on_time(sd_event_source *es, uint64_t usec, void *userdata) {
        (void) es, (void) usec;
        webhook_run(((struct pool_webhook *) userdata)->w);
        rearm(userdata);
        return 0;
}

static int read_secret(const char *path, char *buf, size_t size, size_t *ret_len, char *err, size_t errlen) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        ssize_t n;

        if (fd < 0 || fstat(fd, &st) < 0)
                return snprintf(err, errlen, "cannot read the webhook secret %s: %m", path), -errno;
        if (!S_ISREG(st.st_mode) || (st.st_mode & 0027))
                return snprintf(err, errlen, "the webhook secret %s must be a file others cannot read nor the group "
                                "write (chmod 0640)", path), -EPERM;
        n = read(fd, buf, size);
        if (n < 0)
                return snprintf(err, errlen, "cannot read the webhook secret %s: %m", path), -errno;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
                n--;
        if (n < 16 || (size_t) n >= size)
                return snprintf(err, errlen, "the webhook secret in %s must be 16 to 512 bytes", path), -EINVAL;
        *ret_len = (size_t) n;
        return 0;
}

int pool_webhook_open(sd_event *e, const struct settings *s, struct pool_webhook *h, char *err, size_t errlen) {
        char secret[513];
        size_t len = 0;
        int r;

        h->w = NULL;
        if (!s->pools_webhook_listen[0])
                return 0;
        if (!s->pools_webhook_secret_file[0])
                return snprintf(err, errlen, "[pools] webhook_listen needs webhook_secret_file: an unsigned webhook is "
                                "never accepted"), -EINVAL;
        r = read_secret(s->pools_webhook_secret_file, secret, sizeof secret, &len, err, errlen);
        if (r == 0)
                r = webhook_new(s->pools_webhook_listen, secret, len, on_delivery, h, &h->w, err, errlen);
        explicit_bzero(secret, sizeof secret);
        if (r < 0)
                return r;
        if (sd_event_add_io(e, &h->io, webhook_fd(h->w), EPOLLIN, on_io, h) < 0 ||
            sd_event_add_time_relative(e, &h->timer, CLOCK_MONOTONIC, 0, 0, on_time, h) < 0) {
                pool_webhook_close(h);
                return snprintf(err, errlen, "cannot watch the webhook receiver"), -EIO;
        }
        rearm(h);
        return 0;
}

void pool_webhook_close(struct pool_webhook *h) {
        h->io = sd_event_source_disable_unref(h->io);
        h->timer = sd_event_source_disable_unref(h->timer);
        webhook_free(h->w);
        h->w = NULL;
}
