// Depthwise convolution backward microkernels (NHWC float32), vectorized over channels, reading
// through indirection (one pointer per tap, as XNNPACK's depthwise kernels do):
//   dx:  one input pixel's gradient from the `taps` (output pixel, tap) pairs that read it:
//        dx[c] = dy[0][c] * w[0][c] + dy[1][c] * w[1][c] + ... in tap order (0 for no taps).
//   dw:  `pixels` output pixels' contributions to the weight gradient, accumulated in place in
//        pixel order: acc[t * acc_stride + c] += dy[p * dy_stride + c] * x[p * taps + t][x_offset + c],
//        and bias[c] += dy[p * dy_stride + c] when bias != NULL. A padded tap points at a row of
//        zeros (at least x_offset + channels of them).
// Nothing outside [0, channels) of a row is read or written; dx overlaps nothing it reads.
#ifndef MK_DWGRAD_UKERNEL_H
#define MK_DWGRAD_UKERNEL_H

#include "../../common/internal.h"

typedef void (*mk_f32_dwgrad_dx_ukernel_fn)(size_t channels, size_t taps,
                                            const float* const* dy, const float* const* w,
                                            float* dx);
typedef void (*mk_f32_dwgrad_dw_ukernel_fn)(size_t pixels, size_t channels, size_t taps,
                                            const float* const* x, size_t x_offset,
                                            const float* dy, size_t dy_stride, float* acc,
                                            size_t acc_stride, float* bias);

// One ISA's pair (mk_f32_dwgrad_{dx,dw}_ukernel_<block>c__<isa> inside).
typedef struct mk_dwgrad_kernels {
    mk_f32_dwgrad_dx_ukernel_fn dx;
    mk_f32_dwgrad_dw_ukernel_fn dw;
} mk_dwgrad_kernels;

extern const mk_dwgrad_kernels mk_f32_dwgrad_ukernels__scalar;
#if defined(__x86_64__)
extern const mk_dwgrad_kernels mk_f32_dwgrad_ukernels__avx2;
extern const mk_dwgrad_kernels mk_f32_dwgrad_ukernels__avx512;
#endif
#if defined(__aarch64__)
extern const mk_dwgrad_kernels mk_f32_dwgrad_ukernels__neon;
#endif

#endif
