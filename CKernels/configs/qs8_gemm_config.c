// Configs qs8_gemm and qs8_dwconv. qs8_gemm: the int8 igemm microkernels of every variant (one line each). As for f32_gemm,
// the widest tile of more than one row is a variant's full tile, narrower ones its column
// remainders, one-row tiles its few-pixel forms; `row_offsets` is set where its kernels take the
// weights with their sign bit flipped (see qs8_gemm.h).
#include "configs.h"

#include <pthread.h>

#define MK_QS8_GEMM_LINE(variant, symbol, mr, nr) \
    MK_LINE(MK_FAMILY_QS8_GEMM, variant, symbol, mr, nr, 0, 0)

const mk_catalogue_line mk_qs8_gemm_lines[] = {
    MK_QS8_GEMM_LINE(MK_VARIANT_SCALAR, mk_qs8_igemm_ukernel_4x4c4__scalar, 4, 4),
    MK_QS8_GEMM_LINE(MK_VARIANT_SCALAR, mk_qs8_igemm_ukernel_4x2c4__scalar, 4, 2),
    MK_QS8_GEMM_LINE(MK_VARIANT_SCALAR, mk_qs8_igemm_ukernel_1x4c4__scalar, 1, 4),
    MK_QS8_GEMM_LINE(MK_VARIANT_SCALAR, mk_qs8_igemm_ukernel_1x2c4__scalar, 1, 2),
#if defined(__x86_64__)
    MK_QS8_GEMM_LINE(MK_VARIANT_AVX2, mk_qs8_igemm_ukernel_4x8c4__avx2, 4, 8),
    MK_QS8_GEMM_LINE(MK_VARIANT_AVX2, mk_qs8_igemm_ukernel_1x8c4__avx2, 1, 8),
    MK_QS8_GEMM_LINE(MK_VARIANT_AVXVNNI, mk_qs8_igemm_ukernel_6x16c4__avxvnni, 6, 16),
    MK_QS8_GEMM_LINE(MK_VARIANT_AVXVNNI, mk_qs8_igemm_ukernel_6x8c4__avxvnni, 6, 8),
    MK_QS8_GEMM_LINE(MK_VARIANT_AVXVNNI, mk_qs8_igemm_ukernel_1x16c4__avxvnni, 1, 16),
    MK_QS8_GEMM_LINE(MK_VARIANT_AVXVNNI, mk_qs8_igemm_ukernel_1x8c4__avxvnni, 1, 8),
    MK_QS8_GEMM_LINE(MK_VARIANT_AVX512VNNI, mk_qs8_igemm_ukernel_7x32c4__avx512vnni, 7, 32),
    MK_QS8_GEMM_LINE(MK_VARIANT_AVX512VNNI, mk_qs8_igemm_ukernel_7x16c4__avx512vnni, 7, 16),
    MK_QS8_GEMM_LINE(MK_VARIANT_AVX512VNNI, mk_qs8_igemm_ukernel_1x32c4__avx512vnni, 1, 32),
    MK_QS8_GEMM_LINE(MK_VARIANT_AVX512VNNI, mk_qs8_igemm_ukernel_1x16c4__avx512vnni, 1, 16),
#endif
#if defined(__aarch64__)
    MK_QS8_GEMM_LINE(MK_VARIANT_NEON, mk_qs8_igemm_ukernel_6x8c4__neon, 6, 8),
    MK_QS8_GEMM_LINE(MK_VARIANT_NEON, mk_qs8_igemm_ukernel_6x4c4__neon, 6, 4),
    MK_QS8_GEMM_LINE(MK_VARIANT_NEON, mk_qs8_igemm_ukernel_1x8c4__neon, 1, 8),
    MK_QS8_GEMM_LINE(MK_VARIANT_NEON, mk_qs8_igemm_ukernel_1x4c4__neon, 1, 4),
    MK_QS8_GEMM_LINE(MK_VARIANT_NEONDOT, mk_qs8_igemm_ukernel_6x16c4__neondot, 6, 16),
    MK_QS8_GEMM_LINE(MK_VARIANT_NEONDOT, mk_qs8_igemm_ukernel_6x8c4__neondot, 6, 8),
    MK_QS8_GEMM_LINE(MK_VARIANT_NEONDOT, mk_qs8_igemm_ukernel_1x16c4__neondot, 1, 16),
    MK_QS8_GEMM_LINE(MK_VARIANT_NEONDOT, mk_qs8_igemm_ukernel_1x8c4__neondot, 1, 8),
#endif
};
const size_t mk_qs8_gemm_line_count = sizeof mk_qs8_gemm_lines / sizeof mk_qs8_gemm_lines[0];

