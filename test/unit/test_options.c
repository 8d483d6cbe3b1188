/* test/unit/test_options.c — option values against schemas: every type, ranges,
 * choices, list lengths, defaults, required keys, schema checks, suggestions. */
#include <criterion/criterion.h>
#include <string.h>

#include "options.h"
#include "host.h"

static const char *const modes[] = { "bilinear", "nearest", "bicubic", NULL };
static const cv_option_desc schema[] = {
    CV_OPT_BOOL_("flag", "false", "a switch"),
    CV_OPT_INT_RANGE("depth", "50", 18, 101, "depth"),
    CV_OPT_FLOAT_RANGE("lr", "0.1", 0, 10, "learning rate"),
    CV_OPT_STRING_("label", NULL, "free text"),
    CV_OPT_ENUM_("mode", "bilinear", modes, "interpolation"),
    CV_OPT_PATH_("root", "/data", "a folder"),
    CV_OPT_INT_LIST_("milestones", "30, 60, 90", 0, 1000, 0, 8, "epochs"),
    CV_OPT_FLOAT_LIST_("scale", "0.08, 1.0", 0, 1, 2, 2, "crop area range"),
    CV_OPT_(CV_OPT_INT, "classes", NULL, "number of classes", 1, 1, 1, 0, 0, NULL, 0, 0),
    CV_OPT_END,
};

static cv_options *parse(const char *const *kv, cv_error *err) {
    cv_options *o = NULL;
    cv_error_init(err);
    cv_options_from_kv(schema, "[test]", kv, &o, err);
    return o;
}

#define expect_msg(err, needle) \
    cr_expect(strstr((err).message, (needle)) != NULL, "message lacks '%s': %s", (needle), (err).message)

Test(options, defaults_and_values) {
    cv_error err;
    cv_options *o = parse((const char *const[]){ "classes=10", "flag = yes", "label=hello world", NULL }, &err);
    cr_assert_not_null(o, "%s", err.message);
    cr_expect_eq(cv_options_get(o, "flag")->i, 1);
    cr_expect_eq(cv_options_get(o, "depth")->i, 50);
    cr_expect_float_eq(cv_options_get(o, "lr")->f, 0.1, 1e-15);
    cr_expect_str_eq(cv_options_get(o, "label")->s, "hello world");
    cr_expect_str_eq(cv_options_get(o, "mode")->s, "bilinear");
    cr_expect_str_eq(cv_options_get(o, "root")->s, "/data");
    const cv_value *m = cv_options_get(o, "milestones");
    cr_assert_eq(m->count, 3);
    cr_expect_eq(m->ints[2], 90);
    const cv_value *s = cv_options_get(o, "scale");
    cr_assert_eq(s->count, 2);
    cr_expect_float_eq(s->floats[0], 0.08, 1e-15);
    cr_expect_eq(cv_options_get(o, "classes")->i, 10);
    cr_expect_null(cv_options_get(o, "nope"));
    cr_expect_null(cv_options_get(NULL, "depth"));
    cr_expect_str_eq(cv_options_text(o, 1), "50");
    cv_options_free(o);
}

Test(options, unset_optional_key_has_no_value) {
    cv_error err;
    cv_options *o = parse((const char *const[]){ "classes=3", NULL }, &err);
    cr_assert_not_null(o, "%s", err.message);
    const cv_value *v = cv_options_get(o, "label");
    cr_assert_not_null(v);
    cr_expect_eq(v->is_set, 0);
    cr_expect_eq(v->type, CV_OPT_STRING);
    cv_options_free(o);
}

Test(options, missing_required) {
    cv_error err;
    cr_expect_null(parse(NULL, &err));
    expect_msg(err, "[test] missing required key 'classes'");
    expect_msg(err, "an integer >= 1");
}

