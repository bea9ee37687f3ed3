// The qs8 requantization vocabulary on 8 lanes of ymm (AVX2 + FMA), for the AVX2 and AVX-VNNI
// microkernels; MK_QG_TARGET is the including file's.
#ifndef MK_QS8_REQUANT_AVX2_H
#define MK_QS8_REQUANT_AVX2_H

#include <immintrin.h>
#include <string.h>

typedef __m256i mk_qg_i32;
typedef __m256 mk_qg_f32;
#define MK_QG_OW 8

MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_load_i32(const int32_t* p) {
    return _mm256_loadu_si256((const __m256i*)p);
}
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_load_f32(const float* p) { return _mm256_loadu_ps(p); }
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_load_res(const int8_t* p, size_t n) {
    int64_t bytes = 0;
    if (n == 8) {
        memcpy(&bytes, p, 8);
    } else {
        memcpy(&bytes, p, n);
    }
    return _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(bytes));
}
MK_QG_TARGET MK_INLINE void mk_qg_store_f32(float* p, mk_qg_f32 v, size_t n) {
    float values[8];
    _mm256_storeu_ps(values, v);
    memcpy(p, values, n * sizeof(float));
}
MK_QG_TARGET MK_INLINE void mk_qg_store(int8_t* p, mk_qg_i32 v, size_t n) {
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const int64_t bytes = _mm_cvtsi128_si64(_mm_packs_epi16(w, w));
    if (n == 8) {
        memcpy(p, &bytes, 8);
    } else {
        memcpy(p, &bytes, n);
    }
}
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_add_i32(mk_qg_i32 a, mk_qg_i32 b) { return _mm256_add_epi32(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_splat_i32(int32_t x) { return _mm256_set1_epi32(x); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_splat_f32(float x) { return _mm256_set1_ps(x); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_cvt(mk_qg_i32 x) { return _mm256_cvtepi32_ps(x); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_mul(mk_qg_f32 a, mk_qg_f32 b) { return _mm256_mul_ps(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_fma(mk_qg_f32 a, mk_qg_f32 b, mk_qg_f32 c) {
    return _mm256_fmadd_ps(a, b, c);
}
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_max(mk_qg_f32 a, mk_qg_f32 b) { return _mm256_max_ps(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_min(mk_qg_f32 a, mk_qg_f32 b) { return _mm256_min_ps(a, b); }
// cvtps2dq rounds as MXCSR says: nearest, ties to even (the default, which we never change).
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_round(mk_qg_f32 x) { return _mm256_cvtps_epi32(x); }

#endif
