// Small fully connected microkernels (the squeeze-and-excitation's two layers), vectorized over
// outputs, weights transposed to [inputs][outputs]:
//   fc: y[o] = epilogue((0 + x[0] * wt[0 * ld + o] + x[1] * wt[1 * ld + o] + ...) + bias[o])
// for o < outputs, `ld` (>= outputs) being the floats between weight rows, so a caller can
// compute a slice of a wider layer's outputs (the threads of the squeeze-and-excitation split
// them); every output is computed the same way whatever the slice, so the bits do not change.
// one fused multiply-add per step (explicit, so every ISA rounds alike: fmaf on the x86 scalar
// variant, a libm call there), in input order, so every ISA gives the same bits. Blocks of MK_PL_FC_BLOCK outputs are accumulated in registers; weight
// matrices of 64K floats or more are read in one sequential pass with the sums in y when one
// vector goes through them; groups of 4 vectors (`rows`) keep register blocks instead.
#ifndef MK_FC_UKERNEL_H
#define MK_FC_UKERNEL_H

#include "../../common/internal.h"

// `rows` vectors at once: x's row r at x + r * ldx gives y's row r at y + r * ldy, each output
// the same chain as for one vector (the weights loaded once per group of rows; see
// fc_template.h).
typedef void (*mk_f32_fc_ukernel_fn)(size_t rows, size_t inputs, size_t outputs, const float* x, size_t ldx,
                                     const float* weights_t, size_t ld, const float* bias, float* y,
                                     size_t ldy, const mk_epilogue* epilogue);

#define MK_FC_ARGS                                                                                  \
    size_t rows, size_t inputs, size_t outputs, const float* x, size_t ldx, const float* weights_t, \
        size_t ld, const float* bias, float* y, size_t ldy, const mk_epilogue* epilogue

void mk_f32_fc_ukernel_16c__scalar(MK_FC_ARGS);
#if defined(__x86_64__)
void mk_f32_fc_ukernel_64c__avx2(MK_FC_ARGS);
void mk_f32_fc_ukernel_256c__avx512(MK_FC_ARGS);
#endif
#if defined(__aarch64__)
void mk_f32_fc_ukernel_64c__neon(MK_FC_ARGS);
#endif

#endif
