// Config f32_gemm: the igemm microkernels of every variant (one line each) and the blocking
// sizes, derived from the CPU's caches. The widest tile of more than one row is a variant's full
// tile, narrower ones its column remainders, one-row tiles its few-pixel forms.
#include "configs.h"

#include <pthread.h>

#define MK_GEMM_LINE(variant, symbol, mr, nr) \
    MK_LINE(MK_FAMILY_F32_GEMM, variant, symbol, mr, nr, 0, 0)

const mk_catalogue_line mk_f32_gemm_lines[] = {
    MK_GEMM_LINE(MK_VARIANT_SCALAR, mk_f32_igemm_ukernel_4x4__scalar, 4, 4),
    MK_GEMM_LINE(MK_VARIANT_SCALAR, mk_f32_igemm_ukernel_4x2__scalar, 4, 2),
    MK_GEMM_LINE(MK_VARIANT_SCALAR, mk_f32_igemm_ukernel_1x4__scalar, 1, 4),
    MK_GEMM_LINE(MK_VARIANT_SCALAR, mk_f32_igemm_ukernel_1x2__scalar, 1, 2),
#if defined(__x86_64__)
    MK_GEMM_LINE(MK_VARIANT_AVX2, mk_f32_igemm_ukernel_6x16__avx2, 6, 16),
    MK_GEMM_LINE(MK_VARIANT_AVX2, mk_f32_igemm_ukernel_6x8__avx2, 6, 8),
    MK_GEMM_LINE(MK_VARIANT_AVX2, mk_f32_igemm_ukernel_1x16__avx2, 1, 16),
    MK_GEMM_LINE(MK_VARIANT_AVX2, mk_f32_igemm_ukernel_1x8__avx2, 1, 8),
    MK_GEMM_LINE(MK_VARIANT_AVX512, mk_f32_igemm_ukernel_7x32__avx512, 7, 32),
    MK_GEMM_LINE(MK_VARIANT_AVX512, mk_f32_igemm_ukernel_7x16__avx512, 7, 16),
    MK_GEMM_LINE(MK_VARIANT_AVX512, mk_f32_igemm_ukernel_7x8__avx512, 7, 8),
    MK_GEMM_LINE(MK_VARIANT_AVX512, mk_f32_igemm_ukernel_1x32__avx512, 1, 32),
    MK_GEMM_LINE(MK_VARIANT_AVX512, mk_f32_igemm_ukernel_1x16__avx512, 1, 16),
    MK_GEMM_LINE(MK_VARIANT_AVX512, mk_f32_igemm_ukernel_1x8__avx512, 1, 8),
#endif
#if defined(__aarch64__)
    MK_GEMM_LINE(MK_VARIANT_NEON, mk_f32_igemm_ukernel_6x8__neon, 6, 8),
    MK_GEMM_LINE(MK_VARIANT_NEON, mk_f32_igemm_ukernel_6x4__neon, 6, 4),
    MK_GEMM_LINE(MK_VARIANT_NEON, mk_f32_igemm_ukernel_1x8__neon, 1, 8),
    MK_GEMM_LINE(MK_VARIANT_NEON, mk_f32_igemm_ukernel_1x4__neon, 1, 4),
#endif
};
const size_t mk_f32_gemm_line_count = sizeof mk_f32_gemm_lines / sizeof mk_f32_gemm_lines[0];

// Measured: dense 1x1 layers whose rows are one column tile run the dense form over all of a
// task's row tiles when a K block has at most this many channels (96% of peak on 32->16 at
// 112x112 against 75% one call per tile); with a longer K the indirect form is faster.
#define MK_GEMM_DENSE_MAX_KC 128

// The shortest K block (see mk_gemm_build).
#define MK_GEMM_MIN_KC 512

