// Pooling backward microkernels (NHWC float32), vectorized over channels:
//   argmax:      max pooling's training forward over one window (rows x cols pixels at
//                x[r * row_step + q * col_step + c]): y[c] = the max (kept when v > best or v is
//                NaN, PyTorch's rule) and idx[c] = its pixel's index within the image, first +
//                r * row_index + q (the first cell's index when every value is -inf).
//   gather_max:  one input pixel's gradient from the `windows` outputs whose window holds it:
//                dx[c] = sum over w, in order, of (idx[w][c] == target ? dy[w][c] : 0).
//   gather_avg:  dx[c] = sum over w, in order, of dy[w][c] / divisor[w].
// Both gathers add in the order the reference scatters (ascending output pixel), from 0, so
// they give its bits. Nothing outside [0, channels) of a row is read or written.
#ifndef MK_POOLGRAD_UKERNEL_H
#define MK_POOLGRAD_UKERNEL_H

#include <stdint.h>

#include "../../common/internal.h"

typedef void (*mk_f32_argmax_ukernel_fn)(size_t rows, size_t cols, const float* x,
                                         size_t row_step, size_t col_step, size_t channels,
                                         float* y, int32_t* idx, int32_t first,
                                         int32_t row_index);
typedef void (*mk_f32_gather_max_ukernel_fn)(size_t channels, size_t windows,
                                             const float* const* dy, const int32_t* const* idx,
                                             int32_t target, float* dx);
typedef void (*mk_f32_gather_avg_ukernel_fn)(size_t channels, size_t windows,
                                             const float* const* dy, const float* divisors,
                                             float* dx);

typedef struct mk_poolgrad_kernels {
    mk_f32_argmax_ukernel_fn argmax;
    mk_f32_gather_max_ukernel_fn gather_max;
    mk_f32_gather_avg_ukernel_fn gather_avg;
} mk_poolgrad_kernels;

extern const mk_poolgrad_kernels mk_f32_poolgrad_ukernels__scalar;
#if defined(__x86_64__)
extern const mk_poolgrad_kernels mk_f32_poolgrad_ukernels__avx2;
extern const mk_poolgrad_kernels mk_f32_poolgrad_ukernels__avx512;
#endif
#if defined(__aarch64__)
extern const mk_poolgrad_kernels mk_f32_poolgrad_ukernels__neon;
#endif

#endif
