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
/// Lifecycle: create (groups, channels, variant) / reshape (pixels, strides: a plan) / run
/// (pointers) / destroy. `variant` picks scalar / avx2 / avx512 / neon (AUTO: the best).
typedef struct mk_channel_shuffle_f32_op mk_channel_shuffle_f32_op;

/// INVALID_ARGUMENT unless groups >= 1, channels >= 1 and groups divides channels;
/// UNSUPPORTED for a variant without shuffle kernels or one the CPU lacks.
mk_status mk_channel_shuffle_f32_create(size_t groups, size_t channels, mk_variant variant,
                                        mk_channel_shuffle_f32_op** op_out);

/// `pixels` rows; pixel strides in floats (0 means the channel count; otherwise at least it).
/// The fields after `output_pixel_stride` are the operator's.
typedef struct mk_channel_shuffle_f32_plan {
    size_t pixels, input_pixel_stride, output_pixel_stride;
    // private:
    const mk_channel_shuffle_f32_op* op;
    size_t in_extent, out_extent, tile;
} mk_channel_shuffle_f32_plan;

/// INVALID_ARGUMENT for 0 pixels or strides below the channel count; SIZE_OVERFLOW for
/// unaddressable sizes. `pool` (may be NULL): the thread count the work is split for.
mk_status mk_channel_shuffle_f32_reshape(const mk_channel_shuffle_f32_op* op, size_t pixels,
                                         size_t input_pixel_stride, size_t output_pixel_stride,
                                         mk_threadpool* pool, mk_channel_shuffle_f32_plan* plan);

/// `input == output` with equal strides shuffles in place (C <= 8192); otherwise the two must
/// not overlap. Never allocates. INVALID_ARGUMENT for a plan of another operator.
mk_status mk_channel_shuffle_f32_run(const mk_channel_shuffle_f32_op* op,
                                     const mk_channel_shuffle_f32_plan* plan, const float* input,
                                     float* output, mk_threadpool* pool);

/// The variant the operator runs (AUTO resolved).
mk_variant mk_channel_shuffle_f32_variant(const mk_channel_shuffle_f32_op* op);

void mk_channel_shuffle_f32_destroy(mk_channel_shuffle_f32_op* op);

#ifdef __cplusplus
}
#endif

#endif
