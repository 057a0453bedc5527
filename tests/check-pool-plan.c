/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pool supervisor's decision (pool-plan.h): the target follows
 * demand within min and max, scale-up starts stopped slots lowest first,
 * scale-down stops only slots that run no job, highest first, a slot
 * whose runner never came online is recycled, a drain starts nothing, a
 * registration left by a slot whose unit is down is forgotten. */
#include <check.h>
#include <string.h>

#include "pool-plan.h"
#include "test-util.h"

static struct pool_desired p;
static struct slot_seen slots[POOL_MAX_SLOTS];
static struct pool_decision d;
static const time_t now = 1700000000;

static void setup(void) {
        memset(&p, 0, sizeof p);
        snprintf(p.lane.name, sizeof p.lane.name, "web");
        p.min = 1;
        p.max = 8;
        p.spare = 1;
        memset(slots, 0, sizeof slots);
        for (unsigned i = 0; i < POOL_MAX_SLOTS; i++) {
                slots[i].installed = true;
                snprintf(slots[i].active, sizeof slots[i].active, "inactive");
        }
}

static void up(unsigned n, bool online, bool busy) {
        snprintf(slots[n - 1].active, sizeof slots[n - 1].active, "active");
        slots[n - 1].runner_id = online || busy ? 1000 + n : 0;
        slots[n - 1].online = online;
        slots[n - 1].busy = busy;
}

static unsigned count(enum pool_act a) {
        unsigned c = 0;

        for (size_t i = 0; i < d.n_actions; i++)
                c += d.actions[i].act == a;
        return c;
}

START_TEST(test_states) {
        struct slot_seen s = { .installed = true };

        ck_assert_int_eq(pool_slot_state(&s), SLOT_STOPPED);
        snprintf(s.active, sizeof s.active, "activating");
        ck_assert_int_eq(pool_slot_state(&s), SLOT_STARTING);
        s.runner_id = 5;
        s.online = true;
        ck_assert_int_eq(pool_slot_state(&s), SLOT_IDLE);
        s.busy = true;
        ck_assert_int_eq(pool_slot_state(&s), SLOT_BUSY);
        s.refused = true;
        ck_assert_int_eq(pool_slot_state(&s), SLOT_FAILED);
        s = (struct slot_seen) { .installed = true };
        snprintf(s.active, sizeof s.active, "deactivating");
        ck_assert_int_eq(pool_slot_state(&s), SLOT_STOPPING);
        ck_assert_str_eq(slot_state_to_string(SLOT_BUSY), "busy");
}
END_TEST

START_TEST(test_cold_start_min_and_spare) {
        slots[0].installed = false;
        pool_decide(&p, slots, p.max, 0, false, now, 60, &d);
        ck_assert_uint_eq(d.target, 1);           /* 0 busy + 0 queued + 1 spare */
        ck_assert_ptr_null(d.clamp);
        ck_assert_uint_eq(d.n_actions, 1);
        ck_assert_int_eq(d.actions[0].act, PA_INSTALL);   /* not installed yet: installed once */
        ck_assert_uint_eq(d.actions[0].slot, 1);
        p.spare = 0;
        p.min = 2;
        pool_decide(&p, slots, p.max, 0, false, now, 60, &d);
        ck_assert_uint_eq(d.target, 2);
        ck_assert_str_eq(d.clamp, "min");
}
END_TEST

START_TEST(test_demand_scales_up_to_max) {
        up(1, true, true);
        up(2, true, false);
        pool_decide(&p, slots, p.max, 3, false, now, 60, &d);
        ck_assert_uint_eq(d.target, 5);           /* 1 busy + 3 queued + 1 spare */
        ck_assert_uint_eq(count(PA_START), 3);    /* 2 live, 3 more */
        ck_assert_uint_eq(d.actions[0].slot, 3);
        pool_decide(&p, slots, p.max, 40, false, now, 60, &d);
        ck_assert_uint_eq(d.target, 8);
        ck_assert_str_eq(d.clamp, "max");
        ck_assert_uint_eq(count(PA_START), 6);
}
END_TEST

