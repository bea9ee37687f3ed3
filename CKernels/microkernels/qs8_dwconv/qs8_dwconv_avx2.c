// qs8 depthwise microkernel, AVX2: 8 channels per block; a pair of taps' bytes interleaved
// (vpunpcklbw), widened to int16 (vpmovsxbw) and multiplied by the packed weight pairs
// (vpmaddwd), 8 int32 sums in channel order.
#include "qs8_dwconv.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MK_QG_TARGET MK_TARGET_AVX2
#include "../qs8_gemm/qs8_requant_avx2.h"

#define MK_QD_T 8
typedef __m256i mk_qd_acc;

MK_QG_TARGET MK_INLINE __m128i mk_qd_load8(const int8_t* p, size_t n) {
    int64_t bytes = 0;
    if (n == 8) {
        memcpy(&bytes, p, 8);
    } else {
        memcpy(&bytes, p, n);
    }
    return _mm_cvtsi64_si128(bytes);
}
MK_QG_TARGET MK_INLINE mk_qd_acc mk_qd_zero(void) { return _mm256_setzero_si256(); }
MK_QG_TARGET MK_INLINE mk_qd_acc mk_qd_pair(mk_qd_acc acc, const int8_t* x0, const int8_t* x1,
                                            const int8_t* w, size_t n) {
    const __m256i x = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(mk_qd_load8(x0, n), mk_qd_load8(x1, n)));
    const __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)w));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(x, wv));
}

#include "../qs8_gemm/qs8_requant_template.h"

MK_QG_TARGET MK_INLINE void mk_qd_store(mk_qd_acc acc, int8_t* out, size_t c0, size_t n,
                                        const mk_qs8_requant* rq) {
    mk_qg_requant(acc, out, NULL, c0, n, rq);
}

#include "qs8_dwconv_template.h"

MK_QD_DEFINE(mk_qs8_dwconv_ukernel_up8__avx2)

#endif
