// Configs f32_pool, f32_vbinary, f32_fc, f32_vunary, f32_shuffle, f32_winograd, f32_bntrain,
// f32_dwgrad, f32_poolgrad and f32_wgrad (mr x nr tiles): the row microkernels, one set (or function) per variant each, nr = the channels of
// its widest register block.
#include "configs.h"

#define MK_ROW_LINE(family, variant, symbol, block) MK_LINE(family, variant, symbol, 0, block, 0, 0)

const mk_catalogue_line mk_f32_rows_lines[] = {
    MK_ROW_LINE(MK_FAMILY_F32_POOL, MK_VARIANT_SCALAR, mk_f32_pool_ukernels__scalar, 16),
    MK_ROW_LINE(MK_FAMILY_F32_VBINARY, MK_VARIANT_SCALAR, mk_f32_vbinary_ukernels__scalar, 16),
    MK_ROW_LINE(MK_FAMILY_F32_FC, MK_VARIANT_SCALAR, mk_f32_fc_ukernel_16c__scalar, 16),
    MK_ROW_LINE(MK_FAMILY_F32_VUNARY, MK_VARIANT_SCALAR, mk_f32_vbiasact_ukernel_1c__scalar, 1),
    MK_ROW_LINE(MK_FAMILY_F32_SHUFFLE, MK_VARIANT_SCALAR, mk_f32_shuffle_ukernels__scalar, 0),
    MK_ROW_LINE(MK_FAMILY_F32_WINOGRAD, MK_VARIANT_SCALAR, mk_f32_wino4x3_ukernels__scalar, 4),
    MK_ROW_LINE(MK_FAMILY_F32_BNTRAIN, MK_VARIANT_SCALAR, mk_f32_bntrain_ukernels__scalar, 16),
    MK_ROW_LINE(MK_FAMILY_F32_DWGRAD, MK_VARIANT_SCALAR, mk_f32_dwgrad_ukernels__scalar, 16),
    MK_ROW_LINE(MK_FAMILY_F32_POOLGRAD, MK_VARIANT_SCALAR, mk_f32_poolgrad_ukernels__scalar, 16),
    MK_LINE(MK_FAMILY_F32_WGRAD, MK_VARIANT_SCALAR, mk_f32_wgrad_ukernels__scalar, 6, 8, 0, 0),
#if defined(__x86_64__)
    MK_ROW_LINE(MK_FAMILY_F32_POOL, MK_VARIANT_AVX2, mk_f32_pool_ukernels__avx2, 32),
    MK_ROW_LINE(MK_FAMILY_F32_VBINARY, MK_VARIANT_AVX2, mk_f32_vbinary_ukernels__avx2, 32),
    MK_ROW_LINE(MK_FAMILY_F32_FC, MK_VARIANT_AVX2, mk_f32_fc_ukernel_64c__avx2, 64),
    MK_ROW_LINE(MK_FAMILY_F32_VUNARY, MK_VARIANT_AVX2, mk_f32_vbiasact_ukernel_32c__avx2, 32),
    MK_ROW_LINE(MK_FAMILY_F32_SHUFFLE, MK_VARIANT_AVX2, mk_f32_shuffle_ukernels__avx2, 0),
    MK_ROW_LINE(MK_FAMILY_F32_WINOGRAD, MK_VARIANT_AVX2, mk_f32_wino4x3_ukernels__avx2, 8),
    MK_ROW_LINE(MK_FAMILY_F32_BNTRAIN, MK_VARIANT_AVX2, mk_f32_bntrain_ukernels__avx2, 32),
    MK_ROW_LINE(MK_FAMILY_F32_DWGRAD, MK_VARIANT_AVX2, mk_f32_dwgrad_ukernels__avx2, 32),
    MK_ROW_LINE(MK_FAMILY_F32_POOLGRAD, MK_VARIANT_AVX2, mk_f32_poolgrad_ukernels__avx2, 32),
    MK_LINE(MK_FAMILY_F32_WGRAD, MK_VARIANT_AVX2, mk_f32_wgrad_ukernels__avx2, 6, 16, 0, 0),
    MK_ROW_LINE(MK_FAMILY_F32_POOL, MK_VARIANT_AVX512, mk_f32_pool_ukernels__avx512, 64),
    MK_ROW_LINE(MK_FAMILY_F32_VBINARY, MK_VARIANT_AVX512, mk_f32_vbinary_ukernels__avx512, 64),
    MK_ROW_LINE(MK_FAMILY_F32_FC, MK_VARIANT_AVX512, mk_f32_fc_ukernel_256c__avx512, 256),
    MK_ROW_LINE(MK_FAMILY_F32_VUNARY, MK_VARIANT_AVX512, mk_f32_vbiasact_ukernel_64c__avx512, 64),
    MK_ROW_LINE(MK_FAMILY_F32_SHUFFLE, MK_VARIANT_AVX512, mk_f32_shuffle_ukernels__avx512, 0),
    MK_ROW_LINE(MK_FAMILY_F32_WINOGRAD, MK_VARIANT_AVX512, mk_f32_wino4x3_ukernels__avx512, 16),
    MK_ROW_LINE(MK_FAMILY_F32_BNTRAIN, MK_VARIANT_AVX512, mk_f32_bntrain_ukernels__avx512, 64),
    MK_ROW_LINE(MK_FAMILY_F32_DWGRAD, MK_VARIANT_AVX512, mk_f32_dwgrad_ukernels__avx512, 64),
    MK_ROW_LINE(MK_FAMILY_F32_POOLGRAD, MK_VARIANT_AVX512, mk_f32_poolgrad_ukernels__avx512, 64),
    MK_LINE(MK_FAMILY_F32_WGRAD, MK_VARIANT_AVX512, mk_f32_wgrad_ukernels__avx512, 6, 32, 0, 0),
#endif
#if defined(__aarch64__)
    MK_ROW_LINE(MK_FAMILY_F32_POOL, MK_VARIANT_NEON, mk_f32_pool_ukernels__neon, 32),
    MK_ROW_LINE(MK_FAMILY_F32_VBINARY, MK_VARIANT_NEON, mk_f32_vbinary_ukernels__neon, 32),
    MK_ROW_LINE(MK_FAMILY_F32_FC, MK_VARIANT_NEON, mk_f32_fc_ukernel_64c__neon, 64),
    MK_ROW_LINE(MK_FAMILY_F32_VUNARY, MK_VARIANT_NEON, mk_f32_vbiasact_ukernel_16c__neon, 16),
    MK_ROW_LINE(MK_FAMILY_F32_SHUFFLE, MK_VARIANT_NEON, mk_f32_shuffle_ukernels__neon, 0),
    MK_ROW_LINE(MK_FAMILY_F32_WINOGRAD, MK_VARIANT_NEON, mk_f32_wino4x3_ukernels__neon, 4),
    MK_ROW_LINE(MK_FAMILY_F32_BNTRAIN, MK_VARIANT_NEON, mk_f32_bntrain_ukernels__neon, 32),
    MK_ROW_LINE(MK_FAMILY_F32_DWGRAD, MK_VARIANT_NEON, mk_f32_dwgrad_ukernels__neon, 32),
    MK_ROW_LINE(MK_FAMILY_F32_POOLGRAD, MK_VARIANT_NEON, mk_f32_poolgrad_ukernels__neon, 32),
    MK_LINE(MK_FAMILY_F32_WGRAD, MK_VARIANT_NEON, mk_f32_wgrad_ukernels__neon, 6, 8, 0, 0),
#endif
};
const size_t mk_f32_rows_line_count = sizeof mk_f32_rows_lines / sizeof mk_f32_rows_lines[0];

