// Depthwise 2D convolution, NHWC float32, depth multiplier 1 (mk_dwconv2d).
//
// out[n, oy, ox, c] = act(bias[c] + sum_{ky, kx} w[c, 0, ky, kx] *
//                         in[n, oy * stride_h - pad_top + ky * dilation_h,
//                               ox * stride_w - pad_left + kx * dilation_w, c])
// with taps outside the input skipped (zero padding). Output size:
//   out_h = (in_h + pad_top + pad_bottom - dilation_h * (kernel_h - 1) - 1) / stride_h + 1
// (the same for the width); it must be at least 1.
//
// 3x3 and 5x5 kernels with dilation 1 and horizontal stride 1 or 2 run on specialized
// microkernels (weights in registers, several output pixels per step); every other kernel size
// (1..11), dilation and stride runs on a generic one, still vectorized over channels.
#ifndef MK_DWCONV_H
#define MK_DWCONV_H

#include "mk_activation.h"
#include "mk_base.h"
#include "mk_threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mk_dwconv2d_params {
    size_t channels;              // >= 1
    size_t kernel_h, kernel_w;    // 1..11
    size_t stride_h, stride_w;    // >= 1
    size_t dilation_h, dilation_w;  // >= 1
    size_t pad_top, pad_left, pad_bottom, pad_right;  // each < the dilated kernel extent
    mk_activation activation;
} mk_dwconv2d_params;

typedef struct mk_dwconv2d_f32_op mk_dwconv2d_f32_op;

/// Whether `variant` runs a depthwise convolution with `params` on this CPU: MK_STATUS_OK, or the
/// status mk_dwconv2d_f32_create would return (INVALID_ARGUMENT for parameters outside the limits
/// above, UNSUPPORTED for a variant without depthwise microkernels or one the CPU lacks). The
/// one place these rules live: layers, networks, tests and benchmarks ask it.
mk_status mk_dwconv2d_f32_supports(const mk_dwconv2d_params* params, mk_variant variant);

/// `weights` is PyTorch's [channels, 1, kernel_h, kernel_w]; `bias` is [channels] or NULL (zero).
/// Both are copied and packed for the chosen microkernel.
mk_status mk_dwconv2d_f32_create(const mk_dwconv2d_params* params, const float* weights,
                             const float* bias, mk_variant variant, mk_dwconv2d_f32_op** op_out);

/// The output size for an input of in_h x in_w; MK_STATUS_INVALID_ARGUMENT when it would be
/// empty (input smaller than the dilated kernel after padding) or when in_h or in_w is 0.
mk_status mk_dwconv2d_f32_output_size(const mk_dwconv2d_f32_op* op, size_t in_h, size_t in_w,
                                  size_t* out_h, size_t* out_w);

/// A depthwise convolution planned for `batch` images of in_h x in_w and a set of pixel strides
/// (the distances in floats between neighbouring pixels; 0 means `channels`, otherwise at least
/// it, so the operator can read from or write into a channel slice of a wider tensor). The
/// fields after `output_pixel_stride` are the operator's.
typedef struct mk_dwconv2d_f32_plan {
    size_t batch, in_h, in_w, out_h, out_w, input_pixel_stride, output_pixel_stride;
    // private:
    const mk_dwconv2d_f32_op* op;
    size_t rows, in_extent, out_extent;
} mk_dwconv2d_f32_plan;

/// INVALID_ARGUMENT for a zero batch, strides below the channel count or an input the kernel
/// does not fit; SIZE_OVERFLOW for unaddressable sizes. `pool` (may be NULL): the thread count
/// the work is split for.
mk_status mk_dwconv2d_f32_reshape(const mk_dwconv2d_f32_op* op, size_t batch, size_t in_h, size_t in_w,
                              size_t input_pixel_stride, size_t output_pixel_stride,
                              mk_threadpool* pool, mk_dwconv2d_f32_plan* plan);

/// Input and output must not overlap. `pool` may be NULL. Never allocates. INVALID_ARGUMENT for
/// a plan of another operator.
mk_status mk_dwconv2d_f32_run(const mk_dwconv2d_f32_op* op, const mk_dwconv2d_f32_plan* plan,
                          const float* input, float* output, mk_threadpool* pool);

/// The input rows [*first_row, *first_row + *rows) that output rows [out_row_begin, out_row_end)
/// of an image in_h rows high read (padding aside): the band mk_dwconv2d_f32_run_rows needs.
/// INVALID_ARGUMENT for an empty range or one past the output height.
mk_status mk_dwconv2d_f32_input_rows(const mk_dwconv2d_f32_op* op, size_t in_h, size_t out_row_begin,
                                 size_t out_row_end, size_t* first_row, size_t* rows);

/// Output rows [out_row_begin, out_row_end) of one image of in_h x in_w pixels, from a band of
/// its input rows: `input` holds image rows [in_row_first, in_row_first + in_rows) (pointing at
/// row in_row_first), and `output` points at output row out_row_begin. The rows those outputs
/// read (padding aside) must lie in the band, else INVALID_ARGUMENT. Each output gets exactly the
/// bits mk_dwconv2d_f32_run gives it, so a network can compute a layer band by band while its
/// producer fills the band (input and output in cache, not memory).
mk_status mk_dwconv2d_f32_run_rows(const mk_dwconv2d_f32_op* op, size_t in_h, size_t in_w,
                               size_t in_row_first, size_t in_rows, const float* input,
                               size_t input_pixel_stride, size_t out_row_begin,
                               size_t out_row_end, float* output, size_t output_pixel_stride,
                               mk_threadpool* pool);

/// The variant the operator runs (AUTO resolved).
mk_variant mk_dwconv2d_f32_variant(const mk_dwconv2d_f32_op* op);

/// The bytes the operator holds for its packed weights, bias and zero row. 0 for NULL.
size_t mk_dwconv2d_f32_weight_bytes(const mk_dwconv2d_f32_op* op);

/// Whether the operator runs a specialized (3x3/5x5) microkernel on interior pixels.
bool mk_dwconv2d_f32_is_specialized(const mk_dwconv2d_f32_op* op);

/// Replaces the op's weights [C][kh][kw] and bias (NULL: zeros), packed as create packs them,
/// without allocating (a training step's update). Not while a run of this op is in flight.
mk_status mk_dwconv2d_f32_set_weights(mk_dwconv2d_f32_op* op, const float* weights, const float* bias);

void mk_dwconv2d_f32_destroy(mk_dwconv2d_f32_op* op);

#ifdef __cplusplus
}
#endif

#endif
