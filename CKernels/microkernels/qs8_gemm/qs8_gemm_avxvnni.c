// qs8 igemm microkernels, AVX-VNNI (vpdpbusd on ymm, VEX-encoded: no AVX-512 needed): A's sign
// bit flipped as for AVX-512 VNNI. 6x16 (12 ymm accumulators), 6x8 for column remainders, 1x16.
#include "qs8_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

typedef __m256i mk_qg_acc;
typedef __m256i mk_qg_a;
typedef __m256i mk_qg_b;
#define MK_QG_TARGET MK_TARGET_AVXVNNI

MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_zero(void) { return _mm256_setzero_si256(); }
MK_QG_TARGET MK_INLINE mk_qg_a mk_qg_a_of(uint32_t u) {
    return _mm256_set1_epi32((int)(u ^ 0x80808080u));
}
MK_QG_TARGET MK_INLINE mk_qg_b mk_qg_b_load(const int8_t* p) {
    return _mm256_loadu_si256((const __m256i*)p);
}
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_dot(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return _mm256_dpbusd_avx_epi32(acc, a, b);
}
MK_QG_TARGET MK_INLINE __m256i mk_qg_sum(mk_qg_acc acc) { return acc; }

#include "qs8_requant_avx2.h"
#include "qs8_gemm_template.h"

MK_QG_DEFINE(mk_qs8_igemm_ukernel_6x16c4__avxvnni, 6, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_6x8c4__avxvnni, 6, 1)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x16c4__avxvnni, 1, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x8c4__avxvnni, 1, 1)

#endif
