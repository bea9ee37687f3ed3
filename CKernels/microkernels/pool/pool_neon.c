// Pooling window microkernels, NEON (aarch64): 32-channel blocks (8 q registers), then
// 4, then a plain loop for the last 1..3 channels (NEON has no predicated loads).
#include "pool.h"

#if defined(__aarch64__)
#include "../rows_neon.h"
#include "pool_template.h"
#endif
