// Weight-gradient GEMM microkernels (float32) over packed panels: C += A^T B over k pixels,
//   c[m * ldc + n] += sum over r in [0, k), in order, of a[r * MK_WG_MR + m] * b[r * NR + n]
// for m < MK_WG_MR, n < NR = 2 * MK_PL_VEC (the full tile; the driver zero-pads partial panels
// and runs partial tiles on a copy of C). A is an MR-wide panel of the output gradient (k pixels
// of MR output channels), B an NR-wide panel of the input or its im2col patches, C the weight
// gradient [out channels][patch columns]. Each element of C is one chain of multiply-adds in
// pixel order, so the split of tiles over threads changes no bit.
#ifndef MK_WGRAD_UKERNEL_H
#define MK_WGRAD_UKERNEL_H

#include "../../common/internal.h"

#define MK_WG_MR 6

typedef void (*mk_f32_wgrad_tile_fn)(size_t k, const float* a, const float* b, float* c, size_t ldc);

typedef struct mk_wgrad_kernels {
    size_t mr, nr;
    mk_f32_wgrad_tile_fn tile;
    // The same sums from 0: c = A^T B (C is written, not read).
    mk_f32_wgrad_tile_fn tile_overwrite;
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
