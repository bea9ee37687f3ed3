// Test-only access to the catalogue's microkernels (not part of the CKernels ABI): runs one
// microkernel of the catalogue directly, so tests check every tile and remainder of every
// variant the catalogue lists, without going through an operator's tiling.
#ifndef CKERNELS_TESTING_H
#define CKERNELS_TESTING_H

#include "../../../CKernels/include/ckernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// One call of the f32_gemm microkernel at catalogue `index` (see microkernels/gemm/gemm.h for
/// what it computes): `a` holds ks * MR row pointers (tap-major), `w` the packed panel
/// [ks][kc][NR], `c` rows c_stride apart. `bias` (NR floats) is added when `last`; `residual`
/// when neither `accumulate`. INVALID_ARGUMENT for an index that is not an f32_gemm entry or
/// sizes outside 1 <= mr <= MR, 1 <= nc <= NR, kc >= 1, ks >= 1; UNSUPPORTED when the CPU lacks
/// the entry's variant.
mk_status mk_testing_gemm_ukernel(size_t index, size_t mr, size_t nc, size_t kc, size_t ks,
                                  const float* const* a, const float* w, float* c,
                                  size_t c_stride, const float* bias, const float* residual,
                                  size_t residual_stride, bool accumulate, bool last,
                                  mk_activation activation);

/// The dense form of the same entry: `mtiles` row tiles of MR rows (the last with mr_last) at
/// `a` (rows a_stride apart) times `ntiles` panels w_stride apart (the last with nc_last
/// columns); bias vectors NR floats apart.
mk_status mk_testing_gemm_dense_ukernel(size_t index, size_t mtiles, size_t mr_last,
                                        size_t ntiles, size_t nc_last, size_t kc, const float* a,
                                        size_t a_stride, const float* w, size_t w_stride,
                                        float* c, size_t c_stride, const float* bias,
                                        const float* residual, size_t residual_stride,
                                        bool accumulate, bool last, mk_activation activation);

/// One call of the f32_dwconv row microkernel at catalogue `index` (microkernels/dwconv/dwconv.h):
/// `pixels` output pixels of one row, `nc` channels (1..tile), `rows[K]` / `row_step[K]` the
/// kernel rows' input pixel 0 and pixel step (0 for a padding row), `weights` the packed tile
/// [bias][tap 0]...[tap K*K-1] of `tile` lanes each, 64-byte aligned (as operators pack it). INVALID_ARGUMENT for an index that is not a
/// row entry, nc outside 1..tile, pixels 0 or in_w < K; UNSUPPORTED when the CPU lacks it.
mk_status mk_testing_dwconv_row_ukernel(size_t index, size_t pixels, size_t nc,
                                        const float* const* rows, const size_t* row_step,
                                        size_t in_w, size_t pad_left, const float* weights,
                                        float* output, size_t output_step,
                                        mk_activation activation);

/// One call of the generic f32_dwconv microkernel at catalogue `index`: one output pixel,
/// `channels` channels, `taps` inputs (pointers), weights packed per tile of `tile` lanes.
mk_status mk_testing_dwconv_pixel_ukernel(size_t index, size_t channels, size_t taps,
                                          const float* const* inputs, const float* weights,
                                          float* output, mk_activation activation);

/// Plans Winograd convolutions for `bytes` of tile buffers per thread from now on (0: the
/// library's default), so small test layers are cut into several tile blocks. Changes only how
/// the work is split, never the results. Only for ops planned on the calling thread (a
/// synchronous test's), so concurrent tests keep their own.
void mk_testing_winograd_workspace(size_t bytes);

/// Winograd ops created and planned from now on compute U = G g G^T: 0, as the library chooses
/// (in the run when U would be larger than 4 MiB, per block or once per run by the plan);
/// 1, per block and column tile; 2, at create; 3, once per run. Never changes the results.
/// Only for ops created and planned on the calling thread (a synchronous test's).
void mk_testing_winograd_lazy(int mode);

/// Whether a Winograd op computes U in the run (it then holds g per column tile).
bool mk_testing_winograd_is_lazy(const mk_conv2d_f32_op* op);

/// The transformed weight U[point] (point = 6 i + k of U = G g G^T) of output channel `o` and
/// input channel `c` as a Winograd op uses it (zero for the padding columns o >= outputs of a
/// tile): read from the packed slices, or for an op that computes U in the run, that op's
/// transform of its packed g as the run calls it (the tile's column of points, all channels). INVALID_ARGUMENT for an op that is not Winograd or indices out of
/// range (o may reach the last tile's width).
mk_status mk_testing_winograd_packed(const mk_conv2d_f32_op* op, size_t point, size_t o, size_t c,
                                     float* value);

#ifdef __cplusplus
}
#endif

#endif
