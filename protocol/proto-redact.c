/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "proto-redact.h"

struct outbuf {
        char *data;
        size_t len, cap;
        int error;
};

static void out_append(struct outbuf *o, const char *s, size_t n) {
        if (o->error)
                return;
        if (o->len + n + 1 > o->cap) {
                size_t cap = (o->cap ?: 64);
                char *d;

                while (cap < o->len + n + 1)
                        cap *= 2;
                d = realloc(o->data, cap);
                if (!d) {
                        o->error = -ENOMEM;
                        return;
                }
                o->data = d;
                o->cap = cap;
        }
        memcpy(o->data + o->len, s, n);
        o->len += n;
        o->data[o->len] = '\0';
}

/* One pass: the input, the output, and what earlier failures proved, so
 * that no byte is scanned more than a bounded number of times (the input
 * may be a 64 MiB log). */
struct scan {
        const char *s;
        struct outbuf o;
        size_t keep;           /* set by a matcher: input bytes at the match kept before the mark */
        const char *suffix;    /* set by a matcher: text written after the mark */
        size_t jwt_fail_end;   /* a JWT cannot start before this offset */
        size_t pem_fail_end;   /* nor a private key block */
};

static bool is_word(char c) {
        return isalnum((unsigned char) c) || c == '_';
}

static bool is_key_char(char c) {
        return is_word(c) || c == '-';
}

static bool is_token_char(char c) {
        return is_word(c) || c == '-' || c == '.';
}

static bool is_b64_char(char c) {
        return isalnum((unsigned char) c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-';
}

static bool ends_with(const char *s, size_t n, const char *suffix) {
        size_t m = strlen(suffix);
        return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

bool proto_key_is_sensitive(const char *key, size_t len) {
        static const char *const exact[] = {
                "pass", "pem", "jwt", "authorization", "cookie", "set-cookie", "proxy-authorization",
        };
        static const char *const suffixes[] = {
                "token", "password", "passwd", "secret", "jitconfig", "jit_config", "jit-config",
                "private_key", "privatekey", "private-key", "api_key", "apikey", "api-key",
                "secret_key", "signing_key", "credential", "credentials",
        };
        char k[128];

        while (len > 0 && *key == '-')
                key++, len--;
        if (len == 0 || len >= sizeof k)
                return false;
        for (size_t i = 0; i < len; i++)
                k[i] = (char) tolower((unsigned char) key[i]);
        k[len] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(exact); i++)
                if (strcmp(k, exact[i]) == 0)
                        return true;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (ends_with(k, len, suffixes[i]))
                        return true;
        return strstr(k, "password") || strstr(k, "passwd") || strstr(k, "secret");
}

/* Each matcher looks at sc->s + i and returns how many input bytes its match
 * covers (0: none). It writes nothing: on a match it may set sc->keep (that
 * many leading bytes stay, the rest become the mark) and sc->suffix. */

static size_t match_pem(struct scan *sc, size_t i) {
        const char *s = sc->s;
        const char *p = s + i, *eol, *end;

        if (i < sc->pem_fail_end || strncmp(p, "-----BEGIN ", 11) != 0)
                return 0;
        /* The marker must be on the BEGIN line: search that line only. */
        eol = p + strcspn(p, "\n");
        end = memmem(p, (size_t) (eol - p), "PRIVATE KEY-----", 16);
        if (!end) {
                sc->pem_fail_end = (size_t) (eol - s);   /* no later BEGIN on this line can match */
                return 0;
        }
        end = strstr(p, "-----END ");
        if (end) {
                end = strstr(end + 9, "-----");
                end = end ? end + 5 : s + strlen(s);
        } else
                end = s + strlen(s);
        return (size_t) (end - p);
}

static size_t token_run(const char *p) {
        size_t n = 0;

        while (is_token_char(p[n]))
                n++;
        while (n > 0 && (p[n - 1] == '.' || p[n - 1] == '-'))   /* sentence punctuation */
                n--;
        return n;
}

static size_t match_github_prefix(struct scan *sc, size_t i) {
        static const char *const prefixes[] = { "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_" };
        const char *p = sc->s + i;

        for (size_t k = 0; k < ELEMENTSOF(prefixes); k++) {
                size_t pl = strlen(prefixes[k]), n;

                if (strncmp(p, prefixes[k], pl) != 0)
                        continue;
                n = token_run(p + pl);
                return n < 8 ? 0 : pl + n;
        }
        /* Older installation tokens: v1. followed by 40 hex digits. */
        if (strncmp(p, "v1.", 3) == 0 && strspn(p + 3, "0123456789abcdef") >= 40)
                return 3 + token_run(p + 3);
        return 0;
}

static size_t b64url_run(const char *p) {
        size_t n = 0;

        while (is_word(p[n]) || p[n] == '-')
                n++;
        return n;
}

static size_t match_jwt(struct scan *sc, size_t i) {
        const char *s = sc->s;
        const char *p = s + i;
        size_t n, m;

        if (i < sc->jwt_fail_end || strncmp(p, "eyJ", 3) != 0)
                return 0;
        n = b64url_run(p);
        /* Every later start inside this run ends where it ends, and fails alike. */
        if (n < 10 || p[n] != '.' || (m = b64url_run(p + n + 1)) == 0) {
                sc->jwt_fail_end = i + n;
                return 0;
        }
        n += 1 + m;
        if (p[n] == '.')
                n += 1 + b64url_run(p + n + 1);
        return n;
}

static size_t match_url_userinfo(struct scan *sc, size_t i) {
        const char *s = sc->s;
        const char *p = s + i;
        size_t n;

        if (strncmp(p, "://", 3) != 0)
                return 0;
        n = strcspn(p + 3, "/@ \t\r\n\"'<>?#");
        if (n == 0 || p[3 + n] != '@')
                return 0;
        sc->keep = 3;
        sc->suffix = "@";
        return 3 + n + 1;
}

static size_t match_registration_token(struct scan *sc, size_t i) {
        const char *s = sc->s;
        const char *p = s + i;
        size_t n = 0, digits = 0, letters = 0;

        /* Not inside a longer alphanumeric run (a base64 blob is the blob
         * matcher's, whole); "MY_TOKEN_<it>" still matches. */
        if (i > 0 && isalnum((unsigned char) s[i - 1]))
                return 0;
        while ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9')) {
                digits += p[n] <= '9';
                letters += p[n] >= 'A';
                n++;
        }
        if (n < 24 || digits == 0 || letters < 4 || isalnum((unsigned char) p[n]))
                return 0;
        return n;
}

