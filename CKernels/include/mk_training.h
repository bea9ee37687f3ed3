// Training-mode operators (NHWC float32): BatchNorm with the batch's statistics, forward and
// backward with the following activation fused, and the activation gradient with the bias
// gradient. Reductions over pixels are deterministic: the pixels are cut into chunks that depend
// only on the shape (never on the thread count), each chunk is summed in row order in float32
// and the chunks are combined in order in float64, so 1 and N threads give the same bits.
#ifndef MK_TRAINING_H
#define MK_TRAINING_H

#include "mk_activation.h"
#include "mk_base.h"
#include "mk_dwconv.h"
#include "mk_pool.h"
#include "mk_threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/// BatchNorm2d in training mode followed by an activation, over `pixels` rows (N*H*W) of
/// `channels` values:
///   forward:  mean, biased variance over the pixels; inv_std = 1 / sqrt(variance + eps);
///             y = act(((x - mean) * inv_std) * gamma + beta)
///   backward: with u the BatchNorm output recomputed from x and g = act'(u) * dy (PyTorch's
///             kink rules), dbeta = sum g, dgamma = sum g * xhat, and
///             dx = gamma * inv_std * ((g - dbeta / P) - xhat * dgamma / P), P = pixels.
/// Lifecycle: create / reshape (a plan) / forward, backward / destroy.
typedef struct mk_batchnorm_train_f32_op mk_batchnorm_train_f32_op;

/// INVALID_ARGUMENT for 0 channels, eps not finite or negative, or a bad activation;
/// UNSUPPORTED for a variant without these kernels or one the CPU lacks.
mk_status mk_batchnorm_train_f32_create(size_t channels, float eps, mk_activation activation,
                                        mk_variant variant, mk_batchnorm_train_f32_op** op_out);

/// The caller sets `workspace` to `workspace_bytes` bytes, 64-byte aligned (mk_aligned_alloc),
/// before forward or backward; the fields after `workspace` are the operator's.
typedef struct mk_batchnorm_train_f32_plan {
    size_t pixels, x_stride, y_stride;
    size_t workspace_bytes;
    void* workspace;
    // private:
    const mk_batchnorm_train_f32_op* op;
    size_t chunk_rows, chunks, x_extent, y_extent, tile;
} mk_batchnorm_train_f32_plan;

/// `pixels` >= 2 (one value per channel has no variance: PyTorch refuses it too); strides in
/// floats, 0 meaning `channels`, otherwise at least it. `x_stride` is the layout of x and dx,
/// `y_stride` that of y and dy. `pool` (may be NULL): the thread count the work is split for.
mk_status mk_batchnorm_train_f32_reshape(const mk_batchnorm_train_f32_op* op, size_t pixels,
                                         size_t x_stride, size_t y_stride, mk_threadpool* pool,
                                         mk_batchnorm_train_f32_plan* plan);

/// Writes y and the batch's `mean`, biased `variance` and `inv_std` (`channels` floats each).
/// y may be x itself (the same pointer and stride); otherwise it must not overlap x.
mk_status mk_batchnorm_train_f32_forward(const mk_batchnorm_train_f32_op* op,
                                         const mk_batchnorm_train_f32_plan* plan, const float* x,
                                         const float* gamma, const float* beta, float* y,
                                         float* mean, float* variance, float* inv_std,
                                         mk_threadpool* pool);

/// x is the forward's input, mean and inv_std what the forward wrote; writes dgamma and dbeta
/// (`channels` floats) and dx (skipped when dx is NULL). dx may be dy itself when the strides
/// are equal; otherwise it must not overlap x or dy.
mk_status mk_batchnorm_train_f32_backward(const mk_batchnorm_train_f32_op* op,
                                          const mk_batchnorm_train_f32_plan* plan,
                                          const float* x, const float* dy, const float* gamma,
                                          const float* beta, const float* mean,
                                          const float* inv_std, float* dx, float* dgamma,
                                          float* dbeta, mk_threadpool* pool);

