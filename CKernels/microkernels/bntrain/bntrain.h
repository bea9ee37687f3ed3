// Training-mode microkernels (NHWC float32), vectorized over channels: BatchNorm with the batch's
// statistics and the activation gradients, over `rows` pixels of `channels` floats, each operand
// with its own pixel stride (rows_template.h's channel blocks):
//   stats:      over one chunk of rows, sum[c] = x0 + x1 + ... (row order) and
//               m2[c] = sum over rows of (x - sum[c] / rows)^2 (two passes; the chunk is small
//               enough to stay in cache). The operator combines chunks in float64 (Chan et al.).
//   normalize:  y = act(((x - mean) * inv_std) * gamma + beta)
//   reduce:     over one chunk, with g = act'(u) * dy and u = ((x - mean) * inv_std) * gamma + beta
//               recomputed from x: sum_g[c] = sum of g, sum_gx[c] = sum of g * (x - mean) * inv_std
//   dx:         dx = ka * ((g - kb) - ((x - mean) * inv_std) * kc), ka = gamma * inv_std,
//               kb = dbeta / count, kc = dgamma / count (the operator's per-channel coefficients)
//   act_grad:   dx = act'(u) * dy, and sum_g[c] = the sum of dx over the rows when sum_g != NULL
//               (the bias gradient of a chunk)
// act' follows PyTorch's backward formulas and kink rules (mk_dact_kind). dx may be dy itself
// (the same pointer and stride); no other operands overlap the output. Nothing outside
// [0, channels) of a row is read or written; a chunk's sums are written (not accumulated).
#ifndef MK_BNTRAIN_UKERNEL_H
#define MK_BNTRAIN_UKERNEL_H

#include "../../common/internal.h"

// The derivative of an activation at its input u (PyTorch's rules at the kinks):
//   IDENTITY dy; RELU u > 0; RELU6 0 < u < 6; CLAMP lo <= u <= hi (torch.clamp's backward);
//   HARDSWISH 0 below -3, dy * (u / 3 + 0.5) up to 3 inclusive, dy above;
//   HARDSIGMOID dy / 6 for -3 < u < 3, else 0.
typedef enum mk_dact_kind {
    MK_DACT_IDENTITY = 0,
    MK_DACT_RELU = 1,
    MK_DACT_RELU6 = 2,
    MK_DACT_CLAMP = 3,
    MK_DACT_HARDSWISH = 4,
    MK_DACT_HARDSIGMOID = 5,
} mk_dact_kind;

typedef struct mk_dact {
    mk_dact_kind kind;
    float min, max;  // CLAMP's bounds
} mk_dact;

// The per-channel vectors the kernels read (each `channels` floats; NULL where unused).
typedef struct mk_bn_channels {
    const float* mean;
    const float* inv_std;
    const float* gamma;
    const float* beta;
    const float* ka;  // dx's coefficients
    const float* kb;
    const float* kc;
} mk_bn_channels;

typedef void (*mk_f32_bn_stats_ukernel_fn)(size_t rows, size_t channels, const float* x,
                                           size_t x_stride, float* sum, float* m2);
typedef void (*mk_f32_bn_normalize_ukernel_fn)(size_t rows, size_t channels, const float* x,
                                               size_t x_stride, const mk_bn_channels* p, float* y,
                                               size_t y_stride, const mk_epilogue* epilogue);
typedef void (*mk_f32_bn_reduce_ukernel_fn)(size_t rows, size_t channels, const float* x,
                                            size_t x_stride, const float* dy, size_t dy_stride,
                                            const mk_bn_channels* p, const mk_dact* dact,
                                            float* sum_g, float* sum_gx);
typedef void (*mk_f32_bn_dx_ukernel_fn)(size_t rows, size_t channels, const float* x,
                                        size_t x_stride, const float* dy, size_t dy_stride,
                                        const mk_bn_channels* p, const mk_dact* dact, float* dx,
                                        size_t dx_stride);
typedef void (*mk_f32_act_grad_ukernel_fn)(size_t rows, size_t channels, const float* u,
                                           size_t u_stride, const float* dy, size_t dy_stride,
                                           const mk_dact* dact, float* dx, size_t dx_stride,
                                           float* sum_g);

// One ISA's set (mk_f32_<op>_ukernel_<block>c__<isa> inside).
typedef struct mk_bntrain_kernels {
    mk_f32_bn_stats_ukernel_fn stats;
    mk_f32_bn_normalize_ukernel_fn normalize;
    mk_f32_bn_reduce_ukernel_fn reduce;
    mk_f32_bn_dx_ukernel_fn dx;
    mk_f32_act_grad_ukernel_fn act_grad;
} mk_bntrain_kernels;

extern const mk_bntrain_kernels mk_f32_bntrain_ukernels__scalar;
#if defined(__x86_64__)
extern const mk_bntrain_kernels mk_f32_bntrain_ukernels__avx2;
extern const mk_bntrain_kernels mk_f32_bntrain_ukernels__avx512;
#endif
#if defined(__aarch64__)
extern const mk_bntrain_kernels mk_f32_bntrain_ukernels__neon;
#endif

#endif