static const void* mk_rows_find(mk_family family, mk_variant variant) {
    return mk_catalogue_find(mk_f32_rows_lines, mk_f32_rows_line_count, family, variant);
}

const mk_pool_kernels* mk_f32_pool_config_get(mk_variant variant) {
    return mk_rows_find(MK_FAMILY_F32_POOL, variant);
}

const mk_vbinary_kernels* mk_f32_vbinary_config_get(mk_variant variant) {
    return mk_rows_find(MK_FAMILY_F32_VBINARY, variant);
}

mk_f32_fc_ukernel_fn mk_f32_fc_config_get(mk_variant variant) {
    return (mk_f32_fc_ukernel_fn)mk_rows_find(MK_FAMILY_F32_FC, variant);
}

const mk_shuffle_kernels* mk_f32_shuffle_config_get(mk_variant variant) {
    return mk_rows_find(MK_FAMILY_F32_SHUFFLE, variant);
}

const mk_wino_kernels* mk_f32_winograd_config_get(mk_variant variant) {
    return mk_rows_find(MK_FAMILY_F32_WINOGRAD, variant);
}

const mk_bntrain_kernels* mk_f32_bntrain_config_get(mk_variant variant) {
    return mk_rows_find(MK_FAMILY_F32_BNTRAIN, variant);
}

const mk_dwgrad_kernels* mk_f32_dwgrad_config_get(mk_variant variant) {
    return mk_rows_find(MK_FAMILY_F32_DWGRAD, variant);
}

const mk_poolgrad_kernels* mk_f32_poolgrad_config_get(mk_variant variant) {
    return mk_rows_find(MK_FAMILY_F32_POOLGRAD, variant);
}

const mk_wgrad_kernels* mk_f32_wgrad_config_get(mk_variant variant) {
    return mk_rows_find(MK_FAMILY_F32_WGRAD, variant);
}

// A vunary config per variant, filled from the table on first use (the table is constant and
// the filling idempotent, so racing first calls write the same values).
const mk_f32_vunary_config* mk_f32_vunary_config_get(mk_variant variant) {
    static mk_f32_vunary_config configs[MK_VARIANT_COUNT];
    const void* fn = mk_rows_find(MK_FAMILY_F32_VUNARY, variant);
    if (fn == NULL) return NULL;
    configs[variant].biasact = (mk_f32_vbiasact_ukernel_fn)fn;
    return &configs[variant];
}
