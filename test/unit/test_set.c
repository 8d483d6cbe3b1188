/* test/unit/test_set.c — SET counters over a scripted sequence of easy/hard
 * decisions, the confidence threshold, gathered decisions from several ranks,
 * and save/load of the counters. */
#include <criterion/criterion.h>
#include <string.h>

#include "data/set.h"
#include "host.h"

Test(set, scripted_sequence) {
    cv_error err;
    cv_error_init(&err);
    cv_set *s;
    cr_assert_eq(cv_set_create(3, 2, 0.9, &s, &err), CV_OK, "%s", err.message);
    /* sample 0: easy, easy (-> 2 = window: out), hard (-> 1: back), easy (-> 2: out)
     * sample 1: hard, hard (clipped at 0), easy, easy (out), easy (clipped at 2)
     * sample 2: correct but not confident (hard) every time */
    const int script[5][3] = { { 1, -1, 0 }, { 1, -1, 0 }, { -1, 1, 0 }, { 1, 1, 0 }, { 0, 1, 0 } };
    const int want[5][3] = { { 1, 0, 0 }, { 2, 0, 0 }, { 1, 1, 0 }, { 2, 2, 0 }, { 2, 2, 0 } };
    const int64_t want_out[5] = { 0, 1, 0, 2, 2 };
    for (int p = 0; p < 5; p++) {
        cv_set_begin_pass(s);
        for (int i = 0; i < 2; i++)
            if (script[p][i]) cr_assert_eq(cv_set_record(s, i, script[p][i] > 0, 0.95, &err), CV_OK);
        cr_assert_eq(cv_set_record(s, 2, 1, 0.5, &err), CV_OK);
        cr_expect_eq(cv_set_end_pass(s), want_out[p], "pass %d", p);
        for (int i = 0; i < 3; i++) {
            cr_expect_eq(cv_set_counter(s, i), want[p][i], "pass %d sample %d: %d", p, i, cv_set_counter(s, i));
            cr_expect_eq(cv_set_active(s)[i], want[p][i] < 2, "pass %d sample %d active", p, i);
        }
        cr_expect_eq(cv_set_left_out(s), want_out[p]);
    }
    cr_expect_eq(cv_set_record(s, 3, 1, 1.0, &err), CV_ERR_INVALID);
    cv_set_destroy(s);
}

Test(set, confidence_threshold_is_inclusive) {
    cv_error err;
    cv_error_init(&err);
    cv_set *s;
    cr_assert_eq(cv_set_create(2, 1, 0.75, &s, &err), CV_OK);
    cv_set_begin_pass(s);
    cv_set_record(s, 0, 1, 0.75, &err);
    cv_set_record(s, 1, 0, 0.99, &err); /* confident but wrong: hard */
    cr_expect_eq(cv_set_end_pass(s), 1);
    cr_expect_eq(cv_set_active(s)[0], 0);
    cr_expect_eq(cv_set_active(s)[1], 1);
    cv_set_destroy(s);
}

Test(set, ranks_gathered_by_sum_agree) {
    /* two ranks score disjoint halves; summing their decision vectors (what the
     * all-reduce does) gives every rank the same counters */
    cv_error err;
    cv_error_init(&err);
    cv_set *r[2];
    for (int k = 0; k < 2; k++) cr_assert_eq(cv_set_create(6, 3, 0.5, &r[k], &err), CV_OK);
    for (int pass = 0; pass < 4; pass++) {
        for (int k = 0; k < 2; k++) {
            cv_set_begin_pass(r[k]);
            for (int i = k; i < 6; i += 2) cv_set_record(r[k], i, (i + pass) % 3 != 0, 0.8, &err);
        }
        float sum[6];
        for (int i = 0; i < 6; i++) sum[i] = cv_set_decisions(r[0])[i] + cv_set_decisions(r[1])[i];
        for (int k = 0; k < 2; k++) {
            memcpy(cv_set_decisions(r[k]), sum, sizeof sum);
            cv_set_end_pass(r[k]);
        }
        for (int i = 0; i < 6; i++) cr_expect_eq(cv_set_counter(r[0], i), cv_set_counter(r[1], i));
    }
    cr_expect_eq(cv_set_counter(r[0], 1), 2); /* (1+p)%3: 1,2,0,1 -> easy,easy,hard,easy: 1,2,1,2 */
    for (int k = 0; k < 2; k++) cv_set_destroy(r[k]);
}

Test(set, save_and_load_round_trip) {
    cv_error err;
    cv_error_init(&err);
    cv_set *a, *b, *c;
    cr_assert_eq(cv_set_create(1000, 5, 0.5, &a, &err), CV_OK);
    for (int pass = 0; pass < 7; pass++) {
        cv_set_begin_pass(a);
        for (int i = 0; i < 1000; i++) cv_set_record(a, i, (i * 7 + pass) % 5 != 0, 0.9, &err);
        cv_set_end_pass(a);
    }
    size_t n = cv_set_state_bytes(a);
    unsigned char *buf = cv_alloc(n);
    cv_set_save(a, buf);
    cr_assert_eq(cv_set_create(1000, 5, 0.5, &b, &err), CV_OK);
    cr_assert_eq(cv_set_load(b, buf, n, &err), CV_OK, "%s", err.message);
    for (int i = 0; i < 1000; i++) cr_assert_eq(cv_set_counter(a, i), cv_set_counter(b, i));
    cr_expect_eq(cv_set_left_out(a), cv_set_left_out(b));
    cr_expect(memcmp(cv_set_active(a), cv_set_active(b), 1000) == 0);
    /* mismatches are refused with a message */
    cr_assert_eq(cv_set_create(999, 5, 0.5, &c, &err), CV_OK);
    cr_expect_eq(cv_set_load(c, buf, n, &err), CV_ERR_INVALID);
    cr_expect(strstr(err.message, "1000 samples") != NULL, "%s", err.message);
    cv_error_init(&err);
    cr_expect_eq(cv_set_load(b, buf, n - 1, &err), CV_ERR_IO);
    cv_error_init(&err);
    buf[16] = 9; /* counter above the window */
    cr_expect_eq(cv_set_load(b, buf, n, &err), CV_ERR_IO);
    cr_expect(strstr(err.message, "above the window") != NULL, "%s", err.message);
    cv_free(buf);
    cv_set_destroy(a);
    cv_set_destroy(b);
    cv_set_destroy(c);
}

Test(set, bad_arguments) {
    cv_error err;
    cv_error_init(&err);
    cv_set *s;
    cr_expect_eq(cv_set_create(0, 2, 0.5, &s, &err), CV_ERR_INVALID);
    cv_error_init(&err);
    cr_expect_eq(cv_set_create(10, 0, 0.5, &s, &err), CV_ERR_INVALID);
    cv_error_init(&err);
    cr_expect_eq(cv_set_create(10, 2, 1.5, &s, &err), CV_ERR_INVALID);
    cr_expect(strstr(err.message, "confidence") != NULL);
}
