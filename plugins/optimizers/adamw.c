/* plugins/optimizers/adamw.c — AdamW: Adam with decoupled weight decay. */
#define ADAM_NAME "adamw"
#define ADAM_DECOUPLED 1
#define ADAM_SUMMARY "AdamW; decoupled weight decay p -= lr * wd * p"
#include "adam_impl.h"