/// The variant the operator runs (AUTO resolved).
mk_variant mk_batchnorm_train_f32_variant(const mk_batchnorm_train_f32_op* op);

void mk_batchnorm_train_f32_destroy(mk_batchnorm_train_f32_op* op);

/// PyTorch's running-statistic update after a training forward over `count` values per channel:
/// running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance
/// variance * count / (count - 1) for running_var. INVALID_ARGUMENT for count < 2 or a momentum
/// outside [0, 1].
mk_status mk_batchnorm_update_running_f32(size_t channels, const float* mean,
                                          const float* variance, size_t count, float momentum,
                                          float* running_mean, float* running_var);

/// The activation gradient: dx = act'(u) * dy over `pixels` rows of `channels` (PyTorch's rules
/// at the kinks), with the bias gradient dbias[c] = sum over pixels of dx (deterministic, as
/// above). For NONE, RELU and RELU6, u may be the activation's output instead of its input (the
/// derivative is the same); CLAMP (inclusive at its bounds, so a clamped output would pass the
/// gradient), HARDSWISH and HARDSIGMOID need the input.
typedef struct mk_activation_backward_f32_op mk_activation_backward_f32_op;

mk_status mk_activation_backward_f32_create(size_t channels, mk_activation activation,
                                            mk_variant variant,
                                            mk_activation_backward_f32_op** op_out);

typedef struct mk_activation_backward_f32_plan {
    size_t pixels, u_stride, dy_stride, dx_stride;
    size_t workspace_bytes;
    void* workspace;
    // private:
    const mk_activation_backward_f32_op* op;
    size_t chunk_rows, chunks, u_extent, dy_extent, dx_extent;
} mk_activation_backward_f32_plan;

/// `pixels` >= 1; strides as for BatchNorm. The workspace (for the bias gradient's chunk sums)
/// is set by the caller as for BatchNorm.
mk_status mk_activation_backward_f32_reshape(const mk_activation_backward_f32_op* op,
                                             size_t pixels, size_t u_stride, size_t dy_stride,
                                             size_t dx_stride, mk_threadpool* pool,
                                             mk_activation_backward_f32_plan* plan);

/// dx may be dy itself (same stride); otherwise no overlap with u or dy. dbias (`channels`
/// floats) may be NULL: no bias gradient (and no workspace needed).
mk_status mk_activation_backward_f32_run(const mk_activation_backward_f32_op* op,
                                         const mk_activation_backward_f32_plan* plan,
                                         const float* u, const float* dy, float* dx, float* dbias,
                                         mk_threadpool* pool);

mk_variant mk_activation_backward_f32_variant(const mk_activation_backward_f32_op* op);

void mk_activation_backward_f32_destroy(mk_activation_backward_f32_op* op);

/// Depthwise convolution backward (the geometry of mk_dwconv2d_params, any kernel 1..11, stride,
/// dilation and padding; `activation` must be NONE: its gradient is applied before, by the
/// BatchNorm or activation backward):
///   input gradient:  dx[n, iy, ix, c] = sum over (ky, kx, oy, ox) with
///                    iy = oy * stride_h - pad_top + ky * dilation_h (and so for x) of
///                    dy[n, oy, ox, c] * w[c, 0, ky, kx], taps in (ky, kx) order;
///   weight gradient: dw[c, 0, ky, kx] = sum over (n, oy, ox) of dy[n, oy, ox, c] *
///                    x[n, iy, ix, c] (padding reads zero), dbias[c] = sum of dy, summed in
///                    chunks of output rows fixed by the shape and combined in float64, so any
///                    thread count gives the same bits.
typedef struct mk_dwconv2d_backward_f32_op mk_dwconv2d_backward_f32_op;

