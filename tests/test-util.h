/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

/* Run one suite in Check's fork mode; exit status for automake's harness. */
static inline int run_suite(Suite *s) {
        SRunner *sr = srunner_create(s);
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Remove the test's directory DIR (made by mkdtemp: no quote in it). */
static inline void test_remove_tree(const char *dir) {
        char cmd[256];

        ck_assert(strlen(dir) < sizeof cmd - 16 && !strchr(dir, '\''));
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

static inline const char *reason_or_null(const char *reason) {
        return reason ? reason : "(null)";
}

static inline bool reason_has(const char *reason, const char *needle) {
        return reason && strstr(reason, needle);
}

#define ck_assert_reason_has(reason, needle)                                                    \
        ck_assert_msg(reason_has((reason), (needle)), "reason '%s' lacks '%s'",                \
                      reason_or_null(reason), (needle))
