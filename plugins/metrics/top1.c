/* plugins/metrics/top1.c — top-1 accuracy in percent. */
#define TOPK_K 1
#define TOPK_NAME "top1"
#define TOPK_SUMMARY "top-1 accuracy in percent"
#include "topk_impl.h"