static size_t match_blob(struct scan *sc, size_t i) {
        const char *s = sc->s;
        const char *p = s + i;
        size_t n = 0, stretch = 0, best = 0;
        bool up = false, low = false, dig = false;

        if (i > 0 && is_b64_char(s[i - 1]))
                return 0;   /* only from the start of a run: each run is scanned once */
        while (is_b64_char(p[n])) {
                char c = p[n];

                up |= isupper((unsigned char) c);
                low |= islower((unsigned char) c);
                dig |= isdigit((unsigned char) c);
                stretch = isalnum((unsigned char) c) ? stretch + 1 : 0;
                if (stretch > best)
                        best = stretch;
                n++;
        }
        if (n < 40 || !up || !low || !dig || best < 20)
                return 0;
        return n;
}

static bool is_literal(const char *p, size_t n, const char *word) {
        return n == strlen(word) && memcmp(p, word, n) == 0;
}

/* key [quote] [spaces] (':' | '=' | argv-space) [spaces] [quote] VALUE */
static size_t match_key_value(struct scan *sc, size_t i) {
        const char *s = sc->s;
        static const char *const schemes[] = { "Bearer ", "token ", "Basic ", "Bearer\t", "JWT " };
        const char *p = s + i;
        size_t k = 0, j, v, vlen;
        bool argv_style = p[0] == '-' && p[1] == '-';
        char quote = 0;

        while (is_key_char(p[k]))
                k++;
        if (k == 0 || !proto_key_is_sensitive(p, k))
                return 0;
        j = k;
        if (p[j] == '"' || p[j] == '\'')
                j++;
        while (p[j] == ' ' || p[j] == '\t')
                j++;
        if (p[j] == ':' || p[j] == '=')
                j++;
        else if (!(argv_style && j > k))
                return 0;
        while (p[j] == ' ' || p[j] == '\t')
                j++;
        if (p[j] == '"' || p[j] == '\'')
                quote = p[j++];
        for (size_t m = 0; m < ELEMENTSOF(schemes); m++)
                if (strncasecmp(p + j, schemes[m], strlen(schemes[m])) == 0) {
                        j += strlen(schemes[m]);
                        break;
                }
        if (strncmp(p + j, PROTO_REDACTED, strlen(PROTO_REDACTED)) == 0)
                return 0;   /* already redacted */
        for (v = j; p[v]; v++) {
                if (quote ? p[v] == quote : strchr(" \t\r\n,;&\"'<>)}]", p[v]) != NULL)
                        break;
                if (quote && p[v] == '\\' && p[v + 1])
                        v++;
        }
        vlen = v - j;
        if (vlen == 0 || (!quote && (is_literal(p + j, vlen, "null") || is_literal(p + j, vlen, "true") ||
                                     is_literal(p + j, vlen, "false"))))
                return 0;   /* JSON null/true/false is no secret */
        sc->keep = j;
        return v;
}

