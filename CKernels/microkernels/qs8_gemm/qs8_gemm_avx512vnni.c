// qs8 igemm microkernels, AVX-512 VNNI: vpdpbusd multiplies four unsigned A bytes by four signed
// weights per int32 lane, so A's sign bit is flipped (a + 128; the packed bias subtracts
// 128 * sum_k w). 7x32 (14 zmm accumulators, two weight vectors, the A bytes broadcast) and 7x16
// for column remainders; 1x32 / 1x16 for fewer pixels than 7.
#include "qs8_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

typedef __m512i mk_qg_acc;
typedef __m512i mk_qg_a;
typedef __m512i mk_qg_b;
typedef __m512i mk_qg_i32;
typedef __m512 mk_qg_f32;
#define MK_QG_OW 16
#define MK_QG_TARGET MK_TARGET_AVX512VNNI

MK_QG_TARGET MK_INLINE __mmask16 mk_qg_mask(size_t n) { return (__mmask16)((1u << n) - 1u); }
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_zero(void) { return _mm512_setzero_si512(); }
MK_QG_TARGET MK_INLINE mk_qg_a mk_qg_a_of(uint32_t u) {
    return _mm512_set1_epi32((int)(u ^ 0x80808080u));
}
MK_QG_TARGET MK_INLINE mk_qg_b mk_qg_b_load(const int8_t* p) { return _mm512_loadu_si512(p); }
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_dot(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return _mm512_dpbusd_epi32(acc, a, b);
}
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_sum(mk_qg_acc acc) { return acc; }
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_load_i32(const int32_t* p) { return _mm512_loadu_si512(p); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_load_f32(const float* p) { return _mm512_loadu_ps(p); }
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_load_res(const int8_t* p, size_t n) {
    return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mk_qg_mask(n), p));
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
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_round(mk_qg_f32 x) {
    return _mm512_cvt_roundps_epi32(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

#include "qs8_gemm_template.h"

MK_QG_DEFINE(mk_qs8_igemm_ukernel_7x32c4__avx512vnni, 7, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_7x16c4__avx512vnni, 7, 1)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x32c4__avx512vnni, 1, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x16c4__avx512vnni, 1, 1)

#endif
