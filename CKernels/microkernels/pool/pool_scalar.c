// Pooling window microkernels, portable C (SSE2 at most on x86-64; rows_scalar.h): 16-channel
// blocks (4 xmm), then 4; the last 1..3 channels one vector overlapping the one before (below 4
// channels, a plain loop).
#include "pool.h"

#include "../rows_scalar.h"
#include "pool_template.h"