Test(options, type_errors) {
    cv_error err;
    cr_expect_null(parse((const char *const[]){ "classes=1", "depth=5o", NULL }, &err));
    expect_msg(err, "[test] depth = '5o': expected an integer in [18, 101]");
    cr_expect_null(parse((const char *const[]){ "classes=1", "lr=fast", NULL }, &err));
    expect_msg(err, "expected a number in [0, 10]");
    cr_expect_null(parse((const char *const[]){ "classes=1", "lr=nan", NULL }, &err));
    cr_expect_null(parse((const char *const[]){ "classes=1", "lr=inf", NULL }, &err));
    cr_expect_null(parse((const char *const[]){ "classes=1", "flag=maybe", NULL }, &err));
    expect_msg(err, "expected true or false");
    cr_expect_null(parse((const char *const[]){ "classes=1", "depth=99999999999999999999", NULL }, &err));
    cr_expect_null(parse((const char *const[]){ "classes=1", "root=", NULL }, &err));
    expect_msg(err, "empty path");
    cr_expect_null(parse((const char *const[]){ "classes", NULL }, &err));
    expect_msg(err, "is not key=value");
}

Test(options, ranges) {
    cv_error err;
    cr_expect_null(parse((const char *const[]){ "classes=1", "depth=17", NULL }, &err));
    expect_msg(err, "out of range");
    cv_options *o = parse((const char *const[]){ "classes=1", "depth=101", "lr=0", NULL }, &err);
    cr_expect_not_null(o, "bounds are inclusive: %s", err.message);
    cv_options_free(o);
    cr_expect_null(parse((const char *const[]){ "classes=0", NULL }, &err));
    expect_msg(err, "expected an integer >= 1");
}

Test(options, enum_choices_suggest) {
    cv_error err;
    cr_expect_null(parse((const char *const[]){ "classes=1", "mode=bilinaer", NULL }, &err));
    expect_msg(err, "did you mean 'bilinear'?");
    expect_msg(err, "expected one of: bilinear, nearest, bicubic");
    cr_expect_null(parse((const char *const[]){ "classes=1", "mode=zzzzzzzz", NULL }, &err));
    expect_msg(err, "not a valid choice");
}

Test(options, lists) {
    cv_error err;
    cv_options *o = parse((const char *const[]){ "classes=1", "milestones=", "scale = 0.5 ,1", NULL }, &err);
    cr_assert_not_null(o, "%s", err.message);
    cr_expect_eq(cv_options_get(o, "milestones")->count, 0);
    cr_expect_float_eq(cv_options_get(o, "scale")->floats[1], 1.0, 1e-15);
    cv_options_free(o);
    cr_expect_null(parse((const char *const[]){ "classes=1", "scale=0.5", NULL }, &err));
    expect_msg(err, "1 element given");
    expect_msg(err, "a comma-separated list of 2 numbers in [0, 1]");
    cr_expect_null(parse((const char *const[]){ "classes=1", "scale=0.5, 2", NULL }, &err));
    expect_msg(err, "element 2 (2) is out of range");
    cr_expect_null(parse((const char *const[]){ "classes=1", "milestones=1,,2", NULL }, &err));
    expect_msg(err, "element 2 is empty");
    cr_expect_null(parse((const char *const[]){ "classes=1", "milestones=1, x", NULL }, &err));
    expect_msg(err, "element 2 ('x') is not an integer");
    cr_expect_null(parse((const char *const[]){ "classes=1", "milestones=1,2,3,4,5,6,7,8,9", NULL }, &err));
    expect_msg(err, "9 elements given");
}

Test(options, unknown_key_suggests) {
    cv_error err;
    cr_expect_null(parse((const char *const[]){ "classes=1", "dept=3", NULL }, &err));
    expect_msg(err, "[test] unknown key 'dept'; did you mean 'depth'?");
    expect_msg(err, "valid keys: flag, depth, lr, label, mode, root, milestones, scale, classes");
}

Test(options, later_value_wins_and_where_is_kept) {
    cv_options *o = cv_options_new(schema, "[t]");
    cv_error err;
    cv_error_init(&err);
    cr_assert_eq(cv_options_set(o, "depth", "20", "a.ini:3", &err), CV_OK);
    cr_assert_eq(cv_options_set(o, "depth", "30", "--set", &err), CV_OK);
    cr_assert_eq(cv_options_set(o, "classes", "2", NULL, &err), CV_OK);
    cr_assert_eq(cv_options_finish(o, NULL, &err), CV_OK, "%s", err.message);
    cr_expect_eq(cv_options_get(o, "depth")->i, 30);
    cr_expect_str_eq(cv_options_where(o, 1), "--set");
    cr_expect_null(cv_options_where(o, 2), "defaults have no location");
    cv_options_free(o);
}

