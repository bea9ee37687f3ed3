// Pooling, NHWC float32: max, average, global average and adaptive average pooling, one operator
// type (mk_pool2d_f32_op) made by four creates, then reshape (a plan) / run / destroy.
//
// A plan covers `batch` images of in_h x in_w pixels of `channels` floats; pixel strides are the distances in floats between neighbouring pixels (0 means the
// channel count; otherwise at least it), so they read from and write into channel slices of
// wider tensors (concat without copies). Pixel p of image n is at (n * in_h * in_w + p) * stride.
// `variant` picks scalar / avx2 / avx512 / neon (AUTO: the best this CPU runs; BLIS and any
// variant the CPU lacks: MK_STATUS_UNSUPPORTED). `pool` may be NULL (one thread); each output
// element is computed whole by one thread in a fixed order, so results never depend on the
// thread count. Nothing allocates. Input and output must not overlap unless a function says so.
//
// The loops are vectorized over channels; sums are taken in the order the reference
// (ReferenceKernels) takes them, so max pooling, average pooling, the global and adaptive pools
// are bit-exact against it and the same on every variant; activations multiply by the float
// nearest 1/6 where PyTorch divides by 6 (hardswish, hardsigmoid: one unit in the last place).
#ifndef MK_POOL_H
#define MK_POOL_H

#include "mk_activation.h"
#include "mk_base.h"
#include "mk_threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/// The window of max and average pooling (PyTorch's MaxPool2d / AvgPool2d with dilation 1 and
/// ceil_mode False). Output size, floor mode:
///   out_h = (in_h + pad_top + pad_bottom - kernel_h) / stride_h + 1   (out_w alike),
/// which must be at least 1. Output pixel (oy, ox) covers input rows oy * stride_h - pad_top +
/// [0, kernel_h) and columns ox * stride_w - pad_left + [0, kernel_w), clipped to the image.
typedef struct mk_pool2d_params {
    size_t kernel_h, kernel_w;  // >= 1
    size_t stride_h, stride_w;  // >= 1
    /// Each side < the kernel on its axis, so every window holds at least one real pixel.
    size_t pad_top, pad_left, pad_bottom, pad_right;
    /// Average pooling only (max pooling ignores it). True (PyTorch's default): every window
    /// divides by kernel_h * kernel_w, padded cells counting as zeros (in floor mode every window
    /// lies inside the padded image). False: by the number of real pixels in the window.
    bool count_include_pad;
    /// Applied to each result (relu, relu6, hardswish, hardsigmoid, clamp, or none).
    mk_activation activation;
} mk_pool2d_params;

/// The output size for an input of in_h x in_w. MK_STATUS_INVALID_ARGUMENT for bad parameters
/// (zero kernel or stride, padding >= kernel, bad activation) or an empty output (in_h or in_w 0,
/// or the padded input smaller than the kernel); MK_STATUS_SIZE_OVERFLOW when in + padding
/// overflows.
mk_status mk_pool2d_output_size(const mk_pool2d_params* params, size_t in_h, size_t in_w,
                                size_t* out_h, size_t* out_w);

typedef struct mk_pool2d_f32_op mk_pool2d_f32_op;

/// Max pooling: out[n, oy, ox, c] = act(max over the window of in[n, y, x, c]). Padded cells
/// are never candidates (PyTorch pads with -inf); the window is scanned row by row keeping v
/// when v > best or v is NaN, so a NaN anywhere in the window gives NaN.
mk_status mk_max_pool2d_f32_create(const mk_pool2d_params* params, size_t channels,
                                   mk_variant variant, mk_pool2d_f32_op** op_out);

/// Average pooling: out = act(sum / divisor), the sum of the window's real pixels taken row by
/// row from 0, the divisor as set by `count_include_pad`.
mk_status mk_avg_pool2d_f32_create(const mk_pool2d_params* params, size_t channels,
                                   mk_variant variant, mk_pool2d_f32_op** op_out);

/// Global average pooling [n, h, w, c] -> [n, 1, 1, c]:
///   out[n * output_stride + c] = (sum over pixels p in row-major order of in[n, p, c]) / (h * w),
/// summed from 0 in float, then one division (the output pixel stride is the distance between
/// the images' output rows).
mk_status mk_global_avg_pool_f32_create(size_t channels, mk_variant variant,
                                        mk_pool2d_f32_op** op_out);

/// PyTorch's AdaptiveAvgPool2d((out_h, out_w)): output cell (i, j) averages input rows
/// floor(i * in_h / out_h) ..< ceil((i + 1) * in_h / out_h) and columns
/// floor(j * in_w / out_w) ..< ceil((j + 1) * in_w / out_w): their sum (row by row, from 0)
/// divided by their count. The identity when the sizes are equal; cells repeat when the output
/// is larger than the input. out_h and out_w >= 1.
mk_status mk_adaptive_avg_pool2d_f32_create(size_t channels, size_t out_h, size_t out_w,
                                            mk_variant variant, mk_pool2d_f32_op** op_out);

/// A pooling planned for one input size and set of strides. The fields after
/// `output_pixel_stride` are the operator's.
typedef struct mk_pool2d_f32_plan {
    size_t batch, in_h, in_w, out_h, out_w, input_pixel_stride, output_pixel_stride;
    // private:
    const mk_pool2d_f32_op* op;
    size_t in_extent, out_extent, channel_tile, tile_i;
} mk_pool2d_f32_plan;

/// INVALID_ARGUMENT for a zero batch, strides below the channel count or an input the window
/// does not fit (in_h or in_w 0); SIZE_OVERFLOW for unaddressable sizes. `pool` (may be NULL):
/// the thread count the work is split for.
mk_status mk_pool2d_f32_reshape(const mk_pool2d_f32_op* op, size_t batch, size_t in_h,
                                size_t in_w, size_t input_pixel_stride,
                                size_t output_pixel_stride, mk_threadpool* pool,
                                mk_pool2d_f32_plan* plan);

/// Input and output must not overlap. Never allocates. INVALID_ARGUMENT for a plan of another
/// operator.
mk_status mk_pool2d_f32_run(const mk_pool2d_f32_op* op, const mk_pool2d_f32_plan* plan,
                            const float* input, float* output, mk_threadpool* pool);

/// The variant the operator runs (AUTO resolved).
mk_variant mk_pool2d_f32_variant(const mk_pool2d_f32_op* op);

void mk_pool2d_f32_destroy(mk_pool2d_f32_op* op);

#ifdef __cplusplus
}
#endif

#endif
