// qs8 depthwise microkernel, AVX-512 (F/BW): 16 channels per block; a pair of taps' bytes
// interleaved (vpunpck{l,h}bw), widened to int16 (vpmovsxbw zmm) and multiplied by the packed
// weight pairs (vpmaddwd), 16 int32 sums in channel order; masked loads and stores for the
// last block.
#include "qs8_dwconv.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MK_QG_TARGET MK_TARGET_AVX512

#include "../qs8_gemm/qs8_requant_avx512.h"

#define MK_QD_T 16
typedef __m512i mk_qd_acc;

MK_QG_TARGET MK_INLINE mk_qd_acc mk_qd_zero(void) { return _mm512_setzero_si512(); }
MK_QG_TARGET MK_INLINE mk_qd_acc mk_qd_pair(mk_qd_acc acc, const int8_t* x0, const int8_t* x1,
                                            const int8_t* w, size_t n) {
    const __m128i a = _mm_maskz_loadu_epi8(mk_qg_mask(n), x0);
    const __m128i b = _mm_maskz_loadu_epi8(mk_qg_mask(n), x1);
    const __m256i pairs = _mm256_set_m128i(_mm_unpackhi_epi8(a, b), _mm_unpacklo_epi8(a, b));
    const __m512i x = _mm512_cvtepi8_epi16(pairs);
    const __m512i wv = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i*)w));
    return _mm512_add_epi32(acc, _mm512_madd_epi16(x, wv));
}

#include "../qs8_gemm/qs8_requant_template.h"

MK_QG_TARGET MK_INLINE void mk_qd_store(mk_qd_acc acc, int8_t* out, size_t c0, size_t n,
                                        const mk_qs8_requant* rq) {
    mk_qg_requant(acc, out, NULL, c0, n, rq);
}

#include "qs8_dwconv_template.h"

MK_QD_DEFINE(mk_qs8_dwconv_ukernel_up16__avx512)

#endif
