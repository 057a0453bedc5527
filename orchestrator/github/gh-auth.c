/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gh-auth.h"
#include "macro.h"
#include "proto-sha256.h"

void secret_free(char *s, size_t len) {
        if (!s)
                return;
        explicit_bzero(s, len);
        free(s);
}

int secret_file_read(const char *path, char **ret, size_t *ret_len, char *err, size_t errlen) {
        _cleanup_(closep) int fd = -EBADF;
        struct stat st;
        char *buf;
        size_t len = 0;
        ssize_t n;

        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return snprintf(err, errlen, "%s: %s", path,
                                errno == ELOOP ? "is a symbolic link (name the file itself)" : strerror(errno)), -errno;
        if (fstat(fd, &st) < 0)
                return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -errno;
        if (!S_ISREG(st.st_mode))
                return snprintf(err, errlen, "%s: not a regular file", path), -EBADF;
        if (st.st_uid != geteuid())
                return snprintf(err, errlen, "%s: owned by uid %u, not by uid %u who reads it", path,
                                (unsigned) st.st_uid, (unsigned) geteuid()), -EPERM;
        if (st.st_mode & 077)
                return snprintf(err, errlen, "%s: open to group or others (mode %04o): chmod 600 it", path,
                                (unsigned) (st.st_mode & 07777)), -EPERM;
        if (st.st_size > SECRET_FILE_MAX)
                return snprintf(err, errlen, "%s: larger than 64 KiB", path), -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        while (len < (size_t) st.st_size && (n = read(fd, buf + len, (size_t) st.st_size - len)) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;

                        secret_free(buf, (size_t) st.st_size + 1);
                        return snprintf(err, errlen, "%s: %s", path, strerror(e)), -e;
                }
                len += (size_t) n;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
                len--;
        buf[len] = '\0';
        *ret = buf;
        *ret_len = len;
        return 0;
}

int token_file_read(const char *path, char **ret, size_t *ret_len, char *err, size_t errlen) {
        char *t;
        size_t len;
        int r = secret_file_read(path, &t, &len, err, errlen);

        if (r < 0)
                return r;
        if (len == 0) {
                secret_free(t, len + 1);
                return snprintf(err, errlen, "%s: empty", path), -EINVAL;
        }
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) t[i] <= ' ' || (unsigned char) t[i] >= 0x7f) {
                        secret_free(t, len + 1);
                        return snprintf(err, errlen, "%s: not one token (a space, control or non-ASCII byte inside)",
                                        path), -EINVAL;
                }
        *ret = t;
        *ret_len = len;
        return 0;
}

int app_key_load(const char *path, EVP_PKEY **ret, char *err, size_t errlen) {
        EVP_PKEY *key = NULL;
        BIO *bio;
        char *pem;
        size_t len;
        int r = secret_file_read(path, &pem, &len, err, errlen);

        if (r < 0)
                return r;
        bio = BIO_new_mem_buf(pem, (int) len);
        if (bio)
                key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
        secret_free(pem, len + 1);
        if (!key)
                return snprintf(err, errlen, "%s: not a PEM private key", path), -EINVAL;
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 2048) {
                EVP_PKEY_free(key);
                return snprintf(err, errlen, "%s: not an RSA key of 2048 bits or more (GitHub Apps use RS256)", path),
                       -EINVAL;
        }
        *ret = key;
        return 0;
}

/* base64url without padding (RFC 7515) of LEN bytes, appended at *out. */
static size_t b64url(const unsigned char *in, size_t len, char *out) {
        static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t o = 0, i = 0;

        for (; i + 2 < len; i += 3) {
                unsigned v = (unsigned) in[i] << 16 | (unsigned) in[i + 1] << 8 | in[i + 2];

                out[o++] = a[v >> 18 & 63], out[o++] = a[v >> 12 & 63], out[o++] = a[v >> 6 & 63], out[o++] = a[v & 63];
        }
        if (len - i == 1) {
                unsigned v = (unsigned) in[i] << 16;

                out[o++] = a[v >> 18 & 63], out[o++] = a[v >> 12 & 63];
        } else if (len - i == 2) {
                unsigned v = (unsigned) in[i] << 16 | (unsigned) in[i + 1] << 8;

                out[o++] = a[v >> 18 & 63], out[o++] = a[v >> 12 & 63], out[o++] = a[v >> 6 & 63];
        }
        out[o] = '\0';
        return o;
}

int app_jwt(EVP_PKEY *key, const char *issuer, time_t now, long long offset_s, char **ret, char *err, size_t errlen) {
        static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
        char payload[256], *jwt;
        unsigned char sig[1024];
        size_t siglen = sizeof sig, len, n;
        long long gh_now = (long long) now + offset_s;
        EVP_MD_CTX *ctx;
        int ok;

        if (!issuer || !*issuer || strspn(issuer, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.") !=
                                           strlen(issuer) || strlen(issuer) > 64)
                return snprintf(err, errlen, "the app id is not an id"), -EINVAL;
        n = (size_t) snprintf(payload, sizeof payload, "{\"iat\":%lld,\"exp\":%lld,\"iss\":\"%s\"}",
                              gh_now - APP_JWT_BACKDATE_S, gh_now + APP_JWT_LIFETIME_S, issuer);
        if (EVP_PKEY_get_size(key) > (int) sizeof sig)
                return snprintf(err, errlen, "the key is too large"), -EINVAL;
        len = 4 * ((sizeof header + n + sizeof sig) / 3 + 3) + 4;
        jwt = malloc(len);
        if (!jwt)
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        len = b64url((const unsigned char *) header, sizeof header - 1, jwt);
        jwt[len++] = '.';
        len += b64url((const unsigned char *) payload, n, jwt + len);
        ctx = EVP_MD_CTX_new();
        ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *) jwt, len) == 1;
        EVP_MD_CTX_free(ctx);
        if (!ok) {
                free(jwt);
                return snprintf(err, errlen, "signing the JWT failed"), -EIO;
        }
        jwt[len++] = '.';
        b64url(sig, siglen, jwt + len);
        *ret = jwt;
        return 0;
}

int credential_fingerprint(const char *path, unsigned long app_id, char buf[CREDENTIAL_FP_SIZE], char *err,
                           size_t errlen) {
        char *secret = NULL, *mixed;
        char hex[PROTO_SHA256_HEX_SIZE];
        size_t len = 0, mlen;
        int r;

        r = secret_file_read(path, &secret, &len, err, errlen);
        if (r < 0)
                return r;
        /* domain-separated, so the value says nothing usable about the secret */
        mlen = len + 64;
        mixed = malloc(mlen);
        if (!mixed) {
                secret_free(secret, len);
                return snprintf(err, errlen, "out of memory"), -ENOMEM;
        }
        r = snprintf(mixed, mlen, "lanekeeper credential fingerprint\n%lu\n", app_id);
        memcpy(mixed + r, secret, len);
        proto_sha256_hex(mixed, (size_t) r + len, hex);
        explicit_bzero(mixed, mlen);
        free(mixed);
        secret_free(secret, len);
        snprintf(buf, CREDENTIAL_FP_SIZE, "%.*s", CREDENTIAL_FP_SIZE - 1, hex);
        return 0;
}
