// Row add and multiply microkernels (NHWC float32), `rows` rows of `channels` floats, each with
// its own row stride, vectorized over channels (rows_template.h's blocks):
//   vmul:         y[c] = x[c] * s[c]            (x and y do not overlap)
//   vmul_inplace: y[c] = y[c] * s[c]
//   vadd:         y[c] = epilogue(a[c] + b[c])  (y overlaps neither a nor b; a may equal b)
//   vadd_inplace: y[c] = epilogue(y[c] + b[c])  (b may also be y)
// One operation per element, so every ISA gives the same bits. Nothing outside [0, channels) of a
// row is read or written.
#ifndef MK_VBINARY_UKERNEL_H
#define MK_VBINARY_UKERNEL_H

#include "../../common/internal.h"

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

// One ISA's set (mk_f32_<op>_ukernel_<block>c__<isa> inside).
typedef struct mk_vbinary_kernels {
    mk_f32_vmul_ukernel_fn vmul;
    mk_f32_vmul_inplace_ukernel_fn vmul_inplace;
    mk_f32_vadd_ukernel_fn vadd;
    mk_f32_vadd_inplace_ukernel_fn vadd_inplace;
} mk_vbinary_kernels;

extern const mk_vbinary_kernels mk_f32_vbinary_ukernels__scalar;
#if defined(__x86_64__)
extern const mk_vbinary_kernels mk_f32_vbinary_ukernels__avx2;
extern const mk_vbinary_kernels mk_f32_vbinary_ukernels__avx512;
#endif
#if defined(__aarch64__)
extern const mk_vbinary_kernels mk_f32_vbinary_ukernels__neon;
#endif

#endif
