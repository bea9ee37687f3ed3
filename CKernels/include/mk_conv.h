// Dense, grouped and pointwise 2D convolution, NHWC float32 (mk_conv2d, mk_conv1x1).
//
// out[n, oy, ox, g * Cout/G + o] = act(bias + residual + sum_{ky, kx, c}
//     w[g * Cout/G + o, c, ky, kx] * in[n, oy * stride_h - pad_top + ky * dilation_h,
//                                          ox * stride_w - pad_left + kx * dilation_w,
//                                          g * Cin/G + c])
// for every group g < G, with taps outside the input skipped (zero padding) and `residual` the
// optional tensor added before the activation (MobileNetV2's linear bottleneck, with activation
// NONE). Output size as for the depthwise operator:
//   out_h = (in_h + pad_top + pad_bottom - dilation_h * (kernel_h - 1) - 1) / stride_h + 1.
//
// Every convolution runs as a GEMM [pixels x (taps * Cin/G)] x [(taps * Cin/G) x Cout/G] per group
// on register-blocked microkernels (AVX-512 7x32, AVX2 6x16, NEON 6x8, scalar 4x4) that read the
// input in place through per-pixel pointers (no im2col buffer), with weights packed at create,
// cache blocking over K and N, and bias, residual and activation fused into the store.
// 3x3 stride-1 dense layers of enough channels (VGG16's, AlexNet's) run as Winograd F(4x4, 3x3)
// by default: 36 GEMMs on the same microkernels over transformed 6x6 tiles (mk_conv2d_algorithm).
// The BLIS variant runs the 1x1 convolutions (groups >= 1, any stride) on bli_sgemm and applies
// the epilogue after; it does not run KxK kernels or the fused shuffle (MK_STATUS_UNSUPPORTED).
#ifndef MK_CONV_H
#define MK_CONV_H

#include "mk_activation.h"
#include "mk_base.h"
#include "mk_threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/// How a convolution is computed.
typedef enum mk_conv2d_algorithm {
    /// The catalogue's rule (mk_conv2d_f32_supports): Winograd for the 3x3 stride-1 dense layers
    /// where it measured faster, direct everywhere else.
    MK_CONV2D_ALGORITHM_AUTO = 0,
    /// The GEMM over the input read in place (every convolution).
    MK_CONV2D_ALGORITHM_DIRECT = 1,
    /// Winograd F(4x4, 3x3): 3x3 kernels, stride 1, dilation 1, one group, no fused shuffle, and
    /// a variant with GEMM microkernels (not BLIS). 4x fewer multiplications than direct on
    /// whole tiles; differs from it by rounding (about 1e-6 relative to the output's scale, see
    /// CKernels/README.md); keeps the transformed 6x6 kernels (36/9 = 4x the weights) when they
    /// take at most 4 MiB and computes them in the run otherwise; needs a workspace
    /// (mk_conv2d_f32_plan.workspace_bytes).
    MK_CONV2D_ALGORITHM_WINOGRAD = 2,
} mk_conv2d_algorithm;

typedef struct mk_conv2d_params {
    size_t input_channels, output_channels;  // >= 1, each a multiple of groups
    size_t groups;                           // >= 1
    size_t kernel_h, kernel_w;               // >= 1; kernel_h * kernel_w <= 256
    size_t stride_h, stride_w;               // >= 1
    size_t dilation_h, dilation_w;           // >= 1
    size_t pad_top, pad_left, pad_bottom, pad_right;  // each < the dilated kernel extent
    mk_activation activation;
    /// Write the output channels in channel-shuffled order (ShuffleNet): channel g * Cout/G + o
    /// goes to o * G + g, exactly as mk_channel_shuffle with `groups` would put it, with no
    /// separate pass. Requires groups <= 32 and no residual.
    bool shuffle_output;
    /// AUTO (0) unless a caller asks for one; an algorithm these parameters cannot use is
    /// MK_STATUS_UNSUPPORTED.
    mk_conv2d_algorithm algorithm;
} mk_conv2d_params;

typedef struct mk_conv2d_f32_op mk_conv2d_f32_op;

/// Whether `variant` runs a convolution with `params` on this CPU: MK_STATUS_OK, or the status
/// mk_conv2d_f32_create would return (INVALID_ARGUMENT for parameters outside the limits above,
/// UNSUPPORTED for a variant the CPU lacks or that has no kernels for these parameters: BLIS
/// runs only 1x1 kernels without padding or fused shuffle; Winograd only the layers named at
/// MK_CONV2D_ALGORITHM_WINOGRAD). The one place these rules live: layers, networks, tests and
/// benchmarks ask it.
mk_status mk_conv2d_f32_supports(const mk_conv2d_params* params, mk_variant variant);

/// `weights` is PyTorch's [output_channels, input_channels / groups, kernel_h, kernel_w]; `bias`
/// is [output_channels] or NULL (zero). Both are copied and packed for the chosen microkernel.
mk_status mk_conv2d_f32_create(const mk_conv2d_params* params, const float* weights,
                           const float* bias, mk_variant variant, mk_conv2d_f32_op** op_out);

/// The output size for an input of in_h x in_w; MK_STATUS_INVALID_ARGUMENT when it would be
/// empty or when in_h or in_w is 0.
mk_status mk_conv2d_f32_output_size(const mk_conv2d_f32_op* op, size_t in_h, size_t in_w, size_t* out_h,
                                size_t* out_w);