/// `weights` ([channels, 1, kernel_h, kernel_w], copied) may be NULL for an operator that only
/// computes weight gradients (set them later with _set_weights for input gradients).
/// INVALID_ARGUMENT for parameters outside mk_dwconv2d_params' limits or an activation other
/// than NONE; UNSUPPORTED for a variant without these kernels or one the CPU lacks.
mk_status mk_dwconv2d_backward_f32_create(const mk_dwconv2d_params* params, const float* weights,
                                          mk_variant variant,
                                          mk_dwconv2d_backward_f32_op** op_out);

/// Replaces the weights (after an optimizer step): [channels, 1, kernel_h, kernel_w].
mk_status mk_dwconv2d_backward_f32_set_weights(mk_dwconv2d_backward_f32_op* op,
                                               const float* weights);

/// The caller sets `workspace` (workspace_bytes, 64-byte aligned) before a run; the fields after
/// `workspace` are the operator's. Input pixel strides apply to x and dx, output ones to dy.
typedef struct mk_dwconv2d_backward_f32_plan {
    size_t batch, in_h, in_w, out_h, out_w, input_pixel_stride, output_pixel_stride;
    size_t workspace_bytes;
    void* workspace;
    // private:
    const mk_dwconv2d_backward_f32_op* op;
    size_t threads, chunk_rows, chunks, in_extent, out_extent;
} mk_dwconv2d_backward_f32_plan;

/// As mk_dwconv2d_f32_reshape (the forward's input size in_h x in_w); the plan is for at most
/// the thread count of `pool` (a run on a larger pool is INVALID_ARGUMENT).
mk_status mk_dwconv2d_backward_f32_reshape(const mk_dwconv2d_backward_f32_op* op, size_t batch,
                                           size_t in_h, size_t in_w, size_t input_pixel_stride,
                                           size_t output_pixel_stride, mk_threadpool* pool,
                                           mk_dwconv2d_backward_f32_plan* plan);

/// dx from dy (dx must not overlap dy). INVALID_ARGUMENT without weights.
mk_status mk_dwconv2d_backward_f32_input_gradient(const mk_dwconv2d_backward_f32_op* op,
                                                  const mk_dwconv2d_backward_f32_plan* plan,
                                                  const float* dy, float* dx,
                                                  mk_threadpool* pool);

/// dweight ([channels, 1, kernel_h, kernel_w]) and dbias ([channels], may be NULL) from the
/// forward's input x and dy.
mk_status mk_dwconv2d_backward_f32_weight_gradient(const mk_dwconv2d_backward_f32_op* op,
                                                   const mk_dwconv2d_backward_f32_plan* plan,
                                                   const float* x, const float* dy,
                                                   float* dweight, float* dbias,
                                                   mk_threadpool* pool);

mk_variant mk_dwconv2d_backward_f32_variant(const mk_dwconv2d_backward_f32_op* op);

void mk_dwconv2d_backward_f32_destroy(mk_dwconv2d_backward_f32_op* op);

/// Pooling backward (the geometry of mk_pool2d_params in floor mode; `activation` must be NONE),
/// as gathers: each input pixel sums, in ascending output order, what the outputs whose window
/// holds it send back (the order the reference scatters in, so its bits):
///   max:      dy where the output's saved index names this pixel (PyTorch's index: y * in_w + x
///             within the image, from mk_max_pool2d_f32_forward_indices);
///   average:  dy / the window's divisor (count_include_pad as in the forward);
///   adaptive: dy / the number of cells of PyTorch's adaptive window (global pooling: 1 x 1).
/// Each input coordinate may lie in at most 32 windows per axis (ceil(kernel / stride), or
/// ceil(output / input) + 1 for adaptive pooling): INVALID_ARGUMENT otherwise (at create for
/// fixed windows, at reshape for adaptive ones).
typedef struct mk_pool2d_backward_f32_op mk_pool2d_backward_f32_op;

