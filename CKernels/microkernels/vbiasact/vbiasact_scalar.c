// mk_f32_vbiasact_ukernel_1c__scalar: portable C, one channel per step.
#include "vbiasact.h"

#include "../epilogue_scalar.h"

MK_INLINE void mk_vbiasact_rows(size_t rows, size_t channels, const float* input,
                                size_t input_stride, const float* bias, float* output,
                                size_t output_stride, mk_epilogue_kind kind, float lo, float hi,
                                bool has_bias) {
    for (size_t r = 0; r < rows; r++) {
        const float* x = input + r * input_stride;
        float* y = output + r * output_stride;
        for (size_t c = 0; c < channels; c++) {
            float v = has_bias ? x[c] + bias[c] : x[c];
            y[c] = mk_epilogue_f32(v, kind, lo, hi);
        }
    }
}

void mk_f32_vbiasact_ukernel_1c__scalar(size_t rows, size_t channels, const float* input,
                                        size_t input_stride, const float* bias, float* output,
                                        size_t output_stride, const mk_epilogue* epilogue) {
    const float lo = epilogue->min, hi = epilogue->max;
#define MK_CALL(KIND, HAS_BIAS)                                                  \
    mk_vbiasact_rows(rows, channels, input, input_stride, bias, output, output_stride, KIND, \
                     lo, hi, HAS_BIAS)
    MK_SPECIALIZE_EPILOGUE(epilogue->kind, bias != NULL, MK_CALL)
#undef MK_CALL
}
