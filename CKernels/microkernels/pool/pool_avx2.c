// Pooling window microkernels, AVX2: 32-channel blocks (4 ymm), then 8, then one
// predicated step (vmaskmovps: disabled lanes are neither read nor written) for the last 1..7.
#include "pool.h"

#if defined(__x86_64__)
#include "../rows_avx2.h"
#include "pool_template.h"
#endif
