/* test/support/ce_loss.h — a plain cross-entropy loss component (no smoothing,
 * ignore index -100) for engine tests that build a cv_net without loading plugins. */
#ifndef CV_TEST_CE_LOSS_H
#define CV_TEST_CE_LOSS_H

#include <cvnets/cvnets.h>
#include "engine.h"

cv_component_ref ce_loss(void);

#endif
