/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-double.h"

char dbl_work[] = "/tmp/lanekeeper-check-double-XXXXXX";
int dbl_port;
static pid_t dbl = -1;

bool dbl_usable(const char *name) {
        if (system("/usr/bin/python3 -c 'import jwt, cryptography, jsonschema' 2>/dev/null") == 0)
                return true;
        fprintf(stderr, "%s: %s python3-jwt python3-cryptography python3-jsonschema\n", name,
                getenv("CI") && strcmp(getenv("CI"), "true") == 0 ? "missing (CI=true):" : "SKIP: needs");
        return false;
}

long dbl_control(const char *what, const char *body, char *out, size_t size) {
        char url[128];
        CURL *h = curl_easy_init();
        long status = 0;
        FILE *f = out ? fmemopen(out, size, "w") : fopen("/dev/null", "we");

        if (strncmp(what, "runner/", 7) == 0)
                snprintf(url, sizeof url, "http://127.0.0.1:%d/_runner/%s", dbl_port, what + 7);
        else
                snprintf(url, sizeof url, "http://127.0.0.1:%d/_double/%s", dbl_port, what);
        curl_easy_setopt(h, CURLOPT_URL, url);
        if (body)
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
        if (curl_easy_perform(h) == CURLE_OK)
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
        fclose(f);
        return status;
}

int dbl_seen(const char *method, const char *path) {
        static char log[1 << 20];
        char needle[300];
        int n = 0;

        ck_assert_int_eq(dbl_control("log", NULL, log, sizeof log), 200);
        snprintf(needle, sizeof needle, "[\"%s\", \"%s", method, path);
        for (const char *p = log; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

void dbl_start(const char *pat) {
        char path[128], portfile[128], tok[128];
        FILE *f;

        ck_assert_ptr_nonnull(mkdtemp(dbl_work));
        snprintf(path, sizeof path, "%s/token", dbl_work);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "%s\n", pat);
        fclose(f);
        chmod(path, 0600);
        snprintf(portfile, sizeof portfile, "%s/port", dbl_work);
        dbl = fork();
        if (dbl == 0) {
                snprintf(tok, sizeof tok, "%s", pat);
                execl("/usr/bin/python3", "python3", "-B", TESTS_SRCDIR "/github/ghdouble.py", "--port-file", portfile,
                      "--token", tok, "--repo", "acme/site", "--org", "acme", (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 200 && !dbl_port; i++) {
                f = fopen(portfile, "re");
                if (f) {
                        if (fscanf(f, "%d", &dbl_port) != 1)
                                dbl_port = 0;
                        fclose(f);
                }
                if (!dbl_port)
                        usleep(50000);
        }
        ck_assert_int_gt(dbl_port, 0);
}

void dbl_stop(void) {
        char cmd[128];

        if (dbl > 0) {
                kill(dbl, SIGTERM);
                waitpid(dbl, NULL, 0);
        }
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dbl_work);
        if (system(cmd) != 0)
                abort();
}
