/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The message codec: round trips for every verb, requests and replies,
 * exact wire bytes, and the encoder refusing what the decoder would. */
#include <string.h>

#include "proto-codec.h"
#include "test-util.h"

static struct proto_builder b;
static struct proto_msg m;

static void put_request_fields(enum proto_verb v) {
        switch (v) {
        case PROTO_VERB_INSTALL_UNIT:
                proto_put_str(&b, PROTO_TAG_LANE, "cm-website-chris-testing");
                proto_put_str(&b, PROTO_TAG_USER, "ghrunner");
                proto_put_str(&b, PROTO_TAG_ROOT, "/srv/lanekeeper/runners");
                break;
        case PROTO_VERB_LOAD_BPF:
                proto_put_str(&b, PROTO_TAG_LANE, "cm-website-chris-testing");
                proto_put_str(&b, PROTO_TAG_BPF_OBJECT, "exec-observer");
                break;
        case PROTO_VERB_ENABLE_NOW:
        case PROTO_VERB_RESTART:
        case PROTO_VERB_STOP:
        case PROTO_VERB_REMOVE_UNIT:
                proto_put_str(&b, PROTO_TAG_LANE, "cm-website-chris-testing");
                break;
        case PROTO_VERB_DAEMON_RELOAD:
        case PROTO_VERB_NONE:
        case _PROTO_VERB_MAX:
        case _PROTO_VERB_INVALID:
                break;
        }
}

START_TEST(test_request_round_trip) {
        enum proto_verb v = (enum proto_verb) _i;
        struct proto_diag d;
        size_t len;

        proto_builder_init(&b, v, PROTO_FLAG_DRY_RUN, 0x1122334455667788ULL);
        put_request_fields(v);
        ck_assert_int_eq(proto_builder_finish(&b, &len, &d), 0);
        ck_assert_int_eq(proto_decode(b.buf, len, PROTO_REQUEST, &m, &d), 0);
        ck_assert_int_eq(m.verb, v);
        ck_assert_uint_eq(m.flags, PROTO_FLAG_DRY_RUN);
        ck_assert(m.request_id == 0x1122334455667788ULL);
        ck_assert(!proto_msg_is_reply(&m));
        if (v != PROTO_VERB_DAEMON_RELOAD)
                ck_assert_str_eq(proto_msg_str(&m, PROTO_TAG_LANE), "cm-website-chris-testing");
        else
                ck_assert_uint_eq(m.n_fields, 0);
        if (v == PROTO_VERB_INSTALL_UNIT) {
                ck_assert_str_eq(proto_msg_str(&m, PROTO_TAG_USER), "ghrunner");
                ck_assert_str_eq(proto_msg_str(&m, PROTO_TAG_ROOT), "/srv/lanekeeper/runners");
        }
}
END_TEST

START_TEST(test_reply_round_trip) {
        enum proto_verb v = (enum proto_verb) _i;
        const char *actions[4];
        struct proto_diag d;
        int32_t status = 1;
        size_t len;

        proto_builder_init(&b, v, PROTO_FLAG_REPLY, 42);
        proto_put_i32(&b, PROTO_TAG_STATUS, 0);
        proto_put_str(&b, PROTO_TAG_ACTION, "first step");
        proto_put_str(&b, PROTO_TAG_ACTION, "second step");
        if (v != PROTO_VERB_DAEMON_RELOAD)
                proto_put_str(&b, PROTO_TAG_UNIT_NAME, "lanekeeper-lane@cm-website.service");
        ck_assert_int_eq(proto_builder_finish(&b, &len, &d), 0);
        ck_assert_int_eq(proto_decode(b.buf, len, PROTO_REPLY, &m, &d), 0);
        ck_assert(proto_msg_is_reply(&m));
        ck_assert_int_eq(proto_msg_i32(&m, PROTO_TAG_STATUS, &status), 0);
        ck_assert_int_eq(status, 0);
        ck_assert_uint_eq(proto_msg_strs(&m, PROTO_TAG_ACTION, actions, 4), 2);
        ck_assert_str_eq(actions[0], "first step");
        ck_assert_str_eq(actions[1], "second step");
}
END_TEST

