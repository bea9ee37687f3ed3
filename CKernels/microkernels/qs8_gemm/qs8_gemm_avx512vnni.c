// qs8 igemm microkernels, AVX-512 VNNI: vpdpbusd multiplies four unsigned bytes of its first
// source by four signed bytes of its second, which may be a broadcast from memory. Two forms
// (see qs8_gemm.h): `fn_ua` takes A flipped by the driver (mk_qs8_flip__avx512vnni, once per
// row tile or chunk of tiles) as the unsigned operand against signed weights, the correction
// in the bias; `fn` and `fn_sums` take the weights flipped (w ^ 0x80 = w + 128) and A signed, broadcast straight
// from memory, each row's sums gaining 128 * sum_k a, subtracted through `row_offset`
// (mk_qs8_row_offsets__avx512vnni once per row tile, or the first tile's own sums). Neither does
// per-broadcast work on the shuffle port, which vpdpbusd zmm itself needs. 7x32 (14 zmm
// accumulators, two weight vectors) and 7x16 for column remainders; 1x32 / 1x16 for fewer
// pixels than 7.
#include "qs8_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

typedef __m512i mk_qg_acc;
typedef __m512i mk_qg_a;
typedef __m512i mk_qg_b;
#define MK_QG_TARGET MK_TARGET_AVX512VNNI
#define MK_QG_ROW_OFFSET 1
#include "qs8_requant_avx512.h"

MK_QG_TARGET MK_INLINE mk_qg_a mk_qg_a_of(uint32_t u) { return _mm512_set1_epi32((int)u); }
MK_QG_TARGET MK_INLINE mk_qg_b mk_qg_b_load(const int8_t* p) { return _mm512_loadu_si512(p); }
MK_QG_TARGET MK_INLINE mk_qg_b mk_qg_b_splat128(void) { return _mm512_set1_epi8((char)0x80); }
MK_QG_TARGET MK_INLINE int32_t mk_qg_lane0(mk_qg_i32 v) { return _mm_cvtsi128_si32(_mm512_castsi512_si128(v)); }
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_sub_i32(mk_qg_i32 a, mk_qg_i32 b) { return _mm512_sub_epi32(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_dot(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return _mm512_dpbusd_epi32(acc, b, a);
}
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_dot_ua(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return _mm512_dpbusd_epi32(acc, a, b);
}

// Two rows of 32 columns at once: each vector scaled in float and rounded; the four packed with
// signed saturation to int16, then to int8 in one of three forms (`form`, a constant), the dwords
// put back in order, one 32-byte store per row:
//   MK_QG_SATURATE: the zero point added in int16 (saturating), packed with signed saturation,
//     which is the clamp where the output's bounds are all of int8;
//   MK_QG_CLAMP: the same, then clamped in int8;
//   MK_QG_RELU: where the lower bound is the zero point itself (rq->lo == 0: ReLU, ReLU6), the
//     int16 values packed with unsigned saturation (clamp(q, 0, 255)), limited to hi - lo
//     (unsigned) and the zero point added in int8 (wrapping, exact there): two operations per
//     two rows fewer than MK_QG_CLAMP.
// The same bits as mk_qg_requant_biased: lo and hi are integers, so clamping after rounding is
// clamping before, and saturation (to int16, then int8) only moves values that lie past the
// clamp's bounds, which lie in int8. Rounding must not overflow int32 for that (cvtps2dq
// returns INT32_MIN for any float out of range): where the op could not prove
// |sum * scale| < 2^30 (`bounded`, rq->bounded), the float is clamped from above first, as
// mk_qg_requant_biased does.
typedef struct mk_qg_pair {
    __m512 m0, m1, hi_f;
    __m512i zp, lo, hi, order;
    int form;  // MK_QG_SATURATE, MK_QG_CLAMP or MK_QG_RELU (then lo: zero point bytes, hi: hi - lo)
} mk_qg_pair;

MK_QG_TARGET MK_INLINE mk_qg_pair mk_qg_pair_prepare(const mk_qs8_requant* rq) {
    int32_t lo = (int32_t)rq->lo + rq->zero_point, hi = (int32_t)rq->hi + rq->zero_point;
    lo = lo < -128 ? -128 : lo > 127 ? 127 : lo;  // the output bytes' bounds (in [-128, 127])
    hi = hi < -128 ? -128 : hi > 127 ? 127 : hi;
    // (Unbounded sums take MK_QG_CLAMP, whose lo and hi are the bounds in every other form too.)
    const int form = lo == -128 && hi == 127 ? MK_QG_SATURATE
                     : rq->bounded && rq->lo == 0.0f && hi >= lo ? MK_QG_RELU : MK_QG_CLAMP;
    return (mk_qg_pair){.m0 = _mm512_loadu_ps(rq->scale), .m1 = _mm512_loadu_ps(rq->scale + 16),
                        .hi_f = _mm512_set1_ps(rq->hi), .zp = _mm512_set1_epi16((short)rq->zero_point),
                        .lo = _mm512_set1_epi8((char)lo),
                        .hi = _mm512_set1_epi8((char)(form == MK_QG_RELU ? hi - lo : hi)),
                        .order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0),
                        .form = form};
}

MK_QG_TARGET MK_INLINE __m512i mk_qg_pair_round(__m512i s, __m512 m, const mk_qg_pair* p, const bool bounded) {
    __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(s), m);
    if (!bounded) x = _mm512_min_ps(x, p->hi_f);
    return _mm512_cvtps_epi32(x);
}

