// Pooling and channel-wise elementwise microkernels (NHWC float32), vectorized over channels.
//
// Window kernels: one output pixel over channels [0, channels), from the rows x cols input
// pixels of its (already clipped) window, `in[r * row_step + q * col_step + c]`:
//   maxpool: out[c] = epilogue(max), the window scanned row by row keeping v when
//            v > best || v is NaN (PyTorch's rule: any NaN in the window gives NaN; padded cells
//            are simply not in the window);
//   avgpool: out[c] = epilogue((0 + v0 + v1 + ...) / divisor), summed in the same order.
// Both match a plain loop in that order bit for bit, on every ISA (no reassociation, no FMA).
//
// Row kernels, `rows` rows of `channels` floats, each with its own row stride:
//   vmul:         y[c] = x[c] * s[c]            (x and y do not overlap)
//   vmul_inplace: y[c] = y[c] * s[c]
//   vadd:         y[c] = epilogue(a[c] + b[c])  (y overlaps neither a nor b; a may equal b)
//   vadd_inplace: y[c] = epilogue(y[c] + b[c])  (b may also be y)
//
// Fully connected (the squeeze-and-excitation's two tiny layers), vectorized over outputs:
//   fc: y[o] = epilogue((0 + x[0] * wt[0 * outputs + o] + x[1] * wt[1 * outputs + o] + ...)
//                       + bias[o])
// with the weights transposed to [inputs][outputs]; a product and a sum per step (no FMA), in
// input order, as the reference's dot product.
//
// Each ISA file instantiates the same portable C loops (pool_template.h) inside functions that
// carry the ISA's target attribute, with the channel block a compile-time constant: blocks of
// MK_PL_BLOCK channels (4 vectors) and then of one vector are accumulated in registers, and the
// last channels below one vector run a loop the compiler predicates on x86 (AVX-512 mask
// registers, AVX2 vmaskmovps), so nothing outside [0, channels) of a row is read or written.
#ifndef MK_POOL_UKERNEL_H
#define MK_POOL_UKERNEL_H

#include "../../common/internal.h"

typedef void (*mk_f32_pool_ukernel_fn)(size_t rows, size_t cols, const float* input,
                                       size_t row_step, size_t col_step, size_t channels,
                                       float* output, float divisor, const mk_epilogue* epilogue);

typedef void (*mk_f32_vmul_ukernel_fn)(size_t rows, size_t channels, const float* x,
                                       size_t x_stride, const float* scale, float* y,
                                       size_t y_stride);
typedef void (*mk_f32_vmul_inplace_ukernel_fn)(size_t rows, size_t channels, float* y,
                                               size_t y_stride, const float* scale);

typedef void (*mk_f32_vadd_ukernel_fn)(size_t rows, size_t channels, const float* a,
                                       size_t a_stride, const float* b, size_t b_stride,
                                       float* y, size_t y_stride, const mk_epilogue* epilogue);
typedef void (*mk_f32_vadd_inplace_ukernel_fn)(size_t rows, size_t channels, float* y,
                                               size_t y_stride, const float* b, size_t b_stride,
                                               const mk_epilogue* epilogue);

typedef void (*mk_f32_fc_ukernel_fn)(size_t inputs, size_t outputs, const float* x,
                                     const float* weights_t, const float* bias, float* y,
                                     const mk_epilogue* epilogue);

// One ISA's set (mk_f32_<op>_ukernel_<block>c__<isa> inside).
typedef struct mk_pool_kernels {
    mk_f32_pool_ukernel_fn maxpool;
    mk_f32_pool_ukernel_fn avgpool;
    mk_f32_vmul_ukernel_fn vmul;
    mk_f32_vmul_inplace_ukernel_fn vmul_inplace;
    mk_f32_vadd_ukernel_fn vadd;
    mk_f32_vadd_inplace_ukernel_fn vadd_inplace;
    mk_f32_fc_ukernel_fn fc;
} mk_pool_kernels;

extern const mk_pool_kernels mk_f32_pool_ukernels__scalar;
#if defined(__x86_64__)
extern const mk_pool_kernels mk_f32_pool_ukernels__avx2;
extern const mk_pool_kernels mk_f32_pool_ukernels__avx512;
#endif
#if defined(__aarch64__)
extern const mk_pool_kernels mk_f32_pool_ukernels__neon;
#endif

// The set for a resolved variant (scalar for anything without its own set).
static inline const mk_pool_kernels* mk_pool_kernels_for(mk_variant variant) {
    switch (variant) {
#if defined(__x86_64__)
        case MK_VARIANT_AVX512:
            return &mk_f32_pool_ukernels__avx512;
        case MK_VARIANT_AVX2:
            return &mk_f32_pool_ukernels__avx2;
#endif
#if defined(__aarch64__)
        case MK_VARIANT_NEON:
            return &mk_f32_pool_ukernels__neon;
#endif
        default:
            return &mk_f32_pool_ukernels__scalar;
    }
}

#endif
