// int8 GEMM microkernels for convolution (NHWC, XNNPACK's QS8 with per-channel weights: "qc8w"),
// indirect form like the float ones (microkernels/gemm/gemm.h): the A operand (int8 activations)
// is read in place through one pointer per (tap, row); padding taps point at a row of the input's
// zero point.
//
// `mk_qs8_igemm_ukernel_<MR>x<NR>c4__<isa>` computes MR rows of columns [0, nc) of C, in tiles of
// NR columns (the last may be narrower) whose panels follow each other in `w` (tile j's at
// j * ks * ceil(kc / 4) * 4 * NR bytes) and whose bias and scale start at j * NR; each in int32:
//   acc[m, n] = sum_{t < ks} sum_{k < kc} a[t * MR + m][k] * w[t][k / 4][n][k % 4]
// (kc >= 1 int8 channels per pointer, read exactly: a tail of kc % 4 channels is loaded alone),
// then requantizes each element (every ISA the same float operations, so the same bits):
//   x = (float)(acc + bias[n]) * scale[n]                          (int32 add, then one rounding each)
//   x = fma((float)(residual[m][n] - residual_zero_point), residual_scale, x)   (with a residual)
//   x = min(max(x, lo), hi)                 (lo, hi: the clamp minus the output's zero point)
//   c[m][n] = (int8)(round_to_nearest_even(x) + zero_point)
// or, with rq->output_f32, the float (float)(acc[m, n] + bias[n]) * scale[n] (the logits' layer).
// A panel is [ks][ceil(kc / 4)][NR][4] int8, zero past the last channel and column. Variants
// whose instruction multiplies unsigned by signed bytes (VNNI's vpdpbusd) take the weights as
// the unsigned operand: they are packed with their sign bit flipped (w ^ 0x80 = w + 128 as an
// unsigned byte), so A is broadcast straight from memory (the signed operand, no
// per-broadcast work), and each row's sum gains 128 * sum_k a, which `row_offset[m]` (from the
// variant's `mk_qs8_row_offsets`, once per row tile) subtracts before the bias is added. Those
// kernels also have a form (`fn_ua`) for A flipped by the driver (a ^ 0x80 = a + 128 as an
// unsigned byte, copied by the variant's `mk_qs8_flip` once per row tile or chunk of small
// row tiles) and weights packed as they are: the unsigned operand is then A, and the correction, 128 * sum_k w, is per column
// and folded into the bias. The bias starts the sums: no row offsets, no per-tile additions.
// Rows m >= mr of `a` must be valid pointers (computed, not stored); nothing outside
// rows [0, mr) x columns [0, nc) of C or the residual is read or written. The residual is read
// before the same elements of C are written, so it may be C itself.
#ifndef MK_QS8_GEMM_UKERNEL_H
#define MK_QS8_GEMM_UKERNEL_H

#include "../../common/internal.h"

typedef struct mk_qs8_requant {
    const int32_t* bias;  // NR per tile of nc (packed: the zero-point corrections folded in)
    const float* scale;   // NR per tile: input_scale * weight_scale[n] / output_scale
    float lo, hi;         // the output clamp minus the output zero point (integral values)
    int32_t zero_point;   // the output's
    const int8_t* residual;  // or NULL
    size_t residual_stride;
    int32_t residual_zero_point;
    float residual_scale;  // residual_scale / output_scale
    int32_t* row_offset;  // MR values, read by the kernels of flipped weights (written by fn_sums)
    // Float output: c holds floats (c_stride still in bytes) and each element is
    // (float)(acc + bias[n]) * scale[n], nothing else applied.
    bool output_f32;
    // |(acc + bias[n]) * scale[n]| < 2^30 for every A (proved at create from the weights): a
    // kernel may round without clamping from above first (no int32 overflow), then clamp in int8.
    bool bounded;
} mk_qs8_requant;

// The forms of a kernel's two-row store (AVX-512 VNNI's mk_qg_pair_store).
#define MK_QG_SATURATE 0
#define MK_QG_CLAMP 1
#define MK_QG_RELU 2

#define MK_QS8_IGEMM_ARGS                                                                     \
    size_t mr, size_t nc, size_t kc, size_t ks, const int8_t* const* a, const int8_t* w,      \
        int8_t* c, size_t c_stride, const mk_qs8_requant* rq

typedef void (*mk_qs8_igemm_ukernel_fn)(MK_QS8_IGEMM_ARGS);

typedef struct mk_qs8_igemm_kernel {
    size_t mr, nr;
    mk_qs8_igemm_ukernel_fn fn;
    // Flipped weights only (else NULL): the same tile computing its rows' offsets itself (one
    // more dot product per row and 4 k, on the broadcast it holds) and storing them to
    // rq->row_offset: cheaper than mk_qs8_row_offsets where K per tap is small.
    mk_qs8_igemm_ukernel_fn fn_sums;
    // Flipped-weight variants only (else NULL): the same tile for flipped A and weights packed
    // as they are (see above).
    mk_qs8_igemm_ukernel_fn fn_ua;
} mk_qs8_igemm_kernel;

// For the kernels of flipped weights: out[m] = -128 * sum_{t < ks} sum_{k < kc} a[t * MR + m][k]
// (wrapping int32) for every m < MR (all MR rows' pointers are valid).
typedef void (*mk_qs8_row_offsets_fn)(size_t MR, size_t kc, size_t ks, const int8_t* const* a,
                                      int32_t* out);
// For the kernels' `fn_ua` form: the n bytes at each of rows[0 .. count) flipped (^ 0x80) to
// dst + i * n, and rows[i] set to point there.
typedef void (*mk_qs8_flip_fn)(const int8_t** rows, size_t count, size_t n, int8_t* dst);
#if defined(__x86_64__)
void mk_qs8_flip__avx512vnni(const int8_t** rows, size_t count, size_t n, int8_t* dst);
void mk_qs8_flip__avxvnni(const int8_t** rows, size_t count, size_t n, int8_t* dst);
void mk_qs8_row_offsets__avx512vnni(size_t MR, size_t kc, size_t ks, const int8_t* const* a,
                                    int32_t* out);
void mk_qs8_row_offsets__avxvnni(size_t MR, size_t kc, size_t ks, const int8_t* const* a,
                                 int32_t* out);
#endif

#define MK_DECLARE_QS8_IGEMM(name) extern const mk_qs8_igemm_kernel name;

MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_4x4c4__scalar)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_4x2c4__scalar)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_1x4c4__scalar)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_1x2c4__scalar)
#if defined(__x86_64__)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_4x8c4__avx2)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_1x8c4__avx2)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_6x16c4__avxvnni)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_6x8c4__avxvnni)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_1x16c4__avxvnni)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_1x8c4__avxvnni)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_7x32c4__avx512vnni)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_7x16c4__avx512vnni)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_1x32c4__avx512vnni)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_1x16c4__avx512vnni)
#endif
#if defined(__aarch64__)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_6x8c4__neon)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_6x4c4__neon)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_1x8c4__neon)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_1x4c4__neon)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_6x16c4__neondot)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_6x8c4__neondot)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_1x16c4__neondot)
MK_DECLARE_QS8_IGEMM(mk_qs8_igemm_ukernel_1x8c4__neondot)
#endif

#endif
