/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lanectl's settings: /etc/lanekeeper/lanekeeper.conf (INI). See
 * lanekeeper.conf(5). Names files that hold credentials, never a
 * credential itself. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "ini-diag.h"
#include "proto-validate.h"

#define SETTINGS_URL_MAX 256
#define SETTINGS_MAX_COMMANDS 16
#define SETTINGS_COMMAND_MAX 64
#define SETTINGS_DEFAULT_MIN_FREE_MIB 2048

struct settings {
        char api_url[SETTINGS_URL_MAX + 1];
        unsigned long app_id, installation_id;            /* 0: not set */
        unsigned long timeout_s;                          /* per request, retries included */
        char private_key_file[PROTO_PATH_MAX + 1];
        char token_file[PROTO_PATH_MAX + 1];
        char store_dir[PROTO_PATH_MAX + 1];
        char lanes_dir[PROTO_PATH_MAX + 1];
        char helper_socket[PROTO_PATH_MAX + 1];
        char policy_file[PROTO_PATH_MAX + 1];             /* the helper's policy, read as a view */
        /* [baseline] */
        unsigned long min_free_mib;
        size_t n_commands;
        char commands[SETTINGS_MAX_COMMANDS][SETTINGS_COMMAND_MAX + 1];
};

/* Built-in defaults (paths under SYSCONFDIR and /var/lib, /run). */
void settings_defaults(struct settings *s, const char *sysconfdir);

/* Parse F over the values already in *s; every problem to *diags with its
 * line. Returns 0, or -EINVAL if there were problems. */
int settings_parse(FILE *f, struct settings *s, struct ini_diags *diags);

/* Whether URL is https://HOST[:PORT][/PATH], or http:// on a loopback host
 * (127.0.0.0/8, [::1], localhost) for the test double. */
bool settings_api_url_ok(const char *url, const char **ret_reason);

/* "app", "token" or "none". */
const char *settings_auth(const struct settings *s);
