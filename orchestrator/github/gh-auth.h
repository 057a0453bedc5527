/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Credentials for GitHub: files readable by their owner only, a GitHub
 * App's private key, and the App's JWT (RS256, OpenSSL's libcrypto). */
#pragma once

#include <stddef.h>
#include <time.h>

typedef struct evp_pkey_st EVP_PKEY;

#define SECRET_FILE_MAX (64 * 1024)

/* Read PATH, which must be a regular file (not a link), owned by the
 * effective user and closed to group and others, at most 64 KiB. Trailing
 * whitespace is dropped. *ret is malloc'd; free it with secret_free(). On
 * failure err says what to fix, never what the file holds. */
int secret_file_read(const char *path, char **ret, size_t *ret_len, char *err, size_t errlen);
void secret_free(char *s, size_t len);

/* A token file: one token of any length, printable, no whitespace inside. */
int token_file_read(const char *path, char **ret, size_t *ret_len, char *err, size_t errlen);

/* A fingerprint of the credential in the secret file PATH (a token, or an
 * App's private key, with APP_ID): 128 bits of a domain-separated SHA-256,
 * in hex. It tells one credential from another (lanectl unrevoke needs
 * another than the revoke's) and says nothing usable about it. */
#define CREDENTIAL_FP_SIZE 33
int credential_fingerprint(const char *path, unsigned long app_id, char buf[CREDENTIAL_FP_SIZE], char *err,
                           size_t errlen);

/* An App's private key (PEM, RSA) from a secret file. */
int app_key_load(const char *path, EVP_PKEY **ret, char *err, size_t errlen);

/* The App's JWT for GitHub's clock: NOW is ours, OFFSET_S GitHub's Date
 * minus ours. iat = GitHub's now - 60 s, exp = GitHub's now + 540 s (under
 * the 10 minutes GitHub allows), iss = ISSUER (the app id or client id).
 * *ret is malloc'd. */
int app_jwt(EVP_PKEY *key, const char *issuer, time_t now, long long offset_s, char **ret, char *err, size_t errlen);

#define APP_JWT_BACKDATE_S 60
#define APP_JWT_LIFETIME_S 540
