// qs8 igemm microkernels, portable C: 4x4 and 4x2 tiles (one column per "vector") and 1x4.
#include "qs8_gemm.h"

#include <math.h>

typedef int32_t mk_qg_acc;
typedef uint32_t mk_qg_a;
typedef const int8_t* mk_qg_b;
typedef int32_t mk_qg_i32;
typedef float mk_qg_f32;
#define MK_QG_OW 1
#define MK_QG_TARGET

MK_INLINE mk_qg_acc mk_qg_zero(void) { return 0; }
MK_INLINE mk_qg_a mk_qg_a_of(uint32_t u) { return u; }
MK_INLINE mk_qg_b mk_qg_b_load(const int8_t* p) { return p; }
MK_INLINE mk_qg_acc mk_qg_dot(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    for (int i = 0; i < 4; i++) acc += (int32_t)(int8_t)(uint8_t)(a >> (8 * i)) * (int32_t)b[i];
    return acc;
}
MK_INLINE mk_qg_i32 mk_qg_sum(mk_qg_acc acc) { return acc; }
MK_INLINE mk_qg_i32 mk_qg_load_i32(const int32_t* p) { return *p; }
MK_INLINE mk_qg_f32 mk_qg_load_f32(const float* p) { return *p; }
MK_INLINE mk_qg_i32 mk_qg_load_res(const int8_t* p, size_t n) { (void)n; return *p; }
MK_INLINE void mk_qg_store(int8_t* p, mk_qg_i32 v, size_t n) { (void)n; *p = (int8_t)v; }
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

#include "qs8_gemm_template.h"

MK_QG_DEFINE(mk_qs8_igemm_ukernel_4x4c4__scalar, 4, 4)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_4x2c4__scalar, 4, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x4c4__scalar, 1, 4)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x2c4__scalar, 1, 2)
