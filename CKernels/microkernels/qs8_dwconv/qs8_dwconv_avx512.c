// qs8 depthwise microkernel, AVX-512 (F/BW): 32 channels per block. Each tap's 32 bytes are
// widened to int16 once (vpmovsxbw zmm), a pair of taps interleaved in 16-bit words within each
// 128-bit lane (vpunpck{l,h}wd) and multiplied by weight pairs packed as int16 in that same order
// (vpmaddwd, two accumulators): per pair of taps 4 shuffle-port operations for 32 channels (the
// byte-interleaving form took 5 for 16). One qword permutation per block and pixel restores the
// channel order before the requantization; masked loads and stores for the last block.
#include "qs8_dwconv.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MK_QG_TARGET MK_TARGET_AVX512

#include "../qs8_gemm/qs8_requant_avx512.h"
#include "../qs8_gemm/qs8_requant_template.h"

// Where weight (pair `pair`, tap `which` of it, channel j < 32 of a block) lives, in int16 units
// from the block's start: accumulator `lo` takes channels 8L..8L+3 of each 128-bit lane L, `hi`
// channels 8L+4..8L+7, each as (first tap, second tap) words.
static size_t mk_qd_wide_index(size_t pair, size_t which, size_t j) {
    const size_t lane = j / 8, e = j % 8;
    return ((pair * 2 + e / 4) * 16 + lane * 4 + e % 4) * 2 + which;
}

MK_QG_TARGET static void mk_qs8_dwconv_up32_fn(MK_QS8_DW_ARGS) {
    const size_t pairs = (taps + 1) / 2;
    const __m512i first = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i second = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    for (size_t c = 0; c < channels; c += 32) {
        const size_t n = channels - c < 32 ? channels - c : 32;
        const __mmask32 m = n == 32 ? ~(__mmask32)0 : (((__mmask32)1 << n) - 1);
        __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
        for (size_t p = 0; p < pairs; p++) {
            const int8_t* x0 = x[2 * p] + c;
            const int8_t* x1 = 2 * p + 1 < taps ? x[2 * p + 1] + c : x0;  // weight 0
            const __m512i a = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, x0));
            const __m512i b = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, x1));
            lo = _mm512_add_epi32(lo, _mm512_madd_epi16(_mm512_unpacklo_epi16(a, b), _mm512_loadu_si512(w)));
            hi = _mm512_add_epi32(hi, _mm512_madd_epi16(_mm512_unpackhi_epi16(a, b), _mm512_loadu_si512(w + 64)));
            w += 128;
        }
        mk_qg_requant(_mm512_permutex2var_epi64(lo, first, hi), out, NULL, c, n < 16 ? n : 16, rq);
        if (n > 16) mk_qg_requant(_mm512_permutex2var_epi64(lo, second, hi), out, NULL, c + 16, n - 16, rq);
    }
}

const mk_qs8_dwconv_kernel mk_qs8_dwconv_ukernel_up32__avx512 = {32, mk_qs8_dwconv_up32_fn,
                                                                 mk_qd_wide_index};

#endif
