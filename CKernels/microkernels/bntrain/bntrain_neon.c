// Training-mode BatchNorm and activation-gradient microkernels, neon (the channel blocks of rows_neon.h).
#include "bntrain.h"

#if defined(__aarch64__)
#include "../rows_neon.h"
#include "bntrain_template.h"
#endif
