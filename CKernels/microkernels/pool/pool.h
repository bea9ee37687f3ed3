// Pooling window microkernels (NHWC float32), vectorized over channels: one output pixel over
// channels [0, channels), from the rows x cols input pixels of its (already clipped) window,
// `in[r * row_step + q * col_step + c]`:
//   maxpool: out[c] = epilogue(max), the window scanned row by row keeping v when
//            v > best || v is NaN (PyTorch's rule: any NaN in the window gives NaN; padded cells
//            are simply not in the window);
//   avgpool: out[c] = epilogue((0 + v0 + v1 + ...) / divisor), summed in the same order.
// Both match a plain loop in that order bit for bit, on every ISA (no reassociation, no FMA).
//
// Each ISA file instantiates the same portable C loops (pool_template.h over rows_template.h)
// inside functions that carry the ISA's target attribute, with the channel block a compile-time
// constant: blocks of MK_PL_BLOCK channels (4 vectors) and then of one vector are accumulated in
// registers; the last channels below one vector are one vector overlapping the previous one (or,
// for fewer channels than a vector, a loop the compiler predicates on x86), so nothing outside
// [0, channels) of a row is read or written.
#ifndef MK_POOL_UKERNEL_H
#define MK_POOL_UKERNEL_H

#include "../../common/internal.h"

typedef void (*mk_f32_pool_ukernel_fn)(size_t rows, size_t cols, const float* input,
                                       size_t row_step, size_t col_step, size_t channels,
                                       float* output, float divisor, const mk_epilogue* epilogue);

// One ISA's pair (mk_f32_{maxpool,avgpool}_ukernel_<block>c__<isa> inside).
typedef struct mk_pool_kernels {
    mk_f32_pool_ukernel_fn maxpool;
    mk_f32_pool_ukernel_fn avgpool;
} mk_pool_kernels;

extern const mk_pool_kernels mk_f32_pool_ukernels__scalar;
#if defined(__x86_64__)
extern const mk_pool_kernels mk_f32_pool_ukernels__avx2;
extern const mk_pool_kernels mk_f32_pool_ukernels__avx512;
#endif
#if defined(__aarch64__)
extern const mk_pool_kernels mk_f32_pool_ukernels__neon;
#endif

#endif