START_TEST(test_scale_down_spares_busy) {
        for (unsigned n = 1; n <= 6; n++)
                up(n, true, n % 2 == 0);          /* 2, 4, 6 busy; 1, 3, 5 idle */
        pool_decide(&p, slots, p.max, 0, false, now, 60, &d);
        ck_assert_uint_eq(d.target, 4);           /* 3 busy + 1 spare */
        ck_assert_uint_eq(d.n_actions, 2);
        for (size_t i = 0; i < d.n_actions; i++) {
                ck_assert_int_eq(d.actions[i].act, PA_STOP);
                ck_assert_msg(d.actions[i].slot % 2 == 1, "a busy slot %u would stop", d.actions[i].slot);
                ck_assert_int_eq(d.actions[i].runner_id, 1000 + d.actions[i].slot);   /* its runner deleted first */
        }
        ck_assert_uint_eq(d.actions[0].slot, 5);  /* highest first */
        ck_assert_uint_eq(d.actions[1].slot, 3);
        /* a job just ended on 1 (its unit in the restart delay), 2 is the warm
         * spare: 1 stops, the spare stays online */
        setup();
        snprintf(slots[0].active, sizeof slots[0].active, "activating");
        up(2, true, false);
        pool_decide(&p, slots, p.max, 0, false, now, 60, &d);
        ck_assert_uint_eq(d.target, 1);
        ck_assert_uint_eq(d.n_actions, 1);
        ck_assert_int_eq(d.actions[0].act, PA_STOP);
        ck_assert_uint_eq(d.actions[0].slot, 1);
        ck_assert_int_eq(d.actions[0].runner_id, 0);
        /* everything busy, nothing queued: nothing stops */
        for (unsigned n = 1; n <= 6; n++)
                up(n, true, true);
        pool_decide(&p, slots, p.max, 0, false, now, 60, &d);
        ck_assert_uint_eq(count(PA_STOP), 0);
}
END_TEST

START_TEST(test_never_online) {
        up(1, false, false);
        slots[0].handed = now - 120;
        slots[0].runner_id = 77;                  /* registered, never online */
        up(2, false, false);
        slots[1].handed = now - 10;
        pool_decide(&p, slots, p.max, 1, false, now, 60, &d);
        ck_assert_uint_eq(count(PA_RECYCLE), 1);
        ck_assert_uint_eq(d.actions[0].slot, 1);
        ck_assert_int_eq(d.actions[0].runner_id, 77);
}
END_TEST

START_TEST(test_drain_and_failed) {
        up(1, true, true);
        up(2, true, false);
        up(3, false, false);
        pool_decide(&p, slots, p.max, 5, true, now, 60, &d);
        ck_assert_uint_eq(d.target, 1);
        ck_assert_str_eq(d.clamp, "drain");
        ck_assert_uint_eq(count(PA_START) + count(PA_INSTALL), 0);
        ck_assert_uint_eq(count(PA_STOP), 2);     /* the idle one and the starting one; the busy one finishes */
        setup();
        snprintf(slots[0].active, sizeof slots[0].active, "failed");
        slots[1].refused = true;
        pool_decide(&p, slots, p.max, 1, false, now, 60, &d);
        ck_assert_uint_eq(d.target, 2);
        ck_assert_int_eq(d.actions[0].act, PA_RESET);   /* a failed unit first */
        ck_assert_uint_eq(d.actions[0].slot, 1);
        ck_assert_int_eq(d.actions[1].act, PA_START);   /* a refused install waits for the operator */
        ck_assert_uint_eq(d.actions[1].slot, 3);
        /* a refused slot whose unit restarts in a loop is stopped */
        snprintf(slots[1].active, sizeof slots[1].active, "activating");
        pool_decide(&p, slots, p.max, 1, false, now, 60, &d);
        ck_assert_int_eq(d.actions[0].act, PA_STOP);
        ck_assert_uint_eq(d.actions[0].slot, 2);
}
END_TEST

/* max lowered from 8 to 2: slots 3..8 are beyond it; the idle and
 * starting ones stop, the busy one finishes, none counts for the target */
