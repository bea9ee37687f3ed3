// The convolution operator's state, shared by its files: conv2d.c (validation, packing at
// create, planning, scheduling), conv2d_shuffle.c (the fused channel shuffle) and conv2d_blis.c
// (the BLIS backend). The GEMM itself is the igemm driver's (drivers/igemm.h).
#ifndef MK_CONV2D_INTERNAL_H
#define MK_CONV2D_INTERNAL_H

#include "../drivers/igemm.h"

#define MK_CONV_MAX_SHUFFLE_GROUPS 32

struct mk_conv2d_f32_op {
    mk_conv2d_params p;
    mk_variant variant;
    size_t cin_g, cout_g, taps;
    mk_epilogue epilogue;
    mk_igemm_window window;
    mk_igemm_geometry geometry;  // igemm variants
    float* packed;               // geometry.packed_floats
    float* bias;                 // geometry.bias_floats, zero-padded
    float* zeros;                // cin_g zeros: the A row of padding taps
    const mk_shuffle_kernels* shuffle;  // shuffle_output: the transposes
    float* blis_weights;  // BLIS: [Cout][Cin/G] as given (B = its transpose, by strides)
    float* blis_bias;     // BLIS: [Cout] (zeros when no bias)
};

// The igemm job of a plan and its operands.
mk_igemm_job mk_conv2d_job(const mk_conv2d_f32_op* op, const mk_conv2d_f32_plan* plan, const float* input,
                           float* output, const float* residual);

// The fused shuffle's task over pixel tiles: conv2d_shuffle.c.
typedef struct mk_conv2d_shuffle_job {
    mk_igemm_job igemm;
    mk_f32_shuffle_ukernel_fn transpose;  // [G][columns] -> [columns][G], for the op's G
} mk_conv2d_shuffle_job;

void mk_conv2d_shuffle_task(void* context, size_t thread, size_t mt0, size_t mtiles);

// BLIS: whether this build has it, copying the weights at create and the run.
mk_status mk_conv2d_blis_create(mk_conv2d_f32_op* op, const float* weights, const float* bias);
mk_status mk_conv2d_blis_run(const mk_conv2d_f32_op* op, const mk_conv2d_f32_plan* plan,
                             const float* input, float* output, const float* residual,
                             mk_threadpool* pool);

#endif
