// Pooling and elementwise microkernels, portable C (SSE2 at most on x86-64): 16-channel blocks
// (4 xmm), then 4, then a plain loop for the last 1..3 channels.
#include "pool.h"

#define MK_PL_TARGET
#define MK_PL_SUFFIX scalar
#define MK_PL_VEC 4
#define MK_PL_BLOCK 16
#define MK_PL_FC_BLOCK 16
#define MK_PL_TAIL
#include "pool_template.h"
