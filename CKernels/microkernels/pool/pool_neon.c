// Pooling and elementwise microkernels, NEON (aarch64): 32-channel blocks (8 q registers), then
// 4, then a plain loop for the last 1..3 channels (NEON has no predicated loads).
#include "pool.h"

#if defined(__aarch64__)
#define MK_PL_TARGET
#define MK_PL_SUFFIX neon
#define MK_PL_VEC 4
#define MK_PL_BLOCK 32
#define MK_PL_FC_BLOCK 64
#define MK_PL_TAIL
#include "pool_template.h"
#endif
