// The qs8 requantization vocabulary on 4 lanes of NEON, for the NEON and NEON dot microkernels;
// MK_QG_TARGET is the including file's.
#ifndef MK_QS8_REQUANT_NEON_H
#define MK_QS8_REQUANT_NEON_H

#include <arm_neon.h>
#include <string.h>

typedef int32x4_t mk_qg_i32;
typedef float32x4_t mk_qg_f32;
#define MK_QG_OW 4

MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_load_i32(const int32_t* p) { return vld1q_s32(p); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_load_f32(const float* p) { return vld1q_f32(p); }
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_load_res(const int8_t* p, size_t n) {
    int8_t bytes[8] = {0};
    memcpy(bytes, p, n);
    return vmovl_s16(vget_low_s16(vmovl_s8(vld1_s8(bytes))));
}
MK_QG_TARGET MK_INLINE void mk_qg_store(int8_t* p, mk_qg_i32 v, size_t n) {
    const int16x4_t w = vqmovn_s32(v);
    int8_t bytes[8];
    vst1_s8(bytes, vqmovn_s16(vcombine_s16(w, w)));
    memcpy(p, bytes, n);
}
MK_QG_TARGET MK_INLINE void mk_qg_store_f32(float* p, mk_qg_f32 v, size_t n) {
    float values[4];
    vst1q_f32(values, v);
    memcpy(p, values, n * sizeof(float));
}
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_add_i32(mk_qg_i32 a, mk_qg_i32 b) { return vaddq_s32(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_splat_i32(int32_t x) { return vdupq_n_s32(x); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_splat_f32(float x) { return vdupq_n_f32(x); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_cvt(mk_qg_i32 x) { return vcvtq_f32_s32(x); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_mul(mk_qg_f32 a, mk_qg_f32 b) { return vmulq_f32(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_fma(mk_qg_f32 a, mk_qg_f32 b, mk_qg_f32 c) {
    return vfmaq_f32(c, a, b);
}
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_max(mk_qg_f32 a, mk_qg_f32 b) { return vmaxq_f32(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_f32 mk_qg_min(mk_qg_f32 a, mk_qg_f32 b) { return vminq_f32(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_i32 mk_qg_round(mk_qg_f32 x) { return vcvtnq_s32_f32(x); }

#endif
