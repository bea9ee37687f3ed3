// qs8 igemm microkernels, AVX2 (no VNNI): A's four bytes and four k of four columns widened to
// int16 (vpmovsxbw) and multiplied pairwise into int32 (vpmaddwd: |a w| <= 128 * 127, so a pair
// never overflows; vpmaddubsw's saturating int16 sums are avoided). An accumulator of 8 columns
// is two ymm of (column, k pair) partial sums, added pairwise at the end (vphaddd). 4x8 (8 ymm
// accumulators), 1x8.
#include "qs8_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

typedef struct {
    __m256i lo, hi;  // columns 0-3 and 4-7, two partial sums each
} mk_qg_acc;
typedef __m256i mk_qg_a;
typedef mk_qg_acc mk_qg_b;
#define MK_QG_TARGET MK_TARGET_AVX2

MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_zero(void) {
    return (mk_qg_acc){_mm256_setzero_si256(), _mm256_setzero_si256()};
}
MK_QG_TARGET MK_INLINE mk_qg_a mk_qg_a_of(uint32_t u) {
    return _mm256_cvtepi8_epi16(_mm_set1_epi32((int)u));  // a0..a3 four times, int16
}
MK_QG_TARGET MK_INLINE mk_qg_b mk_qg_b_load(const int8_t* p) {
    return (mk_qg_b){_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)p)),
                     _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(p + 16)))};
}
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_dot(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return (mk_qg_acc){_mm256_add_epi32(acc.lo, _mm256_madd_epi16(a, b.lo)),
                       _mm256_add_epi32(acc.hi, _mm256_madd_epi16(a, b.hi))};
}
// [c0 c1 c4 c5 | c2 c3 c6 c7] from the pairwise sums, then the 64-bit lanes in order.
MK_QG_TARGET MK_INLINE __m256i mk_qg_sum(mk_qg_acc acc) {
    return _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc.lo, acc.hi), 0xD8);
}

#include "qs8_requant_avx2.h"
#include "qs8_gemm_template.h"

MK_QG_DEFINE(mk_qs8_igemm_ukernel_4x8c4__avx2, 4, 1)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x8c4__avx2, 1, 1)

#endif
