// Bias + activation microkernels: for each of `rows` rows of `channels` floats,
//   output[r * output_stride + c] = epilogue(input[r * input_stride + c] (+ bias[c])).
// `bias` may be NULL (nothing is added). Input and output may be the same buffer (same stride).
// Tails are masked: nothing outside [0, channels) of a row is read or written.
#ifndef MK_VBIASACT_H
#define MK_VBIASACT_H

#include "../../common/internal.h"

typedef void (*mk_f32_vbiasact_ukernel_fn)(size_t rows, size_t channels, const float* input,
                                           size_t input_stride, const float* bias, float* output,
                                           size_t output_stride, const mk_epilogue* epilogue);

void mk_f32_vbiasact_ukernel_1c__scalar(size_t rows, size_t channels, const float* input,
                                        size_t input_stride, const float* bias, float* output,
                                        size_t output_stride, const mk_epilogue* epilogue);
#if defined(__x86_64__)
void mk_f32_vbiasact_ukernel_32c__avx2(size_t rows, size_t channels, const float* input,
                                       size_t input_stride, const float* bias, float* output,
                                       size_t output_stride, const mk_epilogue* epilogue);
void mk_f32_vbiasact_ukernel_64c__avx512(size_t rows, size_t channels, const float* input,
                                         size_t input_stride, const float* bias, float* output,
                                         size_t output_stride, const mk_epilogue* epilogue);
#endif
#if defined(__aarch64__)
void mk_f32_vbiasact_ukernel_16c__neon(size_t rows, size_t channels, const float* input,
                                       size_t input_stride, const float* bias, float* output,
                                       size_t output_stride, const mk_epilogue* epilogue);
#endif

#endif
