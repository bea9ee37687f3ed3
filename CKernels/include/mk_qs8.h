// int8 convolution (dense, grouped, pointwise; fully connected as 1x1 on one pixel; depthwise),
// NHWC,
// XNNPACK's QS8 scheme with per-channel weights ("qc8w"):
//   - activations int8, asymmetric per tensor: real = scale * (q - zero_point);
//   - weights int8 in [-127, 127], symmetric per output channel: real = weight_scale[o] * q;
//   - bias int32 per output channel, in units of input_scale * weight_scale[o] (real = that
//     product times q), so it adds to the int32 sums exactly;
//   - int32 accumulation of sum (x - input_zero_point) * w + bias (exact);
//   - float32 requantization, the same operations on every variant, so every variant gives the
//     same bits as the reference (Sources/ReferenceKernels):
//       m[o] = input_scale * weight_scale[o] / output_scale           (float, in that order)
//       x = (float)acc * m[o]
//       x = fma((float)(r - residual_zero_point), residual_scale / output_scale, x)  (residual)
//       x = min(max(x, lo - output_zero_point), hi - output_zero_point)
//       out = (int8)(round_half_even(x) + output_zero_point)
//     where [lo, hi] is the activation's range in int8: RELU and RELU6 and CLAMP give
//     q(min), q(max) with q(v) = output_zero_point + round_half_even(v / output_scale) (float
//     division), clamped to [-128, 127]; NONE gives [-128, 127].
// Shapes, padding (taps outside the input read input_zero_point, i.e. real zero), strides and
// limits are mk_conv2d's (mk_conv.h); K = kernel_h * kernel_w * input_channels / groups is at
// most 65536 so no int32 sum can overflow. Lifecycle: create / reshape / run / destroy as for
// mk_conv2d_f32; `run` never allocates.
#ifndef MK_QS8_H
#define MK_QS8_H

#include "mk_base.h"
#include "mk_conv.h"
#include "mk_dwconv.h"
#include "mk_pool.h"
#include "mk_squeeze_excitation.h"
#include "mk_threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/// A per-tensor affine quantization: real = scale * (q - zero_point). scale is finite and > 0;
/// zero_point in [-128, 127].
typedef struct mk_quantization {
    float scale;
    int32_t zero_point;
} mk_quantization;

/// The largest K (taps x input channels per group) of an int8 convolution.
#define MK_QS8_MAX_K 65536

typedef struct mk_conv2d_qs8_params {
    /// Shapes as for float; activation NONE, RELU, RELU6 or CLAMP (others UNSUPPORTED: the
    /// hard-swish family needs its own int8 kernel); shuffle_output false and algorithm AUTO or
    /// DIRECT (else UNSUPPORTED).
    mk_conv2d_params conv;
    mk_quantization input, output;
    /// The residual's quantization (read only by runs with a residual).
    mk_quantization residual;
    /// Float output (a network's logits from int8 features): each output is
    /// (float)(acc + bias') * (input_scale * weight_scale[o]), nothing else applied; `output` is
    /// then unused, the activation must be NONE (else UNSUPPORTED), and only
    /// mk_conv2d_qs8_run_f32 runs it (output pixel strides in floats).
    bool output_f32;
} mk_conv2d_qs8_params;

typedef struct mk_conv2d_qs8_op mk_conv2d_qs8_op;

/// MK_STATUS_OK when `variant` runs these parameters on this CPU, else the status create would
/// return (INVALID_ARGUMENT for bad shapes or quantization, UNSUPPORTED for a variant without
/// qs8 kernels or the CPU, or for the parameters named above).
mk_status mk_conv2d_qs8_supports(const mk_conv2d_qs8_params* params, mk_variant variant);

/// `weights` [output_channels, input_channels / groups, kernel_h, kernel_w] int8 in [-127, 127]
/// (-128 is INVALID_ARGUMENT); `weight_scales` [output_channels] finite > 0; `bias`
/// [output_channels] int32 or NULL (zero). Copied and packed for the chosen microkernels.
mk_status mk_conv2d_qs8_create(const mk_conv2d_qs8_params* params, const int8_t* weights,
                               const float* weight_scales, const int32_t* bias,
                               mk_variant variant, mk_conv2d_qs8_op** op_out);

mk_status mk_conv2d_qs8_output_size(const mk_conv2d_qs8_op* op, size_t in_h, size_t in_w,
                                    size_t* out_h, size_t* out_w);

