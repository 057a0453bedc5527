/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GitHub's list-runners response and actions/runner's .runner file: real
 * shapes accepted, every malformed one refused with its reason. */
#include <json-c/json.h>
#include <string.h>

#include "inventory.h"
#include "test-util.h"

/* The shape of GitHub's documented example, with a lane's runner added. */
static const char response[] =
        "{\"total_count\":3,\"runners\":["
        "{\"id\":23,\"name\":\"MBP\",\"os\":\"macos\",\"status\":\"online\",\"busy\":true,\"ephemeral\":false,"
        "\"labels\":[{\"id\":5,\"name\":\"self-hosted\",\"type\":\"read-only\"},{\"id\":7,\"name\":\"X64\",\"type\":\"read-only\"}]},"
        "{\"id\":24,\"name\":\"cm-website\",\"os\":\"linux\",\"status\":\"offline\",\"busy\":false,\"runner_group_id\":1,"
        "\"labels\":[{\"id\":5,\"name\":\"self-hosted\",\"type\":\"read-only\"},"
        "{\"id\":9,\"name\":\"lanekeeper-managed\",\"type\":\"custom\"}]},"
        "{\"id\":25,\"name\":\"other\",\"os\":\"linux\",\"status\":\"online\",\"busy\":false,\"labels\":[]}]}";

START_TEST(test_response) {
        struct inventory inv;
        struct observation o = {};
        char err[256];

        ck_assert_int_eq(inventory_parse(response, strlen(response), &inv, err, sizeof err), 0);
        ck_assert_uint_eq(inv.n, 3);
        ck_assert(inv.runners[0].online && inv.runners[0].busy);
        ck_assert_str_eq(inventory_label(&inv, &inv.runners[1], 1), "lanekeeper-managed");
        ck_assert_ptr_null(inventory_label(&inv, &inv.runners[1], 2));
        inventory_observe(&inv, "CM-Website", &o);   /* GitHub compares names without case */
        ck_assert(o.github_known);
        ck_assert_uint_eq(o.n_runners, 1);
        ck_assert(o.runners[0].id == 24 && !o.runners[0].online);
        inventory_observe(&inv, "absent-lane", &o);
        ck_assert_uint_eq(o.n_runners, 0);
        inventory_free(&inv);
}
END_TEST

/* The lookup is a binary search over names sorted without case: every
 * spelling of the lane is found, neighbours and prefixes are not. */
START_TEST(test_lookup_among_many) {
        static char text[64 * 1024];
        struct inventory inv;
        struct observation o = {};
        char err[256];
        size_t len;

        len = (size_t) snprintf(text, sizeof text, "{\"total_count\":203,\"runners\":[");
        for (int i = 0; i < 203; i++) {
                char name[16];

                snprintf(name, sizeof name, "r-%03d", i);
                len += (size_t) snprintf(text + len, sizeof text - len,
                                         "%s{\"id\":%d,\"name\":\"%s\",\"os\":\"linux\",\"status\":\"online\",\"busy\":false,"
                                         "\"labels\":[{\"id\":1,\"name\":\"l%d\",\"type\":\"custom\"}]}",
                                         i ? "," : "", i + 1, i == 50 ? "LANE" : i == 150 ? "lane" : i == 151 ? "lane-2" : name, i);
        }
        len += (size_t) snprintf(text + len, sizeof text - len, "]}");
        ck_assert_int_eq(inventory_parse(text, len, &inv, err, sizeof err), 0);
        inventory_observe(&inv, "Lane", &o);
        ck_assert_uint_eq(o.n_runners, 2);
        ck_assert(o.runners[0].id == 51 && o.runners[1].id == 151);   /* response order kept */
        ck_assert_str_eq(o.runners[0].labels[0], "l50");
        inventory_observe(&inv, "r-100", &o);
        ck_assert_uint_eq(o.n_runners, 1);
        ck_assert(o.runners[0].id == 101);
        inventory_observe(&inv, "r-1", &o);
        ck_assert_uint_eq(o.n_runners, 0);
        inventory_observe(&inv, "lane-", &o);
        ck_assert_uint_eq(o.n_runners, 0);
        inventory_observe(&inv, "zzz", &o);
        ck_assert_uint_eq(o.n_runners, 0);
        inventory_free(&inv);
}
END_TEST

