/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure parts of the GitHub client: retry decisions, Link headers, the
 * Date header and timestamps; and its credentials against real files:
 * owner-only secret files, token files of any length, the App key and the
 * App JWT, whose signature is verified with the key's public half. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "gh-api.h"
#include "gh-auth.h"
#include "gh-wire.h"
#include "test-util.h"

/* ---- retry decisions ---- */

#define NOW 1800000000000LL
#define LATER (NOW + 3600 * 1000LL)
#define A(...) { .now_ms = NOW, __VA_ARGS__ }   /* no deadline given: LATER */
static const struct {
        const char *name;
        struct gh_attempt a;
        enum gh_action want;
        long long min_ms, max_ms;   /* for RETRY */
} decisions[] = {
        { "200", A(.status = 200), GH_DONE, 0, 0 },
        { "304 not modified", A(.status = 304), GH_DONE, 0, 0 },
        { "404 is final", A(.status = 404), GH_DONE, 0, 0 },
        { "422 is final", A(.status = 422, .mutating = true), GH_DONE, 0, 0 },
        { "403 without limit signs is final", A(.status = 403, .have_remaining = true, .remaining = 4000), GH_DONE, 0, 0 },
        { "primary exhausted: until reset", A(.status = 403, .have_remaining = true, .remaining = 0, .reset_s = NOW / 1000 + 120),
          GH_RETRY, 121000, 121000 },
        { "primary 429 with reset past", A(.status = 429, .have_remaining = true, .remaining = 0, .reset_s = NOW / 1000 - 5),
          GH_RETRY, 1000, 1000 },
        { "primary reset beyond deadline", A(.status = 403, .have_remaining = true, .remaining = 0,
                                             .reset_s = LATER / 1000 + 10), GH_FAIL, 0, 0 },
        { "retry-after wins", A(.status = 403, .have_retry_after = true, .retry_after_s = 30, .have_remaining = true, .remaining = 0,
                                .reset_s = NOW / 1000 + 900), GH_RETRY, 30000, 30000 },
        { "retry-after on 429", A(.status = 429, .have_retry_after = true, .retry_after_s = 7, .mutating = true), GH_RETRY, 7000, 7000 },
        { "secondary: at least a minute", A(.status = 403, .secondary = true), GH_RETRY, 60000, 120000 },
        { "secondary 429, later attempt", A(.status = 429, .attempt = 2), GH_RETRY, 240000, 480000 },
        { "secondary mutating is waited out", A(.status = 403, .secondary = true, .mutating = true), GH_RETRY, 60000, 120000 },
        { "401 on a fresh token", A(.status = 401, .fresh_token = true), GH_RETRY, 1000, 1000 },
        { "401 on a fresh token, again", A(.status = 401, .fresh_token = true, .attempt = 1), GH_RETRY, 2000, 2000 },
        { "401 on a fresh token, third", A(.status = 401, .fresh_token = true, .attempt = 2), GH_DONE, 0, 0 },
        { "401 on an old token", A(.status = 401), GH_DONE, 0, 0 },
        { "502 on GET", A(.status = 502), GH_RETRY, 1000, 2000 },
        { "503 on GET, attempt 3", A(.status = 503, .attempt = 3), GH_RETRY, 8000, 16000 },
        { "500 on GET, capped", A(.status = 500, .attempt = 4), GH_RETRY, 15000, 30000 },
        { "502 on POST: never repeated", A(.status = 502, .mutating = true), GH_FAIL, 0, 0 },
        { "lost answer on DELETE", A(.status = 0, .sent = true, .mutating = true), GH_FAIL, 0, 0 },
        { "lost answer on GET", A(.status = 0, .sent = true), GH_RETRY, 1000, 2000 },
        { "connect failed on POST", A(.status = 0, .mutating = true), GH_RETRY, 1000, 2000 },
        { "sixth attempt gives up", A(.status = 502, .attempt = 5), GH_FAIL, 0, 0 },
        { "deadline close", A(.status = 502, .deadline_ms = NOW + 500), GH_FAIL, 0, 0 },
        { "jitter 0", A(.status = 502), GH_RETRY, 1000, 1000 },
        { "retry-after 0", A(.status = 429, .have_retry_after = true), GH_RETRY, 1000, 1000 },
        { "jitter near 1", A(.status = 502, .jitter = 0.9999), GH_RETRY, 1999, 2000 },
};

