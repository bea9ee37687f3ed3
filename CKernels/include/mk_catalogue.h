// The kernel catalogue: which microkernels this build has, per datatype and family, for which
// variant, with their tiles; and the blocking sizes derived from this CPU's caches.
//
// Every operator picks its microkernels from the catalogue (CKernels/configs/), never from a
// `switch` over variants, and answers one capability query (`mk_<op>_supports`) from it. Tests and
// benchmarks enumerate it, so a new tile or ISA is tested and benchmarked without editing them.
#ifndef MK_CATALOGUE_H
#define MK_CATALOGUE_H

#include "mk_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/// A family of microkernels: one datatype, one kind of math on a tile.
typedef enum mk_family {
    MK_FAMILY_F32_GEMM = 0,     // igemm tiles (convolution, fully connected): mr x nr
    MK_FAMILY_F32_DWCONV = 1,   // depthwise rows (kernel, stride, mr pixels x nr channels), generic (nr)
    MK_FAMILY_F32_POOL = 2,     // pooling windows (max, average), one set per variant
    MK_FAMILY_F32_VBINARY = 3,  // add / multiply of rows, one set per variant
    MK_FAMILY_F32_FC = 4,       // the squeeze-and-excitation's small fully connected layers
    MK_FAMILY_F32_VUNARY = 5,   // bias + activation of rows
    MK_FAMILY_F32_SHUFFLE = 6,  // channel shuffle (transpose of [groups][count])
    MK_FAMILY_F32_WINOGRAD = 7, // Winograd F(4x4, 3x3) input and output transforms, one set per variant
    MK_FAMILY_F32_BNTRAIN = 8,  // training BatchNorm (statistics, normalize, backward), activation gradients
    MK_FAMILY_F32_DWGRAD = 9,   // depthwise convolution backward: input and weight gradients
    MK_FAMILY_F32_POOLGRAD = 10, // pooling backward: max with indices, gathers for max and average
    MK_FAMILY_F32_WGRAD = 11,   // weight gradients: GEMM over pixels with both operands in place
    MK_FAMILY_QS8_GEMM = 12,    // int8 igemm tiles with requantization (mr x nr, K in groups of 4)
    MK_FAMILY_QS8_DWCONV = 13,  // int8 depthwise, one pixel's channels in blocks of nr
} mk_family;

#define MK_FAMILY_COUNT 14

/// "f32_gemm", "f32_dwconv", ...; "unknown" for anything else.
const char* mk_family_name(mk_family family);

/// One microkernel of the catalogue.
typedef struct mk_ukernel_info {
    /// Its symbol name, e.g. "mk_f32_igemm_ukernel_7x32__avx512".
    const char* name;
    mk_family family;
    mk_variant variant;
    /// The tile: gemm, mr rows x nr columns; dwconv rows, mr output pixels per step x nr channels
    /// (mr = 0 for the generic kernel); other families, mr = 0 and nr channels per block.
    size_t mr, nr;
    /// Depthwise rows: the kernel size (3, 5) and horizontal stride (1, 2); 0 otherwise.
    size_t kernel, stride;
} mk_ukernel_info;

/// The number of microkernels in this build (every ISA compiled for this architecture, whether
/// or not the CPU runs it).
size_t mk_catalogue_count(void);

/// Entry `index` (< mk_catalogue_count()), or NULL.
const mk_ukernel_info* mk_catalogue_entry(size_t index);

/// Bit (1 << variant) for each variant that has microkernels of `family` in this build (whether
/// or not the CPU runs it); 0 for an unknown family.
unsigned mk_family_variants(mk_family family);

/// The GEMM driver's sizes for a variant on this CPU: the full tile (mr x nr); kc, the largest
/// K block (floats of A per pointer run, channels x taps), and nc, the columns of a task's B
/// block, chosen so a B block (kc x nc floats) takes half of the L2 cache (nc at most 32 column
/// vectors and 256 floats; narrower where kc's minimum would overfill it), with kc at least 512
/// (measured); dense_max_kc, the longest K block the dense form runs.
typedef struct mk_gemm_blocking {
    size_t mr, nr, kc, nc, dense_max_kc;
} mk_gemm_blocking;

/// MK_STATUS_UNSUPPORTED when the variant has no GEMM microkernels or the CPU lacks it; AUTO
/// gives the variant AUTO resolves to.
mk_status mk_f32_gemm_blocking(mk_variant variant, mk_gemm_blocking* blocking);

#ifdef __cplusplus
}
#endif

#endif