#define MK_QG_PAIR_STORE 1
MK_QG_TARGET MK_INLINE void mk_qg_pair_store(__m512i s00, __m512i s01, __m512i s10, __m512i s11, int8_t* row0,
                                             int8_t* row1, const mk_qg_pair* p, const bool bounded,
                                             const int form) {
    __m512i w0 = _mm512_packs_epi32(mk_qg_pair_round(s00, p->m0, p, bounded), mk_qg_pair_round(s01, p->m1, p, bounded));
    __m512i w1 = _mm512_packs_epi32(mk_qg_pair_round(s10, p->m0, p, bounded), mk_qg_pair_round(s11, p->m1, p, bounded));
    // Lane l of the bytes: s00[4l..4l+3], s01[4l..], s10[4l..], s11[4l..] (dwords 4l .. 4l+3).
    __m512i b;
    if (form == MK_QG_RELU) {  // q >= 0 by unsigned saturation, q <= hi - lo, then + lo (= zero point)
        b = _mm512_add_epi8(_mm512_min_epu8(_mm512_packus_epi16(w0, w1), p->hi), p->lo);
    } else {
        b = _mm512_packs_epi16(_mm512_adds_epi16(w0, p->zp), _mm512_adds_epi16(w1, p->zp));
        if (form == MK_QG_CLAMP) b = _mm512_min_epi8(_mm512_max_epi8(b, p->lo), p->hi);
    }
    b = _mm512_permutexvar_epi32(p->order, b);
    _mm256_storeu_si256((__m256i*)(void*)row0, _mm512_castsi512_si256(b));
    // (A masked store of the upper half at row1 - 32 instead of the extraction: 1-2% slower.)
    if (row1 != NULL) _mm256_storeu_si256((__m256i*)(void*)row1, _mm512_extracti64x4_epi64(b, 1));
}

#include "qs8_gemm_template.h"

MK_QG_DEFINE(mk_qs8_igemm_ukernel_7x32c4__avx512vnni, 7, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_7x16c4__avx512vnni, 7, 1)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x32c4__avx512vnni, 1, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x16c4__avx512vnni, 1, 1)

