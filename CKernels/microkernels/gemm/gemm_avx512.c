// igemm microkernels, AVX-512: 7x32 (14 zmm accumulators, 2 weight vectors, the A element
// broadcast from memory) and 7x16 (with the 7x8 of gemm_avx512vl.c) for column remainders.
// (A 7x48 tile, 21 accumulators, measured slower on this machine's MobileNet layers.)
// Column tails use masked loads and stores.
#include "gemm.h"

#if defined(__x86_64__)
#include "../epilogue_avx512.h"

typedef __m512 mk_gm_vec;
#define MK_GM_W 16
#define MK_GM_TARGET MK_TARGET_AVX512

MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_zero(void) { return _mm512_setzero_ps(); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_load(const float* p) { return _mm512_loadu_ps(p); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_load_n(const float* p, size_t n) {
    return _mm512_maskz_loadu_ps(mk_avx512_tail_mask(n), p);
}
MK_GM_TARGET MK_INLINE void mk_gm_store(float* p, mk_gm_vec v) { _mm512_storeu_ps(p, v); }
MK_GM_TARGET MK_INLINE void mk_gm_store_n(float* p, mk_gm_vec v, size_t n) {
    _mm512_mask_storeu_ps(p, mk_avx512_tail_mask(n), v);
}
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_bcast(const float* p) { return _mm512_set1_ps(*p); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_splat(float x) { return _mm512_set1_ps(x); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_fma(mk_gm_vec a, mk_gm_vec b, mk_gm_vec acc) {
    return _mm512_fmadd_ps(a, b, acc);
}
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_add(mk_gm_vec a, mk_gm_vec b) { return _mm512_add_ps(a, b); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_epilogue(mk_gm_vec v, mk_epilogue_kind kind, mk_gm_vec lo,
                                                mk_gm_vec hi) {
    return mk_epilogue_f32x16(v, kind, lo, hi);
}

#include "gemm_template.h"

MK_GM_DEFINE(mk_f32_igemm_ukernel_7x32__avx512, 7, 2)
MK_GM_DEFINE(mk_f32_igemm_ukernel_7x16__avx512, 7, 1)

MK_GM_DEFINE(mk_f32_igemm_ukernel_1x32__avx512, 1, 2)
MK_GM_DEFINE(mk_f32_igemm_ukernel_1x16__avx512, 1, 1)

#endif
