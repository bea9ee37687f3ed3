// Pooling window microkernels, AVX-512: 64-channel blocks (4 zmm), then 16, then one
// masked step (k registers) for the last 1..15 channels.
#include "pool.h"

#if defined(__x86_64__)
#include "../rows_avx512.h"
#include "pool_template.h"
#endif