/// A planned run (see mk_conv2d_f32_plan); strides in elements (bytes). Caller-owned; the fields
/// after `residual_pixel_stride` are the operator's.
typedef struct mk_conv2d_qs8_plan {
    size_t batch, in_h, in_w, out_h, out_w;
    size_t input_pixel_stride, output_pixel_stride, residual_pixel_stride;
    // private:
    const mk_conv2d_qs8_op* op;
    size_t pixels, in_extent, out_extent, res_extent;
    size_t mr, block_tiles, blocks, units, tile_i;
    size_t extent_h, extent_w;
    bool dense;
    size_t tap_offset[256];
    bool tile_offsets;
    size_t tile_offset[256];
} mk_conv2d_qs8_plan;

mk_status mk_conv2d_qs8_reshape(const mk_conv2d_qs8_op* op, size_t batch, size_t in_h,
                                size_t in_w, size_t input_pixel_stride,
                                size_t output_pixel_stride, size_t residual_pixel_stride,
                                mk_threadpool* pool, mk_conv2d_qs8_plan* plan);

/// `residual` (NULL for none) has the output's shape and the plan's residual stride, and is
/// quantized with params.residual; it may be the output itself (same pointer and stride) but
/// must not otherwise overlap it. Input and output must not overlap.
mk_status mk_conv2d_qs8_run(const mk_conv2d_qs8_op* op, const mk_conv2d_qs8_plan* plan,
                            const int8_t* input, int8_t* output, const int8_t* residual,
                            mk_threadpool* pool);

/// mk_conv2d_qs8_run for an op created with output_f32: `output` holds floats (no residual).
/// MK_STATUS_INVALID_ARGUMENT for an op without output_f32 (and mk_conv2d_qs8_run for one with it).
mk_status mk_conv2d_qs8_run_f32(const mk_conv2d_qs8_op* op, const mk_conv2d_qs8_plan* plan,
                                const int8_t* input, float* output, mk_threadpool* pool);

mk_variant mk_conv2d_qs8_variant(const mk_conv2d_qs8_op* op);

/// The bytes held for weights: packed int8 panels, int32 bias and float scales per column, the
/// zero-point row. 0 for NULL.
size_t mk_conv2d_qs8_weight_bytes(const mk_conv2d_qs8_op* op);

void mk_conv2d_qs8_destroy(mk_conv2d_qs8_op* op);

// ---- Depthwise ------------------------------------------------------------------------------
//
// int8 depthwise convolution (depth multiplier 1), the same scheme and requantization (no
// residual): acc[c] = bias[c] + sum_taps (x - input_zero_point) * w[c, ky, kx], taps in the
// padding adding nothing; m[c] = input_scale * weight_scale[c] / output_scale. Shapes and limits
// are mk_dwconv2d's (kernels 1..11, any stride, dilation, padding); activation NONE, RELU, RELU6
// or CLAMP.

typedef struct mk_dwconv2d_qs8_params {
    mk_dwconv2d_params dw;
    mk_quantization input, output;
} mk_dwconv2d_qs8_params;

typedef struct mk_dwconv2d_qs8_op mk_dwconv2d_qs8_op;

mk_status mk_dwconv2d_qs8_supports(const mk_dwconv2d_qs8_params* params, mk_variant variant);

/// `weights` [channels, 1, kernel_h, kernel_w] int8 in [-127, 127]; `weight_scales` [channels]
/// finite > 0; `bias` [channels] int32 or NULL.
mk_status mk_dwconv2d_qs8_create(const mk_dwconv2d_qs8_params* params, const int8_t* weights,
                                 const float* weight_scales, const int32_t* bias,
                                 mk_variant variant, mk_dwconv2d_qs8_op** op_out);

mk_status mk_dwconv2d_qs8_output_size(const mk_dwconv2d_qs8_op* op, size_t in_h, size_t in_w,
                                      size_t* out_h, size_t* out_w);

typedef struct mk_dwconv2d_qs8_plan {
    size_t batch, in_h, in_w, out_h, out_w, input_pixel_stride, output_pixel_stride;
    // private:
    const mk_dwconv2d_qs8_op* op;
    size_t rows, tile_rows, in_extent, out_extent;
} mk_dwconv2d_qs8_plan;

mk_status mk_dwconv2d_qs8_reshape(const mk_dwconv2d_qs8_op* op, size_t batch, size_t in_h,
                                  size_t in_w, size_t input_pixel_stride,
                                  size_t output_pixel_stride, mk_threadpool* pool,
                                  mk_dwconv2d_qs8_plan* plan);

/// Input and output must not overlap. Never allocates.
mk_status mk_dwconv2d_qs8_run(const mk_dwconv2d_qs8_op* op, const mk_dwconv2d_qs8_plan* plan,
                              const int8_t* input, int8_t* output, mk_threadpool* pool);