/* Pages one after the other, as 'gh api --paginate' prints them. */
#define RUNNER(id, name) "{\"id\":" #id ",\"name\":\"" name "\",\"os\":\"linux\",\"status\":\"online\",\"busy\":false,\"labels\":[]}"
START_TEST(test_pages) {
        static const char two[] = "{\"total_count\":3,\"runners\":[" RUNNER(1, "a") "," RUNNER(2, "lane") "]}\n"
                                  "{\"total_count\":3,\"runners\":[" RUNNER(3, "LANE") "]}\n";
        static const char bad_second[] = "{\"total_count\":2,\"runners\":[" RUNNER(1, "a") "]}"
                                         "{\"total_count\":2,\"runners\":[{\"id\":0}]}";
        static const char short_total[] = "{\"total_count\":2,\"runners\":[" RUNNER(1, "a") "," RUNNER(2, "b") "]}"
                                          "{\"total_count\":2,\"runners\":[" RUNNER(3, "c") "]}";
        static const char torn[] = "{\"total_count\":2,\"runners\":[" RUNNER(1, "a") "]}{\"total_count\":2,\"run";
        struct inventory inv;
        struct observation o = {};
        char err[256];

        ck_assert_int_eq(inventory_parse(two, strlen(two), &inv, err, sizeof err), 0);
        ck_assert_uint_eq(inv.n, 3);
        inventory_observe(&inv, "lane", &o);
        ck_assert_uint_eq(o.n_runners, 2);   /* one from each page: ambiguous */
        ck_assert(o.runners[0].id == 2 && o.runners[1].id == 3);
        inventory_free(&inv);
        ck_assert_int_lt(inventory_parse(bad_second, strlen(bad_second), &inv, err, sizeof err), 0);
        ck_assert_reason_has(err, "page 2: runners[0].id");
        ck_assert_ptr_null(inv.runners);
        ck_assert_int_lt(inventory_parse(short_total, strlen(short_total), &inv, err, sizeof err), 0);
        ck_assert_reason_has(err, "page 2: total_count 2 is less than the 3 runners");
        ck_assert_int_lt(inventory_parse(torn, strlen(torn), &inv, err, sizeof err), 0);
        ck_assert_reason_has(err, "trailing data after page 1");
        ck_assert_int_lt(inventory_parse("", 0, &inv, err, sizeof err), 0);
        ck_assert_reason_has(err, "empty input");
}
END_TEST

/* The examples of GitHub's OpenAPI description (tests/github/openapi-subset.json)
 * parse: the repository and the organisation listings. */
START_TEST(test_openapi_examples) {
        static const char *const keys[] = { "GET /repos/{owner}/{repo}/actions/runners 200",
                                            "GET /orgs/{org}/actions/runners 200" };
        struct json_object *subset = json_object_from_file(TESTS_SRCDIR "/github/openapi-subset.json"), *examples, *ex;
        struct inventory inv;
        struct observation o = {};
        char err[256];

        ck_assert_ptr_nonnull(subset);
        ck_assert(json_object_object_get_ex(subset, "examples", &examples));
        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                const char *text;

                ck_assert_msg(json_object_object_get_ex(examples, keys[k], &ex), "no example %s", keys[k]);
                text = json_object_to_json_string_ext(ex, JSON_C_TO_STRING_PLAIN);
                ck_assert_msg(inventory_parse(text, strlen(text), &inv, err, sizeof err) == 0, "%s: %s", keys[k], err);
                ck_assert_uint_eq(inv.n, 2);
                inventory_observe(&inv, "LINUX_RUNNER", &o);
                ck_assert_uint_eq(o.n_runners, 1);
                ck_assert(o.runners[0].id == 23 && o.runners[0].online && o.runners[0].busy);
                ck_assert_uint_eq(o.runners[0].n_labels, 3);
                inventory_free(&inv);
        }
        json_object_put(subset);
}
END_TEST

START_TEST(test_duplicates_and_empty) {
        static const char dup[] = "{\"total_count\":2,\"runners\":["
                "{\"id\":1,\"name\":\"lane\",\"os\":\"linux\",\"status\":\"online\",\"busy\":false,\"labels\":[]},"
                "{\"id\":2,\"name\":\"LANE\",\"os\":\"linux\",\"status\":\"offline\",\"busy\":false,\"labels\":[]}]}";
        struct inventory inv;
        struct observation o = {};
        char err[256];

        ck_assert_int_eq(inventory_parse(dup, strlen(dup), &inv, err, sizeof err), 0);
        inventory_observe(&inv, "lane", &o);
        ck_assert_uint_eq(o.n_runners, 2);
        inventory_free(&inv);
        static const char empty[] = "{\"total_count\":0,\"runners\":[]}";
        ck_assert_int_eq(inventory_parse(empty, strlen(empty), &inv, err, sizeof err), 0);
        ck_assert_uint_eq(inv.n, 0);
        inventory_free(&inv);
}
END_TEST

