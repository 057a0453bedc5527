/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench/github-calls: requests made and rate-limit units spent observing
 * 500 lanes (one repository's runner list, 100 a page) for 10 unchanged
 * cycles, then 10 more after an installation-token refresh, through the
 * real client as a GitHub App against the loopback double
 * (tests/github/ghdouble.py). Prints figures; asserts nothing.
 * Goal: 5 list requests per full cycle, 0 rate-limit units in unchanged
 * cycles.
 *   bench/github-calls [TOP_SRCDIR]        (needs python3-jwt, -cryptography) */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gh-client.h"
#include "settings.h"

#define LANES 500
#define CYCLES 10

static char work[] = "/tmp/lanekeeper-github-calls-XXXXXX";

static int write_keys(void) {
        char path[128];
        EVP_PKEY *k = EVP_RSA_gen(2048);
        FILE *f;

        if (!k)
                return -1;
        snprintf(path, sizeof path, "%s/app.pem", work);
        f = fopen(path, "we");
        if (!f || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1)
                return -1;
        fclose(f);
        chmod(path, 0600);
        snprintf(path, sizeof path, "%s/app.pub", work);
        f = fopen(path, "we");
        if (!f || PEM_write_PUBKEY(f, k) != 1)
                return -1;
        fclose(f);
        EVP_PKEY_free(k);
        return 0;
}

static pid_t start_double(const char *top, int *ret_port) {
        char script[512], portfile[128], pub[128];
        pid_t pid;

        snprintf(script, sizeof script, "%s/tests/github/ghdouble.py", top);
        snprintf(portfile, sizeof portfile, "%s/port", work);
        snprintf(pub, sizeof pub, "%s/app.pub", work);
        pid = fork();
        if (pid == 0) {
                execl("/usr/bin/python3", "python3", "-B", script, "--port-file", portfile, "--repo", "acme/site",
                      "--app-id", "4242", "--app-public-key", pub, "--installation-id", "777", (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 200; i++) {
                FILE *f = fopen(portfile, "re");

                if (f) {
                        int ok = fscanf(f, "%d", ret_port) == 1;

                        fclose(f);
                        if (ok)
                                return pid;
                }
                usleep(50000);
        }
        kill(pid, SIGTERM);
        return -1;
}

static int control(int port, const char *what, const char *body) {
        char url[128];
        CURL *c = curl_easy_init();
        long status = 0;
        FILE *sink = fopen("/dev/null", "we");

        snprintf(url, sizeof url, "http://127.0.0.1:%d/_double/%s", port, what);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        fclose(sink);
        return (int) status;
}

static void phase(struct gh_client *c, const char *what) {
        struct gh_stats before, after;
        char err[512];
        long long first_req = -1, first_units = -1;

        gh_stats(c, &before);
        for (int i = 0; i < CYCLES; i++) {
                struct gh_stats s0, s1;
                struct inventory inv;

                gh_stats(c, &s0);
                if (gh_list_runners(c, "repos/acme/site", NULL, &inv, err, sizeof err) < 0 || inv.n != LANES) {
                        fprintf(stderr, "github-calls: %s\n", err);
                        exit(1);
                }
                inventory_free(&inv);
                gh_stats(c, &s1);
                if (i == 0)
                        first_req = (long long) (s1.requests - s0.requests), first_units = s1.units - s0.units;
        }
        gh_stats(c, &after);
        printf("github-calls: %-26s first cycle %lld requests, %lld units; cycles 2-%d: %.1f requests, %.1f units, "
               "%.1f not modified per cycle; tokens made %lu\n",
               what, first_req, first_units, CYCLES,
               (double) (after.requests - before.requests - (unsigned long) first_req) / (CYCLES - 1),
               (double) (after.units - before.units - first_units) / (CYCLES - 1),
               (double) (after.not_modified - before.not_modified) / (CYCLES - 1),
               after.tokens - before.tokens);
}

int main(int argc, char **argv) {
        const char *top = argc > 1 ? argv[1] : ".";
        struct settings s;
        struct gh_client *c = NULL;
        struct gh_response r;
        char err[512], body[PROTO_PATH_MAX + 32], *tok;
        int port = 0, status;
        pid_t pid;

        if (!mkdtemp(work) || write_keys() < 0)
                return perror("github-calls: setup"), 1;
        pid = start_double(top, &port);
        if (pid < 0)
                return fprintf(stderr, "github-calls: the double did not start (python3-jwt, python3-cryptography?)\n"), 1;
        settings_defaults(&s, "/etc");
        snprintf(s.api_url, sizeof s.api_url, "http://127.0.0.1:%d", port);
        s.app_id = 4242;
        s.installation_id = 777;
        snprintf(s.private_key_file, sizeof s.private_key_file, "%s/app.pem", work);
        snprintf(s.store_dir, sizeof s.store_dir, "%s/store", work);
        mkdir(s.store_dir, 0700);
        snprintf(body, sizeof body, "%s/github-cache", s.store_dir);
        if (gh_client_new(&s, body, &c, err, sizeof err) < 0)
                return fprintf(stderr, "github-calls: %s\n", err), 1;
        /* 500 lanes registered as config.sh would, with one registration token */
        if (gh_request(c, "POST", "/repos/acme/site/actions/runners/registration-token", NULL, &r, err, sizeof err) < 0 ||
            r.status != 201 || !r.body || !(tok = strstr(r.body, "\"token\": \"")))
                return fprintf(stderr, "github-calls: no registration token: %s\n", err), 1;
        tok += 10;
        tok[strcspn(tok, "\"")] = '\0';
        for (int i = 0; i < LANES; i++) {
                char reg[256];

                snprintf(reg, sizeof reg, "{\"token\":\"%s\",\"name\":\"lane-%03d\",\"labels\":[\"lanekeeper-managed\"]}",
                         tok, i);
                if (control(port, "register", reg) != 201)
                        return fprintf(stderr, "github-calls: registering lane %d failed\n", i), 1;
        }
        gh_response_free(&r);
        printf("github-calls: %d lanes in one repository, %d cycles a phase, 100 runners a page\n", LANES, CYCLES);
        phase(c, "App token:");
        gh_client_refresh_token(c);
        phase(c, "after a token refresh:");
        gh_client_free(c);
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
        snprintf(body, sizeof body, "rm -rf '%s'", work);
        return system(body) == 0 ? 0 : 1;
}
