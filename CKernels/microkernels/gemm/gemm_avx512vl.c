// igemm microkernel of the AVX-512 variant for 8-column remainders: 7x8 on ymm registers with
// AVX-512VL masked tails. On CPUs that split zmm operations into two 256-bit halves (AMD Zen 4)
// a ymm FMA costs half a zmm one, so a 16 + 8 split of 24 columns wastes nothing where a masked
// 32-wide tile would waste a quarter of its FMAs.
#include "gemm.h"

#if defined(__x86_64__)
#include "../epilogue_avx2.h"

typedef __m256 mk_gm_vec;
#define MK_GM_W 8
#define MK_GM_TARGET MK_TARGET_AVX512

MK_GM_TARGET MK_INLINE __mmask8 mk_gm_mask(size_t n) { return (__mmask8)((1u << n) - 1u); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_zero(void) { return _mm256_setzero_ps(); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_load(const float* p) { return _mm256_loadu_ps(p); }
MK_GM_TARGET MK_INLINE mk_gm_vec mk_gm_load_n(const float* p, size_t n) {
    return _mm256_maskz_loadu_ps(mk_gm_mask(n), p);
}
MK_GM_TARGET MK_INLINE void mk_gm_store(float* p, mk_gm_vec v) { _mm256_storeu_ps(p, v); }
MK_GM_TARGET MK_INLINE void mk_gm_store_n(float* p, mk_gm_vec v, size_t n) {
    _mm256_mask_storeu_ps(p, mk_gm_mask(n), v);
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

MK_GM_DEFINE(mk_f32_igemm_ukernel_7x8__avx512, 7, 1)

MK_GM_DEFINE(mk_f32_igemm_ukernel_1x8__avx512, 1, 1)

#endif
