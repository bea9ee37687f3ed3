// The catalogue as a whole: every family's table in one enumeration, variant resolution per
// family.
#include "configs.h"

#include <pthread.h>

typedef struct {
    const mk_catalogue_line* lines;
    const size_t* count;
} mk_table;

static const mk_table mk_tables[] = {
    {mk_f32_gemm_lines, &mk_f32_gemm_line_count},
    {mk_f32_dwconv_lines, &mk_f32_dwconv_line_count},
    {mk_f32_rows_lines, &mk_f32_rows_line_count},
    {mk_qs8_gemm_lines, &mk_qs8_gemm_line_count},
    {mk_qs8_dwconv_lines, &mk_qs8_dwconv_line_count},
};
#define MK_TABLES (sizeof mk_tables / sizeof mk_tables[0])

const char* mk_family_name(mk_family family) {
    switch (family) {
        case MK_FAMILY_F32_GEMM: return "f32_gemm";
        case MK_FAMILY_F32_DWCONV: return "f32_dwconv";
        case MK_FAMILY_F32_POOL: return "f32_pool";
        case MK_FAMILY_F32_VBINARY: return "f32_vbinary";
        case MK_FAMILY_F32_FC: return "f32_fc";
        case MK_FAMILY_F32_VUNARY: return "f32_vunary";
        case MK_FAMILY_F32_SHUFFLE: return "f32_shuffle";
        case MK_FAMILY_F32_WINOGRAD: return "f32_winograd";
        case MK_FAMILY_F32_BNTRAIN: return "f32_bntrain";
        case MK_FAMILY_F32_DWGRAD: return "f32_dwgrad";
        case MK_FAMILY_F32_POOLGRAD: return "f32_poolgrad";
        case MK_FAMILY_F32_WGRAD: return "f32_wgrad";
        case MK_FAMILY_QS8_GEMM: return "qs8_gemm";
        case MK_FAMILY_QS8_DWCONV: return "qs8_dwconv";
    }
    return "unknown";
}

size_t mk_catalogue_count(void) {
    size_t n = 0;
    for (size_t t = 0; t < MK_TABLES; t++) n += *mk_tables[t].count;
    return n;
}

const mk_ukernel_info* mk_catalogue_entry(size_t index) {
    for (size_t t = 0; t < MK_TABLES; t++) {
        if (index < *mk_tables[t].count) return &mk_tables[t].lines[index].info;
        index -= *mk_tables[t].count;
    }
    return NULL;
}

static unsigned g_family_masks[MK_FAMILY_COUNT];
static pthread_once_t g_masks_once = PTHREAD_ONCE_INIT;

static void mk_build_masks(void) {
    for (size_t i = 0, n = mk_catalogue_count(); i < n; i++) {
        const mk_ukernel_info* info = mk_catalogue_entry(i);
        g_family_masks[info->family] |= MK_MASK(info->variant);
    }
}

unsigned mk_family_variants(mk_family family) {
    if ((unsigned)family >= MK_FAMILY_COUNT) return 0;
    pthread_once(&g_masks_once, mk_build_masks);  // operators resolve on every one-shot call
    return g_family_masks[family];
}

const void* mk_catalogue_find(const mk_catalogue_line* lines, size_t count, mk_family family,
                              mk_variant variant) {
    for (size_t i = 0; i < count; i++) {
        if (lines[i].info.family == family && lines[i].info.variant == variant) {
            return lines[i].kernel;
        }
    }
    return NULL;
}

mk_status mk_family_resolve(mk_family family, mk_variant requested, mk_variant* resolved) {
    return mk_resolve_variant(requested, mk_family_variants(family), resolved);
}
