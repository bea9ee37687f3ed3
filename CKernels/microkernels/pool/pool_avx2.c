// Pooling window microkernels, AVX2 (the channel blocks of rows_avx2.h): 32-channel blocks (4 ymm),
// then 8; the last 1..7 channels one vector overlapping the one before (below 8 channels, a
// predicated step: vmaskmovps neither reads nor writes the disabled lanes).
#include "pool.h"

#if defined(__x86_64__)
#include "../rows_avx2.h"
#include "pool_template.h"
#endif
