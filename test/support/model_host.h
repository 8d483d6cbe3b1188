/* test/support/model_host.h — a minimal stand-in for the host, enough to load a
 * model plugin .so, validate "key=value" options against its schema (types,
 * ranges, choices, unknown keys) and create instances, without the core
 * library.  Model tests use it with count_ops.h so they run before and apart
 * from the engine. */
#ifndef CV_TEST_MODEL_HOST_H
#define CV_TEST_MODEL_HOST_H

#include <cvnets/cvnets.h>

typedef struct mh_host mh_host;
typedef struct mh_model {
    const cv_component_desc *desc;
    void *self;
    void *opts; /* mh_options, freed by mh_model_free */
} mh_model;

/* Load $CVNETS_BUILD/lib/cvnets/plugins/cvnets-model-<name>.so (build/ when
 * unset); NULL with a message in err on failure. */
mh_host *mh_load(const char *name, cv_error *err);
void mh_free(mh_host *h);
const cv_host *mh_host_table(mh_host *h);
const cv_component_desc *mh_desc(mh_host *h);

/* kv: NULL-terminated "key=value" list (may be NULL).  Returns CV_OK and fills
 * *m, or a status with the message in err. */
int mh_create(mh_host *h, const char *const *kv, int num_classes, int in_channels, mh_model *m, cv_error *err);
void mh_model_free(mh_model *m);
const cv_model_vtable *mh_vtable(const mh_model *m);

#endif
