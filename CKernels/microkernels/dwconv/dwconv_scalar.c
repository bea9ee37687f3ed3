// Depthwise microkernels, portable C: 4-channel tiles held as a struct of 4 floats, so the same
// bodies as the SIMD kernels apply; the compiler may vectorize them, nothing requires it. Rows
// use 2-pixel blocks: larger unrolled blocks of scalar code cost minutes of compile time.
#include "dwconv.h"

#include "../epilogue_scalar.h"

typedef struct {
    float v[4];
} mk_dw_vec;
typedef size_t mk_dw_mask_t;  // the number of valid lanes
#define MK_DW_T 4
#define MK_DW_TARGET

MK_INLINE mk_dw_mask_t mk_dw_mask(size_t nc) { return nc; }
MK_INLINE mk_dw_vec mk_dw_load(const float* p, mk_dw_mask_t m, bool full) {
    mk_dw_vec r = {{0.0f, 0.0f, 0.0f, 0.0f}};
    size_t n = full ? 4 : m;
    for (size_t i = 0; i < n; i++) r.v[i] = p[i];
    return r;
}
MK_INLINE mk_dw_vec mk_dw_loadw(const float* p) { return mk_dw_load(p, 4, true); }
MK_INLINE void mk_dw_store(float* p, mk_dw_vec v, mk_dw_mask_t m, bool full) {
    size_t n = full ? 4 : m;
    for (size_t i = 0; i < n; i++) p[i] = v.v[i];
}
MK_INLINE mk_dw_vec mk_dw_fma(mk_dw_vec a, mk_dw_vec b, mk_dw_vec c) {
    for (int i = 0; i < 4; i++) c.v[i] += a.v[i] * b.v[i];
    return c;
}
MK_INLINE mk_dw_vec mk_dw_splat(float x) { return (mk_dw_vec){{x, x, x, x}}; }
MK_INLINE mk_dw_vec mk_dw_epilogue(mk_dw_vec v, mk_epilogue_kind kind, mk_dw_vec lo, mk_dw_vec hi) {
    for (int i = 0; i < 4; i++) v.v[i] = mk_epilogue_f32(v.v[i], kind, lo.v[i], hi.v[i]);
    return v;
}

#include "dwconv_template.h"

MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_3x3s1_row2x4c__scalar, 3, 1, 2)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_3x3s2_row2x4c__scalar, 3, 2, 2)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_5x5s1_row2x4c__scalar, 5, 1, 2)
MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_5x5s2_row2x4c__scalar, 5, 2, 2)
MK_DW_DEFINE_PIXEL(mk_f32_dwconv_ukernel_up4c__scalar)