START_TEST(test_decide) {
        struct gh_attempt a = decisions[_i].a;
        struct gh_decision d;

        if (!a.deadline_ms)
                a.deadline_ms = LATER;
        gh_decide(&a, &d);
        ck_assert_msg(d.action == decisions[_i].want, "%s: action %d, want %d (%s)", decisions[_i].name, d.action,
                      decisions[_i].want, d.reason);
        ck_assert_ptr_nonnull(d.reason);
        if (d.action == GH_RETRY)
                ck_assert_msg(d.wait_ms >= decisions[_i].min_ms && d.wait_ms <= decisions[_i].max_ms,
                              "%s: wait %lld, want %lld..%lld", decisions[_i].name, d.wait_ms, decisions[_i].min_ms,
                              decisions[_i].max_ms);
}
END_TEST

/* Whatever the inputs, a retry waits a positive, bounded time and never
 * past the deadline, and no attempt beyond the sixth is allowed. */
START_TEST(test_decide_bounds) {
        static const int statuses[] = { 0, 200, 304, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504 };
        unsigned seed = 7;

        for (int i = 0; i < 20000; i++) {
                struct gh_attempt a = {
                        .status = statuses[rand_r(&seed) % (int) ELEMENTSOF(statuses)], .sent = rand_r(&seed) & 1,
                        .mutating = rand_r(&seed) & 1, .have_remaining = rand_r(&seed) & 1,
                        .remaining = rand_r(&seed) % 3, .reset_s = NOW / 1000 + rand_r(&seed) % 7200 - 600,
                        .have_retry_after = rand_r(&seed) % 5 == 0, .retry_after_s = rand_r(&seed) % 4000,
                        .secondary = rand_r(&seed) & 1,
                        .fresh_token = rand_r(&seed) & 1, .attempt = (unsigned) (rand_r(&seed) % 8), .now_ms = NOW,
                        .deadline_ms = NOW + rand_r(&seed) % (3600 * 1000), .jitter = rand_r(&seed) / (RAND_MAX + 1.0),
                };
                struct gh_decision d;

                gh_decide(&a, &d);
                if (d.action != GH_RETRY)
                        continue;
                ck_assert_int_gt(d.wait_ms, 0);
                ck_assert_int_le(a.now_ms + d.wait_ms, a.deadline_ms);
                ck_assert_uint_lt(a.attempt + 1, GH_MAX_ATTEMPTS);
                ck_assert(!(a.mutating && (a.status >= 500 || (a.status == 0 && a.sent))));
        }
}
END_TEST

/* ---- Link ---- */

static const struct {
        const char *header, *next;
        int want;
} links[] = {
        { "<https://api.github.com/repositories/1/actions/runners?per_page=100&page=2>; rel=\"next\", "
          "<https://api.github.com/repositories/1/actions/runners?per_page=100&page=5>; rel=\"last\"",
          "https://api.github.com/repositories/1/actions/runners?per_page=100&page=2", 1 },
        { "<https://x/p?page=1>; rel=\"prev\", <https://x/p?page=3>; rel=\"next\"", "https://x/p?page=3", 1 },
        { "<https://x/p?page=3>; rel=next", "https://x/p?page=3", 1 },
        { "<https://x/p?page=3>; title=\"a, b\"; rel=\"last next\"", "https://x/p?page=3", 1 },
        { "<https://x/p?page=3>;rel=\"NEXT\"", "https://x/p?page=3", 1 },
        { "<https://x/p?page=1>; rel=\"first\", <https://x/p?page=2>; rel=\"prev\"", NULL, 0 },
        { "<https://x/p?page=2>; rel=\"nextish\"", NULL, 0 },
        { "<https://x/p?page=2>; notrel=\"next\"", NULL, 0 },
        { "", NULL, 0 },
        { "https://x/p?page=2; rel=\"next\"", NULL, -EINVAL },
        { "<https://x/p?page=2; rel=\"next\"", NULL, -EINVAL },
        { "<>; rel=\"next\"", NULL, -EINVAL },
        { "<https://x/p?a b>; rel=\"next\"", NULL, -EINVAL },
        { "<https://x/p>; rel=\"next", NULL, -EINVAL },
};

