// Pooling window microkernels, portable C (SSE2 at most on x86-64): 16-channel blocks
// (4 xmm), then 4, then a plain loop for the last 1..3 channels.
#include "pool.h"

#include "../rows_scalar.h"
#include "pool_template.h"
