// Channel-shuffle microkernels: one pixel's transpose of [groups][count] into [count][groups],
//   dst[j * groups + g] = src[g * group_stride + j]   for g < groups, j < count.
// Used by mk_channel_shuffle (group_stride = C / groups) and by the convolution's fused-shuffle
// store (group_stride = the staged tile width). src and dst must not overlap.
//
// Each ISA file instantiates the same portable loop with groups a compile-time constant (2..8)
// inside a function carrying the ISA's target attribute; the compiler turns the interleaving
// store into vector loads and permutes (vpermt2ps / tbl, checked in the generated code).
// Other group counts run the generic loop.
#ifndef MK_SHUFFLE_UKERNEL_H
#define MK_SHUFFLE_UKERNEL_H

#include "../../common/internal.h"

typedef void (*mk_f32_shuffle_ukernel_fn)(size_t groups, size_t count, const float* src,
                                          size_t group_stride, float* dst);

// Index 0..8: the kernel for that constant group count (0 and 1 hold the generic kernel).
typedef struct mk_shuffle_kernels {
    mk_f32_shuffle_ukernel_fn fn[9];
} mk_shuffle_kernels;

extern const mk_shuffle_kernels mk_f32_shuffle_ukernels__scalar;
#if defined(__x86_64__)
extern const mk_shuffle_kernels mk_f32_shuffle_ukernels__avx2;
extern const mk_shuffle_kernels mk_f32_shuffle_ukernels__avx512;
#endif
#if defined(__aarch64__)
extern const mk_shuffle_kernels mk_f32_shuffle_ukernels__neon;
#endif

static inline mk_f32_shuffle_ukernel_fn mk_shuffle_kernel(const mk_shuffle_kernels* k,
                                                          size_t groups) {
    return k->fn[groups <= 8 ? groups : 0];
}

#endif
