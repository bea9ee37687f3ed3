// igemm microkernels, NEON (aarch64): 6x8 (12 q accumulators, 2 weight vectors, the A element
// duplicated by ld1r) and 6x4 for output-channel tails of <= 4. Column tails of a vector go
// through a 4-float buffer, so nothing past the last column is read or written.
#include "gemm.h"

#if defined(__aarch64__)
#include <string.h>

#include "../epilogue_neon.h"

typedef float32x4_t mk_gm_vec;
#define MK_GM_W 4
#define MK_GM_TARGET

MK_INLINE mk_gm_vec mk_gm_zero(void) { return vdupq_n_f32(0.0f); }
MK_INLINE mk_gm_vec mk_gm_load(const float* p) { return vld1q_f32(p); }
MK_INLINE mk_gm_vec mk_gm_load_n(const float* p, size_t n) {
    float buffer[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(buffer, p, n * sizeof(float));
    return vld1q_f32(buffer);
}
MK_INLINE void mk_gm_store(float* p, mk_gm_vec v) { vst1q_f32(p, v); }
MK_INLINE void mk_gm_store_n(float* p, mk_gm_vec v, size_t n) {
    float buffer[4];
    vst1q_f32(buffer, v);
    memcpy(p, buffer, n * sizeof(float));
}
MK_INLINE mk_gm_vec mk_gm_bcast(const float* p) { return vld1q_dup_f32(p); }
MK_INLINE mk_gm_vec mk_gm_splat(float x) { return vdupq_n_f32(x); }
MK_INLINE mk_gm_vec mk_gm_fma(mk_gm_vec a, mk_gm_vec b, mk_gm_vec acc) { return vfmaq_f32(acc, a, b); }
MK_INLINE mk_gm_vec mk_gm_add(mk_gm_vec a, mk_gm_vec b) { return vaddq_f32(a, b); }
MK_INLINE mk_gm_vec mk_gm_epilogue(mk_gm_vec v, mk_epilogue_kind kind, mk_gm_vec lo, mk_gm_vec hi) {
    return mk_epilogue_f32x4(v, kind, lo, hi);
}

#include "gemm_template.h"

MK_GM_DEFINE(mk_f32_igemm_ukernel_6x8__neon, 6, 2)
MK_GM_DEFINE(mk_f32_igemm_ukernel_6x4__neon, 6, 1)

MK_GM_DEFINE(mk_f32_igemm_ukernel_1x8__neon, 1, 2)
MK_GM_DEFINE(mk_f32_igemm_ukernel_1x4__neon, 1, 1)

#endif
