// Activations and the bias + activation operator (NHWC float32).
#ifndef MK_ACTIVATION_H
#define MK_ACTIVATION_H

#include "mk_base.h"
#include "mk_threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mk_activation_kind {
    MK_ACTIVATION_NONE = 0,
    MK_ACTIVATION_RELU = 1,         // max(x, 0)
    MK_ACTIVATION_RELU6 = 2,        // min(max(x, 0), 6)
    MK_ACTIVATION_HARDSWISH = 3,    // x * relu6(x + 3) / 6
    MK_ACTIVATION_HARDSIGMOID = 4,  // relu6(x + 3) / 6
    MK_ACTIVATION_CLAMP = 5,        // min(max(x, min), max)
} mk_activation_kind;

/// An activation fused into the kernel that writes an output. `min` and `max` are read only for
/// MK_ACTIVATION_CLAMP (min <= max, neither NaN; infinities allowed).
///
/// Division by 6 is computed as a multiplication by the float nearest 1/6, so hardswish and
/// hardsigmoid may differ from x * relu6(x + 3) / 6 by one unit in the last place.
typedef struct mk_activation {
    mk_activation_kind kind;
    float min;
    float max;
} mk_activation;

/// MK_STATUS_OK when `activation` is a known kind with valid bounds.
mk_status mk_activation_validate(mk_activation activation);

/// Bias + activation over `pixels` rows of `channels` values:
///   output[p * output_stride + c] = act(input[p * input_stride + c] + bias[c]).
/// Lifecycle: create / reshape (a plan) / run / destroy.
typedef struct mk_bias_activation_f32_op mk_bias_activation_f32_op;

/// `bias` may be NULL (no bias is added: -0.0 stays -0.0); otherwise it holds `channels` values,
/// copied at create.
mk_status mk_bias_activation_f32_create(size_t channels, const float* bias,
                                        mk_activation activation, mk_variant variant,
                                        mk_bias_activation_f32_op** op_out);

/// The fields after `output_stride` are the operator's.
typedef struct mk_bias_activation_f32_plan {
    size_t pixels, input_stride, output_stride;
    // private:
    const mk_bias_activation_f32_op* op;
    size_t in_extent, out_extent, tile;
} mk_bias_activation_f32_plan;

/// Strides are in elements; 0 means `channels`; otherwise each must be >= channels. `pixels` = 0
/// plans a run that does nothing. `pool` (may be NULL): the thread count the work is split for.
mk_status mk_bias_activation_f32_reshape(const mk_bias_activation_f32_op* op, size_t pixels,
                                         size_t input_stride, size_t output_stride,
                                         mk_threadpool* pool, mk_bias_activation_f32_plan* plan);

/// In place is allowed (input == output with equal strides); otherwise input and output must not
/// overlap. `pool` may be NULL (single thread).
mk_status mk_bias_activation_f32_run(const mk_bias_activation_f32_op* op,
                                     const mk_bias_activation_f32_plan* plan, const float* input,
                                     float* output, mk_threadpool* pool);

/// The variant the operator runs (AUTO resolved).
mk_variant mk_bias_activation_f32_variant(const mk_bias_activation_f32_op* op);

void mk_bias_activation_f32_destroy(mk_bias_activation_f32_op* op);

#ifdef __cplusplus
}
#endif

#endif