START_TEST(test_link) {
        char buf[256];
        int r = gh_link_next(links[_i].header, buf, sizeof buf);

        ck_assert_msg(r == links[_i].want, "%s: %d, want %d", links[_i].header, r, links[_i].want);
        if (r == 1)
                ck_assert_str_eq(buf, links[_i].next);
}
END_TEST

START_TEST(test_link_too_long) {
        char buf[16];

        ck_assert_int_eq(gh_link_next("<https://x/p?page=2&per_page=100>; rel=\"next\"", buf, sizeof buf), -ENAMETOOLONG);
}
END_TEST

static const struct {
        const char *base, *url;
        bool same;
} origins[] = {
        { "https://api.github.com", "https://api.github.com/repositories/1/x?page=2", true },
        { "https://ghe.example.com/api/v3", "https://ghe.example.com/api/v3/repos/a/b", true },
        { "https://API.github.com", "https://api.github.com/x", true },
        { "http://127.0.0.1:8080", "http://127.0.0.1:8080/x", true },
        { "https://api.github.com", "https://api.github.com.evil.example/x", false },
        { "https://api.github.com", "http://api.github.com/x", false },
        { "https://api.github.com", "https://api.github.com:444/x", false },
        { "http://127.0.0.1:8080", "http://127.0.0.1:8081/x", false },
        { "https://api.github.com", "https://evil@api.github.com/x", false },
        { "https://api.github.com", "/relative", false },
};

START_TEST(test_same_origin) {
        ck_assert_msg(gh_same_origin(origins[_i].base, origins[_i].url) == origins[_i].same, "%s vs %s", origins[_i].base,
                      origins[_i].url);
}
END_TEST

/* ---- dates ---- */

