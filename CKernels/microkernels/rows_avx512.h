// The channel-row vocabulary of avx512 (see rows_template.h).
#ifndef MK_ROWS_AVX512_H
#define MK_ROWS_AVX512_H

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

#endif
