/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Redaction: every token shape is removed, nothing of a secret survives,
 * and what is not secret (digests, paths, names) stays readable. */
#include <json-c/json.h>
#include <string.h>

#include "proto-redact.h"
#include "proto-redact-json.h"
#include "test-util.h"

/* Test secrets are assembled at run time so that no token-shaped literal
 * sits in the tree. */
static char ghs_long[600], ghp[64], pat[128], jwt[256], regtok[40], blob[80], v1tok[64];

static void make_secrets(void) {
        char *p;

        p = stpcpy(ghs_long, "ghs_");
        for (int i = 0; i < 520; i++)
                *p++ = (i % 41 == 40) ? '.' : "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"[i % 36];
        *p = '\0';
        strcpy(ghp, "ghp_");
        strcat(ghp, "R4nd0mT0k3nV4lu3F0rT3st1ngOnly0123");
        strcpy(pat, "github_pat_");
        strcat(pat, "11AAAAAAA0abcdefghijklmno_PQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789ABCDE");
        strcpy(jwt, "eyJ");
        strcat(jwt, "hbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIxMjM0NSIsImlhdCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLWJ5dGVz");
        strcpy(regtok, "AABF3JGZDX3P5PMEXLND6TS6FCWO6");
        strcpy(blob, "dGhpcyBpcyBhIGxvbmcgYmFzZTY0IGJsb2IgdGhhdCBtdXN0IGdvIGF3YXkK");
        strcpy(v1tok, "v1.");
        strcat(v1tok, "0123456789abcdef0123456789abcdef01234567");
}

static char *redact(const char *in, unsigned *count) {
        char *out = NULL;

        ck_assert_int_eq(proto_redact(in, &out, count), 0);
        ck_assert_ptr_nonnull(out);
        return out;
}

/* No 8-byte window of the secret may survive in out. */
static void assert_no_leak(const char *out, const char *secret) {
        size_t n = strlen(secret);

        for (size_t i = 0; i + 8 <= n; i++) {
                char window[9];

                memcpy(window, secret + i, 8);
                window[8] = '\0';
                if (strchr(window, '.') || strchr(window, '_'))   /* prefixes and separators are not secret */
                        continue;
                ck_assert_msg(!strstr(out, window), "'%s' of a secret survived in: %s", window, out);
        }
}

static const char *secret_by_index(int i) {
        const char *all[] = { ghs_long, ghp, pat, jwt, regtok, blob, v1tok };
        return all[i];
}

/* Each secret, in each of the contexts where secrets turn up. */
static const char *const contexts[] = {
        "%s",
        "token=%s",
        "Authorization: Bearer %s",
        "Authorization: token %s",
        "{\"token\": \"%s\", \"expires_at\": \"2026-11-23T10:00:00Z\"}",
        "./config.sh --url https://github.com/acme/x --token %s --name lane",
        "ACTIONS_RUNNER_INPUT_TOKEN=%s",
        "https://x-access-token:%s@github.com/acme/x.git",
        "curl -H 'Authorization: Bearer %s' https://api.github.com",
        "error: bad credentials (%s).",
        "MY_%s",
        "value:%s;",
        "password: '%s'",
        "{\"encoded_jit_config\":\"%s\"}",
};

/* CTX with its one "%s" replaced by SECRET (no format strings from tables). */
static void fill(char *out, size_t size, const char *ctx, const char *secret) {
        const char *hole = strstr(ctx, "%s");

        ck_assert_ptr_nonnull(hole);
        ck_assert_int_lt(strlen(ctx) + strlen(secret), size);
        snprintf(out, size, "%.*s%s%s", (int) (hole - ctx), ctx, secret, hole + 2);
}

START_TEST(test_secret_in_context) {
        int s = _i / (int) ELEMENTSOF(contexts), c = _i % (int) ELEMENTSOF(contexts);
        _cleanup_(freep) char *out = NULL;
        char in[2048];
        unsigned count = 0;

        make_secrets();
        fill(in, sizeof in, contexts[c], secret_by_index(s));
        out = redact(in, &count);
        ck_assert_uint_ge(count, 1);
        ck_assert_msg(strstr(out, PROTO_REDACTED), "nothing redacted in: %s", in);
        assert_no_leak(out, secret_by_index(s));
}
END_TEST

static const struct {
        const char *in, *out;
} exact_cases[] = {
        { "token=abc123 rest", "token=[REDACTED] rest" },
        { "\"password\": \"hunter2\"", "\"password\": \"[REDACTED]\"" },
        { "client_secret='s3cr3t'", "client_secret='[REDACTED]'" },
        { "Authorization: Bearer abc.def", "Authorization: Bearer [REDACTED]" },
        { "https://user:pw@example.com/x", "https://[REDACTED]@example.com/x" },
        { "--token zzz --name lane-a", "--token [REDACTED] --name lane-a" },
        /* split so that no complete key marker sits in the tree */
        { "-----BEGIN RSA PRIV" "ATE KEY-----\nMIIEow\n-----END RSA PRIV" "ATE KEY-----\nafter", "[REDACTED]\nafter" },
        { "-----BEGIN PRIV" "ATE KEY-----\nno end marker", "[REDACTED]" },
        { "-----BEGIN CERTIFICATE-----\nMIIB", "-----BEGIN CERTIFICATE-----\nMIIB" },
        { "\"token\": null", "\"token\": null" },
        { "\"token\": nullx", "\"token\": [REDACTED]" },
        { "password=t", "password=[REDACTED]" },
        { "password=n and secret=fa", "password=[REDACTED] and secret=[REDACTED]" },
        { "xghp_abcdefghijtoken=1", "x[REDACTED]=1" },
        { "token: [REDACTED]", "token: [REDACTED]" },
};

