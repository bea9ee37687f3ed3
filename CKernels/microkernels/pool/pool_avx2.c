// Pooling and elementwise microkernels, AVX2: 32-channel blocks (4 ymm), then 8, then one
// predicated step (vmaskmovps: disabled lanes are neither read nor written) for the last 1..7.
#include "pool.h"

#if defined(__x86_64__)
#define MK_PL_TARGET MK_TARGET_AVX2
#define MK_PL_SUFFIX avx2
#define MK_PL_VEC 8
#define MK_PL_BLOCK 32
#define MK_PL_FC_BLOCK 64
#if defined(__clang__)
#define MK_PL_TAIL \
    _Pragma("clang loop vectorize(enable) vectorize_predicate(enable) vectorize_width(8) interleave_count(1)")
#else
#define MK_PL_TAIL
#endif
#include "pool_template.h"
#endif
