// mk_f32_vbiasact_ukernel_32c__avx2: 4 ymm (32 channels) per step, then 8, then one masked step
// (vmaskmovps: disabled lanes are neither read nor written) for the last 1..7 channels.
#include "vbiasact.h"

#if defined(__x86_64__)
#include "../epilogue_avx2.h"

MK_TARGET_AVX2 MK_INLINE __m256 mk_vbiasact_load(const float* x, const float* bias, size_t c,
                                                 bool has_bias) {
    __m256 v = _mm256_loadu_ps(x + c);
    return has_bias ? _mm256_add_ps(v, _mm256_loadu_ps(bias + c)) : v;
}

MK_TARGET_AVX2 MK_INLINE void mk_vbiasact_rows(size_t rows, size_t channels, const float* input,
                                               size_t input_stride, const float* bias,
                                               float* output, size_t output_stride,
                                               mk_epilogue_kind kind, __m256 lo, __m256 hi,
                                               bool has_bias) {
    for (size_t r = 0; r < rows; r++) {
        const float* x = input + r * input_stride;
        float* y = output + r * output_stride;
        size_t c = 0;
        for (; c + 32 <= channels; c += 32) {
            __m256 v0 = mk_vbiasact_load(x, bias, c, has_bias);
            __m256 v1 = mk_vbiasact_load(x, bias, c + 8, has_bias);
            __m256 v2 = mk_vbiasact_load(x, bias, c + 16, has_bias);
            __m256 v3 = mk_vbiasact_load(x, bias, c + 24, has_bias);
            _mm256_storeu_ps(y + c, mk_epilogue_f32x8(v0, kind, lo, hi));
            _mm256_storeu_ps(y + c + 8, mk_epilogue_f32x8(v1, kind, lo, hi));
            _mm256_storeu_ps(y + c + 16, mk_epilogue_f32x8(v2, kind, lo, hi));
            _mm256_storeu_ps(y + c + 24, mk_epilogue_f32x8(v3, kind, lo, hi));
        }
        for (; c + 8 <= channels; c += 8) {
            __m256 v = mk_vbiasact_load(x, bias, c, has_bias);
            _mm256_storeu_ps(y + c, mk_epilogue_f32x8(v, kind, lo, hi));
        }
        if (c < channels) {
            __m256i m = mk_avx2_tail_mask(channels - c);
            __m256 v = _mm256_maskload_ps(x + c, m);
            if (has_bias) v = _mm256_add_ps(v, _mm256_maskload_ps(bias + c, m));
            _mm256_maskstore_ps(y + c, m, mk_epilogue_f32x8(v, kind, lo, hi));
        }
    }
}

MK_TARGET_AVX2
void mk_f32_vbiasact_ukernel_32c__avx2(size_t rows, size_t channels, const float* input,
                                       size_t input_stride, const float* bias, float* output,
                                       size_t output_stride, const mk_epilogue* epilogue) {
    const __m256 lo = _mm256_set1_ps(epilogue->min), hi = _mm256_set1_ps(epilogue->max);
#define MK_CALL(KIND, HAS_BIAS)                                                  \
    mk_vbiasact_rows(rows, channels, input, input_stride, bias, output, output_stride, KIND, \
                     lo, hi, HAS_BIAS)
    MK_SPECIALIZE_EPILOGUE(epilogue->kind, bias != NULL, MK_CALL)
#undef MK_CALL
}

#endif
