// Depthwise microkernels, AVX-512: 16-channel tiles (one zmm), masked channel tails.
//   3x3 rows: 9 weight + 1 bias zmm resident, 8 output pixels (8 accumulators) per step.
//   5x5 rows: 25 weight zmm (a few spill to L1), 4 output pixels per step.
//   up16c:    generic taps, 4 tiles (64 channels) per step for 4 independent FMA chains.
#include "dwconv.h"

#if defined(__x86_64__)
#include "../epilogue_avx512.h"

typedef __m512 mk_dw_vec;
typedef __mmask16 mk_dw_mask_t;
#define MK_DW_T 16
#define MK_DW_TARGET MK_TARGET_AVX512

MK_DW_TARGET MK_INLINE mk_dw_mask_t mk_dw_mask(size_t nc) { return mk_avx512_tail_mask(nc); }
MK_DW_TARGET MK_INLINE mk_dw_vec mk_dw_load(const float* p, mk_dw_mask_t m, bool full) {
    return full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}
MK_DW_TARGET MK_INLINE mk_dw_vec mk_dw_loadw(const float* p) { return _mm512_load_ps(p); }
MK_DW_TARGET MK_INLINE void mk_dw_store(float* p, mk_dw_vec v, mk_dw_mask_t m, bool full) {
    if (full) {
        _mm512_storeu_ps(p, v);
    } else {
        _mm512_mask_storeu_ps(p, m, v);
    }
}
MK_DW_TARGET MK_INLINE mk_dw_vec mk_dw_fma(mk_dw_vec a, mk_dw_vec b, mk_dw_vec c) {
    return _mm512_fmadd_ps(a, b, c);
}
MK_DW_TARGET MK_INLINE mk_dw_vec mk_dw_splat(float x) { return _mm512_set1_ps(x); }
MK_DW_TARGET MK_INLINE mk_dw_vec mk_dw_epilogue(mk_dw_vec v, mk_epilogue_kind kind, mk_dw_vec lo,
                                                mk_dw_vec hi) {
    return mk_epilogue_f32x16(v, kind, lo, hi);
}

// AddressSanitizer checks a masked load lane by lane; in the unrolled partial-tile bodies that
// made this one file take 284 s to compile under ASAN (19 s without checking them), most of
// `make test`'s sanitizer build. Those bodies are left uninstrumented: their masked loads and
// stores touch no lane past the tile's channels, and the tests still check them against the
// reference with NaN gaps between pixels and sentinels after the output.
#define MK_DW_PARTIAL_ATTRIBUTES __attribute__((no_sanitize("address")))
#include "dwconv_template.h"

MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_3x3s1_row8x16c__avx512, 3, 1, 8)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_3x3s2_row8x16c__avx512, 3, 2, 8)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_5x5s1_row4x16c__avx512, 5, 1, 4)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_5x5s2_row4x16c__avx512, 5, 2, 4)
MK_DW_DEFINE_PIXEL(mk_f32_dwconv_ukernel_up16c__avx512)

#endif
