// Pooling window microkernels, AVX-512 (the channel blocks of rows_avx512.h): 64-channel blocks
// (4 zmm), then 16; the last 1..15 channels one vector overlapping the one before (below 16
// channels, a masked step).
#include "pool.h"

#if defined(__x86_64__)
#include "../rows_avx512.h"
#include "pool_template.h"
#endif
