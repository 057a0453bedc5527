/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "settings.h"

struct ctx {
        struct settings *s;
        struct ini_diags *diags;
        uint64_t seen;
};

static void set_path(struct ctx *c, int line, const char *key, char *dst, size_t size, const char *value);

void settings_defaults(struct settings *s, const char *sysconfdir) {
        *s = (struct settings) {};
        snprintf(s->api_url, sizeof s->api_url, "https://api.github.com");
        snprintf(s->store_dir, sizeof s->store_dir, "/var/lib/lanekeeper");
        snprintf(s->lanes_dir, sizeof s->lanes_dir, "%s/lanekeeper/lanes.d", sysconfdir);
        snprintf(s->pools_dir, sizeof s->pools_dir, "%s/lanekeeper/pools.d", sysconfdir);
        snprintf(s->helper_socket, sizeof s->helper_socket, "/run/lanekeeper/helper.socket");
        snprintf(s->policy_file, sizeof s->policy_file, "%s/lanekeeper/policy.conf", sysconfdir);
        s->min_free_mib = SETTINGS_DEFAULT_MIN_FREE_MIB;
        s->timeout_s = 120;
        s->retention_days = 90;
        s->n_commands = 2;   /* what config.sh and run.sh themselves need */
        snprintf(s->commands[0], sizeof s->commands[0], "bash");
        snprintf(s->commands[1], sizeof s->commands[1], "tar");
        s->health = (struct health_settings) {
                .stale_job_hours = 4, .superseded = true, .pr_priority_threshold = 5, .cache_max_age_days = 7,
                .max_cancels = 10, .max_reruns = 5, .max_restarts = 3, .max_clock_offset_s = 60,
        };
        s->route = (struct route_settings) {
                .n_labels = 1, .lifecycle_pct = 98, .queue_wait_s = 120, .setup_s = 180, .offline_s = 600,
                .interval_s = 60,
        };
        snprintf(s->route.variable, sizeof s->route.variable, "CI_SELF_HOSTED_TRUSTED_ROUTING");
        snprintf(s->route.labels[0], sizeof s->route.labels[0], "self-hosted");
}

bool settings_variable_ok(const char *name, const char **ret_reason) {
        if (!name[0] || strlen(name) > SETTINGS_VARIABLE_MAX)
                return *ret_reason = "must be 1 to 100 characters", false;
        if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
                return *ret_reason = "may hold only letters, digits and '_'", false;
        if (name[0] >= '0' && name[0] <= '9')
                return *ret_reason = "may not start with a digit", false;
        if (strncasecmp(name, "GITHUB_", 7) == 0)
                return *ret_reason = "may not start with GITHUB_ (GitHub keeps that prefix)", false;
        return true;
}

static int label_ok(const char *name, const char **ret_reason) {
        return proto_validate_label(name, ret_reason);
}

static int set_bool(const char *value, bool *ret) {
        if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
                return *ret = true, 0;
        if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
                return *ret = false, 0;
        return -EINVAL;
}

/* "a, b c": a list of at most MAX names (separated by commas or blanks),
 * each accepted by OK, into DST (items of SIZE bytes); *RET_N their
 * number. Nothing is changed when a name is refused. */
static int set_list(const char *value, size_t max, const char *too_many, char *dst, size_t size, size_t *ret_n,
                    int (*ok)(const char *name, const char **ret_reason), const char **ret_reason) {
        char buf[4096], *save = NULL;
        size_t n = 0;

        if (strlen(value) >= sizeof buf)
                return *ret_reason = "is too long", -EINVAL;
        snprintf(buf, sizeof buf, "%s", value);
        for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
                if (n == max)
                        return *ret_reason = too_many, -E2BIG;
                if (strlen(t) >= size)
                        return *ret_reason = "holds a name that is too long", -EINVAL;
                if (ok(t, ret_reason) < 0)
                        return -EINVAL;
                n++;
        }
        snprintf(buf, sizeof buf, "%s", value);
        n = 0;
        for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
                snprintf(dst + size * n++, size, "%s", t);
        *ret_n = n;
        return 0;
}

