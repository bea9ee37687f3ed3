// igemm microkernels, portable C: 4x4 (16 scalar accumulators) and 4x2 for tails of <= 2.
// The "vector" is one float, so the same body as the SIMD kernels applies.
#include "gemm.h"

#include "../epilogue_scalar.h"

typedef float mk_gm_vec;
#define MK_GM_W 1
#define MK_GM_TARGET

MK_INLINE mk_gm_vec mk_gm_zero(void) { return 0.0f; }
MK_INLINE mk_gm_vec mk_gm_load(const float* p) { return *p; }
MK_INLINE mk_gm_vec mk_gm_load_n(const float* p, size_t n) { return n > 0 ? *p : 0.0f; }
MK_INLINE void mk_gm_store(float* p, mk_gm_vec v) { *p = v; }
MK_INLINE void mk_gm_store_n(float* p, mk_gm_vec v, size_t n) {
    if (n > 0) *p = v;
}
MK_INLINE mk_gm_vec mk_gm_bcast(const float* p) { return *p; }
MK_INLINE mk_gm_vec mk_gm_splat(float x) { return x; }
// a * b + acc (the compiler may contract it to an fma where the target has one).
MK_INLINE mk_gm_vec mk_gm_fma(mk_gm_vec a, mk_gm_vec b, mk_gm_vec acc) { return acc + a * b; }
MK_INLINE mk_gm_vec mk_gm_add(mk_gm_vec a, mk_gm_vec b) { return a + b; }
MK_INLINE mk_gm_vec mk_gm_epilogue(mk_gm_vec v, mk_epilogue_kind kind, mk_gm_vec lo, mk_gm_vec hi) {
    return mk_epilogue_f32(v, kind, lo, hi);
}

#include "gemm_template.h"

MK_GM_DEFINE(mk_f32_igemm_ukernel_4x4__scalar, 4, 4)
MK_GM_DEFINE(mk_f32_igemm_ukernel_4x2__scalar, 4, 2)
MK_GM_DEFINE(mk_f32_igemm_ukernel_1x4__scalar, 1, 4)
MK_GM_DEFINE(mk_f32_igemm_ukernel_1x2__scalar, 1, 2)
