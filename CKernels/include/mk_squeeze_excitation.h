// Squeeze-and-excitation, NHWC float32 (mk_squeeze_excitation_f32: create / reshape / run / destroy;
// run_train / backward for training): strides, variants and threads
// as for pooling (mk_pool.h).
#ifndef MK_SQUEEZE_EXCITATION_H
#define MK_SQUEEZE_EXCITATION_H

#include "mk_activation.h"
#include "mk_base.h"
#include "mk_threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Squeeze-and-excitation (torchvision's SqueezeExcitation in MobileNetV3), one fused operator:
///   s = mean over the image's pixels of x                   [C]   (as mk_global_avg_pool)
///   t = relu(fc1_weight . s + fc1_bias)                     [squeeze_channels]
///   g = hardsigmoid(fc2_weight . t + fc2_bias)              [C]
///   y[n, y, x, c] = x[n, y, x, c] * g[c]
/// Each dot product is summed from 0 in input order, one fused multiply-add per step, then the
/// bias is added; hardsigmoid is min(max(v + 3, 0), 6) times the float nearest 1/6.
typedef struct mk_squeeze_excitation_f32_op mk_squeeze_excitation_f32_op;

/// Largest `channels` and `squeeze_channels`: run keeps the pooled vector and the hidden vector
/// of an image on its stack (at most 64 KiB), so one op can run on several threads at once;
/// run_train's tasks keep at most 32 KiB each on the pool's threads.
#define MK_SQUEEZE_EXCITATION_MAX_CHANNELS 8192

/// Whether `variant` runs a squeeze-and-excitation of these sizes on this CPU: MK_STATUS_OK, or
/// the status create would return (INVALID_ARGUMENT for sizes out of range, UNSUPPORTED for a
/// variant without the kernels or one the CPU lacks).
mk_status mk_squeeze_excitation_f32_supports(size_t channels, size_t squeeze_channels,
                                         mk_variant variant);

/// `fc1_weight` is [squeeze_channels, channels] (PyTorch's fc1.weight [S, C, 1, 1]),
/// `fc1_bias` [squeeze_channels], `fc2_weight` [channels, squeeze_channels], `fc2_bias`
/// [channels]; biases may be NULL (zero). All are copied (and transposed) at create.
mk_status mk_squeeze_excitation_f32_create(size_t channels, size_t squeeze_channels,
                                       const float* fc1_weight, const float* fc1_bias,
                                       const float* fc2_weight, const float* fc2_bias,
                                       mk_variant variant, mk_squeeze_excitation_f32_op** op_out);

/// As create, for inference only: the weights are kept in the forward's layout alone (half the
/// memory); `mk_squeeze_excitation_f32_backward` on such an op returns UNSUPPORTED.
mk_status mk_squeeze_excitation_f32_create_inference(size_t channels, size_t squeeze_channels,
                                                 const float* fc1_weight, const float* fc1_bias,
                                                 const float* fc2_weight, const float* fc2_bias,
                                                 mk_variant variant,
                                                 mk_squeeze_excitation_f32_op** op_out);

/// A squeeze-and-excitation planned for `batch` images of h x w and a set of pixel strides. The
/// fields after `output_pixel_stride` are the operator's.
typedef struct mk_squeeze_excitation_f32_plan {
    size_t batch, h, w, input_pixel_stride, output_pixel_stride;
    // private:
    const mk_squeeze_excitation_f32_op* op;
    size_t image, in_extent, out_extent, channel_tile, rows_per_tile;
} mk_squeeze_excitation_f32_plan;

/// INVALID_ARGUMENT for a zero size or strides below the channel count; SIZE_OVERFLOW for
/// unaddressable sizes. `pool` (may be NULL): the thread count the work is split for.
mk_status mk_squeeze_excitation_f32_reshape(const mk_squeeze_excitation_f32_op* op, size_t batch,
                                            size_t h, size_t w, size_t input_pixel_stride,
                                            size_t output_pixel_stride, mk_threadpool* pool,
                                            mk_squeeze_excitation_f32_plan* plan);

