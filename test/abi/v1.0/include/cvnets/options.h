/* cvnets/options.h — option schemas: how a component declares the recipe keys it
 * accepts, so the host can validate a recipe section before creating anything,
 * print `cvnets help KIND/NAME`, and fill defaults into the resolved recipe. */
#ifndef CVNETS_OPTIONS_H
#define CVNETS_OPTIONS_H

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One option.  Defaults are written as recipe text ("0.1", "true", "a, b",
 * "1, 2, 3") so they are parsed and checked by the same code as the recipe;
 * default_value NULL means "no default" (the key is then optional and unset,
 * unless required).  For numbers and lists of numbers, min/max bound every
 * element when has_min/has_max is set.  choices is a NULL-terminated list for
 * CV_OPT_ENUM. */
typedef struct cv_option_desc {
    uint32_t struct_size;
    int32_t type;              /* cv_opt_type */
    const char *key;
    const char *default_value;
    const char *help;
    int32_t required;
    int32_t has_min, has_max;
    double min, max;
    const char *const *choices;
    int32_t min_count, max_count; /* list length bounds (0 = unbounded) */
} cv_option_desc;

/* Helpers for static schema tables.  Example:
 *   static const cv_option_desc opts[] = {
 *       CV_OPT_INT_RANGE("depth", "50", 18, 101, "ResNet depth"),
 *       CV_OPT_END };                                                        */
#define CV_OPT_(ty, k, def, hlp, req, hmin, mn, hmax, mx, ch, cmin, cmax) \
    { sizeof(cv_option_desc), ty, k, def, hlp, req, hmin, hmax, mn, mx, ch, cmin, cmax }
#define CV_OPT_BOOL_(k, def, hlp) CV_OPT_(CV_OPT_BOOL, k, def, hlp, 0, 0, 0, 0, 0, NULL, 0, 0)
#define CV_OPT_INT_RANGE(k, def, mn, mx, hlp) CV_OPT_(CV_OPT_INT, k, def, hlp, 0, 1, mn, 1, mx, NULL, 0, 0)
#define CV_OPT_FLOAT_RANGE(k, def, mn, mx, hlp) CV_OPT_(CV_OPT_FLOAT, k, def, hlp, 0, 1, mn, 1, mx, NULL, 0, 0)
#define CV_OPT_STRING_(k, def, hlp) CV_OPT_(CV_OPT_STRING, k, def, hlp, 0, 0, 0, 0, 0, NULL, 0, 0)
#define CV_OPT_PATH_(k, def, hlp) CV_OPT_(CV_OPT_PATH, k, def, hlp, 0, 0, 0, 0, 0, NULL, 0, 0)
#define CV_OPT_ENUM_(k, def, choices, hlp) CV_OPT_(CV_OPT_ENUM, k, def, hlp, 0, 0, 0, 0, 0, choices, 0, 0)
#define CV_OPT_INT_LIST_(k, def, mn, mx, cmin, cmax, hlp) CV_OPT_(CV_OPT_INT_LIST, k, def, hlp, 0, 1, mn, 1, mx, NULL, cmin, cmax)
#define CV_OPT_FLOAT_LIST_(k, def, mn, mx, cmin, cmax, hlp) CV_OPT_(CV_OPT_FLOAT_LIST, k, def, hlp, 0, 1, mn, 1, mx, NULL, cmin, cmax)
#define CV_OPT_END { 0, 0, NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, 0, 0 }

#ifdef __cplusplus
}
#endif
#endif
