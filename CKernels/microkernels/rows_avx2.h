// The channel-row vocabulary of avx2 (see rows_template.h).
#ifndef MK_ROWS_AVX2_H
#define MK_ROWS_AVX2_H

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

#endif
