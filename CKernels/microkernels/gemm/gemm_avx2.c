// igemm microkernels, AVX2 + FMA: 6x16 (12 ymm accumulators, 2 weight vectors, 1 broadcast) and
// 6x8 for output-channel tails of <= 8. Column tails use vmaskmovps.
#include "gemm.h"

#if defined(__x86_64__)
#include "../epilogue_avx2.h"

typedef __m256 mk_gm_vec;
#define MK_GM_W 8
#define MK_GM_TARGET MK_TARGET_AVX2

MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_zero(void) { return _mm256_setzero_ps(); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_load(const float* p) { return _mm256_loadu_ps(p); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_load_n(const float* p, size_t n) {
    return _mm256_maskload_ps(p, mk_avx2_tail_mask(n));
}
MK_GM_TARGET MK_INLINE void mk_gm_store(float* p, mk_gm_vec v) { _mm256_storeu_ps(p, v); }
MK_GM_TARGET MK_INLINE void mk_gm_store_n(float* p, mk_gm_vec v, size_t n) {
    _mm256_maskstore_ps(p, mk_avx2_tail_mask(n), v);
}
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_bcast(const float* p) { return _mm256_broadcast_ss(p); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_splat(float x) { return _mm256_set1_ps(x); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_fma(mk_gm_vec a, mk_gm_vec b, mk_gm_vec acc) {
    return _mm256_fmadd_ps(a, b, acc);
}
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_add(mk_gm_vec a, mk_gm_vec b) { return _mm256_add_ps(a, b); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_epilogue(mk_gm_vec v, mk_epilogue_kind kind, mk_gm_vec lo,
                                                mk_gm_vec hi) {
    return mk_epilogue_f32x8(v, kind, lo, hi);
}

#include "gemm_template.h"

MK_GM_DEFINE(mk_f32_igemm_ukernel_6x16__avx2, 6, 2)
MK_GM_DEFINE(mk_f32_igemm_ukernel_6x8__avx2, 6, 1)

MK_GM_DEFINE(mk_f32_igemm_ukernel_1x16__avx2, 1, 2)
MK_GM_DEFINE(mk_f32_igemm_ukernel_1x8__avx2, 1, 1)

#endif