typedef size_t (*matcher_fn)(struct scan *sc, size_t i);

struct matcher {
        matcher_fn fn;
        const char *starts;   /* bytes a match can begin with; NULL: any */
};

/* One pass over IN. Anchored matchers are tried only where a key or word
 * could begin; the others at every byte. Matchers only look; this loop
 * writes: unmatched spans in bulk, a match as kept bytes, mark, suffix. */
static int scan(const char *in, const struct matcher *matchers, size_t n, bool anchored,
                char **ret, unsigned *count) {
        struct scan sc = { .s = in };
        uint8_t may[256] = {};   /* bit m: matcher m can start at this byte */
        size_t i = 0, pending = 0;

        assert(n <= 8);
        for (size_t m = 0; m < n; m++) {
                uint8_t bit = (uint8_t) (1u << m);

                if (!matchers[m].starts)
                        for (unsigned c = 1; c < 256; c++)
                                may[c] |= bit;
                else
                        for (const char *c = matchers[m].starts; *c; c++)
                                may[(unsigned char) *c] |= bit;
        }
        out_append(&sc.o, "", 0);
        while (in[i]) {
                uint8_t cand = may[(unsigned char) in[i]];
                size_t used = 0;

                if (cand && (!anchored || i == 0 || !is_key_char(in[i - 1])))
                        for (size_t m = 0; m < n && used == 0; m++)
                                if (cand & (1u << m)) {
                                        sc.keep = 0;
                                        sc.suffix = "";
                                        used = matchers[m].fn(&sc, i);
                                }
                if (used == 0) {
                        i++;
                        continue;
                }
                out_append(&sc.o, in + pending, i - pending + sc.keep);
                out_append(&sc.o, PROTO_REDACTED, strlen(PROTO_REDACTED));
                out_append(&sc.o, sc.suffix, strlen(sc.suffix));
                (*count)++;
                i += used;
                pending = i;
        }
        out_append(&sc.o, in + pending, i - pending);
        if (sc.o.error) {
                free(sc.o.data);
                return sc.o.error;
        }
        *ret = sc.o.data;
        return 0;
}

int proto_redact(const char *in, char **ret, unsigned *ret_count) {
        /* First, shapes that are secret wherever they stand, even glued to a
         * word ("MY_ghp_..."); then what needs a boundary to be recognised.
         * The replacement text holds no token character, so the second pass
         * cannot recreate what the first removed. */
#define UPPER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        static const struct matcher anywhere[] = {
                { match_pem, "-" },
                { match_github_prefix, "gv" },
                { match_jwt, "e" },
                { match_url_userinfo, ":" },
                { match_registration_token, UPPER_DIGITS },
        };
        static const struct matcher anchored[] = { { match_key_value, NULL }, { match_blob, NULL } };
        _cleanup_(freep) char *first = NULL;
        unsigned count = 0;
        int r;

        if (!in || !ret)
                return -EINVAL;
        r = scan(in, anywhere, ELEMENTSOF(anywhere), false, &first, &count);
        if (r < 0)
                return r;
        r = scan(first, anchored, ELEMENTSOF(anchored), true, ret, &count);
        if (r < 0)
                return r;
        if (ret_count)
                *ret_count = count;
        return 0;
}
