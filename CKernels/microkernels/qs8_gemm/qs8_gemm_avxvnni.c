// qs8 igemm microkernels, AVX-VNNI (vpdpbusd on ymm, VEX-encoded: no AVX-512 needed): the same
// two forms as AVX-512 VNNI (see qs8_gemm_avx512vnni.c): A flipped by the driver against signed
// weights (`fn_ua`), or flipped weights against A broadcast from memory with row offsets. 6x16 (12 ymm accumulators), 6x8 for column
// remainders, 1x16 / 1x8.
#include "qs8_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

typedef __m256i mk_qg_acc;
typedef __m256i mk_qg_a;
typedef __m256i mk_qg_b;
#define MK_QG_TARGET MK_TARGET_AVXVNNI
#define MK_QG_ROW_OFFSET 1

MK_QG_TARGET MK_INLINE mk_qg_a mk_qg_a_of(uint32_t u) { return _mm256_set1_epi32((int)u); }
MK_QG_TARGET MK_INLINE mk_qg_b mk_qg_b_load(const int8_t* p) {
    return _mm256_loadu_si256((const __m256i*)p);
}
MK_QG_TARGET MK_INLINE mk_qg_b mk_qg_b_splat128(void) { return _mm256_set1_epi8((char)0x80); }
MK_QG_TARGET MK_INLINE int32_t mk_qg_lane0(__m256i v) { return _mm_cvtsi128_si32(_mm256_castsi256_si128(v)); }
MK_QG_TARGET MK_INLINE __m256i mk_qg_sub_i32(__m256i a, __m256i b) { return _mm256_sub_epi32(a, b); }
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_dot(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return _mm256_dpbusd_avx_epi32(acc, b, a);
}
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_dot_ua(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return _mm256_dpbusd_avx_epi32(acc, a, b);
}

#include "qs8_requant_avx2.h"
#include "qs8_gemm_template.h"

MK_QG_DEFINE(mk_qs8_igemm_ukernel_6x16c4__avxvnni, 6, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_6x8c4__avxvnni, 6, 1)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x16c4__avxvnni, 1, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x8c4__avxvnni, 1, 1)

// -128 * each row's sum of A: vpdpbusd of 32 bytes against unsigned ones, the tail in scalar.
MK_QG_TARGET void mk_qs8_row_offsets__avxvnni(size_t MR, size_t kc, size_t ks,
                                              const int8_t* const* a, int32_t* out) {
    const __m256i ones = _mm256_set1_epi8(1);
    const size_t kfull = kc & ~(size_t)31;
    for (size_t m = 0; m < MR; m++) {
        __m256i acc = _mm256_setzero_si256();
        uint32_t rest = 0;
        for (size_t t = 0; t < ks; t++) {
            const int8_t* p = a[t * MR + m];
            for (size_t k = 0; k < kfull; k += 32) {
                acc = _mm256_dpbusd_avx_epi32(acc, ones, _mm256_loadu_si256((const __m256i*)(p + k)));
            }
            for (size_t k = kfull; k < kc; k++) rest += (uint32_t)(int32_t)p[k];
        }
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
        out[m] = (int32_t)(0u - 128u * ((uint32_t)_mm_cvtsi128_si32(s) + rest));
    }
}

// The flipped copy of A for the kernels' `fn_ua` form: rows[i] (n bytes each) ^ 0x80 to
// dst + i * n, and rows[i] pointed there.
MK_QG_TARGET void mk_qs8_flip__avxvnni(const int8_t** rows, size_t count, size_t n, int8_t* dst) {
    const __m256i bit = _mm256_set1_epi8((char)0x80);
    for (size_t r = 0; r < count; r++, dst += n) {
        const int8_t* src = rows[r];
        size_t i = 0;
        for (; i + 32 <= n; i += 32) {
            _mm256_storeu_si256((__m256i*)(void*)(dst + i),
                                _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(const void*)(src + i)), bit));
        }
        for (; i < n; i++) dst[i] = (int8_t)((uint8_t)src[i] ^ 0x80u);
        rows[r] = dst;
    }
}

#endif