/// A convolution planned for one input size and set of pixel strides (XNNPACK's "reshape"):
/// the output size, the taps' offsets and the split of the work, computed once by
/// mk_conv2d_f32_reshape and used by every mk_conv2d_f32_run. Caller-owned (nothing is allocated); the
/// fields after `residual_pixel_stride` are the operator's. Valid for the operator it was made
/// for until that operator is destroyed.
typedef struct mk_conv2d_f32_plan {
    size_t batch, in_h, in_w, out_h, out_w;
    size_t input_pixel_stride, output_pixel_stride, residual_pixel_stride;
    /// Scratch memory the runs need (Winograd: the transformed tiles of each thread; 0 for the
    /// direct algorithm). The caller sets `workspace` to that many bytes, 64-byte aligned, that
    /// no concurrent run of this plan uses, before running; it holds nothing between runs.
    size_t workspace_bytes;
    void* workspace;
    // private:
    const mk_conv2d_f32_op* op;
    size_t pixels, in_extent, out_extent, res_extent;
    size_t mr, block_tiles, blocks, tile_i, units;
    size_t extent_h, extent_w;
    bool dense;
    size_t threads;  // the pool's thread count at reshape
    // Winograd: tiles, tiles per task, column parts, per-thread buffer layout.
    size_t wino_tiles_h, wino_tiles_w, wino_tiles, wino_block, wino_blocks, wino_parts;
    size_t wino_part_units, wino_v_stride, wino_m_stride, wino_u_stride, wino_u_tiles;
    size_t wino_thread_floats, wino_u_run_offset;
    size_t tap_offset[256];
    // tile_offset[t * mr + m]: floats from a pixel tile's first window to tap t of its pixel m
    // when the tile's windows lie in one row of the image (tile_offsets: taps * mr <= 256).
    bool tile_offsets;
    size_t tile_offset[256];
} mk_conv2d_f32_plan;

/// Plans runs on `batch` images of in_h x in_w. Pixel strides are the distances in floats
/// between neighbouring pixels (0 means the channel count; otherwise at least it), so the
/// operator can read from or write into a channel slice of a wider tensor (concat and split
/// without copies); the residual's stride is used only by runs with a residual. `pool` (may be
/// NULL) is the pool the runs will use: the work is split for its thread count (a run on
/// another pool gives the same results). INVALID_ARGUMENT for a zero batch, strides below the
/// channel counts or an input the kernel does not fit; SIZE_OVERFLOW for unaddressable sizes.
mk_status mk_conv2d_f32_reshape(const mk_conv2d_f32_op* op, size_t batch, size_t in_h, size_t in_w,
                            size_t input_pixel_stride, size_t output_pixel_stride,
                            size_t residual_pixel_stride, mk_threadpool* pool,
                            mk_conv2d_f32_plan* plan);

/// Runs a plan. `residual` (NULL for none) has the output's shape and the plan's residual
/// stride; it may be the output itself (same pointer and stride: out += conv), but must not
/// otherwise overlap it. Input and output must not overlap. `pool` may be NULL. Never
/// allocates. INVALID_ARGUMENT for a plan of another operator, a plan that needs a workspace
/// and has none, or (Winograd) a pool of more threads than the plan was made for.
mk_status mk_conv2d_f32_run(const mk_conv2d_f32_op* op, const mk_conv2d_f32_plan* plan, const float* input,
                        float* output, const float* residual, mk_threadpool* pool);

/// The variant the operator runs (AUTO resolved).
mk_variant mk_conv2d_f32_variant(const mk_conv2d_f32_op* op);

/// The algorithm the operator runs (AUTO resolved: DIRECT or WINOGRAD).
mk_conv2d_algorithm mk_conv2d_f32_algorithm(const mk_conv2d_f32_op* op);

/// The bytes the operator holds for its weights: the packed (Winograd: transformed, 4x) weights,
/// the padded bias and the zero row, plus a reorder scratch where it keeps one. 0 for NULL.
size_t mk_conv2d_f32_weight_bytes(const mk_conv2d_f32_op* op);

/// Replaces the op's weights and bias (the layouts create takes; bias may be NULL: zeros),
/// packed as create packs them (the same bits as a new op), without allocating: what a training
/// step's optimizer update needs. Not while a run of this op is in flight.
mk_status mk_conv2d_f32_set_weights(mk_conv2d_f32_op* op, const float* weights, const float* bias);

/// set_weights from the transposed weights `weights_t` [input_channels][output_channels] of a
/// 1x1 single-group convolution (the same packed bits as set_weights of their transpose, read
/// row by row): a Linear layer's input-gradient op updated from the forward's weights without
/// a transpose. INVALID_ARGUMENT for other shapes; UNSUPPORTED for the BLIS variant.
mk_status mk_conv2d_f32_set_weights_transposed(mk_conv2d_f32_op* op, const float* weights_t,
                                               const float* bias);

void mk_conv2d_f32_destroy(mk_conv2d_f32_op* op);

/// Pointwise convolution: mk_conv2d with a 1x1 kernel, one group, no padding, stride in both
/// directions. `weights` is [output_channels, input_channels] (PyTorch's [O, I, 1, 1]).
/// Plan, run and destroy it with the mk_conv2d functions.
mk_status mk_conv1x1_f32_create(size_t input_channels, size_t output_channels, size_t stride,
                            mk_activation activation, const float* weights, const float* bias,
                            mk_variant variant, mk_conv2d_f32_op** op_out);

#ifdef __cplusplus
}
#endif

#endif