static int command_name_ok(const char *t, const char **ret_reason) {
        if (strlen(t) > SETTINGS_COMMAND_MAX || t[0] == '-' || t[0] == '.' ||
            strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") != strlen(t))
                return *ret_reason = "holds a name that is not a plain command name", -EINVAL;
        return 0;
}

/* A whole number key of a section's struct, with its range. */
struct number_key {
        const char *key;
        size_t offset;
        unsigned long min, max;
};

/* KEY, if one of T's (N), parsed into BASE at its offset: true when it was
 * one of them (a bad value said with LINE). */
static bool set_number(struct ctx *c, int line, const char *key, const char *value, void *base,
                       const struct number_key *t, size_t n) {
        unsigned long v;
        char *end;

        for (size_t i = 0; i < n; i++)
                if (strcmp(key, t[i].key) == 0) {
                        errno = 0;
                        v = strtoul(value, &end, 10);
                        if (!value[0] || value[0] < '0' || value[0] > '9' || *end || errno || v < t[i].min ||
                            v > t[i].max)
                                ini_diag(c->diags, line, "'%s' must be a whole number from %lu to %lu", key, t[i].min,
                                         t[i].max);
                        else
                                *(unsigned long *) ((char *) base + t[i].offset) = v;
                        return true;
                }
        return false;
}

/* The [health] keys: numbers with their range, switches, lists, a path. */
static void set_health(struct ctx *c, int line, const char *key, const char *value) {
        static const struct number_key numbers[] = {
                { "stale_job_hours", offsetof(struct health_settings, stale_job_hours), 1, 24 * 30 },
                { "pr_priority_threshold", offsetof(struct health_settings, pr_priority_threshold), 1, 1000 },
                { "cache_max_age_days", offsetof(struct health_settings, cache_max_age_days), 1, 365 },
                { "max_cancels", offsetof(struct health_settings, max_cancels), 0, 1000 },
                { "max_reruns", offsetof(struct health_settings, max_reruns), 0, 1000 },
                { "max_restarts", offsetof(struct health_settings, max_restarts), 0, 100 },
                { "max_clock_offset_s", offsetof(struct health_settings, max_clock_offset_s), 1, 3600 },
        };
        static const struct {
                const char *key;
                size_t offset;
        } switches[] = {
                { "superseded", offsetof(struct health_settings, superseded) },
                { "cancel_default_branch", offsetof(struct health_settings, cancel_default_branch) },
                { "pr_priority", offsetof(struct health_settings, pr_priority) },
        };
        struct health_settings *h = &c->s->health;
        const char *reason;

        if (set_number(c, line, key, value, h, numbers, ELEMENTSOF(numbers)))
                return;
        for (size_t i = 0; i < ELEMENTSOF(switches); i++)
                if (strcmp(key, switches[i].key) == 0) {
                        if (set_bool(value, (bool *) ((char *) h + switches[i].offset)) < 0)
                                ini_diag(c->diags, line, "'%s' must be yes or no", key);
                        return;
                }
        if (strcmp(key, "repositories") == 0) {
                if (set_list(value, SETTINGS_MAX_REPOS, "names more than 32 repositories", h->repositories[0],
                             sizeof h->repositories[0], &h->n_repositories, proto_validate_repository, &reason) < 0)
                        ini_diag(c->diags, line, "'repositories' %s", reason);
        } else if (strcmp(value, "none") == 0)
                h->metrics_off = true;
        else
                set_path(c, line, key, h->metrics_file, sizeof h->metrics_file, value);
}

bool settings_api_url_ok(const char *url, const char **ret_reason) {
        const char *host, *end;
        size_t n;
        bool https = strncmp(url, "https://", 8) == 0;

        if (!https && strncmp(url, "http://", 7) != 0)
                return *ret_reason = "must start with https:// (or http:// on a loopback host)", false;
        if (!proto_is_printable_ascii(url, strlen(url)) || strpbrk(url, " \"'<>\\@"))
                return *ret_reason = "contains a space, quote, backslash or '@' (no credentials in URLs)", false;
        host = url + (https ? 8 : 7);
        end = host[0] == '[' ? strchr(host, ']') : host + strcspn(host, ":/");
        if (!end || end == host)
                return *ret_reason = "has no host", false;
        if (host[0] == '[')
                end++;
        n = (size_t) (end - host);
        if (!https && !(n == 9 && strncmp(host, "localhost", 9) == 0) && !(n == 5 && strncmp(host, "[::1]", 5) == 0) &&
            strncmp(host, "127.", 4) != 0)
                return *ret_reason = "uses http:// on a host that is not loopback (use https://)", false;
        return true;
}

const char *settings_auth(const struct settings *s) {
        return s->app_id ? "app" : s->token_file[0] ? "token" : "none";
}


static void set_path(struct ctx *c, int line, const char *key, char *dst, size_t size, const char *value) {
        const char *reason;

        if (proto_validate_abs_subpath(value, &reason) < 0)
                ini_diag(c->diags, line, "'%s' %s", key, reason);
        else
                snprintf(dst, size, "%s", value);   /* fits: validated paths are at most PROTO_PATH_MAX */
}

static void set_id(struct ctx *c, int line, const char *key, unsigned long *dst, const char *value) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(value, &end, 10);
        if (value[0] < '1' || value[0] > '9' || *end || errno || v > 0xffffffffffUL)
                ini_diag(c->diags, line, "'%s' must be a positive decimal number", key);
        else
                *dst = v;
}

