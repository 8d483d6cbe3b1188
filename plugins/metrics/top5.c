/* plugins/metrics/top5.c — top-5 accuracy in percent (every sample counts as
 * correct when there are 5 classes or fewer). */
#define TOPK_K 5
#define TOPK_NAME "top5"
#define TOPK_SUMMARY "top-5 accuracy in percent"
#include "topk_impl.h"
