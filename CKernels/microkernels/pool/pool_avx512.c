// Pooling and elementwise microkernels, AVX-512: 64-channel blocks (4 zmm), then 16, then one
// masked step (k registers) for the last 1..15 channels.
#include "pool.h"

#if defined(__x86_64__)
#define MK_PL_TARGET MK_TARGET_AVX512
#define MK_PL_SUFFIX avx512
#define MK_PL_VEC 16
#define MK_PL_BLOCK 64
#define MK_PL_FC_BLOCK 256
#if defined(__clang__)
#define MK_PL_TAIL \
    _Pragma("clang loop vectorize(enable) vectorize_predicate(enable) vectorize_width(16) interleave_count(1)")
#else
#define MK_PL_TAIL
#endif
#include "pool_template.h"
#endif