mk_status mk_max_pool2d_backward_f32_create(const mk_pool2d_params* params, size_t channels,
                                            mk_variant variant,
                                            mk_pool2d_backward_f32_op** op_out);
mk_status mk_avg_pool2d_backward_f32_create(const mk_pool2d_params* params, size_t channels,
                                            mk_variant variant,
                                            mk_pool2d_backward_f32_op** op_out);
mk_status mk_adaptive_avg_pool2d_backward_f32_create(size_t channels, size_t out_h, size_t out_w,
                                                     mk_variant variant,
                                                     mk_pool2d_backward_f32_op** op_out);

/// The fields after `output_pixel_stride` are the operator's. Input strides apply to x and dx,
/// output strides to y and dy; indices are dense ([pixels][channels] int32).
typedef struct mk_pool2d_backward_f32_plan {
    size_t batch, in_h, in_w, out_h, out_w, input_pixel_stride, output_pixel_stride;
    // private:
    const mk_pool2d_backward_f32_op* op;
    size_t in_extent, out_extent;
} mk_pool2d_backward_f32_plan;

mk_status mk_pool2d_backward_f32_reshape(const mk_pool2d_backward_f32_op* op, size_t batch,
                                         size_t in_h, size_t in_w, size_t input_pixel_stride,
                                         size_t output_pixel_stride, mk_threadpool* pool,
                                         mk_pool2d_backward_f32_plan* plan);

/// Max pooling's training forward: y (as mk_max_pool2d_f32 computes it) and the index of each
/// maximum. INVALID_ARGUMENT for an average or adaptive operator, or an image of more than
/// INT32_MAX pixels.
mk_status mk_max_pool2d_f32_forward_indices(const mk_pool2d_backward_f32_op* op,
                                            const mk_pool2d_backward_f32_plan* plan,
                                            const float* x, float* y, int32_t* indices,
                                            mk_threadpool* pool);

/// dx from dy (and, for max pooling, the forward's indices; NULL otherwise). dx must not
/// overlap dy.
mk_status mk_pool2d_backward_f32_run(const mk_pool2d_backward_f32_op* op,
                                     const mk_pool2d_backward_f32_plan* plan, const float* dy,
                                     const int32_t* indices, float* dx, mk_threadpool* pool);

mk_variant mk_pool2d_backward_f32_variant(const mk_pool2d_backward_f32_op* op);

void mk_pool2d_backward_f32_destroy(mk_pool2d_backward_f32_op* op);

/// A convolution's weight gradient as a GEMM over pixels:
///   c[i * ldc + j] (+)= sum over p in [0, pixels), in order, of a[p * lda + i] * b[p * ldb + j]
/// for i < m, j < n, and bias[i] (+)= sum over p of a[p * lda + i] when bias != NULL; "+=" when
/// `accumulate` (continuing the same chains: a long reduction may be fed in blocks of pixels),
/// "=" otherwise. For a 1x1 convolution a is the output gradient (m = output channels) and b the
/// input (n = input channels); for a KxK one b is the im2col patches. Blocks of both operands are
/// packed into `workspace` (mk_weight_gradient_f32_workspace_bytes for this m, n, variant and
/// pool; float-aligned; not overlapping the operands), or, when `workspace` is NULL, into memory
/// allocated for the call. Threads split the rows of c (or, for one group with n > m, its
/// columns), never the pixels: the same bits for any thread count. INVALID_ARGUMENT for zero sizes, leading dimensions below the widths, c, bias or
/// the workspace overlapping an operand, or a workspace below the size needed; UNSUPPORTED for a
/// variant without these kernels or one the CPU lacks.
mk_status mk_weight_gradient_f32(size_t pixels, size_t m, size_t n, const float* a, size_t lda,
                                 const float* b, size_t ldb, float* c, size_t ldc, float* bias,
                                 bool accumulate, void* workspace, size_t workspace_bytes,
                                 mk_variant variant, mk_threadpool* pool);