START_TEST(test_dates) {
        time_t t;

        ck_assert_int_eq(gh_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
        ck_assert_int_eq(t, 784111777);
        ck_assert_int_eq(gh_parse_http_date("Mon, 23 Nov 2026 11:00:00 GMT", &t), 0);
        ck_assert_int_eq(t, 1795431600);
        ck_assert_int_lt(gh_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
        ck_assert_int_lt(gh_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT x", &t), 0);
        ck_assert_int_lt(gh_parse_http_date("", &t), 0);
        ck_assert_int_eq(gh_parse_timestamp("2016-07-11T22:14:10Z", &t), 0);
        ck_assert_int_eq(t, 1468275250);
        ck_assert_int_eq(gh_parse_timestamp("2020-01-22T12:13:35.123-08:00", &t), 0);
        ck_assert_int_eq(t, 1579724015);
        ck_assert_int_eq(gh_parse_timestamp("2020-01-22T20:13:35+00:00", &t), 0);
        ck_assert_int_eq(t, 1579724015);
        ck_assert_int_lt(gh_parse_timestamp("2020-01-22T12:13:35", &t), 0);
        ck_assert_int_lt(gh_parse_timestamp("2020-01-22T12:13:35.Z", &t), 0);
        ck_assert_int_lt(gh_parse_timestamp("2020-01-22T12:13:35-0800", &t), 0);
        ck_assert_int_lt(gh_parse_timestamp("2020-01-22T12:13:35Zjunk", &t), 0);
}
END_TEST

/* ---- secret files ---- */

static char dir[] = "/tmp/lanekeeper-check-github-XXXXXX";
static char path[256];

static void dir_setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/secret", dir);
}

static void dir_teardown(void) {
        char cmd[300];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(dir, "/tmp/lanekeeper-check-github-XXXXXX");
}

static void put(const char *text, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(test_token_file) {
        static char token[700];
        char err[512], *t;
        size_t len;

        /* an installation token of the new kind: long, with dots */
        strcpy(token, "ghs_");
        for (int i = 0; strlen(token) < 520; i++)
                strcat(token, i % 9 == 8 ? "." : "Ab3x");
        strcat(token, "\n");
        put(token, 0600);
        ck_assert_int_eq(token_file_read(path, &t, &len, err, sizeof err), 0);
        ck_assert_uint_eq(len, strlen(token) - 1);
        ck_assert_int_eq(memcmp(t, token, len), 0);
        secret_free(t, len + 1);

        put(token, 0640);
        ck_assert_int_lt(token_file_read(path, &t, &len, err, sizeof err), 0);
        ck_assert_reason_has(err, "chmod 600");
        ck_assert_ptr_null(strstr(err, "ghs_"));   /* the error never quotes the content */
        put(token, 0604);
        ck_assert_int_lt(token_file_read(path, &t, &len, err, sizeof err), 0);
        put("ghs_abc def\n", 0600);
        ck_assert_int_lt(token_file_read(path, &t, &len, err, sizeof err), 0);
        ck_assert_reason_has(err, "not one token");
        ck_assert_ptr_null(strstr(err, "abc"));
        put("\n\n", 0600);
        ck_assert_int_lt(token_file_read(path, &t, &len, err, sizeof err), 0);
        ck_assert_reason_has(err, "empty");
}
END_TEST

START_TEST(test_secret_file_refusals) {
        char link[300], err[512], *t;
        size_t len;

        put("ghp_x", 0600);
        snprintf(link, sizeof link, "%s/link", dir);
        ck_assert_int_eq(symlink(path, link), 0);
        ck_assert_int_lt(secret_file_read(link, &t, &len, err, sizeof err), 0);
        ck_assert_reason_has(err, "symbolic link");
        ck_assert_int_lt(secret_file_read(dir, &t, &len, err, sizeof err), 0);
        ck_assert_int_lt(secret_file_read("/nonexistent/lanekeeper-token", &t, &len, err, sizeof err), 0);
        if (geteuid() == 0) {   /* a file of another user */
                ck_assert_int_eq(chown(path, 65534, 65534), 0);
                ck_assert_int_lt(secret_file_read(path, &t, &len, err, sizeof err), 0);
                ck_assert_reason_has(err, "owned by uid 65534");
        }
}
END_TEST

/* ---- the App key and JWT ---- */

static int b64url_decode(const char *in, size_t n, unsigned char *out) {
        static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        unsigned v = 0, bits = 0;
        int o = 0;

        for (size_t i = 0; i < n; i++) {
                const char *p = strchr(a, in[i]);

                if (!p || !in[i])
                        return -1;
                v = v << 6 | (unsigned) (p - a);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (unsigned char) (v >> bits & 0xff);
                }
        }
        return o;
}

static EVP_PKEY *keygen_to(const char *file, mode_t mode) {
        EVP_PKEY *k = EVP_RSA_gen(2048);
        FILE *f;

        ck_assert_ptr_nonnull(k);
        f = fopen(file, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
        fclose(f);
        ck_assert_int_eq(chmod(file, mode), 0);
        return k;
}

START_TEST(test_app_jwt) {
        EVP_PKEY *gen, *key = NULL;
        EVP_MD_CTX *ctx;
        char err[512], *jwt, *dot1, *dot2;
        unsigned char part[1024];
        int n;

        gen = keygen_to(path, 0600);
        ck_assert_int_eq(app_key_load(path, &key, err, sizeof err), 0);
        ck_assert_int_eq(app_jwt(key, "123456", 1800000000, -75, &jwt, err, sizeof err), 0);
        dot1 = strchr(jwt, '.');
        ck_assert_ptr_nonnull(dot1);
        dot2 = strchr(dot1 + 1, '.');
        ck_assert_ptr_nonnull(dot2);
        ck_assert_ptr_null(strpbrk(jwt, "=+/"));   /* base64url, no padding */
        n = b64url_decode(jwt, (size_t) (dot1 - jwt), part);
        ck_assert_int_gt(n, 0);
        part[n] = '\0';
        ck_assert_str_eq((char *) part, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
        n = b64url_decode(dot1 + 1, (size_t) (dot2 - dot1 - 1), part);
        part[n] = '\0';
        /* GitHub's clock is 75 s behind ours: iat backdated 60 s from it, exp 9 min ahead */
        ck_assert_str_eq((char *) part, "{\"iat\":1799999865,\"exp\":1800000465,\"iss\":\"123456\"}");
        /* the signature verifies with the public half of the generated key */
        n = b64url_decode(dot2 + 1, strlen(dot2 + 1), part);
        ck_assert_int_eq(n, 256);
        ctx = EVP_MD_CTX_new();
        ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, gen), 1);
        ck_assert_int_eq(EVP_DigestVerify(ctx, part, (size_t) n, (unsigned char *) jwt, (size_t) (dot2 - jwt)), 1);
        /* and fails for a changed payload */
        jwt[(dot1 - jwt) + 3] ^= 1;
        ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, gen), 1);
        ck_assert_int_ne(EVP_DigestVerify(ctx, part, (size_t) n, (unsigned char *) jwt, (size_t) (dot2 - jwt)), 1);
        EVP_MD_CTX_free(ctx);
        free(jwt);
        ck_assert_int_lt(app_jwt(key, "12\"}", 1800000000, 0, &jwt, err, sizeof err), 0);
        ck_assert_int_lt(app_jwt(key, "", 1800000000, 0, &jwt, err, sizeof err), 0);
        EVP_PKEY_free(key);
        EVP_PKEY_free(gen);
}
END_TEST

