/* test/unit/test_state.c — named state blobs: write, iterate, read back by name
 * with size checks, prefixes, and the errors a resume can hit. */
#include <criterion/criterion.h>
#include <string.h>

#include "host.h"
#include "state.h"

#define expect_msg(err, needle) \
    cr_expect(strstr((err).message, (needle)) != NULL, "message lacks '%s': %s", (needle), (err).message)

Test(state, round_trip_with_prefixes) {
    cv_state_writer *w = cv_state_writer_new();
    cv_error err;
    cv_error_init(&err);
    int64_t step = 1234;
    double lr[3] = { 0.1, 0.2, 0.3 };
    cr_assert_eq(cv_state_writer_set_prefix(w, "scheduler."), CV_OK);
    cr_assert_eq(cv_state_write(w, "step", &step, sizeof step, &err), CV_OK);
    cr_assert_eq(cv_state_writer_set_prefix(w, "sampler."), CV_OK);
    cr_assert_eq(cv_state_write(w, "step", lr, sizeof lr, &err), CV_OK, "same name, other prefix");
    cr_assert_eq(cv_state_write(w, "empty", NULL, 0, &err), CV_OK);
    cr_assert_eq(cv_state_writer_count(w), 3);
    cr_expect_str_eq(cv_state_writer_name(w, 0), "scheduler.step");
    size_t n;
    cr_expect_not_null(cv_state_writer_data(w, 1, &n));
    cr_expect_eq(n, sizeof lr);
    cr_expect_null(cv_state_writer_name(w, 3));

    /* the checkpoint code rebuilds a reader from (name, bytes) pairs */
    cv_state_reader *r = cv_state_reader_new();
    for (int i = 0; i < cv_state_writer_count(w); i++) {
        const void *d = cv_state_writer_data(w, i, &n);
        cr_assert_eq(cv_state_reader_add(r, cv_state_writer_name(w, i), d, n, &err), CV_OK);
    }
    int64_t got = 0;
    double lr2[3];
    cr_assert_eq(cv_state_reader_set_prefix(r, "scheduler."), CV_OK);
    cr_assert_eq(cv_state_read(r, "step", &got, sizeof got, &err), CV_OK, "%s", err.message);
    cr_expect_eq(got, 1234);
    cr_assert_eq(cv_state_reader_set_prefix(r, "sampler."), CV_OK);
    cr_assert_eq(cv_state_read(r, "step", lr2, sizeof lr2, &err), CV_OK);
    cr_expect_float_eq(lr2[2], 0.3, 0);
    cr_expect(cv_state_reader_has(r, "empty"));
    cr_expect_not(cv_state_reader_has(r, "nope"));
    cv_state_reader_free(r);
    cv_state_writer_free(w);
}

Test(state, errors_name_the_blob_and_sizes) {
    cv_state_writer *w = cv_state_writer_new();
    cv_error err;
    int32_t x = 5;
    cv_error_init(&err);
    cr_assert_eq(cv_state_write(w, "x", &x, sizeof x, &err), CV_OK);
    cr_expect_eq(cv_state_write(w, "x", &x, sizeof x, &err), CV_ERR_INVALID);
    expect_msg(err, "state 'x' written twice");
    cv_error_init(&err);
    cr_expect_eq(cv_state_write(w, "", &x, sizeof x, &err), CV_ERR_INVALID);
    cv_error_init(&err);
    cr_expect_eq(cv_state_write(w, "y", NULL, 4, &err), CV_ERR_INVALID);

    cv_state_reader *r = cv_state_reader_new();
    cv_error_init(&err);
    cr_assert_eq(cv_state_reader_from_writer(r, w, &err), CV_OK);
    int64_t big;
    cv_error_init(&err);
    cr_expect_eq(cv_state_read(r, "x", &big, sizeof big, &err), CV_ERR_INVALID);
    expect_msg(err, "state 'x' in the checkpoint is 4 bytes, the component expects 8");
    cv_error_init(&err);
    cr_expect_eq(cv_state_read(r, "missing", &big, sizeof big, &err), CV_ERR_IO);
    expect_msg(err, "the checkpoint has no state 'missing'");
    cv_error_init(&err);
    cr_expect_eq(cv_state_reader_add(r, "x", &x, sizeof x, &err), CV_ERR_INVALID);
    cv_state_reader_free(r);
    cv_state_writer_free(w);
}

Test(state, through_the_host_table) {
    cv_ctx *ctx = cv_ctx_create();
    cv_state_writer *w = cv_state_writer_new();
    cv_error err;
    cv_error_init(&err);
    float v = 2.5f;
    cr_assert_eq(ctx->host.state_write(w, "v", &v, sizeof v, &err), CV_OK);
    cv_state_reader *r = cv_state_reader_new();
    cr_assert_eq(cv_state_reader_from_writer(r, w, &err), CV_OK);
    float back = 0;
    cr_assert_eq(ctx->host.state_read(r, "v", &back, sizeof back, &err), CV_OK);
    cr_expect_float_eq(back, 2.5f, 0);
    cr_expect_eq(ctx->host.state_write(NULL, "v", &v, sizeof v, &err), CV_ERR_INVALID);
    cv_state_reader_free(r);
    cv_state_writer_free(w);
    cv_ctx_destroy(ctx);
}