/// A grouped 1x1 convolution's weight gradient: `groups` products as mk_weight_gradient_f32
/// computes them, side by side, in one job (one pass over a and b, not one per group): group g
/// reads columns [g * m, (g + 1) * m) of a and [g * n, (g + 1) * n) of b and writes rows
/// [g * m, (g + 1) * m) of c and bias entries [g * m, (g + 1) * m). The same bits as one
/// mk_weight_gradient_f32 call per group, for any thread count; its workspace (m, n: one group's).
/// INVALID_ARGUMENT also for groups 0 or lda < groups * m or ldb < groups * n; SIZE_OVERFLOW
/// when groups * m or groups * n overflows.
mk_status mk_grouped_weight_gradient_f32(size_t pixels, size_t groups, size_t m, size_t n, const float* a,
                                         size_t lda, const float* b, size_t ldb, float* c, size_t ldc, float* bias,
                                         bool accumulate, void* workspace, size_t workspace_bytes,
                                         mk_variant variant, mk_threadpool* pool);

/// The workspace mk_weight_gradient_f32 needs for an m x n product with this variant and pool
/// (its thread count; at most about 1.3 MB per thread whatever m and n).
mk_status mk_weight_gradient_f32_workspace_bytes(size_t m, size_t n, mk_variant variant,
                                                 mk_threadpool* pool, size_t* bytes);

/// A convolution's geometry for mk_conv2d_weight_gradient_f32, one group of it: x holds
/// `in_channels` channels at a pixel stride of `input_pixel_stride` (offset x to the group's
/// first channel), dy `out_channels` at `output_pixel_stride`. Taps outside the input (padding
/// on the top and left by pad_top and pad_left; the bottom and right follow from out_h, out_w)
/// read zeros.
typedef struct mk_conv2d_wgrad_geometry {
    size_t batch, in_h, in_w, out_h, out_w;
    size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    size_t in_channels, out_channels, input_pixel_stride, output_pixel_stride;
} mk_conv2d_wgrad_geometry;

/// A KxK (strided, padded, dilated) convolution's weight gradient: mk_weight_gradient_f32 with
/// b = x's im2col patches, built a block of pixels at a time while packing (no patch matrix):
///   dw[o * K + (ky * kernel_w + kx) * in_channels + c] (+)= sum over output pixels p, in order,
///       of dy[p][o] * x[input pixel of p's tap (ky, kx)][c]   (K = kernel_h * kernel_w * in_channels)
/// and dbias[o] (+)= sum over p of dy[p][o] when dbias != NULL. The same bits as
/// mk_weight_gradient_f32 on the materialized patches, for any thread count. The workspace as
/// there (mk_conv2d_weight_gradient_f32_workspace_bytes). INVALID_ARGUMENT for zero sizes,
/// pixel strides below the channels, or dw or dbias overlapping x or dy; SIZE_OVERFLOW for
/// extents memory cannot address.
mk_status mk_conv2d_weight_gradient_f32(const mk_conv2d_wgrad_geometry* geometry, const float* x,
                                        const float* dy, float* dw, float* dbias, bool accumulate,
                                        void* workspace, size_t workspace_bytes, mk_variant variant,
                                        mk_threadpool* pool);

mk_status mk_conv2d_weight_gradient_f32_workspace_bytes(const mk_conv2d_wgrad_geometry* geometry,
                                                        mk_variant variant, mk_threadpool* pool,
                                                        size_t* bytes);

