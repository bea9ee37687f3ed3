// mk_f32_vbiasact_ukernel_64c__avx512: 4 zmm (64 channels) per step, then 16, then one masked
// step for the last 1..15 channels (no access outside the row).
#include "vbiasact.h"

#if defined(__x86_64__)
#include "../epilogue_avx512.h"

MK_TARGET_AVX512 MK_INLINE __m512 mk_vbiasact_load(const float* x, const float* bias, size_t c,
                                                   bool has_bias) {
    __m512 v = _mm512_loadu_ps(x + c);
    return has_bias ? _mm512_add_ps(v, _mm512_loadu_ps(bias + c)) : v;
}

MK_TARGET_AVX512 MK_INLINE void mk_vbiasact_rows(size_t rows, size_t channels, const float* input,
                                                 size_t input_stride, const float* bias,
                                                 float* output, size_t output_stride,
                                                 mk_epilogue_kind kind, __m512 lo, __m512 hi,
                                                 bool has_bias) {
    for (size_t r = 0; r < rows; r++) {
        const float* x = input + r * input_stride;
        float* y = output + r * output_stride;
        size_t c = 0;
        for (; c + 64 <= channels; c += 64) {
            __m512 v0 = mk_vbiasact_load(x, bias, c, has_bias);
            __m512 v1 = mk_vbiasact_load(x, bias, c + 16, has_bias);
            __m512 v2 = mk_vbiasact_load(x, bias, c + 32, has_bias);
            __m512 v3 = mk_vbiasact_load(x, bias, c + 48, has_bias);
            _mm512_storeu_ps(y + c, mk_epilogue_f32x16(v0, kind, lo, hi));
            _mm512_storeu_ps(y + c + 16, mk_epilogue_f32x16(v1, kind, lo, hi));
            _mm512_storeu_ps(y + c + 32, mk_epilogue_f32x16(v2, kind, lo, hi));
            _mm512_storeu_ps(y + c + 48, mk_epilogue_f32x16(v3, kind, lo, hi));
        }
        for (; c + 16 <= channels; c += 16) {
            __m512 v = mk_vbiasact_load(x, bias, c, has_bias);
            _mm512_storeu_ps(y + c, mk_epilogue_f32x16(v, kind, lo, hi));
        }
        if (c < channels) {
            __mmask16 m = mk_avx512_tail_mask(channels - c);
            __m512 v = _mm512_maskz_loadu_ps(m, x + c);
            if (has_bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + c));
            _mm512_mask_storeu_ps(y + c, m, mk_epilogue_f32x16(v, kind, lo, hi));
        }
    }
}

MK_TARGET_AVX512
void mk_f32_vbiasact_ukernel_64c__avx512(size_t rows, size_t channels, const float* input,
                                         size_t input_stride, const float* bias, float* output,
                                         size_t output_stride, const mk_epilogue* epilogue) {
    const __m512 lo = _mm512_set1_ps(epilogue->min), hi = _mm512_set1_ps(epilogue->max);
#define MK_CALL(KIND, HAS_BIAS)                                                  \
    mk_vbiasact_rows(rows, channels, input, input_stride, bias, output, output_stride, KIND, \
                     lo, hi, HAS_BIAS)
    MK_SPECIALIZE_EPILOGUE(epilogue->kind, bias != NULL, MK_CALL)
#undef MK_CALL
}

#endif