#define R(body) "{\"total_count\":1,\"runners\":[" body "]}"
#define OK_LABELS "\"labels\":[]"
#define L10 "abcdefghij"
#define LONG300 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10

static const struct {
        const char *text, *reason;
} bad_inventory[] = {
        { "", "not valid JSON" },
        { "{\"total_count\":0,\"runners\":[]} x", "trailing data" },
        { "[]", "expected an object" },
        { "{\"total_count\":0}", "needs total_count and runners" },
        { "{\"runners\":[]}", "needs total_count and runners" },
        { "{\"total_count\":\"1\",\"runners\":[]}", "needs total_count and runners" },
        { "{\"total_count\":0,\"runners\":[{\"id\":1,\"name\":\"a\",\"os\":\"l\",\"status\":\"online\",\"busy\":false," OK_LABELS "}]}", "less than" },
        { R("7"), "runners[0] is not an object" },
        { R("{\"id\":\"1\",\"name\":\"a\",\"os\":\"l\",\"status\":\"online\",\"busy\":false," OK_LABELS "}"), "runners[0].id" },
        { R("{\"id\":0,\"name\":\"a\",\"os\":\"l\",\"status\":\"online\",\"busy\":false," OK_LABELS "}"), "runners[0].id" },
        { R("{\"id\":1,\"name\":7,\"os\":\"l\",\"status\":\"online\",\"busy\":false," OK_LABELS "}"), "runners[0].name is missing or not a string" },
        { R("{\"id\":1,\"name\":\"a\",\"status\":\"online\",\"busy\":false," OK_LABELS "}"), "runners[0].os" },
        { R("{\"id\":1,\"name\":\"a\",\"os\":\"l\",\"status\":\"idle\",\"busy\":false," OK_LABELS "}"), "runners[0].status" },
        { R("{\"id\":1,\"name\":\"a\",\"os\":\"l\",\"status\":\"online\",\"busy\":\"false\"," OK_LABELS "}"), "runners[0].busy" },
        { R("{\"id\":1,\"name\":\"a\",\"os\":\"l\",\"status\":\"online\",\"busy\":false,\"labels\":{}}"), "runners[0].labels" },
        { R("{\"id\":1,\"name\":\"a\",\"os\":\"l\",\"status\":\"online\",\"busy\":false,\"labels\":[{\"id\":1}]}"), "labels[0] has no name" },
};

START_TEST(test_bad_inventory) {
        struct inventory inv;
        char err[256] = "";

        ck_assert_int_lt(inventory_parse(bad_inventory[_i].text, strlen(bad_inventory[_i].text), &inv, err, sizeof err), 0);
        ck_assert_reason_has(err, bad_inventory[_i].reason);
        ck_assert_ptr_null(inv.runners);
}
END_TEST

/* Names GitHub accepts and lanekeeper would never choose are data: kept
 * (escaped where they must be), and they blind lanekeeper to no one. */