START_TEST(test_lowered_max) {
        up(1, true, false);
        up(3, true, true);
        up(4, true, false);
        up(5, false, false);
        snprintf(slots[5].active, sizeof slots[5].active, "failed");
        p.max = 2;
        pool_decide(&p, slots, 8, 0, false, now, 60, &d);
        ck_assert_uint_eq(d.beyond, 3);
        ck_assert_uint_eq(d.busy, 0);
        ck_assert_uint_eq(d.idle, 1);
        ck_assert_uint_eq(d.target, 1);
        ck_assert_uint_eq(count(PA_STOP), 2);
        for (size_t i = 0; i < d.n_actions; i++) {
                ck_assert_int_ne(d.actions[i].slot, 3);   /* busy: finishes */
                ck_assert_int_ne(d.actions[i].slot, 6);   /* failed and down: nothing to stop */
                ck_assert_int_ne(d.actions[i].act, PA_START);
        }
        ck_assert_int_eq(d.actions[0].runner_id, 1004);   /* the idle one's runner deleted first */
        /* the same slots seen with n_slots = max: nothing above max is touched */
        pool_decide(&p, slots, 2, 0, false, now, 60, &d);
        ck_assert_uint_eq(d.beyond, 0);
        ck_assert_uint_eq(d.n_actions, 0);
}
END_TEST

/* A JIT configuration handed to a slot that went down before its runner
 * started leaves a registration nothing will use: deleted, and nothing
 * else done to the slot for it; a live unit's offline runner is not
 * touched (it may be starting), nor a unit going down. */
START_TEST(test_forget_left_registrations) {
        p.min = 0;
        p.spare = 0;
        slots[2].runner_id = 560;                         /* slot 3: inactive, registration left */
        slots[6].runner_id = 570;                         /* slot 7: failed, registration left */
        snprintf(slots[6].active, sizeof slots[6].active, "failed");
        slots[6].refused = true;                          /* (so it is not reset) */
        up(1, false, false);
        slots[0].runner_id = 501;                         /* slot 1: up, its runner not online yet */
        slots[1].runner_id = 502;                         /* slot 2: going down */
        snprintf(slots[1].active, sizeof slots[1].active, "deactivating");
        slots[9].runner_id = 590;                         /* slot 10: above max, down */
        slots[9].active[0] = '\0';                     /* not loaded */
        pool_decide(&p, slots, 10, 0, false, now, 60, &d);
        ck_assert_uint_eq(count(PA_FORGET), 3);
        ck_assert_int_eq(d.actions[0].act, PA_FORGET);
        ck_assert_int_eq(d.actions[0].slot, 3);
        ck_assert_int_eq(d.actions[0].runner_id, 560);
        ck_assert_int_eq(d.actions[1].slot, 7);
        ck_assert_int_eq(d.actions[1].runner_id, 570);
        ck_assert_int_eq(d.actions[2].slot, 10);
        ck_assert_int_eq(d.actions[2].runner_id, 590);
        ck_assert_uint_eq(count(PA_START) + count(PA_INSTALL) + count(PA_RESET), 0);
        ck_assert_msg(d.stopped == 5 && d.starting == 1 && d.stopping == 1 && d.failed == 1, "%u %u %u %u", d.stopped, d.starting, d.stopping, d.failed);  /* an offline registration does not make a slot live */
        /* draining: forgotten all the same */
        pool_decide(&p, slots, 10, 0, true, now, 60, &d);
        ck_assert_uint_eq(count(PA_FORGET), 3);
        /* once its runner is online, nothing to forget */
        slots[2].online = true;
        pool_decide(&p, slots, 10, 0, false, now, 60, &d);
        ck_assert_uint_eq(count(PA_FORGET), 2);
        ck_assert_str_eq(pool_act_to_string(PA_FORGET), "forget");
}
END_TEST

int main(void) {
        Suite *s = suite_create("pool-plan");
        TCase *tc = tcase_create("decide");

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, test_states);
        tcase_add_test(tc, test_cold_start_min_and_spare);
        tcase_add_test(tc, test_demand_scales_up_to_max);
        tcase_add_test(tc, test_scale_down_spares_busy);
        tcase_add_test(tc, test_never_online);
        tcase_add_test(tc, test_drain_and_failed);
        tcase_add_test(tc, test_lowered_max);
        tcase_add_test(tc, test_forget_left_registrations);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