START_TEST(test_app_key_refusals) {
        EVP_PKEY *gen, *key = NULL;
        char err[512];

        gen = keygen_to(path, 0640);
        ck_assert_int_lt(app_key_load(path, &key, err, sizeof err), 0);
        ck_assert_reason_has(err, "mode 0640");
        ck_assert_ptr_null(strstr(err, "PRIVATE"));
        EVP_PKEY_free(gen);
        put("not a key at all\n", 0600);
        ck_assert_int_lt(app_key_load(path, &key, err, sizeof err), 0);
        ck_assert_reason_has(err, "not a PEM private key");
        gen = EVP_EC_gen("P-256");   /* GitHub Apps sign RS256 */
        {
                FILE *f = fopen(path, "we");

                ck_assert_int_eq(PEM_write_PrivateKey(f, gen, NULL, NULL, 0, NULL, NULL), 1);
                fclose(f);
        }
        ck_assert_int_lt(app_key_load(path, &key, err, sizeof err), 0);
        ck_assert_reason_has(err, "not an RSA key");
        EVP_PKEY_free(gen);
}
END_TEST

/* ---- the OpenAPI description's own example bodies ---- */

static char *example(const char *key) {
        struct json_object *subset = json_object_from_file(TESTS_SRCDIR "/github/openapi-subset.json"), *ex, *e;
        char *text;

        ck_assert_ptr_nonnull(subset);
        ck_assert(json_object_object_get_ex(subset, "examples", &ex));
        ck_assert_msg(json_object_object_get_ex(ex, key, &e), "no example %s", key);
        text = strdup(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
        json_object_put(subset);
        return text;
}

START_TEST(test_openapi_examples) {
        struct gh_runner r;
        char *t, *tok, buf[64];
        size_t len;
        time_t exp;
        long long id;

        t = example("GET /repos/{owner}/{repo}/actions/runners/{runner_id} 200");
        ck_assert_int_eq(gh_parse_runner(t, &r), 0);
        ck_assert(r.id == 23 && r.busy && !r.ephemeral && r.n_labels == 4);
        ck_assert_str_eq(r.name, "MBP");
        ck_assert_str_eq(r.labels[3], "no-gpu");
        free(t);
        t = example("GET /repos/{owner}/{repo}/actions/runners/{runner_id}/labels 200");
        ck_assert_int_eq(gh_parse_labels(t, &r), 0);
        ck_assert_uint_eq(r.n_labels, 4);
        free(t);
        t = example("POST /repos/{owner}/{repo}/actions/runners/registration-token 201");
        ck_assert_int_eq(gh_parse_token(t, &tok, &len, &exp), 0);
        ck_assert_int_eq(exp, 1579724015);   /* "2020-01-22T12:13:35.123-08:00" */
        ck_assert_uint_eq(len, strlen(tok));
        secret_free(tok, len + 1);
        free(t);
        t = example("POST /repos/{owner}/{repo}/actions/runners/remove-token 201");
        ck_assert_int_eq(gh_parse_token(t, &tok, &len, &exp), 0);
        secret_free(tok, len + 1);
        free(t);
        t = example("POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig 201");
        ck_assert_int_eq(gh_parse_jit(t, &id, &tok, &len), 0);
        ck_assert(id == 23 && len == 6);
        secret_free(tok, len + 1);
        free(t);
        t = example("GET /repos/{owner}/{repo}/actions/variables/{name} 200");
        ck_assert_int_eq(gh_parse_variable(t, buf, sizeof buf), 0);
        ck_assert_str_eq(buf, "octocat");
        ck_assert_int_eq(gh_parse_variable(t, buf, 4), -ENOBUFS);
        free(t);
        t = example("GET /orgs/{org}/actions/runner-groups 200");
        ck_assert_int_eq(gh_parse_runner_group(t, strlen(t), "DEFAULT", &id), 0);
        ck_assert(id == 1);
        ck_assert_int_eq(gh_parse_runner_group(t, strlen(t), "gpu", &id), -ENOENT);
        free(t);
        /* and what is not an answer */
        ck_assert_int_eq(gh_parse_runner("{\"id\":1}", &r), -EPROTO);
        ck_assert_int_eq(gh_parse_runner("[]", &r), -EPROTO);
        ck_assert_int_eq(gh_parse_token("{\"token\":\"\",\"expires_at\":\"2020-01-01T00:00:00Z\"}", &tok, &len, &exp),
                         -EPROTO);
        ck_assert_int_eq(gh_parse_token("{\"token\":\"x\",\"expires_at\":\"soon\"}", &tok, &len, &exp), -EPROTO);
        ck_assert_int_eq(gh_parse_jit("{\"encoded_jit_config\":\"x\"}", &id, &tok, &len), -EPROTO);
        ck_assert_int_eq(gh_parse_runner_group("{\"total_count\":1}", 18, "x", &id), -EPROTO);
}
END_TEST

int main(void) {
        Suite *s = suite_create("github");
        TCase *pure = tcase_create("pure"), *files = tcase_create("files");

        tcase_add_loop_test(pure, test_decide, 0, (int) ELEMENTSOF(decisions));
        tcase_add_test(pure, test_decide_bounds);
        tcase_add_loop_test(pure, test_link, 0, (int) ELEMENTSOF(links));
        tcase_add_test(pure, test_link_too_long);
        tcase_add_loop_test(pure, test_same_origin, 0, (int) ELEMENTSOF(origins));
        tcase_add_test(pure, test_dates);
        tcase_add_test(pure, test_openapi_examples);
        suite_add_tcase(s, pure);
        tcase_add_checked_fixture(files, dir_setup, dir_teardown);
        tcase_set_timeout(files, 60);
        tcase_add_test(files, test_token_file);
        tcase_add_test(files, test_secret_file_refusals);
        tcase_add_test(files, test_app_jwt);
        tcase_add_test(files, test_app_key_refusals);
        suite_add_tcase(s, files);
        return run_suite(s);
}
