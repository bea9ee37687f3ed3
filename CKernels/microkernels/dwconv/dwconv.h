// Depthwise convolution microkernels (NHWC float32). Weights are packed per channel tile of T
// lanes (T = 16 AVX-512, 8 AVX2, 4 NEON, 4 scalar): [bias T][tap 0 T]...[tap KH*KW-1 T], taps in
// row-major (ky, kx) order, lanes past the last channel zero.
//
// Row microkernels (`<K>x<K>s<S>_row<PX>x<T>c`): the `pixels` output pixels of one output row,
// one channel tile of `nc` (1..T) channels, for an input row of in_w >= K pixels padded by
// pad_left on the left (and as needed on the right). Register tile: the KxK weight vectors and
// the bias of the tile stay in registers; PX output pixels are accumulated at once, so each input
// vector loaded feeds up to K (stride 1) FMAs. The blocks at the row's ends skip the kernel
// columns outside the input at compile time, so border pixels keep that reuse and no pixel
// branches on padding; rows shorter than the blocks need run a plain per-pixel loop.
//   rows[r]     input pixel 0 of the input row under kernel row r (channel offset applied), or
//               the operator's zero buffer when that input row is padding;
//   row_step[r] floats between neighbouring input pixels of row r (0 for the zero buffer);
//   output      first output pixel (channel offset applied), output_step floats apart.
//
// Generic microkernels (`up<T>c`): one output pixel, `channels` channels from a tile-aligned
// start, any number of taps: inputs[t] is tap t's input pixel (channel offset applied) or the
// zero buffer. Four channel tiles are accumulated at once for independent FMA chains.
//
// No microkernel reads or writes outside [0, nc) / [0, channels) of a pixel.
#ifndef MK_DWCONV_UKERNEL_H
#define MK_DWCONV_UKERNEL_H

#include "../../common/internal.h"

#define MK_DWCONV_ROW_ARGS                                                                  \
    size_t pixels, size_t nc, const float* const* rows, const size_t* row_step, size_t in_w, \
        size_t pad_left, const float* weights, float* output, size_t output_step,            \
        const mk_epilogue* epilogue
#define MK_DWCONV_PIXEL_ARGS                                                                \
    size_t channels, size_t taps, const float* const* inputs, const float* weights,         \
        float* output, const mk_epilogue* epilogue

typedef void (*mk_f32_dwconv_row_ukernel_fn)(MK_DWCONV_ROW_ARGS);
typedef void (*mk_f32_dwconv_pixel_ukernel_fn)(MK_DWCONV_PIXEL_ARGS);

void mk_f32_dwconv_ukernel_3x3s1_row2x4c__scalar(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_3x3s2_row2x4c__scalar(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_5x5s1_row2x4c__scalar(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_5x5s2_row2x4c__scalar(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_up4c__scalar(MK_DWCONV_PIXEL_ARGS);

#if defined(__x86_64__)
void mk_f32_dwconv_ukernel_3x3s1_row4x8c__avx2(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_3x3s2_row4x8c__avx2(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_5x5s1_row4x8c__avx2(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_5x5s2_row4x8c__avx2(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_up8c__avx2(MK_DWCONV_PIXEL_ARGS);

void mk_f32_dwconv_ukernel_3x3s1_row8x16c__avx512(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_3x3s2_row8x16c__avx512(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_5x5s1_row4x16c__avx512(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_5x5s2_row4x16c__avx512(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_up16c__avx512(MK_DWCONV_PIXEL_ARGS);
#endif

#if defined(__aarch64__)
void mk_f32_dwconv_ukernel_3x3s1_row8x4c__neon(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_3x3s2_row8x4c__neon(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_5x5s1_row4x4c__neon(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_5x5s2_row4x4c__neon(MK_DWCONV_ROW_ARGS);
void mk_f32_dwconv_ukernel_up4c__neon(MK_DWCONV_PIXEL_ARGS);
#endif

#endif