static mk_f32_gemm_config g_configs[MK_VARIANT_COUNT];
static bool g_present[MK_VARIANT_COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

// Inserts `k` into the NULL-terminated list `list` (capacity `cap`), widest first.
static void mk_gemm_insert(const mk_igemm_kernel** list, size_t cap, const mk_igemm_kernel* k) {
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

static void mk_gemm_build(void) {
    const mk_cpu_info* cpu = mk_cpu_info_get();
    for (size_t v = 0; v < MK_VARIANT_COUNT; v++) {
        mk_f32_gemm_config* config = &g_configs[v];
        for (size_t i = 0; i < mk_f32_gemm_line_count; i++) {
            const mk_igemm_kernel* k = mk_f32_gemm_lines[i].kernel;
            if (mk_f32_gemm_lines[i].info.variant != (mk_variant)v || k->mr == 1) continue;
            if (config->full == NULL || k->nr > config->full->nr) config->full = k;
        }
        if (config->full == NULL) continue;
        g_present[v] = true;
        for (size_t i = 0; i < mk_f32_gemm_line_count; i++) {
            const mk_igemm_kernel* k = mk_f32_gemm_lines[i].kernel;
            if (mk_f32_gemm_lines[i].info.variant != (mk_variant)v) continue;
            if (k->mr == 1) {
                mk_gemm_insert(config->rows1, MK_GEMM_MAX_TAILS + 1, k);
            } else if (k->nr < config->full->nr) {
                mk_gemm_insert(config->tails, MK_GEMM_MAX_TAILS, k);
            }
        }
        // nc: the columns a task keeps in L2 (32 column vectors of the tile, at most 256 floats);
        // kc: the K block that makes the task's B block (kc x nc floats) half of the L2 cache
        // (512 on a 1 MiB L2, as tuned on Zen 4 and Sapphire Rapids; 1024 on a 2 MiB L2), but
        // at least 512: on a Zen 2 with 512 KiB of L2, kc = 256 measured 3-10% slower on
        // MobileNetV1, AlexNet and VGG16 than 512 (the extra passes over C cost more than the
        // B block's L2 misses). A multiple of 16, at most 2048.
        mk_gemm_blocking* b = &config->blocking;
        b->mr = config->full->mr;
        b->nr = config->full->nr;
        b->nc = 32 * b->nr < 256 ? 32 * b->nr : 256;
        size_t kc = cpu->l2_bytes / 2 / (b->nc * sizeof(float));
        kc = kc < MK_GEMM_MIN_KC ? MK_GEMM_MIN_KC : kc > 2048 ? 2048 : kc;
        b->kc = kc & ~(size_t)15;
        // Where kc was raised to its minimum, nc narrows instead so the B block stays half of the
        // L2 (Zen 2, 512 KiB: nc = 128; a 256 x 512 block was the whole L2): MobileNetV1's 14x14
        // and 7x7 layers ran 3-6% faster. nc only groups the columns of a task, so the results
        // do not change.
        size_t nc = cpu->l2_bytes / 2 / (b->kc * sizeof(float)) / b->nr * b->nr;
        if (nc < 4 * b->nr) nc = 4 * b->nr;
        if (nc < b->nc) b->nc = nc;
        b->dense_max_kc = MK_GEMM_DENSE_MAX_KC;
    }
}

const mk_f32_gemm_config* mk_f32_gemm_config_get(mk_variant variant) {
    pthread_once(&g_once, mk_gemm_build);
    return (unsigned)variant < MK_VARIANT_COUNT && g_present[variant] ? &g_configs[variant] : NULL;
}

mk_status mk_f32_gemm_blocking(mk_variant variant, mk_gemm_blocking* blocking) {
    if (blocking == NULL) return MK_STATUS_NULL_POINTER;
    mk_variant resolved;
    const mk_status status = mk_family_resolve(MK_FAMILY_F32_GEMM, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    *blocking = mk_f32_gemm_config_get(resolved)->blocking;
    return MK_STATUS_OK;
}
