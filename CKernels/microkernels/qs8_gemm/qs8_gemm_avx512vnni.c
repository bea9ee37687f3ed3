// qs8 igemm microkernels, AVX-512 VNNI: vpdpbusd multiplies four unsigned bytes of its first
// source by four signed bytes of its second, which may be a broadcast from memory. The weights
// are the unsigned operand (packed w ^ 0x80 = w + 128) and A the signed one, broadcast straight
// from memory: no per-broadcast work on the shuffle port, which vpdpbusd zmm itself needs. Each
// row's sums gain 128 * sum_k a, subtracted through `row_offset` (mk_qs8_row_offsets__avx512vnni,
// once per row tile for all its column tiles). 7x32 (14 zmm accumulators, two weight vectors)
// and 7x16 for column remainders; 1x32 / 1x16 for fewer pixels than 7.
#include "qs8_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

typedef __m512i mk_qg_acc;
typedef __m512i mk_qg_a;
typedef __m512i mk_qg_b;
#define MK_QG_TARGET MK_TARGET_AVX512VNNI
#define MK_QG_ROW_OFFSET 1
#include "qs8_requant_avx512.h"

MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_zero(void) { return _mm512_setzero_si512(); }
MK_QG_TARGET MK_INLINE mk_qg_a mk_qg_a_of(uint32_t u) { return _mm512_set1_epi32((int)u); }
MK_QG_TARGET MK_INLINE mk_qg_b mk_qg_b_load(const int8_t* p) { return _mm512_loadu_si512(p); }
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_dot(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return _mm512_dpbusd_epi32(acc, b, a);
}
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_sum(mk_qg_acc acc) { return acc; }

#include "qs8_gemm_template.h"

MK_QG_DEFINE(mk_qs8_igemm_ukernel_7x32c4__avx512vnni, 7, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_7x16c4__avx512vnni, 7, 1)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x32c4__avx512vnni, 1, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x16c4__avx512vnni, 1, 1)

// -128 * each row's sum of A: vpdpbusd of 64 bytes against unsigned ones, the tail masked.
MK_QG_TARGET void mk_qs8_row_offsets__avx512vnni(size_t MR, size_t kc, size_t ks,
                                                 const int8_t* const* a, int32_t* out) {
    const __m512i ones = _mm512_set1_epi8(1);
    const size_t kfull = kc & ~(size_t)63;
    const __mmask64 tail = kc - kfull != 0 ? ((__mmask64)1 << (kc - kfull)) - 1 : 0;
    for (size_t m = 0; m < MR; m++) {
        __m512i acc = _mm512_setzero_si512();
        for (size_t t = 0; t < ks; t++) {
            const int8_t* p = a[t * MR + m];
            for (size_t k = 0; k < kfull; k += 64) {
                acc = _mm512_dpbusd_epi32(acc, ones, _mm512_loadu_si512(p + k));
            }
            if (tail != 0) acc = _mm512_dpbusd_epi32(acc, ones, _mm512_maskz_loadu_epi8(tail, p + kfull));
        }
        out[m] = (int32_t)(0u - 128u * (uint32_t)_mm512_reduce_add_epi32(acc));
    }
}

#endif
