// GEMM microkernels for convolution (NHWC float32), indirect form: the A operand is read in
// place through one pointer per (tap, row), so a 1x1 convolution (one tap), a strided one and a
// KxK one (taps = KH * KW, padding taps pointing at a zero buffer) share one microkernel and
// nothing is copied into an im2col buffer.
//
// `mk_f32_igemm_ukernel_<MR>x<NR>__<isa>` computes an MR x NR tile of C:
//   C[m, n] (op)= sum_{t < ks} sum_{k < kc} a[t * MR + m][k] * w[(t * kc + k) * NR + n]
// for rows m < mr (1..MR) and columns n < nc (1..NR). Rows m >= mr of `a` must still be valid
// pointers (the operator repeats the last row): they are computed and not stored. `w` is the
// packed B panel of this tile and K block, [ks][kc][NR], columns past the last channel zero.
// Per element, the k sum starts at 0.0 and runs in order t, k; then, in this order:
//   accumulate: add the value already in C (the sum of earlier K blocks);
//   otherwise (first K block): add residual[m * residual_stride + n] if residual, so the
//               residual is read before C is first written and may be C itself;
//   last:       add bias[n] (if bias), apply the epilogue.
// C row m is at c + m * c_stride. Nothing outside rows [0, mr) x columns [0, nc) is read or
// written in C or the residual. Each epilogue kind is its own function (`_<kind>` suffix is
// chosen through the table), so the store code is specialized at compile time.
#ifndef MK_GEMM_UKERNEL_H
#define MK_GEMM_UKERNEL_H

#include "../../common/internal.h"

typedef struct mk_gemm_tail {
    bool accumulate;
    bool last;
    const float* bias;      // NR floats (packed, zero-padded) or NULL; used when last
    const float* residual;  // or NULL; used when !accumulate (the first K block)
    size_t residual_stride;
    size_t bias_stride;     // dense form: floats between the bias vectors of column tiles
    mk_epilogue epilogue;
} mk_gemm_tail;

#define MK_IGEMM_ARGS                                                                      \
    size_t mr, size_t nc, size_t kc, size_t ks, const float* const* a, const float* w,     \
        float* c, size_t c_stride, const mk_gemm_tail* tail

typedef void (*mk_f32_igemm_ukernel_fn)(MK_IGEMM_ARGS);

// The dense form, for 1x1 stride-1 convolutions: `mtiles` consecutive row tiles (row m of tile
// i at a + (i * MR + m) * a_stride; C and the residual advance MR rows per tile; the last tile
// has mr_last rows) times `ntiles` consecutive column tiles of this width (panel j at
// w + j * w_stride, C columns j * NR, bias + j * tail->bias_stride; the last has nc_last
// columns), row tile by row tile, so small-K layers pay no call or pointer setup per tile and
// write each output row whole. Same arithmetic, per element, as the indirect form.
#define MK_GEMM_DENSE_ARGS                                                                  \
    size_t mtiles, size_t mr_last, size_t ntiles, size_t nc_last, size_t kc, const float* a, \
        size_t a_stride, const float* w, size_t w_stride, float* c, size_t c_stride,         \
        const mk_gemm_tail* tail

typedef void (*mk_f32_gemm_dense_ukernel_fn)(MK_GEMM_DENSE_ARGS);

// The panels form, for one-row tiles (a convolution's few pixels, a fully connected layer) with
// one tap: MK_GEMM_PANELS full column tiles (panel j at w + j * w_stride, C columns j * NR,
// bias + j * tail->bias_stride, residual + j * NR) in one k loop over the row a[0..kc). Each
// panel is a stream of its own, so a row whose weights come from memory keeps several streams in
// flight (one sequential stream reads ~15 GB/s on a Zen 2 core, four ~22). Same arithmetic, per
// element, as the indirect form. NULL in kernels of more than one row.
#define MK_GEMM_PANELS 4
#define MK_GEMM_PANELS_ARGS                                                                 \
    size_t kc, const float* a, const float* w, size_t w_stride, float* c,                   \
        const mk_gemm_tail* tail

typedef void (*mk_f32_gemm_panels_ukernel_fn)(MK_GEMM_PANELS_ARGS);

// One tile shape: a function per epilogue kind (indexed by mk_epilogue_kind).
typedef struct mk_igemm_kernel {
    size_t mr, nr;
    mk_f32_igemm_ukernel_fn fn[4];
    mk_f32_gemm_dense_ukernel_fn dense[4];
    mk_f32_gemm_panels_ukernel_fn panels[4];
} mk_igemm_kernel;

#define MK_DECLARE_IGEMM(name) extern const mk_igemm_kernel name;

MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_4x4__scalar)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_4x2__scalar)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_1x4__scalar)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_1x2__scalar)
#if defined(__x86_64__)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_6x16__avx2)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_6x8__avx2)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_1x16__avx2)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_1x8__avx2)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_7x32__avx512)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_7x16__avx512)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_7x8__avx512)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_1x32__avx512)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_1x16__avx512)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_1x8__avx512)
#endif
#if defined(__aarch64__)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_6x8__neon)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_6x4__neon)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_1x8__neon)
MK_DECLARE_IGEMM(mk_f32_igemm_ukernel_1x4__neon)
#endif

#endif
