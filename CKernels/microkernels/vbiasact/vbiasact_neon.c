// mk_f32_vbiasact_ukernel_16c__neon: 4 q registers (16 channels) per step, then 4, then the last
// 1..3 channels one lane at a time (no access outside the row).
#include "vbiasact.h"

#if defined(__aarch64__)
#include "../epilogue_neon.h"

MK_INLINE void mk_vbiasact_rows(size_t rows, size_t channels, const float* input,
                                size_t input_stride, const float* bias, float* output,
                                size_t output_stride, mk_epilogue_kind kind, float32x4_t lo,
                                float32x4_t hi, bool has_bias) {
    for (size_t r = 0; r < rows; r++) {
        const float* x = input + r * input_stride;
        float* y = output + r * output_stride;
        size_t c = 0;
        for (; c + 16 <= channels; c += 16) {
            float32x4_t v0 = vld1q_f32(x + c), v1 = vld1q_f32(x + c + 4);
            float32x4_t v2 = vld1q_f32(x + c + 8), v3 = vld1q_f32(x + c + 12);
            if (has_bias) {
                v0 = vaddq_f32(v0, vld1q_f32(bias + c));
                v1 = vaddq_f32(v1, vld1q_f32(bias + c + 4));
                v2 = vaddq_f32(v2, vld1q_f32(bias + c + 8));
                v3 = vaddq_f32(v3, vld1q_f32(bias + c + 12));
            }
            vst1q_f32(y + c, mk_epilogue_f32x4(v0, kind, lo, hi));
            vst1q_f32(y + c + 4, mk_epilogue_f32x4(v1, kind, lo, hi));
            vst1q_f32(y + c + 8, mk_epilogue_f32x4(v2, kind, lo, hi));
            vst1q_f32(y + c + 12, mk_epilogue_f32x4(v3, kind, lo, hi));
        }
        for (; c + 4 <= channels; c += 4) {
            float32x4_t v = vld1q_f32(x + c);
            if (has_bias) v = vaddq_f32(v, vld1q_f32(bias + c));
            vst1q_f32(y + c, mk_epilogue_f32x4(v, kind, lo, hi));
        }
        for (; c < channels; c++) {
            float32x4_t v = vdupq_n_f32(has_bias ? x[c] + bias[c] : x[c]);
            y[c] = vgetq_lane_f32(mk_epilogue_f32x4(v, kind, lo, hi), 0);
        }
    }
}

void mk_f32_vbiasact_ukernel_16c__neon(size_t rows, size_t channels, const float* input,
                                       size_t input_stride, const float* bias, float* output,
                                       size_t output_stride, const mk_epilogue* epilogue) {
    const float32x4_t lo = vdupq_n_f32(epilogue->min), hi = vdupq_n_f32(epilogue->max);
#define MK_CALL(KIND, HAS_BIAS)                                                  \
    mk_vbiasact_rows(rows, channels, input, input_stride, bias, output, output_stride, KIND, \
                     lo, hi, HAS_BIAS)
    MK_SPECIALIZE_EPILOGUE(epilogue->kind, bias != NULL, MK_CALL)
#undef MK_CALL
}

#endif
