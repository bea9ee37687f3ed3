// The fused epilogue on 16 floats (AVX-512). Same operations and order as epilogue_scalar.h.
#ifndef MK_EPILOGUE_AVX512_H
#define MK_EPILOGUE_AVX512_H

#if defined(__x86_64__)
#include <immintrin.h>

#include "../common/internal.h"

MK_TARGET_AVX512 MK_INLINE __mmask16 mk_avx512_tail_mask(size_t n) {
    return (__mmask16)((1u << n) - 1u);
}

// vmaxps/vminps return the second operand when either is NaN: x goes second so NaN survives.
MK_TARGET_AVX512 MK_INLINE __m512 mk_epilogue_f32x16(__m512 x, mk_epilogue_kind kind, __m512 lo,
                                                     __m512 hi) {
    switch (kind) {
        case MK_EPILOGUE_IDENTITY:
            return x;
        case MK_EPILOGUE_MINMAX:
            return _mm512_min_ps(hi, _mm512_max_ps(lo, x));
        case MK_EPILOGUE_HARDSWISH: {
            __m512 t = _mm512_add_ps(x, _mm512_set1_ps(3.0f));
            t = _mm512_min_ps(_mm512_set1_ps(6.0f), _mm512_max_ps(_mm512_setzero_ps(), t));
            return _mm512_mul_ps(_mm512_mul_ps(x, t), _mm512_set1_ps(MK_ONE_SIXTH));
        }
        case MK_EPILOGUE_HARDSIGMOID: {
            __m512 t = _mm512_add_ps(x, _mm512_set1_ps(3.0f));
            t = _mm512_min_ps(_mm512_set1_ps(6.0f), _mm512_max_ps(_mm512_setzero_ps(), t));
            return _mm512_mul_ps(t, _mm512_set1_ps(MK_ONE_SIXTH));
        }
    }
    return x;
}

#endif
#endif
