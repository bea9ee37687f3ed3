// The catalogue's configs (XNNPACK's src/configs): one per datatype and family, listing each
// variant's microkernels, tiles and blocking sizes. Each family's file holds one table, a line
// per microkernel; the config of a variant is built from its lines once (thread-safe), with the
// blocking sizes from the CPU's cache sizes. Operators ask these, never `switch` on variants:
// a new tile is one microkernel file plus one table line, a new ISA its files plus table lines.
#ifndef MK_CONFIGS_H
#define MK_CONFIGS_H

#include "../common/internal.h"
#include "../include/mk_catalogue.h"
#include "../microkernels/bntrain/bntrain.h"
#include "../microkernels/dwconv/dwconv.h"
#include "../microkernels/dwgrad/dwgrad.h"
#include "../microkernels/fc/fc.h"
#include "../microkernels/gemm/gemm.h"
#include "../microkernels/pool/pool.h"
#include "../microkernels/poolgrad/poolgrad.h"
#include "../microkernels/qs8_dwconv/qs8_dwconv.h"
#include "../microkernels/qs8_gemm/qs8_gemm.h"
#include "../microkernels/shuffle/shuffle.h"
#include "../microkernels/vbiasact/vbiasact.h"
#include "../microkernels/vbinary/vbinary.h"
#include "../microkernels/wgrad/wgrad.h"
#include "../microkernels/winograd/winograd.h"

// ---- f32_gemm ------------------------------------------------------------------------------

#define MK_GEMM_MAX_TAILS 3

typedef struct mk_f32_gemm_config {
    const mk_igemm_kernel* full;  // MR x NR: the widest tile of more than one row
    // Narrower MR x w tiles for the column remainder, widest first (NULL-terminated).
    const mk_igemm_kernel* tails[MK_GEMM_MAX_TAILS + 1];
    // One-row tiles, widest first (NULL-terminated): for fewer pixels than MR (fully connected
    // layers at batch 1), which would otherwise compute MR - 1 wasted rows.
    const mk_igemm_kernel* rows1[MK_GEMM_MAX_TAILS + 2];
    mk_gemm_blocking blocking;
} mk_f32_gemm_config;

// The config of a resolved variant, or NULL when it has no GEMM microkernels.
const mk_f32_gemm_config* mk_f32_gemm_config_get(mk_variant variant);

// ---- qs8_gemm ------------------------------------------------------------------------------

typedef struct mk_qs8_gemm_config {
    const mk_qs8_igemm_kernel* full;
    const mk_qs8_igemm_kernel* tails[MK_GEMM_MAX_TAILS + 1];
    const mk_qs8_igemm_kernel* rows1[MK_GEMM_MAX_TAILS + 2];
    // Where the kernels take flipped weights (unsigned x signed products, see qs8_gemm.h): the
    // row offsets of a row tile, computed once for all its column tiles; else NULL.
    mk_qs8_row_offsets_fn row_offsets;
    // With row_offsets: the flipped copy of A for the kernels' `fn_ua` form (see qs8_gemm.h).
    mk_qs8_flip_fn flip;
    size_t nc;  // columns of a task's block, at least (more where K is small: conv2d_qs8.c)
} mk_qs8_gemm_config;

const mk_qs8_gemm_config* mk_qs8_gemm_config_get(mk_variant variant);

// qs8_dwconv: the depthwise kernel of a resolved variant, or NULL.
const mk_qs8_dwconv_kernel* mk_qs8_dwconv_config_get(mk_variant variant);

// ---- f32_dwconv ----------------------------------------------------------------------------

typedef struct mk_f32_dwconv_config {
    size_t tile;  // channels per packed tile (T)
    mk_f32_dwconv_pixel_ukernel_fn pixel;
    mk_f32_dwconv_row_ukernel_fn row[2][2];  // [kernel 3 / 5][stride 1 / 2], NULL when missing
} mk_f32_dwconv_config;

const mk_f32_dwconv_config* mk_f32_dwconv_config_get(mk_variant variant);

// ---- the one-set-per-variant families --------------------------------------------------------

const mk_pool_kernels* mk_f32_pool_config_get(mk_variant variant);
const mk_vbinary_kernels* mk_f32_vbinary_config_get(mk_variant variant);
mk_f32_fc_ukernel_fn mk_f32_fc_config_get(mk_variant variant);
const mk_shuffle_kernels* mk_f32_shuffle_config_get(mk_variant variant);
const mk_wino_kernels* mk_f32_winograd_config_get(mk_variant variant);
const mk_bntrain_kernels* mk_f32_bntrain_config_get(mk_variant variant);
const mk_dwgrad_kernels* mk_f32_dwgrad_config_get(mk_variant variant);
const mk_poolgrad_kernels* mk_f32_poolgrad_config_get(mk_variant variant);
const mk_wgrad_kernels* mk_f32_wgrad_config_get(mk_variant variant);

typedef struct mk_f32_vunary_config {
    mk_f32_vbiasact_ukernel_fn biasact;
} mk_f32_vunary_config;

const mk_f32_vunary_config* mk_f32_vunary_config_get(mk_variant variant);

// ---- the catalogue as a whole ----------------------------------------------------------------

// A table line: the microkernel (or set), its variant and what mk_ukernel_info reports.
typedef struct mk_catalogue_line {
    mk_ukernel_info info;
    const void* kernel;  // the family's kernel object (mk_igemm_kernel*, function, set, ...)
} mk_catalogue_line;

// Each family's table (defined in its config file).
extern const mk_catalogue_line mk_f32_gemm_lines[];
extern const size_t mk_f32_gemm_line_count;
extern const mk_catalogue_line mk_qs8_gemm_lines[];
extern const size_t mk_qs8_gemm_line_count;
extern const mk_catalogue_line mk_qs8_dwconv_lines[];
extern const size_t mk_qs8_dwconv_line_count;
extern const mk_catalogue_line mk_f32_dwconv_lines[];
extern const size_t mk_f32_dwconv_line_count;
extern const mk_catalogue_line mk_f32_rows_lines[];  // pool, vbinary, fc, vunary, shuffle, winograd, bntrain, dwgrad,
                                                     // poolgrad sets
extern const size_t mk_f32_rows_line_count;

// A table line; `kernel` and `name` from one symbol, so the two never disagree.
#define MK_LINE(family, variant, symbol, mr, nr, kernel, stride) \
    {{#symbol, family, variant, mr, nr, kernel, stride}, (const void*)&symbol}

// The kernel of `family` for a resolved variant in `lines` (the first match), or NULL.
const void* mk_catalogue_find(const mk_catalogue_line* lines, size_t count, mk_family family,
                              mk_variant variant);

// Resolves `requested` for an operator whose microkernels come from `family`: AUTO picks the
// best variant that has them and that the CPU runs; an explicit variant without them, or one the
// CPU lacks, is MK_STATUS_UNSUPPORTED.
mk_status mk_family_resolve(mk_family family, mk_variant requested, mk_variant* resolved);

#endif
