// Depthwise microkernels, NEON (aarch64): 4-channel tiles (one q register). The last partial
// tile goes through a 4-float buffer, so nothing past the last channel is read or written.
//   3x3 rows: 9 weight + 1 bias registers resident, 8 output pixels per step (32 registers).
//   5x5 rows: 25 weight registers, 4 output pixels per step.
//   up4c: generic taps, 4 tiles (16 channels) per step.
#include "dwconv.h"

#if defined(__aarch64__)
#include <string.h>

#include "../epilogue_neon.h"

typedef float32x4_t mk_dw_vec;
typedef size_t mk_dw_mask_t;  // the number of valid lanes
#define MK_DW_T 4
#define MK_DW_TARGET

MK_INLINE mk_dw_mask_t mk_dw_mask(size_t nc) { return nc; }
MK_INLINE mk_dw_vec mk_dw_load(const float* p, mk_dw_mask_t m, bool full) {
    if (full) return vld1q_f32(p);
    float buffer[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(buffer, p, m * sizeof(float));
    return vld1q_f32(buffer);
}
MK_INLINE mk_dw_vec mk_dw_loadw(const float* p) { return vld1q_f32(p); }
MK_INLINE void mk_dw_store(float* p, mk_dw_vec v, mk_dw_mask_t m, bool full) {
    if (full) {
        vst1q_f32(p, v);
    } else {
        float buffer[4];
        vst1q_f32(buffer, v);
        memcpy(p, buffer, m * sizeof(float));
    }
}
MK_INLINE mk_dw_vec mk_dw_fma(mk_dw_vec a, mk_dw_vec b, mk_dw_vec c) { return vfmaq_f32(c, a, b); }
MK_INLINE mk_dw_vec mk_dw_splat(float x) { return vdupq_n_f32(x); }
MK_INLINE mk_dw_vec mk_dw_epilogue(mk_dw_vec v, mk_epilogue_kind kind, mk_dw_vec lo, mk_dw_vec hi) {
    return mk_epilogue_f32x4(v, kind, lo, hi);
}

#include "dwconv_template.h"

MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_3x3s1_row8x4c__neon, 3, 1, 8)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_3x3s2_row8x4c__neon, 3, 2, 8)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_5x5s1_row4x4c__neon, 5, 1, 4)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_5x5s2_row4x4c__neon, 5, 2, 4)
MK_DW_DEFINE_PIXEL(mk_f32_dwconv_ukernel_up4c__neon)

#endif