/// Dropout in training mode, for the forward (x the input, y the output) and the backward (x the
/// output's gradient, y the input's, with the same seed and offset): y[i] = x[i] * m[i], m[i] the
/// float nearest 1 / (1 - p) when element offset + i is kept, else 0 (so, as PyTorch's mask
/// product, a dropped negative value gives -0 and a dropped NaN or infinity NaN; the product may
/// be 1 ulp from x[i] / (1 - p)). The keep decision is a pure function of (seed, offset + i)
/// (mk_dropout_keeps), kept with probability 1 - p to within 2^-24: the same mask for any thread
/// count and ISA, nothing stored between the passes. p = 0 copies (bit for bit), p = 1 multiplies
/// by 0. x == y is
/// allowed (in place); any other overlap is INVALID_ARGUMENT, as are count 0 and p outside [0, 1].
mk_status mk_dropout_f32(size_t count, const float* x, float* y, float p, uint64_t seed,
                         uint64_t offset, mk_threadpool* pool);

/// Whether mk_dropout_f32 keeps element `index` for this seed and p.
bool mk_dropout_keeps(uint64_t seed, uint64_t index, float p);

/// A matrix transposed, with a bias per source row (NULL: none, -0.0 stays -0.0) and an
/// activation (as mk_bias_activation_f32 applies it: the same bits as a convolution's fused one):
///   dst[c * dst_stride + r] = act(src[r * src_stride + c] + bias[r])   (r < rows, c < cols).
/// A Linear layer's training step computes its output transposed, y^T = W x^T, on the weights
/// as the optimizer keeps them, and lays it out with this; its input gradient reads dy^T. Threads
/// split tiles of both dimensions. NULL_POINTER for a NULL src or dst; INVALID_ARGUMENT for zero sizes, strides below the widths, an
/// invalid activation, or dst overlapping src or the bias; SIZE_OVERFLOW for extents memory
/// cannot address.
mk_status mk_transpose_f32(size_t rows, size_t cols, const float* src, size_t src_stride, const float* bias,
                           mk_activation activation, float* dst, size_t dst_stride, mk_threadpool* pool);

/// SGD's hyperparameters (torch.optim.SGD's names). Nesterov needs momentum > 0 and dampening 0.
typedef struct mk_sgd_params {
    float learning_rate, momentum, dampening, weight_decay;
    bool nesterov;
} mk_sgd_params;

/// One SGD step over `count` parameters as torch.optim.SGD computes it, in float32, each
/// operation rounded in this order:
///   d = grad + weight_decay * p
///   momentum > 0: buf = first_step ? d : momentum * buf + (1 - dampening) * d
///                 d = nesterov ? d + momentum * buf : buf
///   p = p - learning_rate * d
/// `momentum_buffer` (count floats; may be NULL when momentum is 0) is read unless `first_step`
/// and written. Element-wise: the same bits for any thread count and ISA. INVALID_ARGUMENT for
/// count 0, negative or non-finite hyperparameters, dampening outside [0, 1], Nesterov without
/// momentum or with dampening, or overlapping buffers.
mk_status mk_sgd_f32(size_t count, float* params, const float* grads, float* momentum_buffer,
                     const mk_sgd_params* hyper, bool first_step, mk_threadpool* pool);

/// PyTorch's CrossEntropyLoss (mean over the batch) of `logits` [batch, classes] against one
/// class index per image: `*loss` = the mean over images of log(sum_j exp(z_j)) - z_label, and
/// `logits_gradient` [batch, classes] = (softmax(z) - onehot(label)) / batch. Per row:
/// log-sum-exp from the row's maximum, each exp(z_j - max) and the log evaluated in float64 and
/// rounded, sums in class order, rows in image order; one loop for every ISA on the calling
/// thread, so the bits depend on nothing else. `logits_gradient` may be `logits` (in place);
/// any other overlap, `loss` inside either, batch or classes 0, or a label outside [0, classes)
/// is INVALID_ARGUMENT (nothing written). A NaN logit makes its row's loss and gradient NaN.
mk_status mk_softmax_cross_entropy_f32(size_t batch, size_t classes, const float* logits,
                                       const intptr_t* labels, float* logits_gradient,
                                       float* loss);

#ifdef __cplusplus
}
#endif

#endif
