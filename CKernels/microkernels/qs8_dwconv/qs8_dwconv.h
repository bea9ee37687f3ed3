// int8 depthwise convolution microkernels (QS8, per-channel weights), NHWC: one output pixel,
// all its channels, from one input pointer per tap (padding taps point at a row of the input's
// zero point).
//
// `mk_qs8_dwconv_ukernel_up<T>__<isa>` computes, for c < channels:
//   acc[c] = sum_{t < taps} x[t][c] * w(t, c)
// (int32, exact: |x w| <= 128 * 127), then requantizes it as the GEMM microkernels do
// (qs8_gemm.h; rq->bias and rq->scale hold one value per channel, padded to a multiple of T; no
// residual). Taps go in pairs, two products per int32 lane (x86 vpmaddwd, NEON vmull_s8 +
// vmlal_s8: two products fit int16 since weights are in [-127, 127]); `w` is packed per block of
// T channels: [ceil(taps / 2)][T][2] int8 (a pair's two taps side by side, the second weight of
// an odd kernel's last pair zero), unless the kernel gives `wide_index`: then the weights are
// int16, [ceil(taps / 2)] x (T pairs) per block, weight (pair, which tap of it, channel j of the
// block) at int16 index wide_index(pair, which, j) (the order its multiply-adds want). Only
// channels [0, channels) of the x rows and `out` are read or written.
#ifndef MK_QS8_DWCONV_UKERNEL_H
#define MK_QS8_DWCONV_UKERNEL_H

#include "../qs8_gemm/qs8_gemm.h"

#define MK_QS8_DW_ARGS                                                                      \
    size_t channels, size_t taps, const int8_t* const* x, const int8_t* w, int8_t* out,     \
        const mk_qs8_requant* rq

typedef void (*mk_qs8_dwconv_ukernel_fn)(MK_QS8_DW_ARGS);

// A row form (optional): `pixels` output pixels of a row whose taps all lie inside the image,
// pixel i's tap t at x[t] + i * x_step (x_step: the stride times the input's pixel stride),
// output pixel i at out + i * out_step; otherwise as the per-pixel form (same bits).
#define MK_QS8_DW_ROW_ARGS                                                                  \
    size_t pixels, size_t channels, const int8_t* const* x, size_t x_step, const int8_t* w, \
        int8_t* out, size_t out_step, const mk_qs8_requant* rq
#define MK_QS8_DW_ROW_ARGS_TAPS                                                             \
    size_t pixels, size_t channels, size_t taps, const int8_t* const* x, size_t x_step,     \
        const int8_t* w, int8_t* out, size_t out_step, const mk_qs8_requant* rq
typedef void (*mk_qs8_dwconv_row_fn)(MK_QS8_DW_ROW_ARGS_TAPS);

typedef struct mk_qs8_dwconv_kernel {
    size_t tile;  // T
    mk_qs8_dwconv_ukernel_fn fn;
    size_t (*wide_index)(size_t pair, size_t which, size_t j);  // NULL: int8 [pairs][T][2]
    mk_qs8_dwconv_row_fn row;  // NULL: per pixel only
} mk_qs8_dwconv_kernel;

extern const mk_qs8_dwconv_kernel mk_qs8_dwconv_ukernel_up4__scalar;
#if defined(__x86_64__)
extern const mk_qs8_dwconv_kernel mk_qs8_dwconv_ukernel_up8__avx2;
extern const mk_qs8_dwconv_kernel mk_qs8_dwconv_ukernel_up32__avx512;
extern const mk_qs8_dwconv_kernel mk_qs8_dwconv_ukernel_up32__avx512vnni;
#endif
#if defined(__aarch64__)
extern const mk_qs8_dwconv_kernel mk_qs8_dwconv_ukernel_up8__neon;
#endif

#endif
