// Weight-gradient GEMM microkernels (float32): C += A^T B over k rows, with A and B read in
// place from NHWC tensors, one pixel per row (no transposes, no packing):
//   tile:  c[m * ldc + n] += sum over r in [0, k), in order, of a[r * lda + m] * b[r * ldb + n]
//          for m < MK_WG_MR, n < 2 * MK_PL_VEC (the full tile);
//   edge:  the same for m < mr, n < nr (mr <= MK_WG_MR, nr <= 2 * MK_PL_VEC).
// A is the output gradient (k pixels x its channels), B the input or its im2col patches, C the
// weight gradient [out channels][patch columns]. Each element of C is one chain of
// multiply-adds in row order, so the split of tiles over threads changes no bit.
#ifndef MK_WGRAD_UKERNEL_H
#define MK_WGRAD_UKERNEL_H

#include "../../common/internal.h"

#define MK_WG_MR 6

typedef void (*mk_f32_wgrad_tile_fn)(size_t k, const float* a, size_t lda, const float* b,
                                     size_t ldb, float* c, size_t ldc);
typedef void (*mk_f32_wgrad_edge_fn)(size_t k, size_t mr, size_t nr, const float* a, size_t lda,
                                     const float* b, size_t ldb, float* c, size_t ldc);

typedef struct mk_wgrad_kernels {
    size_t mr, nr;
    mk_f32_wgrad_tile_fn tile;
    mk_f32_wgrad_edge_fn edge;
} mk_wgrad_kernels;

extern const mk_wgrad_kernels mk_f32_wgrad_ukernels__scalar;
#if defined(__x86_64__)
extern const mk_wgrad_kernels mk_f32_wgrad_ukernels__avx2;
extern const mk_wgrad_kernels mk_f32_wgrad_ukernels__avx512;
#endif
#if defined(__aarch64__)
extern const mk_wgrad_kernels mk_f32_wgrad_ukernels__neon;
#endif

#endif
