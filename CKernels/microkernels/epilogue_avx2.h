// The fused epilogue on 8 floats (AVX2). Same operations and order as epilogue_scalar.h.
#ifndef MK_EPILOGUE_AVX2_H
#define MK_EPILOGUE_AVX2_H

#if defined(__x86_64__)
#include <immintrin.h>

#include "../common/internal.h"

// Tail masks: load 8 lanes from mk_avx2_mask_table + 8 - n to enable the first n lanes.
extern const int32_t mk_avx2_mask_table[16];

MK_TARGET_AVX2 MK_INLINE __m256i mk_avx2_tail_mask(size_t n) {
    return _mm256_loadu_si256((const __m256i*)(mk_avx2_mask_table + 8 - n));
}

// vmaxps/vminps return the second operand when either is NaN: x goes second so NaN survives.
MK_TARGET_AVX2 MK_INLINE __m256 mk_epilogue_f32x8(__m256 x, mk_epilogue_kind kind, __m256 lo,
                                                  __m256 hi) {
    switch (kind) {
        case MK_EPILOGUE_IDENTITY:
            return x;
        case MK_EPILOGUE_MINMAX:
            return _mm256_min_ps(hi, _mm256_max_ps(lo, x));
        case MK_EPILOGUE_HARDSWISH: {
            __m256 t = _mm256_add_ps(x, _mm256_set1_ps(3.0f));
            t = _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(_mm256_setzero_ps(), t));
            return _mm256_mul_ps(_mm256_mul_ps(x, t), _mm256_set1_ps(MK_ONE_SIXTH));
        }
        case MK_EPILOGUE_HARDSIGMOID: {
            __m256 t = _mm256_add_ps(x, _mm256_set1_ps(3.0f));
            t = _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(_mm256_setzero_ps(), t));
            return _mm256_mul_ps(t, _mm256_set1_ps(MK_ONE_SIXTH));
        }
    }
    return x;
}

#endif
#endif
