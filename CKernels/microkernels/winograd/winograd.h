// Winograd F(4x4, 3x3) transforms (NHWC float32), vectorized over channels: the two ends of a
// 3x3 stride-1 convolution computed as 36 GEMMs (one per point of a 6x6 tile) in Lavin and
// Gray's minimal filtering, with the points 0, 1, -1, 2, -2 and infinity:
//   V = B^T d B   (input, a 6x6 tile d of input pixels -> 36 values per channel)
//   U = G g G^T   (weights: a 3x3 kernel g -> 36 values, at create or, for layers whose U is
//                  too large to stay cached, in the run; operators/conv2d_winograd.c)
//   Y = A^T M A   (output, the 36 GEMM results M per channel -> a 4x4 tile of output pixels)
// with
//   B^T = [4  0 -5  0 1 0; 0 -4 -4  1 1 0; 0  4 -4 -1 1 0;
//          0 -2 -1  2 1 0; 0  2 -1 -2 1 0; 0  4  0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// Point p of a tile is row * 6 + column.
//
// input:  for c < channels and p < 36: v[p * v_stride + c] = V[p] of channel c, where the tile's
//         pixel (row i, column j) of channel c is d[i * 6 + j][c] (padding pixels point at zeros).
// output: for c < channels and the output pixel (row r, column q) of the tile, when
//         y[r * 4 + q] is not NULL:
//           y[r * 4 + q][c] = epilogue(Y[r][q] + residual[r * 4 + q][c] + bias[c])
//         where M[p] of channel c is m[p * m_stride + c]; `residual` is NULL (none) or has a
//         pointer wherever y has one. Nothing outside [0, channels) is read or written.
// weights: for c < cin, n < width and i < 6: u[i * u_stride + c * width + n] = U[6 i + column]
//         (one column of the 6x6 points) of the kernel g whose tap t (row-major 3x3) is
//         g[(c * 9 + t) * width + n]: a column tile of `width` output channels in the igemm
//         driver's panel layout, a point every u_stride floats. Six points at a time keep a
//         layer's U of one column tile small enough to stay in L2 while its GEMMs read it.
// The arithmetic is the same portable C for every ISA (rows_template.h's blocks); ISAs differ
// only in vector width and in whether the compiler fuses multiply-adds, so variants agree to
// rounding, not bit for bit.
#ifndef MK_WINOGRAD_UKERNEL_H
#define MK_WINOGRAD_UKERNEL_H

#include "../../common/internal.h"

#define MK_WINO_POINTS 36  // 6x6 transformed values per tile
#define MK_WINO_IN 6       // input tile side
#define MK_WINO_OUT 4      // output tile side

typedef void (*mk_f32_wino_input_ukernel_fn)(size_t channels, const float* const* d, float* v,
                                             size_t v_stride);
typedef void (*mk_f32_wino_weights_ukernel_fn)(size_t cin, size_t width, size_t column,
                                               const float* g, float* u, size_t u_stride);
typedef void (*mk_f32_wino_output_ukernel_fn)(size_t channels, const float* m, size_t m_stride,
                                              const float* bias, float* const* y,
                                              const float* const* residual,
                                              const mk_epilogue* epilogue);

// One ISA's three transforms (mk_f32_wino4x3_{input,weights,output}_ukernel_<block>c__<isa>).
typedef struct mk_wino_kernels {
    mk_f32_wino_input_ukernel_fn input;
    mk_f32_wino_output_ukernel_fn output;
    mk_f32_wino_weights_ukernel_fn weights;
} mk_wino_kernels;

extern const mk_wino_kernels mk_f32_wino4x3_ukernels__scalar;
#if defined(__x86_64__)
extern const mk_wino_kernels mk_f32_wino4x3_ukernels__avx2;
extern const mk_wino_kernels mk_f32_wino4x3_ukernels__avx512;
#endif
#if defined(__aarch64__)
extern const mk_wino_kernels mk_f32_wino4x3_ukernels__neon;
#endif

#endif
