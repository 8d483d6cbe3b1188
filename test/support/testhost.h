/* test/support/testhost.h — helpers for tests that load built plugins through the
 * real host (registry, option validation) without the CLI.  The build folder comes
 * from $CVNETS_BUILD (set by `make test`), the source tree from $CVNETS_SRC. */
#ifndef CV_TEST_TESTHOST_H
#define CV_TEST_TESTHOST_H

#include <cvnets/cvnets.h>
#include "host.h"

/* A fresh host context (log level: warnings) — destroy with th_ctx_free. */
cv_ctx *th_ctx_new(void);
void th_ctx_free(cv_ctx *ctx);

/* Load build/lib/cvnets/plugins/cvnets-<kind>-<name>.so into ctx and return the
 * descriptor registered under (kind, name); fails the current test otherwise. */
const cv_component_desc *th_load(cv_ctx *ctx, const char *kind, const char *name);

/* Validate "key=value" strings (NULL-terminated list, may be NULL) against the
 * descriptor's schema, then create the component.  extra (may be NULL) supplies
 * the other create-args fields (num_classes, dataset_length, …); its host/opts
 * are filled in here.  Fails the current test on any error. */
void *th_create(cv_ctx *ctx, const cv_component_desc *d, const char *const *kv, const cv_create_args *extra);
/* Same, but returns the status and leaves the message in err (for bad-input tests). */
int th_try_create(cv_ctx *ctx, const cv_component_desc *d, const char *const *kv,
                  const cv_create_args *extra, void **self, cv_error *err);
void th_destroy(const cv_component_desc *d, void *self);

/* Paths: $CVNETS_BUILD/<rel> and $CVNETS_SRC/<rel> (static buffers, one per call site ok). */
const char *th_build_path(const char *rel);
const char *th_src_path(const char *rel);

#endif