static mk_qs8_gemm_config g_configs[MK_VARIANT_COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

// Inserts `k` into the NULL-terminated list `list` (capacity `cap`), widest first.
static void mk_qs8_gemm_insert(const mk_qs8_igemm_kernel** list, size_t cap,
                               const mk_qs8_igemm_kernel* k) {
    size_t n = 0;
    while (n < cap && list[n] != NULL) n++;
    if (n == cap) return;
    size_t at = n;
    while (at > 0 && list[at - 1]->nr < k->nr) {
        list[at] = list[at - 1];
        at--;
    }
    list[at] = k;
}

static void mk_qs8_gemm_build(void) {
    for (size_t v = 0; v < MK_VARIANT_COUNT; v++) {
        mk_qs8_gemm_config* config = &g_configs[v];
        for (size_t i = 0; i < mk_qs8_gemm_line_count; i++) {
            const mk_qs8_igemm_kernel* k = mk_qs8_gemm_lines[i].kernel;
            if (mk_qs8_gemm_lines[i].info.variant != (mk_variant)v || k->mr == 1) continue;
            if (config->full == NULL || k->nr > config->full->nr) config->full = k;
        }
        if (config->full == NULL) continue;
        for (size_t i = 0; i < mk_qs8_gemm_line_count; i++) {
            const mk_qs8_igemm_kernel* k = mk_qs8_gemm_lines[i].kernel;
            if (mk_qs8_gemm_lines[i].info.variant != (mk_variant)v) continue;
            if (k->mr == 1) {
                mk_qs8_gemm_insert(config->rows1, MK_GEMM_MAX_TAILS + 1, k);
            } else if (k->nr < config->full->nr) {
                mk_qs8_gemm_insert(config->tails, MK_GEMM_MAX_TAILS, k);
            }
        }
        // Every width a variant runs (full, remainders) needs its one-row kernel.
        bool complete = false;
        for (size_t i = 0; config->rows1[i] != NULL; i++) complete |= config->rows1[i]->nr == config->full->nr;
        for (size_t t = 0; complete && config->tails[t] != NULL; t++) {
            bool found = false;
            for (size_t i = 0; config->rows1[i] != NULL; i++) found |= config->rows1[i]->nr == config->tails[t]->nr;
            complete = found;
        }
        if (!complete) {
            *config = (mk_qs8_gemm_config){0};
            continue;
        }
#if defined(__x86_64__)
        if (v == MK_VARIANT_AVX512VNNI) {
            config->row_offsets = mk_qs8_row_offsets__avx512vnni;
            config->flip = mk_qs8_flip__avx512vnni;
        }
        if (v == MK_VARIANT_AVXVNNI) {
            config->row_offsets = mk_qs8_row_offsets__avxvnni;
            config->flip = mk_qs8_flip__avxvnni;
        }
#endif
        // Columns a task keeps in L2 with a K of taps x channels: 8 full tiles (256 on AVX-512).
        config->nc = 8 * config->full->nr;
    }
}

const mk_qs8_gemm_config* mk_qs8_gemm_config_get(mk_variant variant) {
    pthread_once(&g_once, mk_qs8_gemm_build);
    return (unsigned)variant < MK_VARIANT_COUNT && g_configs[variant].full != NULL
               ? &g_configs[variant]
               : NULL;
}

// ---- qs8_dwconv: one kernel per ISA (AVX-512 VNNI: vpdpwssd); AVX-VNNI and NEON dot run their base ISA's --

#define MK_QS8_DW_LINE(variant, symbol, tile) \
    MK_LINE(MK_FAMILY_QS8_DWCONV, variant, symbol, 0, tile, 0, 0)

const mk_catalogue_line mk_qs8_dwconv_lines[] = {
    MK_QS8_DW_LINE(MK_VARIANT_SCALAR, mk_qs8_dwconv_ukernel_up4__scalar, 4),
#if defined(__x86_64__)
    MK_QS8_DW_LINE(MK_VARIANT_AVX2, mk_qs8_dwconv_ukernel_up8__avx2, 8),
    MK_QS8_DW_LINE(MK_VARIANT_AVXVNNI, mk_qs8_dwconv_ukernel_up8__avx2, 8),
    MK_QS8_DW_LINE(MK_VARIANT_AVX512, mk_qs8_dwconv_ukernel_up32__avx512, 32),
    MK_QS8_DW_LINE(MK_VARIANT_AVX512VNNI, mk_qs8_dwconv_ukernel_up32__avx512vnni, 32),
#endif
#if defined(__aarch64__)
    MK_QS8_DW_LINE(MK_VARIANT_NEON, mk_qs8_dwconv_ukernel_up8__neon, 8),
    MK_QS8_DW_LINE(MK_VARIANT_NEONDOT, mk_qs8_dwconv_ukernel_up8__neon, 8),
#endif
};
const size_t mk_qs8_dwconv_line_count = sizeof mk_qs8_dwconv_lines / sizeof mk_qs8_dwconv_lines[0];

const mk_qs8_dwconv_kernel* mk_qs8_dwconv_config_get(mk_variant variant) {
    return mk_catalogue_find(mk_qs8_dwconv_lines, mk_qs8_dwconv_line_count, MK_FAMILY_QS8_DWCONV,
                             variant);
}
