// Pooling window microkernels, NEON (aarch64; rows_neon.h): 32-channel blocks (8 q registers),
// then 4; the last 1..3 channels one vector overlapping the one before (below 4 channels, a
// plain loop: NEON has no predicated loads).
#include "pool.h"

#if defined(__aarch64__)
#include "../rows_neon.h"
#include "pool_template.h"
#endif
