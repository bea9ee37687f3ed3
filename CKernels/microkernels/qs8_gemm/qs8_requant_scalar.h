// The qs8 requantization vocabulary on one lane (portable C), for the scalar microkernels;
// MK_QG_TARGET is the including file's (empty).
#ifndef MK_QS8_REQUANT_SCALAR_H
#define MK_QS8_REQUANT_SCALAR_H

#include <math.h>

typedef int32_t mk_qg_i32;
typedef float mk_qg_f32;
#define MK_QG_OW 1

MK_INLINE mk_qg_i32 mk_qg_load_i32(const int32_t* p) { return *p; }
MK_INLINE mk_qg_f32 mk_qg_load_f32(const float* p) { return *p; }
MK_INLINE mk_qg_i32 mk_qg_load_res(const int8_t* p, size_t n) { (void)n; return *p; }
MK_INLINE void mk_qg_store(int8_t* p, mk_qg_i32 v, size_t n) { (void)n; *p = (int8_t)v; }
MK_INLINE void mk_qg_store_f32(float* p, mk_qg_f32 v, size_t n) { (void)n; *p = v; }
// Wrapping int32 addition, as the vector instructions do.
MK_INLINE mk_qg_i32 mk_qg_add_i32(mk_qg_i32 a, mk_qg_i32 b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}
MK_INLINE mk_qg_i32 mk_qg_splat_i32(int32_t x) { return x; }
MK_INLINE mk_qg_f32 mk_qg_splat_f32(float x) { return x; }
MK_INLINE mk_qg_f32 mk_qg_cvt(mk_qg_i32 x) { return (float)x; }
MK_INLINE mk_qg_f32 mk_qg_mul(mk_qg_f32 a, mk_qg_f32 b) { return a * b; }
MK_INLINE mk_qg_f32 mk_qg_fma(mk_qg_f32 a, mk_qg_f32 b, mk_qg_f32 c) { return fmaf(a, b, c); }
MK_INLINE mk_qg_f32 mk_qg_max(mk_qg_f32 a, mk_qg_f32 b) { return a > b ? a : b; }
MK_INLINE mk_qg_f32 mk_qg_min(mk_qg_f32 a, mk_qg_f32 b) { return a < b ? a : b; }
// Nearest, ties to even, for |x| < 2^22 (the clamp keeps |x| <= 255): adding and subtracting
// 1.5 * 2^23 leaves the integer that the default rounding mode picks, as cvtps2dq does.
MK_INLINE mk_qg_i32 mk_qg_round(mk_qg_f32 x) {
    const float magic = 12582912.0f;  // IEEE arithmetic: (x + magic) - magic is not folded
    return (int32_t)((x + magic) - magic);
}

#endif
