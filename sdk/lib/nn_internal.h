/* sdk/lib/nn_internal.h — helpers shared by the SDK's nn_*.c files, not installed. */
#ifndef CV_SDK_NN_INTERNAL_H
#define CV_SDK_NN_INTERNAL_H

#include <cvnets/nn.h>

/* Push each dot-separated part of name as a scope ("mlp.0" -> "mlp", "0");
 * returns the count to pass to cv_nn_pop_n_.  NULL or "" pushes nothing. */
int cv_nn_push_path_(const cv_nn *nn, const char *name);
void cv_nn_pop_n_(const cv_nn *nn, int n);

#endif