START_TEST(test_foreign_names) {
        static const char text[] = "{\"total_count\":6,\"runners\":["
                "{\"id\":1,\"name\":\"my runner\",\"os\":\"linux\",\"status\":\"online\",\"busy\":false,\"labels\":[]},"
                "{\"id\":2,\"name\":\"runner-2@ip-10-1-2-3.us-west-2.compute.internal\",\"os\":\"linux\",\"status\":\"online\",\"busy\":false,\"labels\":[]},"
                "{\"id\":3,\"name\":\"a\\u0000b\\u001b[2J\",\"os\":\"linux\",\"status\":\"online\",\"busy\":false,\"labels\":[]},"
                "{\"id\":4,\"name\":\"caf\u00e9 \\u009b1m\",\"os\":\"linux\",\"status\":\"online\",\"busy\":false,\"labels\":[]},"
                "{\"id\":5,\"name\":\"" LONG300 "\",\"os\":\"linux\",\"status\":\"online\",\"busy\":false,\"labels\":[]},"
                "{\"id\":6,\"name\":\"lane-a\",\"os\":\"linux\",\"status\":\"online\",\"busy\":false,\"labels\":[]}]}";
        struct inventory inv = {};
        struct observation o = {};
        char err[256] = "";

        ck_assert_msg(inventory_parse(text, strlen(text), &inv, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(inv.n, 6);
        ck_assert_str_eq(inv.runners[0].name, "my runner");
        ck_assert_str_eq(inv.runners[1].name, "runner-2@ip-10-1-2-3.us-west-2.compute.internal");
        ck_assert_str_eq(inv.runners[2].name, "a\\x00b\\x1b[2J");      /* control characters never printed */
        ck_assert_str_eq(inv.runners[3].name, "caf\u00e9 \\xc2\\x9b1m");  /* UTF-8 kept, a C1 control escaped */
        ck_assert_int_eq(strlen(inv.runners[4].name), PROTO_FOREIGN_NAME_MAX);
        inventory_observe(&inv, "lane-a", &o);
        ck_assert(o.github_known);
        ck_assert_int_eq(o.n_runners, 1);
        ck_assert(o.runners[0].id == 6);
        inventory_observe(&inv, "my-runner", &o);
        ck_assert_int_eq(o.n_runners, 0);
        inventory_free(&inv);
}
END_TEST

START_TEST(test_runner_file) {
        static const char with_bom[] = "\xef\xbb\xbf{\"agentId\":42,\"agentName\":\"cm-website\",\"poolId\":1,"
                "\"poolName\":\"Default\",\"serverUrl\":\"https://pipelinesghubeus2.actions.githubusercontent.com/x/\","
                "\"gitHubUrl\":\"https://github.com/acme/odoo-tenant-cm-website\",\"workFolder\":\"_work\"}";
        struct runner_file rf;
        char err[256];

        ck_assert_int_eq(runner_file_parse(with_bom, strlen(with_bom), &rf, err, sizeof err), 0);
        ck_assert(rf.agent_id == 42);
        ck_assert_str_eq(rf.agent_name, "cm-website");
        ck_assert_str_eq(rf.github_url, "https://github.com/acme/odoo-tenant-cm-website");
        ck_assert_int_eq(runner_file_parse(with_bom + 3, strlen(with_bom) - 3, &rf, err, sizeof err), 0);
}
END_TEST

static const struct {
        const char *text, *reason;
} bad_runner[] = {
        { "\xef\xbb\xbf", "not valid JSON" },
        { "[1]", "not a JSON object" },
        { "{\"agentName\":\"a\",\"gitHubUrl\":\"https://github.com/a/b\"}", "agentId" },
        { "{\"agentId\":\"42\",\"agentName\":\"a\",\"gitHubUrl\":\"https://github.com/a/b\"}", "agentId" },
        { "{\"agentId\":42,\"gitHubUrl\":\"https://github.com/a/b\"}", "agentName" },
        { "{\"agentId\":42,\"agentName\":\"-x\",\"gitHubUrl\":\"https://github.com/a/b\"}", "agentName" },
        { "{\"agentId\":42,\"agentName\":\"a\"}", "gitHubUrl" },
        { "{\"agentId\":42,\"agentName\":\"a\",\"gitHubUrl\":\"https://x\\n\"}", "gitHubUrl" },
};

START_TEST(test_bad_runner_file) {
        struct runner_file rf;
        char err[256] = "";

        ck_assert_int_lt(runner_file_parse(bad_runner[_i].text, strlen(bad_runner[_i].text), &rf, err, sizeof err), 0);
        ck_assert_reason_has(err, bad_runner[_i].reason);
}
END_TEST

START_TEST(test_runner_file_too_large) {
        static char big[RUNNER_FILE_MAX + 10];
        struct runner_file rf;
        char err[256];

        memset(big, ' ', sizeof big);
        ck_assert_int_eq(runner_file_parse(big, sizeof big, &rf, err, sizeof err), -E2BIG);
}
END_TEST

int main(void) {
        Suite *s = suite_create("inventory");
        TCase *tc = tcase_create("inventory");

        tcase_add_test(tc, test_response);
        tcase_add_test(tc, test_lookup_among_many);
        tcase_add_test(tc, test_pages);
        tcase_add_test(tc, test_openapi_examples);
        tcase_add_test(tc, test_duplicates_and_empty);
        tcase_add_loop_test(tc, test_bad_inventory, 0, (int) ELEMENTSOF(bad_inventory));
        tcase_add_test(tc, test_foreign_names);
        tcase_add_test(tc, test_runner_file);
        tcase_add_loop_test(tc, test_bad_runner_file, 0, (int) ELEMENTSOF(bad_runner));
        tcase_add_test(tc, test_runner_file_too_large);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
