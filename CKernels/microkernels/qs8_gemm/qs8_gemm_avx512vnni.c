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
#define MK_QG_TARGET MK_TARGET_AVX512VNNI
#include "qs8_requant_avx512.h"

MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_zero(void) { return _mm512_setzero_si512(); }
MK_QG_TARGET MK_INLINE mk_qg_a mk_qg_a_of(uint32_t u) {
    return _mm512_set1_epi32((int)(u ^ 0x80808080u));
}
MK_QG_TARGET MK_INLINE mk_qg_b mk_qg_b_load(const int8_t* p) { return _mm512_loadu_si512(p); }
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_dot(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return _mm512_dpbusd_epi32(acc, a, b);
}
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_sum(mk_qg_acc acc) { return acc; }

#include "qs8_gemm_template.h"

MK_QG_DEFINE(mk_qs8_igemm_ukernel_7x32c4__avx512vnni, 7, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_7x16c4__avx512vnni, 7, 1)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x32c4__avx512vnni, 1, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x16c4__avx512vnni, 1, 1)

#endif
