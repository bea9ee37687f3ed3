// The convolution operator's state, shared by its files: conv2d.c (validation, packing at
// create, planning, scheduling), conv2d_shuffle.c (the fused channel shuffle) and conv2d_blis.c
// (the BLIS backend). The GEMM itself is the igemm driver's (drivers/igemm.h).
#ifndef MK_CONV2D_INTERNAL_H
#define MK_CONV2D_INTERNAL_H

#include "../drivers/igemm.h"

#include <stdatomic.h>

#define MK_CONV_MAX_SHUFFLE_GROUPS 32

struct mk_conv2d_f32_op {
    mk_conv2d_params p;
    mk_variant variant;
    size_t cin_g, cout_g, taps;
    mk_epilogue epilogue;
    mk_igemm_window window;
    // Row taps (mk_conv_row_taps): `geometry` is then a GEMM of kernel_h taps of
    // kernel_w * cin channels, and `packed` is in that order (the same K sum).
    bool row_taps;
    mk_igemm_geometry geometry;  // igemm variants
    float* packed;               // geometry.packed_floats
    float* bias;                 // geometry.bias_floats, zero-padded
    float* zeros;                // cin_g zeros: the A row of padding taps
    const mk_shuffle_kernels* shuffle;  // shuffle_output: the transposes
    float* blis_weights;  // BLIS: [Cout][Cin/G] as given (B = its transpose, by strides)
    float* blis_bias;     // BLIS: [Cout] (zeros when no bias)
    mk_conv2d_algorithm algorithm;  // resolved: DIRECT or WINOGRAD
    // Winograd: the transform kernels; `geometry` is then the GEMM of one point (Cin x Cout,
    // one tap) and `packed` holds the 36 points' packed U one after another (geometry.packed_floats
    // each); `bias` is the GEMM's zero bias and wino_bias the layer's [Cout] (zeros when none).
    const mk_wino_kernels* wino;
    float* wino_bias;
    // Winograd with U computed in the run (layers whose U would exceed MK_WINO_U_HELD):
    // `packed` then holds the kernels g per column tile, [tile][Cin][9][tile width] (a tile every
    // 9 * geometry.tile_floats floats), 9/36 of U's size; a plan computes U per block and column
    // tile in its tasks' workspaces, or once per run into the plan's workspace (conv2d_winograd.c).
    bool wino_lazy;
    // Row taps and Winograd: the reordered / transformed weights before packing (one point's
    // [Cout][Cin] for Winograd), kept so that set_weights repacks without allocating.
    float* scratch;
};

// The igemm job of a plan and its operands.
// Checks the shape limits and the activation of mk_conv2d_params (shared by f32 and qs8).
mk_status mk_conv2d_validate_params(const mk_conv2d_params* p);
// The same for mk_dwconv2d_params (operators/dwconv2d.c).
mk_status mk_dwconv2d_validate_params(const mk_dwconv2d_params* p);

// int8 helpers shared by the qs8 operators (operators/conv2d_qs8.c): a quantization's validity
// (scale finite > 0, zero point in int8); whether an activation is a clamp (none, relu, relu6,
// clamp); its int8 range at `output` minus the output zero point (see mk_qs8.h); whether
// two byte ranges overlap.
bool mk_qs8_quantization_valid(mk_quantization q);
bool mk_qs8_activation_supported(mk_activation activation);
void mk_qs8_clamp(mk_activation activation, mk_quantization output, float* lo, float* hi);
bool mk_qs8_overlap(const void* a, size_t a_bytes, const void* b, size_t b_bytes);

mk_igemm_job mk_conv2d_job(const mk_conv2d_f32_op* op, const mk_conv2d_f32_plan* plan, const float* input,
                           float* output, const float* residual);

// The fused shuffle's task over pixel tiles: conv2d_shuffle.c.
typedef struct mk_conv2d_shuffle_job {
    mk_igemm_job igemm;
    mk_f32_shuffle_ukernel_fn transpose;  // [G][columns] -> [columns][G], for the op's G
} mk_conv2d_shuffle_job;

void mk_conv2d_shuffle_task(void* context, size_t thread, size_t mt0, size_t mtiles);

// Winograd F(4x4, 3x3) (conv2d_winograd.c): transformed and packed weights at create, the
// tiling at reshape, the run.
// Bytes of a thread's Winograd buffers to plan for; 0: the default (tests set it to force
// several tile blocks on small layers).
extern _Thread_local size_t mk_conv2d_winograd_workspace_override;
// Where U comes from, for the ops created and planned from now on: 0, by size (see
// conv2d_winograd.c); 1, U per block and column tile; 2, U at create; 3, U once per run. Tests
// set it to run every form on small layers. Per thread, so a test's setting never reaches the
// ops other tests create at the same time.
extern _Thread_local int mk_conv2d_winograd_lazy_override;
mk_status mk_conv2d_winograd_create(mk_conv2d_f32_op* op, const float* weights, const float* bias);
// Transforms and packs `weights` into the buffers create allocated (set_weights).
void mk_conv2d_winograd_pack(mk_conv2d_f32_op* op, const float* weights, const float* bias);
mk_status mk_conv2d_winograd_reshape(const mk_conv2d_f32_op* op, size_t threads,
                                     mk_conv2d_f32_plan* plan);
mk_status mk_conv2d_winograd_run(const mk_conv2d_f32_op* op, const mk_conv2d_f32_plan* plan,
                                 const float* input, float* output, const float* residual,
                                 mk_threadpool* pool);

// BLIS: whether this build has it, copying the weights at create and the run.
mk_status mk_conv2d_blis_create(mk_conv2d_f32_op* op, const float* weights, const float* bias);
void mk_conv2d_blis_pack(mk_conv2d_f32_op* op, const float* weights, const float* bias);
mk_status mk_conv2d_blis_run(const mk_conv2d_f32_op* op, const mk_conv2d_f32_plan* plan,
                             const float* input, float* output, const float* residual,
                             mk_threadpool* pool);

#endif
