// The AVX-512 qs8 depthwise body (32 channels per block; see qs8_dwconv_avx512.c), over
// MK_QG_TARGET, the AVX-512 requantization vocabulary and MK_QD_DOT(acc, pairs, w): acc plus
// each int32 lane's two int16 products (vpmaddwd + vpaddd, or AVX-512 VNNI's vpdpwssd).
// Defines mk_qd_wide_index, mk_qs8_dwconv_up32_fn and mk_qs8_dwconv_up32_row_fn (static).

// Where weight (pair `pair`, tap `which` of it, channel j < 32 of a block) lives, in int16 units
// from the block's start: accumulator `lo` takes channels 8L..8L+3 of each 128-bit lane L, `hi`
// channels 8L+4..8L+7, each as (first tap, second tap) words.
static size_t mk_qd_wide_index(size_t pair, size_t which, size_t j) {
    const size_t lane = j / 8, e = j % 8;
    return ((pair * 2 + e / 4) * 16 + lane * 4 + e % 4) * 2 + which;
}

// One output pixel's channels [c, c + n) (n <= 32) of block `w`: tap t's bytes at x[t] + offset.
MK_QG_TARGET MK_INLINE void mk_qd_block(size_t taps, const int8_t* const* x, size_t offset, size_t n,
                                        const int8_t* w, int8_t* out, size_t c, const mk_qs8_requant* rq) {
    const __m512i first = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i second = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    const __mmask32 m = n == 32 ? ~(__mmask32)0 : (((__mmask32)1 << n) - 1);
    __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
    for (size_t t = 0; t < taps; t += 2, w += 128) {
        const __m512i a = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, x[t] + offset));
        const __m512i b = t + 1 < taps ? _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, x[t + 1] + offset))
                                       : _mm512_setzero_si512();  // an odd kernel's last tap
        lo = MK_QD_DOT(lo, _mm512_unpacklo_epi16(a, b), _mm512_loadu_si512(w));
        hi = MK_QD_DOT(hi, _mm512_unpackhi_epi16(a, b), _mm512_loadu_si512(w + 64));
    }
    mk_qg_requant(_mm512_permutex2var_epi64(lo, first, hi), out, NULL, c, n < 16 ? n : 16, rq);
    if (n > 16) mk_qg_requant(_mm512_permutex2var_epi64(lo, second, hi), out, NULL, c + 16, n - 16, rq);
}

MK_QG_TARGET static void mk_qs8_dwconv_up32_fn(MK_QS8_DW_ARGS) {
    const size_t block = (taps + 1) / 2 * 128;
    for (size_t c = 0; c < channels; c += 32, w += block) {
        mk_qd_block(taps, x, c, channels - c < 32 ? channels - c : 32, w, out, c, rq);
    }
}

// A row's interior pixels (see qs8_dwconv.h): channel blocks outer, so a block's weights stay
// in L1 over the row; 3x3 and 5x5 with their tap count known at compile time.
MK_QG_TARGET MK_INLINE void mk_qd_row(size_t taps, MK_QS8_DW_ROW_ARGS) {
    const size_t block = (taps + 1) / 2 * 128;
    for (size_t c = 0; c < channels; c += 32, w += block) {
        const size_t n = channels - c < 32 ? channels - c : 32;
        for (size_t i = 0; i < pixels; i++) {
            mk_qd_block(taps, x, i * x_step + c, n, w, out + i * out_step, c, rq);
        }
    }
}

MK_QG_TARGET static void mk_qs8_dwconv_up32_row_fn(MK_QS8_DW_ROW_ARGS_TAPS) {
    if (taps == 9) {
        mk_qd_row(9, pixels, channels, x, x_step, w, out, out_step, rq);
    } else if (taps == 25) {
        mk_qd_row(25, pixels, channels, x, x_step, w, out, out_step, rq);
    } else {
        mk_qd_row(taps, pixels, channels, x, x_step, w, out, out_step, rq);
    }
}

