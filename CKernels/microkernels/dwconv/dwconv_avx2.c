// Depthwise microkernels, AVX2+FMA: 8-channel tiles (one ymm). Full tiles use plain loads and
// stores; the last partial tile uses vmaskmovps (no access past the last channel).
//   rows: 4 output pixels per step; with 16 ymm registers some of the KxK weights are read as
//   FMA memory operands from L1.
//   up8c: generic taps, 4 tiles (32 channels) per step.
#include "dwconv.h"

#if defined(__x86_64__)
#include "../epilogue_avx2.h"

typedef __m256 mk_dw_vec;
typedef __m256i mk_dw_mask_t;
#define MK_DW_T 8
#define MK_DW_TARGET MK_TARGET_AVX2

MK_DW_TARGET MK_INLINE mk_dw_mask_t mk_dw_mask(size_t nc) { return mk_avx2_tail_mask(nc); }
MK_DW_TARGET MK_INLINE mk_dw_vec mk_dw_load(const float* p, mk_dw_mask_t m, bool full) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}
MK_DW_TARGET MK_INLINE mk_dw_vec mk_dw_loadw(const float* p) { return _mm256_load_ps(p); }
MK_DW_TARGET MK_INLINE void mk_dw_store(float* p, mk_dw_vec v, mk_dw_mask_t m, bool full) {
    if (full) {
        _mm256_storeu_ps(p, v);
    } else {
        _mm256_maskstore_ps(p, m, v);
    }
}
MK_DW_TARGET MK_INLINE mk_dw_vec mk_dw_fma(mk_dw_vec a, mk_dw_vec b, mk_dw_vec c) {
    return _mm256_fmadd_ps(a, b, c);
}
MK_DW_TARGET MK_INLINE mk_dw_vec mk_dw_splat(float x) { return _mm256_set1_ps(x); }
MK_DW_TARGET MK_INLINE mk_dw_vec mk_dw_epilogue(mk_dw_vec v, mk_epilogue_kind kind, mk_dw_vec lo,
                                                mk_dw_vec hi) {
    return mk_epilogue_f32x8(v, kind, lo, hi);
}

#include "dwconv_template.h"

MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_3x3s1_row4x8c__avx2, 3, 1, 4)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_3x3s2_row4x8c__avx2, 3, 2, 4)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_5x5s1_row4x8c__avx2, 5, 1, 4)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_5x5s2_row4x8c__avx2, 5, 2, 4)
MK_DW_DEFINE_PIXEL(mk_f32_dwconv_ukernel_up8c__avx2)

#endif