START_TEST(test_exact) {
        _cleanup_(freep) char *out = redact(exact_cases[_i].in, NULL);

        ck_assert_str_eq(out, exact_cases[_i].out);
}
END_TEST

/* What must survive: digests, names, paths, ordinary words. */
static const char *const keep_cases[] = {
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "lanekeeper-lane@cm-website-chris-testing.service",
        "/srv/lanekeeper/runners/cm-website-chris-testing/run.sh",
        "acme/odoo-tenant-cm-website",
        "runner cm-website-chris-testing is online, labels self-hosted,X64,launchplane-managed",
        "idempotency_key=apply-2026-11-23-01",
        "token_expires_at=2026-11-23T10:00:00Z",
        "the registration token expired; fetch a new one",
        "GET /repos/acme/x/actions/runners?per_page=100&page=2",
        "ghs_ alone is only a prefix",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "credentials_present=true",
};

START_TEST(test_keep) {
        unsigned count = 99;
        _cleanup_(freep) char *out = redact(keep_cases[_i], &count);

        ck_assert_str_eq(out, keep_cases[_i]);
        ck_assert_uint_eq(count, 0);
}
END_TEST

static const struct {
        const char *key;
        bool sensitive;
} key_cases[] = {
        { "token", true },            { "TOKEN", true },          { "registration_token", true },
        { "accessToken", true },      { "x-access-token", true }, { "ACTIONS_RUNNER_INPUT_TOKEN", true },
        { "password", true },         { "db_password_file", true }, { "client_secret", true },
        { "encoded_jit_config", true }, { "jitconfig", true },    { "private_key", true },
        { "Authorization", true },    { "--token", true },        { "api_key", true },
        { "expires_at", false },      { "token_count", false },   { "idempotency_key", false },
        { "name", false },            { "labels", false },        { "tokens_used_total", false },
        { "", false },
};

START_TEST(test_key_sensitivity) {
        ck_assert_msg(proto_key_is_sensitive(key_cases[_i].key, strlen(key_cases[_i].key)) == key_cases[_i].sensitive,
                      "key '%s'", key_cases[_i].key);
}
END_TEST

START_TEST(test_json_tree) {
        _cleanup_(freep) char *dump = NULL;
        struct json_object *o;
        int n;

        make_secrets();
        o = json_object_new_object();
        json_object_object_add(o, "token", json_object_new_string(ghs_long));
        json_object_object_add(o, "expires_at", json_object_new_string("2026-11-23T10:00:00Z"));
        json_object_object_add(o, "busy", json_object_new_boolean(1));
        json_object_object_add(o, "password", json_object_new_int(1234));
        json_object_object_add(o, "refresh_token", json_object_new_null());
        struct json_object *inner = json_object_new_object(), *arr = json_object_new_array();
        json_object_object_add(inner, "encoded_jit_config", json_object_new_string(blob));
        json_object_object_add(inner, "note", json_object_new_string("config.sh --token secretvalue"));
        json_object_array_add(arr, json_object_new_string(ghp));
        json_object_array_add(arr, json_object_new_string("self-hosted"));
        json_object_object_add(inner, "labels", arr);
        json_object_object_add(o, "runner", inner);
        json_object_object_add(o, "private_key", json_object_new_object());

        n = proto_redact_json(o);
        ck_assert_int_eq(n, 6);
        dump = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        assert_no_leak(dump, ghs_long);
        assert_no_leak(dump, blob);
        assert_no_leak(dump, ghp);
        ck_assert_ptr_null(strstr(dump, "secretvalue"));
        ck_assert_ptr_null(strstr(dump, "1234"));
        ck_assert_ptr_nonnull(strstr(dump, "\"expires_at\":\"2026-11-23T10:00:00Z\""));
        ck_assert_ptr_nonnull(strstr(dump, "\"busy\":true"));
        ck_assert_ptr_nonnull(strstr(dump, "\"refresh_token\":null"));
        ck_assert_ptr_nonnull(strstr(dump, "self-hosted"));
        /* Idempotent: a second pass finds nothing more. */
        ck_assert_int_eq(proto_redact_json(o), 0);
        json_object_put(o);
}
END_TEST

START_TEST(test_json_depth_limit) {
        struct json_object *root = json_object_new_array(), *cur = root;

        for (int i = 0; i < 100; i++) {
                struct json_object *next = json_object_new_array();
                json_object_array_add(cur, next);
                cur = next;
        }
        ck_assert_int_eq(proto_redact_json(root), -ELOOP);
        ck_assert_int_eq(proto_redact_json(NULL), 0);
        json_object_put(root);
}
END_TEST

START_TEST(test_bad_arguments) {
        char *out = NULL;

        ck_assert_int_eq(proto_redact(NULL, &out, NULL), -EINVAL);
        ck_assert_int_eq(proto_redact("x", NULL, NULL), -EINVAL);
        ck_assert_ptr_null(out);
        out = redact("", NULL);
        ck_assert_str_eq(out, "");
        free(out);
}
END_TEST

int main(void) {
        Suite *s = suite_create("redact");
        TCase *tc = tcase_create("redact");

        tcase_add_loop_test(tc, test_secret_in_context, 0, 7 * (int) ELEMENTSOF(contexts));
        tcase_add_loop_test(tc, test_exact, 0, (int) ELEMENTSOF(exact_cases));
        tcase_add_loop_test(tc, test_keep, 0, (int) ELEMENTSOF(keep_cases));
        tcase_add_loop_test(tc, test_key_sensitivity, 0, (int) ELEMENTSOF(key_cases));
        tcase_add_test(tc, test_json_tree);
        tcase_add_test(tc, test_json_depth_limit);
        tcase_add_test(tc, test_bad_arguments);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