mk_variant mk_dwconv2d_qs8_variant(const mk_dwconv2d_qs8_op* op);
size_t mk_dwconv2d_qs8_weight_bytes(const mk_dwconv2d_qs8_op* op);
void mk_dwconv2d_qs8_destroy(mk_dwconv2d_qs8_op* op);

// ---- Pooling, add, lookup tables, channel shuffle ---------------------------------------------
//
// Portable C (no variants: each is one pass over memory that the compiler vectorizes or that
// costs little next to the convolutions); threads split pixels or rows, each output computed
// whole by one thread.

typedef enum mk_pool_qs8_kind {
    /// Max over the window (padding never a candidate); input and output quantization must be
    /// equal (max commutes with dequantization), so the result is exact; then the activation's
    /// int8 range.
    MK_POOL_QS8_MAX = 0,
    /// acc = sum over the window's real pixels of (x - input_zero_point) (int32), divided by the
    /// divisor d of mk_pool2d_params.count_include_pad through the requantization with
    /// m = input_scale / (output_scale * (float)d).
    MK_POOL_QS8_AVERAGE = 1,
    /// The average over the whole image (d = h * w), output 1x1: `pool`'s window is ignored.
    MK_POOL_QS8_GLOBAL_AVERAGE = 2,
    /// PyTorch's AdaptiveAvgPool2d((adaptive_h, adaptive_w)): cell (i, j) averages rows
    /// floor(i * in_h / out_h) ..< ceil((i + 1) * in_h / out_h) and the columns alike, divided
    /// by their count (requantized as AVERAGE); `pool`'s window is ignored.
    MK_POOL_QS8_ADAPTIVE_AVERAGE = 3,
} mk_pool_qs8_kind;

typedef struct mk_pool2d_qs8_params {
    mk_pool_qs8_kind kind;
    size_t channels;        // >= 1
    mk_pool2d_params pool;  // window, count_include_pad; activation NONE/RELU/RELU6/CLAMP
    mk_quantization input, output;
    size_t adaptive_h, adaptive_w;  // ADAPTIVE_AVERAGE's output size (>= 1)
} mk_pool2d_qs8_params;

typedef struct mk_pool2d_qs8_op mk_pool2d_qs8_op;

/// INVALID_ARGUMENT for bad windows or quantizations (or MAX with different input and output
/// quantization); UNSUPPORTED for other activations.
mk_status mk_pool2d_qs8_create(const mk_pool2d_qs8_params* params, mk_pool2d_qs8_op** op_out);

typedef struct mk_pool2d_qs8_plan {
    size_t batch, in_h, in_w, out_h, out_w, input_pixel_stride, output_pixel_stride;
    // private:
    const mk_pool2d_qs8_op* op;
    size_t rows, tile_rows, in_extent, out_extent;
} mk_pool2d_qs8_plan;

mk_status mk_pool2d_qs8_reshape(const mk_pool2d_qs8_op* op, size_t batch, size_t in_h, size_t in_w,
                                size_t input_pixel_stride, size_t output_pixel_stride,
                                mk_threadpool* pool, mk_pool2d_qs8_plan* plan);
mk_status mk_pool2d_qs8_run(const mk_pool2d_qs8_op* op, const mk_pool2d_qs8_plan* plan,
                            const int8_t* input, int8_t* output, mk_threadpool* pool);
void mk_pool2d_qs8_destroy(mk_pool2d_qs8_op* op);

/// Elementwise add of two int8 tensors of `channels` per pixel (strides in elements, 0 =
/// channels): x = (float)(a - za) * (sa / so); x = fma((float)(b - zb), sb / so, x); then the
/// activation's int8 range, round half to even, + zo. `out` may be `a` or `b` (same stride).
mk_status mk_add_qs8(size_t pixels, size_t channels, const int8_t* a, size_t a_stride,
                     mk_quantization a_quantization, const int8_t* b, size_t b_stride,
                     mk_quantization b_quantization, int8_t* out, size_t out_stride,
                     mk_quantization out_quantization, mk_activation activation,
                     mk_threadpool* pool);

/// A lookup table of any activation (hard-swish and hard-sigmoid included) from int8 to int8:
/// table[q + 128] = clamp(round_half_even(act((float)(q - zi) * si) / so) + zo) with act as
/// PyTorch computes it in float (hardswish (x * relu6(x + 3)) / 6, hardsigmoid relu6(x + 3) / 6).
mk_status mk_lut_qs8_table(mk_activation activation, mk_quantization input,
                           mk_quantization output, int8_t table[256]);