// The sums of rows [m0, m0 + rows) of A (rows <= 8, a constant where inlined: the accumulators
// stay in registers), one int32 vector per row whose lanes add up to the row's sum.
MK_QG_TARGET MK_INLINE void mk_qs8_row_sums(const size_t rows, size_t MR, size_t m0, size_t kc, size_t ks,
                                            const int8_t* const* a, __m512i acc[8]) {
    const __m512i ones = _mm512_set1_epi8(1);
    const size_t kfull = kc & ~(size_t)63;
    const __mmask64 tail = kc - kfull != 0 ? ((__mmask64)1 << (kc - kfull)) - 1 : 0;
    MK_UNROLL for (size_t m = 0; m < 8; m++) acc[m] = _mm512_setzero_si512();
    for (size_t t = 0; t < ks; t++) {
        MK_UNROLL for (size_t m = 0; m < rows; m++) {
            const int8_t* p = a[t * MR + m0 + m];
            for (size_t k = 0; k < kfull; k += 64) acc[m] = _mm512_dpbusd_epi32(acc[m], ones, _mm512_loadu_si512(p + k));
            if (tail != 0) acc[m] = _mm512_dpbusd_epi32(acc[m], ones, _mm512_maskz_loadu_epi8(tail, p + kfull));
        }
    }
}

// -128 * each row's sum of A: vpdpbusd of 64 bytes against unsigned ones (the tail masked) into
// one register accumulator per row, taps outer so the rows' chains interleave, then the rows'
// accumulators summed together (a transposing add tree: about 5 operations per row instead of
// a 16-lane reduction each).
MK_QG_TARGET void mk_qs8_row_offsets__avx512vnni(size_t MR, size_t kc, size_t ks,
                                                 const int8_t* const* a, int32_t* out) {
    for (size_t m0 = 0; m0 < MR; m0 += 8) {
        const size_t rows = MR - m0 < 8 ? MR - m0 : 8;
        __m512i acc[8];
        if (rows == 7) {
            mk_qs8_row_sums(7, MR, m0, kc, ks, a, acc);
        } else if (rows == 1) {
            mk_qs8_row_sums(1, MR, m0, kc, ks, a, acc);
        } else {  // other tiles: a row at a time
            for (size_t m = 0; m < 8; m++) acc[m] = _mm512_setzero_si512();
            for (size_t m = 0; m < rows; m++) {
                __m512i one[8];
                mk_qs8_row_sums(1, MR, m0 + m, kc, ks, a, one);
                acc[m] = one[0];
            }
        }
        __m256i h[8];
        MK_UNROLL for (size_t m = 0; m < 8; m++) {
            h[m] = _mm256_add_epi32(_mm512_castsi512_si256(acc[m]), _mm512_extracti64x4_epi64(acc[m], 1));
        }
        const __m256i y0 = _mm256_hadd_epi32(_mm256_hadd_epi32(h[0], h[1]), _mm256_hadd_epi32(h[2], h[3]));
        const __m256i y1 = _mm256_hadd_epi32(_mm256_hadd_epi32(h[4], h[5]), _mm256_hadd_epi32(h[6], h[7]));
        const __m128i z0 = _mm_add_epi32(_mm256_castsi256_si128(y0), _mm256_extracti128_si256(y0, 1));
        const __m128i z1 = _mm_add_epi32(_mm256_castsi256_si128(y1), _mm256_extracti128_si256(y1, 1));
        // -128 * sum, wrapping: (0 - sum) << 7.
        const __m256i sums = _mm256_set_m128i(z1, z0);
        int32_t result[8];
        _mm256_storeu_si256((__m256i*)result, _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), sums), 7));
        for (size_t m = 0; m < rows; m++) out[m0 + m] = result[m];
    }
}

// The flipped copy of A for the kernels' `fn_ua` form: rows[i] (n bytes each) ^ 0x80 to
// dst + i * n, and rows[i] pointed there.
MK_QG_TARGET void mk_qs8_flip__avx512vnni(const int8_t** rows, size_t count, size_t n, int8_t* dst) {
    const __m512i bit = _mm512_set1_epi8((char)0x80);
    const size_t full = n & ~(size_t)63;
    const __mmask64 tail = n > full ? ((__mmask64)1 << (n - full)) - 1 : 0;
    for (size_t r = 0; r < count; r++, dst += n) {
        const int8_t* src = rows[r];
        for (size_t i = 0; i < full; i += 64) {
            _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), bit));
        }
        if (tail != 0) {
            _mm512_mask_storeu_epi8(dst + full, tail, _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail, src + full), bit));
        }
        rows[r] = dst;
    }
}

#endif
