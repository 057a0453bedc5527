/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The loopback GitHub double (tests/github/ghdouble.py) for the C tests
 * of the client: started with a token file in a private directory,
 * stopped, and asked through its controls (/_double/..., /_runner/...). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

extern char dbl_work[];   /* the private directory: token, port file */
extern int dbl_port;

/* The double has what it needs (python3-jwt, -cryptography, -jsonschema):
 * else said on stderr by NAME, with what is missing. */
bool dbl_usable(const char *name);

/* Start the double for repository acme/site and organisation acme,
 * accepting the token PAT (written to DBL_WORK/token, 0600). */
void dbl_start(const char *pat);
void dbl_stop(void);

/* POST BODY (or GET) to the control WHAT ("runner/..." is the runner's
 * protocol, else /_double/WHAT); its answer into OUT. The status. */
long dbl_control(const char *what, const char *body, char *out, size_t size);

/* How many requests matching METHOD and PATH (a prefix) the double saw. */
int dbl_seen(const char *method, const char *path);
