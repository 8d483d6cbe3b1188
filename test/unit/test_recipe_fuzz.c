/* test/unit/test_recipe_fuzz.c — mutated recipes and option texts never crash
 * the host: each one either loads or fails with a message that names the file.
 * Deterministic (fixed seeds), a few hundred cases, well under a second; run it
 * under ASan (make SAN=1 test) to catch memory errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "recipe.h"
#include "support/testhost.h"
#include "support/tmpdir.h"

static const char *const seed_recipe =
    "[run]\ndevice = fx\nepochs = 3\nseed = 7\n\n"
    "[dataset]\nname = fx\nroot = /data\n\n"
    "[model]\nname = fx\nvariant = small\nwidths = 1.0, 2.0\n\n"
    "[transforms]\ntrain = good\n\n"
    "[transform.good]\nlevel = 100\nscale = 0.1, 0.9\nmode = keep\n";

/* bytes that tend to matter to an INI parser, plus arbitrary ones */
static const char interesting[] = "[]=;#:, \t\n\r.\\\"'0-9e";

Test(recipe_fuzz, mutated_recipes_fail_cleanly) {
    const char *dir = tmp_dir_new();
    static const char *const fx[][2] = {
        { "fx_model", "cvnets-model-fx.so" }, { "fx_dataset", "cvnets-dataset-fx.so" },
        { "fx_backend", "cvnets-backend-fx.so" }, { "fx_top1", "cvnets-metric-top1.so" },
        { "fx_loss_metric", "cvnets-metric-loss.so" }, { "good", "cvnets-transform-good.so" },
    };
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) tmp_put_fixture_as(dir, fx[i][0], fx[i][1]);
    cv_ctx *ctx = th_ctx_new();
    cv_registry_use_defaults(ctx->registry, 0, 0);
    cv_registry_add_dirs(ctx->registry, dir);

    size_t base_len = strlen(seed_recipe);
    char text[1024], path[4200];
    snprintf(path, sizeof path, "%s/fuzz.ini", dir);
    cv_rng rng;
    int ok = 0, failed = 0;
    for (int iter = 0; iter < 300; iter++) {
        cv_rng_init(&rng, 12345, (const uint64_t[]){ (uint64_t)iter }, 1);
        memcpy(text, seed_recipe, base_len + 1);
        size_t len = base_len;
        int edits = iter == 0 ? 0 : 1 + (int)(cv_rng_u64(&rng) % 3); /* iteration 0: the valid seed */
        for (int e = 0; e < edits; e++) {
            size_t at = len ? (size_t)(cv_rng_u64(&rng) % len) : 0;
            uint64_t r = cv_rng_u64(&rng);
            char c = r & 1 ? interesting[(r >> 8) % (sizeof interesting - 1)] : (char)(r >> 16);
            switch ((r >> 4) % 3) {
            case 0: text[at] = c; break;                               /* replace */
            case 1:                                                    /* insert */
                if (len + 1 < sizeof text) {
                    memmove(text + at + 1, text + at, len - at + 1);
                    text[at] = c;
                    len++;
                }
                break;
            default:                                                   /* delete */
                if (len) {
                    memmove(text + at, text + at + 1, len - at);
                    len--;
                }
                break;
            }
        }
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        fwrite(text, 1, len, f);
        fclose(f);
        cv_recipe *rec = NULL;
        cv_error err;
        cv_error_init(&err);
        int rc = cv_recipe_load(ctx, path, NULL, 0, &rec, &err);
        if (rc == CV_OK) {
            cr_assert_not_null(rec);
            FILE *null = fopen("/dev/null", "w");
            cr_expect_eq(cv_recipe_write(rec, null), CV_OK);
            fclose(null);
            cv_recipe_free(rec);
            ok++;
        } else {
            cr_assert_neq(iter, 0, "the unmutated recipe must load: %s", err.message);
            if (iter < 6) cr_log_info("iteration %d: %s", iter, err.message);
            cr_assert_null(rec);
            cr_assert(err.message[0], "iteration %d: failure without a message", iter);
            cr_assert(strstr(err.message, "fuzz.ini") || strstr(err.message, "plugin"),
                      "iteration %d: the message does not say where: %s", iter, err.message);
            failed++;
        }
    }
    cr_log_info("fuzzed recipes: %d loaded, %d refused", ok, failed);
    cr_expect_gt(failed, 0);
    th_ctx_free(ctx);
    tmp_cleanup();
}

Test(recipe_fuzz, random_option_texts_fail_cleanly) {
    static const char *const choices[] = { "a", "bb", NULL };
    static const cv_option_desc schema[] = {
        CV_OPT_BOOL_("b", NULL, ""),
        CV_OPT_INT_RANGE("i", NULL, -5, 5, ""),
        CV_OPT_FLOAT_RANGE("f", NULL, 0, 1, ""),
        CV_OPT_ENUM_("e", NULL, choices, ""),
        CV_OPT_INT_LIST_("il", NULL, 0, 9, 0, 3, ""),
        CV_OPT_FLOAT_LIST_("fl", NULL, -1, 1, 1, 0, ""),
        CV_OPT_PATH_("p", NULL, ""),
        CV_OPT_END,
    };
    const char alphabet[] = "0123456789-+.,e xnaib\t";
    cv_rng rng;
    cv_rng_init(&rng, 99, NULL, 0);
    for (int iter = 0; iter < 2000; iter++) {
        char text[24];
        int n = (int)(cv_rng_u64(&rng) % (sizeof text - 1));
        for (int k = 0; k < n; k++) text[k] = alphabet[cv_rng_u64(&rng) % (sizeof alphabet - 1)];
        text[n] = 0;
        const cv_option_desc *d = &schema[cv_rng_u64(&rng) % 7];
        cv_value v;
        cv_error err;
        cv_error_init(&err);
        if (cv_value_parse(d, text, &v, "fuzz", "[x]", &err) == CV_OK) {
            cr_assert(v.is_set);
            if (d->type == CV_OPT_INT) cr_assert(v.i >= -5 && v.i <= 5, "'%s' -> %lld", text, (long long)v.i);
            if (d->type == CV_OPT_FLOAT) cr_assert(v.f >= 0 && v.f <= 1, "'%s' -> %g", text, v.f);
            if (d->type == CV_OPT_INT_LIST) cr_assert(v.count <= 3);
            if (d->type == CV_OPT_FLOAT_LIST) cr_assert(v.count >= 1);
            cv_value_clear(&v);
        } else {
            cr_assert(strstr(err.message, "fuzz: [x] "), "'%s': %s", text, err.message);
        }
    }
}