/// `output` may be `input` itself with the same pixel stride (in-place scaling); otherwise the
/// two must not overlap. Safe to call from several threads at once on the same op and plan (it
/// keeps no per-run state).
mk_status mk_squeeze_excitation_f32_run(const mk_squeeze_excitation_f32_op* op,
                                        const mk_squeeze_excitation_f32_plan* plan,
                                        const float* input, float* output, mk_threadpool* pool);

/// Replaces the op's weights and biases (create's layouts; biases may be NULL: zeros) without
/// allocating (a training step's update). Not while a run or backward of this op is in flight.
mk_status mk_squeeze_excitation_f32_set_weights(mk_squeeze_excitation_f32_op* op,
                                                const float* fc1_weight, const float* fc1_bias,
                                                const float* fc2_weight, const float* fc2_bias);

// ---- Training ---------------------------------------------------------------------------------

/// Floats run_train keeps for the backward: per image the pooled means [channels], fc1's output
/// before the ReLU [squeeze_channels] and fc2's before the hardsigmoid [channels], that is
/// batch * (2 * channels + squeeze_channels); 0 for a NULL op or an overflow.
size_t mk_squeeze_excitation_f32_saved_floats(const mk_squeeze_excitation_f32_op* op, size_t batch);

/// The forward of run (the same output bits) that also fills `saved`
/// (mk_squeeze_excitation_f32_saved_floats(op, plan->batch) floats, overlapping neither tensor).
mk_status mk_squeeze_excitation_f32_run_train(const mk_squeeze_excitation_f32_op* op,
                                              const mk_squeeze_excitation_f32_plan* plan,
                                              const float* input, float* output, float* saved,
                                              mk_threadpool* pool);

/// The backward's workspace for `batch` images run on `pool` (its thread count; NULL: one)
/// (INVALID_ARGUMENT for 0).
mk_status mk_squeeze_excitation_f32_backward_workspace_bytes(const mk_squeeze_excitation_f32_op* op,
                                                             size_t batch, mk_threadpool* pool, size_t* bytes);

/// Gradients of the squeeze-and-excitation that run_train computed on `input` (saved by it),
/// given the output's gradient: the input's (`input_gradient`, at the output pixel stride as
/// `output_gradient`; it may be `output_gradient` itself) and the parameters', written (not
/// added) in PyTorch's layouts: fc1 weight [squeeze, channels], bias [squeeze], fc2 weight
/// [channels, squeeze], bias [channels] (bias gradients may be NULL: not computed). The weights
/// are the op's. PyTorch's derivatives: hardsigmoid's dy / 6 strictly inside (-3, 3), ReLU's
/// where its input is > 0. Sums over pixels are per image, sums over images in image order: the
/// same bits for any thread count. `workspace` (mk_squeeze_excitation_f32_backward_workspace_bytes
/// for this batch and pool; NULL allocates one for the call) may not overlap the operands.
/// INVALID_ARGUMENT for a plan of another op, overlapping buffers or a small workspace;
/// UNSUPPORTED for an op made by mk_squeeze_excitation_f32_create_inference.
mk_status mk_squeeze_excitation_f32_backward(const mk_squeeze_excitation_f32_op* op,
                                             const mk_squeeze_excitation_f32_plan* plan,
                                             const float* input, const float* saved,
                                             const float* output_gradient, float* input_gradient,
                                             float* fc1_weight_gradient, float* fc1_bias_gradient,
                                             float* fc2_weight_gradient, float* fc2_bias_gradient,
                                             void* workspace, size_t workspace_bytes,
                                             mk_threadpool* pool);

/// The variant the operator runs (AUTO resolved).
mk_variant mk_squeeze_excitation_f32_variant(const mk_squeeze_excitation_f32_op* op);

/// The bytes the operator holds for its weights (both FCs transposed, and as given unless made by
/// create_inference) and biases. 0 for NULL.
size_t mk_squeeze_excitation_f32_weight_bytes(const mk_squeeze_excitation_f32_op* op);

void mk_squeeze_excitation_f32_destroy(mk_squeeze_excitation_f32_op* op);

#ifdef __cplusplus
}
#endif

#endif
