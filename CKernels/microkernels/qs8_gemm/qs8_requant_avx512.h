// The qs8 requantization vocabulary on 16 lanes of zmm (AVX-512 F/BW), for the AVX-512 VNNI GEMM
// and the AVX-512 depthwise microkernels; MK_QG_TARGET is the including file's.
#ifndef MK_QS8_REQUANT_AVX512_H
#define MK_QS8_REQUANT_AVX512_H

#include <immintrin.h>

typedef __m512i mk_qg_i32;
typedef __m512 mk_qg_f32;
#define MK_QG_OW 16

MK_QG_TARGET MK_INLINE __mmask16 mk_qg_mask(size_t n) { return (__mmask16)((1u << n) - 1u); }
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_load_i32(const int32_t* p) { return _mm512_loadu_si512(p); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_load_f32(const float* p) { return _mm512_loadu_ps(p); }
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_load_res(const int8_t* p, size_t n) {
    return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mk_qg_mask(n), p));
}
MK_QG_TARGET MK_INLINE void mk_qg_store_f32(float* p, mk_qg_f32 v, size_t n) {
    _mm512_mask_storeu_ps(p, mk_qg_mask(n), v);
}
MK_QG_TARGET MK_INLINE void mk_qg_store(int8_t* p, mk_qg_i32 v, size_t n) {
    _mm512_mask_cvtsepi32_storeu_epi8(p, mk_qg_mask(n), v);
}
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_add_i32(mk_qg_i32 a, mk_qg_i32 b) { return _mm512_add_epi32(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_splat_i32(int32_t x) { return _mm512_set1_epi32(x); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_splat_f32(float x) { return _mm512_set1_ps(x); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_cvt(mk_qg_i32 x) { return _mm512_cvtepi32_ps(x); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_mul(mk_qg_f32 a, mk_qg_f32 b) { return _mm512_mul_ps(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_fma(mk_qg_f32 a, mk_qg_f32 b, mk_qg_f32 c) {
    return _mm512_fmadd_ps(a, b, c);
}
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_max(mk_qg_f32 a, mk_qg_f32 b) { return _mm512_max_ps(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_min(mk_qg_f32 a, mk_qg_f32 b) { return _mm512_min_ps(a, b); }
// cvtps2dq rounds as MXCSR says: nearest, ties to even (the default, which we never change).
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_round(mk_qg_f32 x) { return _mm512_cvtps_epi32(x); }

#endif