/// out[p, c] = table[in[p, c] + 128]; in place allowed (same stride).
mk_status mk_lut_qs8(size_t pixels, size_t channels, const int8_t table[256], const int8_t* input,
                     size_t input_stride, int8_t* output, size_t output_stride,
                     mk_threadpool* pool);

// ---- Squeeze-and-excitation --------------------------------------------------------------------
//
// MobileNetV3's squeeze-and-excitation on int8 activations, the layers in float: per image
//   S[c]    = sum over the image's pixels of (x - input_zero_point)      (int32, exact)
//   mean[c] = ((float)S[c] / (float)(h * w)) * input_scale
//   g       = mk_squeeze_excitation_f32's layers on mean: fc1 + ReLU, fc2 + hardsigmoid (the
//             same operations, so the same bits on every variant)
//   y       = requantization of (x - input_zero_point) with m[c] = g[c] * (input_scale /
//             output_scale), no activation (range [-128, 127])
// With the output quantized as the input (what QuantizedNetwork does: |x * g| <= |x|),
// m[c] = g[c]. h * w is at most 2^23 (int32 sums).

typedef struct mk_squeeze_excitation_qs8_op mk_squeeze_excitation_qs8_op;

/// Weights as mk_squeeze_excitation_f32_create (float; copied). The layers run on `variant`'s
/// float kernels (AVX512VNNI: AVX512's, AVXVNNI: AVX2's, NEONDOT: NEON's), and the int8 loops
/// take their AVX-512 form where that resolves to AVX512. INVALID_ARGUMENT for sizes out of
/// range, an invalid quantization (or input scale / output scale not finite) or a non-finite
/// weight; UNSUPPORTED for a variant the CPU lacks.
mk_status mk_squeeze_excitation_qs8_create(size_t channels, size_t squeeze_channels,
                                           const float* fc1_weight, const float* fc1_bias,
                                           const float* fc2_weight, const float* fc2_bias,
                                           mk_quantization input, mk_quantization output,
                                           mk_variant variant, mk_squeeze_excitation_qs8_op** op_out);

typedef struct mk_squeeze_excitation_qs8_plan {
    size_t batch, h, w, input_pixel_stride, output_pixel_stride;
    // private:
    const mk_squeeze_excitation_qs8_op* op;
    size_t image, in_extent, out_extent, channel_tile, rows_per_tile;
} mk_squeeze_excitation_qs8_plan;

/// INVALID_ARGUMENT for a zero size or strides below the channel count (0 = channels);
/// SIZE_OVERFLOW for h * w above 2^23 or unaddressable sizes.
mk_status mk_squeeze_excitation_qs8_reshape(const mk_squeeze_excitation_qs8_op* op, size_t batch,
                                            size_t h, size_t w, size_t input_pixel_stride,
                                            size_t output_pixel_stride, mk_threadpool* pool,
                                            mk_squeeze_excitation_qs8_plan* plan);

/// `output` may be `input` (same pixel stride: in place); otherwise they must not overlap. Never
/// allocates (the per-image vectors, 64 KiB, are on the stack).
mk_status mk_squeeze_excitation_qs8_run(const mk_squeeze_excitation_qs8_op* op,
                                        const mk_squeeze_excitation_qs8_plan* plan,
                                        const int8_t* input, int8_t* output, mk_threadpool* pool);

/// The float variant the layers run (AUTO resolved).
mk_variant mk_squeeze_excitation_qs8_variant(const mk_squeeze_excitation_qs8_op* op);

void mk_squeeze_excitation_qs8_destroy(mk_squeeze_excitation_qs8_op* op);

/// Quantizes float pixels: q = clamp(round_half_even(x / scale) + zero_point, -128, 127), NaN
/// giving the zero point (Swift's Quantization.quantize). Strides in elements (0 = channels).
mk_status mk_quantize_f32_qs8(size_t pixels, size_t channels, const float* input,
                              size_t input_stride, int8_t* output, size_t output_stride,
                              mk_quantization quantization, mk_threadpool* pool);

/// Dequantizes int8 pixels: x = scale * (float)(q - zero_point).
mk_status mk_dequantize_qs8_f32(size_t pixels, size_t channels, const int8_t* input,
                                size_t input_stride, float* output, size_t output_stride,
                                mk_quantization quantization, mk_threadpool* pool);

/// Channel shuffle of int8 pixels (mk_channel_shuffle_f32's permutation: channel g * (C / G) + i
/// goes to i * G + g). Input and output must not overlap.
mk_status mk_channel_shuffle_qs8(size_t groups, size_t channels, size_t pixels,
                                 const int8_t* input, size_t input_stride, int8_t* output,
                                 size_t output_stride, mk_threadpool* pool);

#ifdef __cplusplus
}
#endif

#endif
