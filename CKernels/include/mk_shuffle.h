// Channel shuffle (ShuffleNet), NHWC float32 (mk_channel_shuffle). The convolution can also
// write its output shuffled (mk_conv2d_params.shuffle_output), with no separate pass.
#ifndef MK_SHUFFLE_H
#define MK_SHUFFLE_H

#include "mk_base.h"
#include "mk_threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Channel shuffle (ShuffleNet), NHWC: per pixel, the channels viewed as [groups, C / groups] are
/// transposed to [C / groups, groups]: out[p, j * groups + g] = in[p, g * (C / groups) + j].
/// Vectorized for every groups value up to 8; any other divisor of C runs a portable loop.
/// `input == output` with equal strides shuffles in place (C <= 8192); otherwise the two must not
/// overlap. Pixel strides as above. `variant` picks scalar / avx2 / avx512 / neon (AUTO: best).
mk_status mk_channel_shuffle(size_t groups, size_t channels, size_t pixels, const float* input,
                             size_t input_pixel_stride, float* output, size_t output_pixel_stride,
                             mk_variant variant, mk_threadpool* pool);

#ifdef __cplusplus
}
#endif

#endif