START_TEST(test_install_reply_results) {
        static const char digest[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        struct proto_diag d;
        bool changed = false;
        size_t len;

        proto_builder_init(&b, PROTO_VERB_INSTALL_UNIT, PROTO_FLAG_REPLY, 7);
        proto_put_i32(&b, PROTO_TAG_STATUS, 0);
        proto_put_str(&b, PROTO_TAG_UNIT_NAME, "lanekeeper-lane@a.service");
        proto_put_str(&b, PROTO_TAG_UNIT_PATH, "/etc/systemd/system/lanekeeper-lane@a.service");
        proto_put_str(&b, PROTO_TAG_DIGEST, digest);
        proto_put_bool(&b, PROTO_TAG_CHANGED, true);
        ck_assert_int_eq(proto_builder_finish(&b, &len, &d), 0);
        ck_assert_int_eq(proto_decode(b.buf, len, PROTO_REPLY, &m, &d), 0);
        ck_assert_str_eq(proto_msg_str(&m, PROTO_TAG_DIGEST), digest);
        ck_assert_int_eq(proto_msg_bool(&m, PROTO_TAG_CHANGED, &changed), 0);
        ck_assert(changed);
        ck_assert_int_eq(proto_msg_bool(&m, PROTO_TAG_STATUS, &changed), -ENOENT);   /* wrong type */
}
END_TEST

START_TEST(test_load_bpf_reply_prog_count) {
        struct proto_diag d;
        uint32_t n = 0;
        size_t len;

        proto_builder_init(&b, PROTO_VERB_LOAD_BPF, PROTO_FLAG_REPLY, 8);
        proto_put_i32(&b, PROTO_TAG_STATUS, 0);
        proto_put_u32(&b, PROTO_TAG_PROG_COUNT, 3);
        ck_assert_int_eq(proto_builder_finish(&b, &len, &d), 0);
        ck_assert_int_eq(proto_decode(b.buf, len, PROTO_REPLY, &m, &d), 0);
        ck_assert_int_eq(proto_msg_u32(&m, PROTO_TAG_PROG_COUNT, &n), 0);
        ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(test_error_reply) {
        struct proto_diag d;
        int32_t status = 0;
        size_t len;

        ck_assert_int_eq(proto_build_error_reply(&b, PROTO_VERB_RESTART, 99, PROTO_E_NOT_MANAGED,
                                                 "unit was not written by \x01 lanekeeper\n", &len), 0);
        ck_assert_int_eq(proto_decode(b.buf, len, PROTO_REPLY, &m, &d), 0);
        ck_assert_int_eq(proto_msg_i32(&m, PROTO_TAG_STATUS, &status), 0);
        ck_assert_int_eq(status, -EPERM);
        ck_assert_str_eq(proto_msg_str(&m, PROTO_TAG_ERROR), "not-managed");
        /* Control bytes in a reason are replaced, never sent. */
        ck_assert_str_eq(proto_msg_str(&m, PROTO_TAG_REASON), "unit was not written by ? lanekeeper?");
        ck_assert(m.request_id == 99);
        /* A reply to an unreadable request uses verb 0. */
        ck_assert_int_eq(proto_build_error_reply(&b, PROTO_VERB_NONE, 0, PROTO_E_MALFORMED, NULL, &len), 0);
        ck_assert_int_eq(proto_decode(b.buf, len, PROTO_REPLY, &m, &d), 0);
        ck_assert_int_eq(m.verb, PROTO_VERB_NONE);
        ck_assert_int_eq(proto_build_error_reply(&b, PROTO_VERB_STOP, 0, PROTO_OK, "x", &len), -EINVAL);
}
END_TEST

/* Exact bytes: the wire format is little-endian whatever the host. */
START_TEST(test_wire_bytes) {
        static const uint8_t want[] = {
                'L', 'K', 'H', 'P', 1, 0, 5, 0,             /* magic, version 1, verb 5 (stop) */
                1, 0, 0, 0, 9, 0, 0, 0,                     /* flags dry-run, payload 9 bytes */
                0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* request id */
                1, 0, 1, 0, 1, 0, 0, 0, 'x',                /* tag lane, string, len 1, "x" */
        };
        size_t len;

        proto_builder_init(&b, PROTO_VERB_STOP, PROTO_FLAG_DRY_RUN, 0x0102030405060708ULL);
        proto_put_str(&b, PROTO_TAG_LANE, "x");
        ck_assert_int_eq(proto_builder_finish(&b, &len, NULL), 0);
        ck_assert_uint_eq(len, sizeof want);
        ck_assert_mem_eq(b.buf, want, sizeof want);
}
END_TEST

/* The encoder refuses anything the decoder would refuse. */
START_TEST(test_encoder_refuses_invalid) {
        struct proto_diag d;
        size_t len;

        proto_builder_init(&b, PROTO_VERB_STOP, 0, 1);
        proto_put_str(&b, PROTO_TAG_LANE, "x\nExecStart=/bin/sh");
        ck_assert_int_eq(proto_builder_finish(&b, &len, &d), -EINVAL);
        ck_assert_int_eq(d.error, PROTO_E_INVALID_FIELD);
        ck_assert_reason_has(d.reason, "field 'lane' contains a newline");

        proto_builder_init(&b, PROTO_VERB_STOP, 0, 1);
        ck_assert_int_eq(proto_builder_finish(&b, &len, &d), -EINVAL);
        ck_assert_int_eq(d.error, PROTO_E_MISSING_FIELD);

        proto_builder_init(&b, PROTO_VERB_STOP, 0, 1);
        proto_put_str(&b, PROTO_TAG_LANE, NULL);
        ck_assert_int_lt(proto_builder_finish(&b, &len, &d), 0);

        proto_builder_init(&b, PROTO_VERB_STOP, 0, 1);
        for (int i = 0; i < 400; i++)
                proto_put_str(&b, PROTO_TAG_REASON, "0123456789012345678901234567890123456789");
        ck_assert_int_eq(proto_builder_finish(&b, &len, &d), -EMSGSIZE);
        ck_assert_int_eq(d.error, PROTO_E_TOO_LARGE);
}
END_TEST

START_TEST(test_verb_names) {
        enum proto_verb v = (enum proto_verb) _i;
        const char *name = proto_verb_to_string(v);

        ck_assert_ptr_nonnull(name);
        ck_assert_int_eq(proto_verb_from_string(name), v);
}
END_TEST

START_TEST(test_name_tables_edges) {
        static const char *const seven[] = { "install-unit", "daemon-reload", "enable-now", "restart",
                                             "stop", "remove-unit", "load-bpf" };

        for (size_t i = 0; i < ELEMENTSOF(seven); i++)
                ck_assert_int_eq(proto_verb_from_string(seven[i]), (int) i + 1);
        ck_assert_int_eq(proto_verb_from_string("exec"), _PROTO_VERB_INVALID);
        ck_assert_int_eq(proto_verb_from_string(NULL), _PROTO_VERB_INVALID);
        ck_assert_ptr_null(proto_verb_to_string(PROTO_VERB_NONE));
        ck_assert_ptr_null(proto_verb_to_string(_PROTO_VERB_MAX));
        ck_assert_ptr_null(proto_tag_to_string((enum proto_tag) 9));
        ck_assert_str_eq(proto_tag_to_string(PROTO_TAG_BPF_OBJECT), "bpf-object");
        ck_assert_ptr_null(proto_type_to_string((enum proto_type) 0));
}
END_TEST

START_TEST(test_error_names) {
        enum proto_error e = (enum proto_error) _i;
        const char *name = proto_error_to_string(e);

        ck_assert_ptr_nonnull(name);
        ck_assert_int_eq(proto_error_from_string(name), e);
        if (e == PROTO_OK)
                ck_assert_int_eq(proto_error_to_errno(e), 0);
        else
                ck_assert_int_lt(proto_error_to_errno(e), 0);
}
END_TEST

START_TEST(test_error_name_edges) {
        ck_assert_str_eq(proto_error_to_string(PROTO_E_PERMISSION_DENIED), "permission-denied");
        ck_assert_str_eq(proto_error_to_string(PROTO_E_POLICY_VIOLATION), "policy-violation");
        ck_assert_str_eq(proto_error_to_string(PROTO_E_SYSTEMD_FAILED), "systemd-failed");
        ck_assert_ptr_null(proto_error_to_string(_PROTO_ERROR_MAX));
        ck_assert_int_eq(proto_error_from_string("no-such-error"), _PROTO_ERROR_INVALID);
        ck_assert_int_eq(proto_error_to_errno(_PROTO_ERROR_MAX), -EINVAL);
}
END_TEST

/* A reply's status and error must agree, and failures carry no results. */
START_TEST(test_reply_consistency) {
        struct proto_diag d;

        proto_builder_init(&b, PROTO_VERB_STOP, PROTO_FLAG_REPLY, 1);
        proto_put_i32(&b, PROTO_TAG_STATUS, -EPERM);
        ck_assert_int_lt(proto_builder_finish(&b, NULL, &d), 0);
        ck_assert_reason_has(d.reason, "exactly when status is negative");

        proto_builder_init(&b, PROTO_VERB_STOP, PROTO_FLAG_REPLY, 1);
        proto_put_i32(&b, PROTO_TAG_STATUS, 0);
        proto_put_str(&b, PROTO_TAG_ERROR, "not-managed");
        ck_assert_int_lt(proto_builder_finish(&b, NULL, &d), 0);

        proto_builder_init(&b, PROTO_VERB_STOP, PROTO_FLAG_REPLY, 1);
        proto_put_i32(&b, PROTO_TAG_STATUS, 5);
        ck_assert_int_lt(proto_builder_finish(&b, NULL, &d), 0);
        ck_assert_reason_has(d.reason, "positive");

        proto_builder_init(&b, PROTO_VERB_STOP, PROTO_FLAG_REPLY, 1);
        proto_put_i32(&b, PROTO_TAG_STATUS, -EPERM);
        proto_put_str(&b, PROTO_TAG_ERROR, "ok");
        ck_assert_int_lt(proto_builder_finish(&b, NULL, &d), 0);
        ck_assert_reason_has(d.reason, "not a known error name");

        proto_builder_init(&b, PROTO_VERB_STOP, PROTO_FLAG_REPLY, 1);
        proto_put_i32(&b, PROTO_TAG_STATUS, -EPERM);
        proto_put_str(&b, PROTO_TAG_ERROR, "not-managed");
        proto_put_str(&b, PROTO_TAG_UNIT_NAME, "lanekeeper-lane@a.service");
        ck_assert_int_lt(proto_builder_finish(&b, NULL, &d), 0);
        ck_assert_reason_has(d.reason, "failed reply carries result field 'unit-name'");
}
END_TEST

START_TEST(test_field_allowed) {
        ck_assert(proto_field_allowed(PROTO_VERB_INSTALL_UNIT, false, PROTO_TAG_ROOT));
        ck_assert(!proto_field_allowed(PROTO_VERB_STOP, false, PROTO_TAG_ROOT));
        ck_assert(proto_field_allowed(PROTO_VERB_INSTALL_UNIT, true, PROTO_TAG_DIGEST));
        ck_assert(!proto_field_allowed(PROTO_VERB_RESTART, true, PROTO_TAG_CHANGED));
        ck_assert(!proto_field_allowed(PROTO_VERB_DAEMON_RELOAD, true, PROTO_TAG_UNIT_NAME));
        ck_assert(proto_field_allowed(PROTO_VERB_STOP, true, PROTO_TAG_STATUS));   /* common to replies */
        ck_assert(!proto_field_allowed(PROTO_VERB_STOP, false, PROTO_TAG_STATUS));
        ck_assert(!proto_field_allowed(_PROTO_VERB_MAX, true, PROTO_TAG_STATUS));
        ck_assert(!proto_field_allowed(PROTO_VERB_STOP, true, _PROTO_TAG_MAX));
}
END_TEST

START_TEST(test_repeat_limit) {
        struct proto_diag d;

        proto_builder_init(&b, PROTO_VERB_DAEMON_RELOAD, PROTO_FLAG_REPLY, 1);
        proto_put_i32(&b, PROTO_TAG_STATUS, 0);
        for (unsigned i = 0; i < PROTO_MAX_REPEAT; i++)
                proto_put_str(&b, PROTO_TAG_ACTION, "step");
        ck_assert_int_eq(proto_builder_finish(&b, NULL, &d), 0);
        proto_put_str(&b, PROTO_TAG_ACTION, "one too many");
        ck_assert_int_eq(proto_builder_finish(&b, NULL, &d), -EMSGSIZE);
        ck_assert_reason_has(d.reason, "repeats more than 32 times");
}
END_TEST

int main(void) {
        Suite *s = suite_create("codec");
        TCase *tc = tcase_create("codec");

        tcase_add_loop_test(tc, test_request_round_trip, PROTO_VERB_INSTALL_UNIT, _PROTO_VERB_MAX);
        tcase_add_loop_test(tc, test_reply_round_trip, PROTO_VERB_INSTALL_UNIT, _PROTO_VERB_MAX);
        tcase_add_test(tc, test_install_reply_results);
        tcase_add_test(tc, test_load_bpf_reply_prog_count);
        tcase_add_test(tc, test_error_reply);
        tcase_add_test(tc, test_wire_bytes);
        tcase_add_test(tc, test_encoder_refuses_invalid);
        tcase_add_loop_test(tc, test_verb_names, PROTO_VERB_INSTALL_UNIT, _PROTO_VERB_MAX);
        tcase_add_test(tc, test_name_tables_edges);
        tcase_add_loop_test(tc, test_error_names, PROTO_OK, _PROTO_ERROR_MAX);
        tcase_add_test(tc, test_error_name_edges);
        tcase_add_test(tc, test_reply_consistency);
        tcase_add_test(tc, test_repeat_limit);
        tcase_add_test(tc, test_field_allowed);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