/* The [route] keys. */
static void set_route(struct ctx *c, int line, const char *key, const char *value) {
        static const struct number_key numbers[] = {
                { "lifecycle_pct", offsetof(struct route_settings, lifecycle_pct), 1, 100 },
                { "queue_wait_s", offsetof(struct route_settings, queue_wait_s), 1, 86400 },
                { "setup_s", offsetof(struct route_settings, setup_s), 1, 86400 },
                { "offline_s", offsetof(struct route_settings, offline_s), 60, 86400 },
                { "interval_s", offsetof(struct route_settings, interval_s), 10, 3600 },
        };
        struct route_settings *r = &c->s->route;
        const char *reason;

        if (set_number(c, line, key, value, r, numbers, ELEMENTSOF(numbers)))
                return;
        if (strcmp(key, "variable") == 0) {
                if (!settings_variable_ok(value, &reason))
                        ini_diag(c->diags, line, "'variable' %s", reason);
                else
                        snprintf(r->variable, sizeof r->variable, "%s", value);
        } else if (strcmp(key, "repositories") == 0) {
                if (set_list(value, SETTINGS_MAX_REPOS, "names more than 32 repositories", r->repositories[0],
                             sizeof r->repositories[0], &r->n_repositories, proto_validate_repository, &reason) < 0)
                        ini_diag(c->diags, line, "'repositories' %s", reason);
        } else if (strcmp(key, "labels") == 0) {
                size_t n = 0;

                if (set_list(value, SETTINGS_MAX_LABELS, "names more than 16 labels", r->labels[0], sizeof r->labels[0],
                             &n, label_ok, &reason) < 0)
                        ini_diag(c->diags, line, "'labels' %s", reason);
                else if (n == 0)
                        ini_diag(c->diags, line, "'labels' names no label");
                else
                        r->n_labels = n;
        } else if (strcmp(value, "none") == 0)
                r->metrics_off = true;
        else
                set_path(c, line, key, r->metrics_file, sizeof r->metrics_file, value);
}

static const struct {
        const char *section, *key;
} known[] = {
        { "github", "api_url" }, { "github", "app_id" }, { "github", "installation_id" },
        { "github", "private_key_file" }, { "github", "token_file" }, { "github", "timeout_s" },
        { "store", "dir" }, { "lanes", "dir" }, { "helper", "socket" }, { "helper", "policy" },
        { "baseline", "min_free_mib" }, { "baseline", "commands" },
        { "health", "stale_job_hours" }, { "health", "superseded" }, { "health", "cancel_default_branch" },
        { "health", "pr_priority" }, { "health", "pr_priority_threshold" }, { "health", "cache_max_age_days" },
        { "health", "max_cancels" }, { "health", "max_reruns" }, { "health", "max_restarts" },
        { "health", "max_clock_offset_s" }, { "health", "repositories" }, { "health", "metrics_file" },
        { "retention", "days" }, { "pools", "dir" }, { "pools", "metrics_file" },
        { "pools", "webhook_listen" }, { "pools", "webhook_secret_file" },
        { "route", "variable" }, { "route", "repositories" }, { "route", "labels" }, { "route", "lifecycle_pct" },
        { "route", "queue_wait_s" }, { "route", "setup_s" }, { "route", "offline_s" }, { "route", "interval_s" },
        { "route", "metrics_file" },
};

