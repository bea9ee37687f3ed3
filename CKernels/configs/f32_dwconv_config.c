// Config f32_dwconv: the depthwise microkernels of every variant (one line each): row kernels
// for 3x3 and 5x5 at horizontal stride 1 and 2 (kernel, stride; mr output pixels per step x nr
// channels), and the generic kernel (kernel 0), whose channel tile is the variant's packing tile.
#include "configs.h"

#include <pthread.h>

#define MK_DW_ROW(variant, symbol, kernel, stride, pixels, tile) \
    MK_LINE(MK_FAMILY_F32_DWCONV, variant, symbol, pixels, tile, kernel, stride)
#define MK_DW_GENERIC(variant, symbol, tile) MK_LINE(MK_FAMILY_F32_DWCONV, variant, symbol, 0, tile, 0, 0)

const mk_catalogue_line mk_f32_dwconv_lines[] = {
    MK_DW_GENERIC(MK_VARIANT_SCALAR, mk_f32_dwconv_ukernel_up4c__scalar, 4),
    MK_DW_ROW(MK_VARIANT_SCALAR, mk_f32_dwconv_ukernel_3x3s1_row2x4c__scalar, 3, 1, 2, 4),
    MK_DW_ROW(MK_VARIANT_SCALAR, mk_f32_dwconv_ukernel_3x3s2_row2x4c__scalar, 3, 2, 2, 4),
    MK_DW_ROW(MK_VARIANT_SCALAR, mk_f32_dwconv_ukernel_5x5s1_row2x4c__scalar, 5, 1, 2, 4),
    MK_DW_ROW(MK_VARIANT_SCALAR, mk_f32_dwconv_ukernel_5x5s2_row2x4c__scalar, 5, 2, 2, 4),
#if defined(__x86_64__)
    MK_DW_GENERIC(MK_VARIANT_AVX2, mk_f32_dwconv_ukernel_up8c__avx2, 8),
    MK_DW_ROW(MK_VARIANT_AVX2, mk_f32_dwconv_ukernel_3x3s1_row4x8c__avx2, 3, 1, 4, 8),
    MK_DW_ROW(MK_VARIANT_AVX2, mk_f32_dwconv_ukernel_3x3s2_row4x8c__avx2, 3, 2, 4, 8),
    MK_DW_ROW(MK_VARIANT_AVX2, mk_f32_dwconv_ukernel_5x5s1_row4x8c__avx2, 5, 1, 4, 8),
    MK_DW_ROW(MK_VARIANT_AVX2, mk_f32_dwconv_ukernel_5x5s2_row4x8c__avx2, 5, 2, 4, 8),
    MK_DW_GENERIC(MK_VARIANT_AVX512, mk_f32_dwconv_ukernel_up16c__avx512, 16),
    MK_DW_ROW(MK_VARIANT_AVX512, mk_f32_dwconv_ukernel_3x3s1_row8x16c__avx512, 3, 1, 8, 16),
    MK_DW_ROW(MK_VARIANT_AVX512, mk_f32_dwconv_ukernel_3x3s2_row8x16c__avx512, 3, 2, 8, 16),
    MK_DW_ROW(MK_VARIANT_AVX512, mk_f32_dwconv_ukernel_5x5s1_row4x16c__avx512, 5, 1, 4, 16),
    MK_DW_ROW(MK_VARIANT_AVX512, mk_f32_dwconv_ukernel_5x5s2_row4x16c__avx512, 5, 2, 4, 16),
#endif
#if defined(__aarch64__)
    MK_DW_GENERIC(MK_VARIANT_NEON, mk_f32_dwconv_ukernel_up4c__neon, 4),
    MK_DW_ROW(MK_VARIANT_NEON, mk_f32_dwconv_ukernel_3x3s1_row8x4c__neon, 3, 1, 8, 4),
    MK_DW_ROW(MK_VARIANT_NEON, mk_f32_dwconv_ukernel_3x3s2_row8x4c__neon, 3, 2, 8, 4),
    MK_DW_ROW(MK_VARIANT_NEON, mk_f32_dwconv_ukernel_5x5s1_row4x4c__neon, 5, 1, 4, 4),
    MK_DW_ROW(MK_VARIANT_NEON, mk_f32_dwconv_ukernel_5x5s2_row4x4c__neon, 5, 2, 4, 4),
#endif
};
const size_t mk_f32_dwconv_line_count = sizeof mk_f32_dwconv_lines / sizeof mk_f32_dwconv_lines[0];

static mk_f32_dwconv_config g_configs[MK_VARIANT_COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void mk_dwconv_build(void) {
    for (size_t i = 0; i < mk_f32_dwconv_line_count; i++) {
        const mk_catalogue_line* line = &mk_f32_dwconv_lines[i];
        mk_f32_dwconv_config* config = &g_configs[line->info.variant];
        if (line->info.kernel == 0) {
            config->tile = line->info.nr;
            config->pixel = (mk_f32_dwconv_pixel_ukernel_fn)line->kernel;
        } else {
            config->row[line->info.kernel == 5][line->info.stride - 1] =
                (mk_f32_dwconv_row_ukernel_fn)line->kernel;
        }
    }
}

const mk_f32_dwconv_config* mk_f32_dwconv_config_get(mk_variant variant) {
    pthread_once(&g_once, mk_dwconv_build);
    return (unsigned)variant < MK_VARIANT_COUNT && g_configs[variant].pixel != NULL
               ? &g_configs[variant]
               : NULL;
}
