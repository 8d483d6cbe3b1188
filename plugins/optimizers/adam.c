/* plugins/optimizers/adam.c — Adam with coupled (L2) weight decay. */
#define ADAM_NAME "adam"
#define ADAM_DECOUPLED 0
#define ADAM_SUMMARY "Adam; weight decay is an L2 term added to the gradient"
#include "adam_impl.h"