static int entry(void *user, int line, const char *section, const char *key, const char *value) {
        struct ctx *c = user;
        struct settings *s = c->s;
        const char *reason;
        size_t k;

        for (k = 0; k < ELEMENTSOF(known) && (strcmp(known[k].section, section) || strcmp(known[k].key, key)); k++)
                ;
        if (k == ELEMENTSOF(known)) {
                ini_diag(c->diags, line, "unknown key '%.64s' in section [%.64s]", key, section);
                return 0;
        }
        if (c->seen & (UINT64_C(1) << k)) {
                ini_diag(c->diags, line, "'%s' is set twice", key);
                return 0;
        }
        c->seen |= UINT64_C(1) << k;
        if (strcmp(section, "health") == 0)
                set_health(c, line, key, value);
        else if (strcmp(section, "route") == 0)
                set_route(c, line, key, value);
        else if (strcmp(key, "api_url") == 0) {
                if (strlen(value) > SETTINGS_URL_MAX || !settings_api_url_ok(value, &reason))
                        ini_diag(c->diags, line, "'api_url' %s", strlen(value) > SETTINGS_URL_MAX ? "is too long" : reason);
                else
                        snprintf(s->api_url, sizeof s->api_url, "%s", value);
        } else if (strcmp(key, "app_id") == 0)
                set_id(c, line, key, &s->app_id, value);
        else if (strcmp(key, "installation_id") == 0)
                set_id(c, line, key, &s->installation_id, value);
        else if (strcmp(key, "private_key_file") == 0)
                set_path(c, line, key, s->private_key_file, sizeof s->private_key_file, value);
        else if (strcmp(key, "token_file") == 0)
                set_path(c, line, key, s->token_file, sizeof s->token_file, value);
        else if (strcmp(section, "store") == 0)
                set_path(c, line, "dir", s->store_dir, sizeof s->store_dir, value);
        else if (strcmp(section, "lanes") == 0)
                set_path(c, line, "dir", s->lanes_dir, sizeof s->lanes_dir, value);
        else if (strcmp(section, "pools") == 0 && strcmp(key, "webhook_listen") == 0) {
                if (strlen(value) >= sizeof s->pools_webhook_listen || !strchr(value, ':'))
                        ini_diag(c->diags, line, "'webhook_listen' must be ADDRESS:PORT (127.0.0.1:8787, [::1]:8787)");
                else
                        snprintf(s->pools_webhook_listen, sizeof s->pools_webhook_listen, "%s", value);
        } else if (strcmp(section, "pools") == 0 && strcmp(key, "webhook_secret_file") == 0)
                set_path(c, line, key, s->pools_webhook_secret_file, sizeof s->pools_webhook_secret_file, value);
        else if (strcmp(section, "pools") == 0 && strcmp(key, "metrics_file") == 0) {
                s->pools_metrics_off = strcmp(value, "none") == 0;
                if (!s->pools_metrics_off)
                        set_path(c, line, key, s->pools_metrics_file, sizeof s->pools_metrics_file, value);
        } else if (strcmp(section, "pools") == 0)
                set_path(c, line, "dir", s->pools_dir, sizeof s->pools_dir, value);
        else if (strcmp(key, "policy") == 0)
                set_path(c, line, key, s->policy_file, sizeof s->policy_file, value);
        else if (strcmp(section, "retention") == 0) {
                unsigned long days = 0;

                set_id(c, line, key, &days, value);
                if (days > 3650)
                        ini_diag(c->diags, line, "'days' must be from 1 to 3650");
                else if (days)
                        s->retention_days = days;
        } else if (strcmp(key, "timeout_s") == 0)
                set_id(c, line, key, &s->timeout_s, value);
        else if (strcmp(key, "min_free_mib") == 0)
                set_id(c, line, key, &s->min_free_mib, value);
        else if (strcmp(key, "commands") == 0) {
                /* "git, docker": names of commands looked up in the fixed PATH */
                if (set_list(value, SETTINGS_MAX_COMMANDS, "names more than 16 commands", s->commands[0],
                             sizeof s->commands[0], &s->n_commands, command_name_ok, &reason) < 0)
                        ini_diag(c->diags, line, "'commands' %s", reason);
        } else
                set_path(c, line, key, s->helper_socket, sizeof s->helper_socket, value);
        return 0;
}

int settings_parse(FILE *f, struct settings *s, struct ini_diags *diags) {
        struct ctx c = { .s = s, .diags = diags };
        size_t before = diags->n + diags->dropped;
        bool app = s->app_id || s->installation_id || s->private_key_file[0];

        (void) ini_parse_lines(f, entry, &c, diags);
        app = s->app_id || s->installation_id || s->private_key_file[0];
        if (app && !(s->app_id && s->installation_id && s->private_key_file[0]))
                ini_diag(diags, 0, "a GitHub App needs app_id, installation_id and private_key_file together");
        if (app && s->token_file[0])
                ini_diag(diags, 0, "set either a GitHub App or token_file, not both");
        ini_diags_sort(diags);
        return diags->n + diags->dropped == before ? 0 : -EINVAL;
}
