/* cvnets/cvnets.h — the whole plugin SDK in one include. */
#ifndef CVNETS_CVNETS_H
#define CVNETS_CVNETS_H
#include "abi.h"
#include "options.h"
#include "ops.h"
#include "backend.h"
#include "components.h"
#endif