static int check(const cv_option_desc *s, cv_error *err) {
    cv_error_init(err);
    return cv_schema_check(s, "model/x", err);
}

Test(options, schema_checks) {
    cv_error err;
    cr_expect_eq(check(schema, &err), CV_OK, "%s", err.message);
    const cv_option_desc dup[] = { CV_OPT_BOOL_("a", "true", ""), CV_OPT_BOOL_("a", "true", ""), CV_OPT_END };
    cr_expect_eq(check(dup, &err), CV_ERR_INVALID);
    expect_msg(err, "model/x: option 'a' is declared twice");
    const cv_option_desc badkey[] = { CV_OPT_BOOL_("Big Key", "true", ""), CV_OPT_END };
    cr_expect_eq(check(badkey, &err), CV_ERR_INVALID);
    expect_msg(err, "keys use only a-z, 0-9 and '_'");
    const cv_option_desc nochoice[] = { CV_OPT_ENUM_("m", NULL, NULL, ""), CV_OPT_END };
    cr_expect_eq(check(nochoice, &err), CV_ERR_INVALID);
    expect_msg(err, "enum option 'm' has no choices");
    const cv_option_desc minmax[] = { CV_OPT_INT_RANGE("n", NULL, 5, 1, ""), CV_OPT_END };
    cr_expect_eq(check(minmax, &err), CV_ERR_INVALID);
    expect_msg(err, "min 5 > max 1");
    const cv_option_desc baddef[] = { CV_OPT_FLOAT_RANGE("p", "2", 0, 1, ""), CV_OPT_END };
    cr_expect_eq(check(baddef, &err), CV_ERR_INVALID);
    expect_msg(err, "invalid default for option 'p'");
    const cv_option_desc badtype[] = { CV_OPT_(42, "t", NULL, "", 0, 0, 0, 0, 0, NULL, 0, 0), CV_OPT_END };
    cr_expect_eq(check(badtype, &err), CV_ERR_INVALID);
    expect_msg(err, "unknown type 42");
    const cv_option_desc counts[] = { CV_OPT_INT_LIST_("l", NULL, 0, 1, 3, 2, ""), CV_OPT_END };
    cr_expect_eq(check(counts, &err), CV_ERR_INVALID);
    expect_msg(err, "list length bounds 3..2");
    cr_expect_eq(check(NULL, &err), CV_OK, "no options is fine");
}

Test(options, expected_texts) {
    char buf[256];
    cv_option_expected(&schema[0], buf, sizeof buf);
    cr_expect_str_eq(buf, "true or false");
    cv_option_expected(&schema[6], buf, sizeof buf);
    cr_expect_str_eq(buf, "a comma-separated list of at most 8 integers in [0, 1000]");
    cv_option_expected(&schema[3], buf, sizeof buf);
    cr_expect_str_eq(buf, "a string");
    cr_expect_str_eq(cv_opt_type_name(CV_OPT_FLOAT_LIST), "float list");
}

Test(options, edit_distance_and_nearest) {
    cr_expect_eq(cv_edit_distance("kitten", "sitting"), 3);
    cr_expect_eq(cv_edit_distance("", "abc"), 3);
    cr_expect_eq(cv_edit_distance("Depth", "depth"), 0, "case-insensitive");
    const char *c[] = { "momentum", "weight_decay", "nesterov" };
    cr_expect_str_eq(cv_nearest("momentun", c, 3), "momentum");
    cr_expect_str_eq(cv_nearest("weight_decy", c, 3), "weight_decay");
    cr_expect_null(cv_nearest("lr", c, 3), "nothing close");
    cr_expect_str_eq(cv_nearest_key("lrr", schema), "lr");
}

Test(options, host_opt_is_the_table_entry) {
    cv_ctx *ctx = cv_ctx_create();
    cv_error err;
    cv_options *o = parse((const char *const[]){ "classes=7", NULL }, &err);
    cr_assert_not_null(o);
    cr_expect_eq(ctx->host.opt(o, "classes")->i, 7);
    cr_expect_null(ctx->host.opt(o, "missing"));
    cv_options_free(o);
    cv_ctx_destroy(ctx);
}
