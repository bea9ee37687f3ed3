// CPU feature detection (once, thread-safe via pthread_once) and variant resolution.
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static mk_cpu_info g_cpu;
static pthread_once_t g_cpu_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
static uint64_t mk_xgetbv0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif

#if defined(__x86_64__)
// Deterministic cache parameters (Intel leaf 4, AMD leaf 0x8000001D: the same format): the data
// or unified caches of levels 1-3, size = ways * partitions * line * sets.
static void mk_cpuid_caches(unsigned leaf, mk_cpu_info* info) {
    for (unsigned i = 0; i < 16; i++) {
        unsigned eax, ebx, ecx, edx;
        __cpuid_count(leaf, i, eax, ebx, ecx, edx);
        const unsigned type = eax & 0x1f, level = (eax >> 5) & 0x7;
        if (type == 0) break;
        if (type == 2) continue;  // instruction cache
        const size_t size = (size_t)((ebx >> 22) + 1) * (((ebx >> 12) & 0x3ff) + 1) *
                            ((ebx & 0xfff) + 1) * ((size_t)ecx + 1);
        if (level == 1) info->l1d_bytes = size;
        if (level == 2) info->l2_bytes = size;
        if (level == 3) info->l3_bytes = size;
    }
}
#endif

// Linux: /sys/devices/system/cpu/cpu0/cache/index<i>/{level,type,size}, for what CPUID did not
// give (every aarch64 machine).
static void mk_sysfs_caches(mk_cpu_info* info) {
    for (int i = 0; i < 8; i++) {
        char path[96], type[32] = "";
        unsigned level = 0;
        unsigned long size = 0;
        char unit = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE* f = fopen(path, "r");
        if (f == NULL) break;
        const bool got_level = fscanf(f, "%u", &level) == 1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if ((f = fopen(path, "r")) == NULL) continue;
        const bool got_type = fscanf(f, "%31s", type) == 1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if ((f = fopen(path, "r")) == NULL) continue;
        const int got = fscanf(f, "%lu%c", &size, &unit);
        fclose(f);
        if (!got_level || !got_type || got < 1 || strcmp(type, "Instruction") == 0) continue;
        size_t bytes = size;
        if (got == 2 && unit == 'K') bytes = size << 10;
        if (got == 2 && unit == 'M') bytes = size << 20;
        if (level == 1 && info->l1d_bytes == 0) info->l1d_bytes = bytes;
        if (level == 2 && info->l2_bytes == 0) info->l2_bytes = bytes;
        if (level == 3 && info->l3_bytes == 0) info->l3_bytes = bytes;
    }
}

static void mk_detect_cpu(void) {
    mk_cpu_info info;
    memset(&info, 0, sizeof info);
#if defined(__x86_64__)
    unsigned eax, ebx, ecx, edx;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf >= 1) {
        __cpuid_count(1, 0, eax, ebx, ecx, edx);
        bool osxsave = (ecx >> 27) & 1;
        uint64_t xcr0 = osxsave ? mk_xgetbv0() : 0;
        bool ymm_os = (xcr0 & 0x6) == 0x6;             // XMM and YMM state
        bool zmm_os = ymm_os && (xcr0 & 0xE0) == 0xE0; // opmask, ZMM_Hi256, Hi16_ZMM
        bool amx_os = (xcr0 & 0x60000) == 0x60000;     // XTILECFG, XTILEDATA
        info.sse42 = (ecx >> 20) & 1;
        info.avx = ymm_os && ((ecx >> 28) & 1);
        info.fma = info.avx && ((ecx >> 12) & 1);
        info.f16c = info.avx && ((ecx >> 29) & 1);
        if (max_leaf >= 7) {
            __cpuid_count(7, 0, eax, ebx, ecx, edx);
            info.avx2 = info.avx && ((ebx >> 5) & 1);
            info.avx512f = zmm_os && ((ebx >> 16) & 1);
            info.avx512dq = info.avx512f && ((ebx >> 17) & 1);
            info.avx512cd = info.avx512f && ((ebx >> 28) & 1);
            info.avx512bw = info.avx512f && ((ebx >> 30) & 1);
            info.avx512vl = info.avx512f && ((ebx >> 31) & 1);
            info.avx512vnni = info.avx512f && ((ecx >> 11) & 1);
            info.avx512vbmi = info.avx512f && ((ecx >> 1) & 1);
            info.avx512fp16 = info.avx512f && ((edx >> 23) & 1);
            info.amx_bf16 = amx_os && ((edx >> 22) & 1);
            info.amx_tile = amx_os && ((edx >> 24) & 1);
            info.amx_int8 = amx_os && ((edx >> 25) & 1);
            unsigned eax1, ebx1, ecx1, edx1;
            __cpuid_count(7, 1, eax1, ebx1, ecx1, edx1);
            info.avx512bf16 = info.avx512f && ((eax1 >> 5) & 1);
            info.avxvnni = info.avx2 && ((eax1 >> 4) & 1);
        }
    }
    unsigned max_ext = __get_cpuid_max(0x80000000u, NULL);
    if (max_ext >= 0x80000004u) {
        unsigned regs[12];
        for (unsigned i = 0; i < 3; i++) {
            __cpuid(0x80000002u + i, regs[4 * i], regs[4 * i + 1], regs[4 * i + 2],
                    regs[4 * i + 3]);
        }
        memcpy(info.brand, regs, 48);
        info.brand[48] = '\0';
        // Trim leading spaces some CPUs put in the brand string.
        size_t skip = 0;
        while (info.brand[skip] == ' ') skip++;
        if (skip > 0) memmove(info.brand, info.brand + skip, strlen(info.brand + skip) + 1);
    } else {
        strcpy(info.brand, "x86-64");
    }
    bool topoext = false;  // AMD's cache leaf 0x8000001D
    if (max_ext >= 0x8000001Du) {
        __cpuid(0x80000001u, eax, ebx, ecx, edx);
        topoext = (ecx >> 22) & 1;
    }
    if (topoext) {
        mk_cpuid_caches(0x8000001Du, &info);
    } else if (max_leaf >= 4) {
        mk_cpuid_caches(4, &info);
    }
#elif defined(__aarch64__)
    info.neon = true;  // Advanced SIMD is mandatory in AArch64
#if defined(__linux__)
    info.neon_dot = (getauxval(AT_HWCAP) & (1ul << 20)) != 0;  // HWCAP_ASIMDDP
#endif
    strcpy(info.brand, "aarch64");
#else
    strcpy(info.brand, "unknown");
#endif
    mk_sysfs_caches(&info);
    if (info.l1d_bytes == 0) info.l1d_bytes = 32 << 10;
    if (info.l2_bytes == 0) info.l2_bytes = 1 << 20;
    // Overrides (bytes), as OpenBLAS's OPENBLAS_L2_SIZE: for a hypervisor that reports caches
    // wrongly, and to reproduce another machine's blocking (and so its bits) exactly.
    const char* l1 = getenv("MK_L1D_BYTES");
    const char* l2 = getenv("MK_L2_BYTES");
    if (l1 != NULL && strtoull(l1, NULL, 10) > 0) info.l1d_bytes = (size_t)strtoull(l1, NULL, 10);
    if (l2 != NULL && strtoull(l2, NULL, 10) > 0) info.l2_bytes = (size_t)strtoull(l2, NULL, 10);
    g_cpu = info;
}

const mk_cpu_info* mk_cpu_info_get(void) {
    pthread_once(&g_cpu_once, mk_detect_cpu);
    return &g_cpu;
}

// The variants, one line each, in AUTO's order of preference: a new ISA is an mk_variant value,
// a line here with its feature check, and its microkernels' lines in the catalogue (configs/).
static bool mk_always(const mk_cpu_info* cpu) { (void)cpu; return true; }
#if defined(__x86_64__)
static bool mk_has_avx2(const mk_cpu_info* cpu) { return cpu->avx2 && cpu->fma; }
static bool mk_has_avx512(const mk_cpu_info* cpu) {
    return cpu->avx512f && cpu->avx512bw && cpu->avx512vl && cpu->avx512dq && cpu->fma;
}
#endif
#if defined(__x86_64__)
static bool mk_has_avx512vnni(const mk_cpu_info* cpu) {
    return mk_has_avx512(cpu) && cpu->avx512vnni;
}
static bool mk_has_avxvnni(const mk_cpu_info* cpu) { return mk_has_avx2(cpu) && cpu->avxvnni; }
#endif
#if defined(__aarch64__)
static bool mk_has_neon(const mk_cpu_info* cpu) { return cpu->neon; }
static bool mk_has_neondot(const mk_cpu_info* cpu) { return cpu->neon && cpu->neon_dot; }
#endif
static bool mk_has_blis(const mk_cpu_info* cpu) {
    (void)cpu;
#if defined(MK_NO_BLIS)
    return false;
#else
    return true;  // the package links libblis
#endif
}

typedef struct {
    mk_variant variant;
    bool (*available)(const mk_cpu_info* cpu);
    bool automatic;  // AUTO may pick it (BLIS only when asked for)
} mk_variant_line;

static const mk_variant_line mk_variant_lines[] = {
#if defined(__x86_64__)
    {MK_VARIANT_AVX512VNNI, mk_has_avx512vnni, true},
    {MK_VARIANT_AVX512, mk_has_avx512, true},
    {MK_VARIANT_AVXVNNI, mk_has_avxvnni, true},
    {MK_VARIANT_AVX2, mk_has_avx2, true},
#endif
#if defined(__aarch64__)
    {MK_VARIANT_NEONDOT, mk_has_neondot, true},
    {MK_VARIANT_NEON, mk_has_neon, true},
#endif
    {MK_VARIANT_SCALAR, mk_always, true},
    {MK_VARIANT_BLIS, mk_has_blis, false},
    {MK_VARIANT_AUTO, mk_always, false},
};
#define MK_VARIANT_LINES (sizeof mk_variant_lines / sizeof mk_variant_lines[0])

static const mk_variant_line* mk_variant_line_of(mk_variant variant) {
    for (size_t i = 0; i < MK_VARIANT_LINES; i++) {
        if (mk_variant_lines[i].variant == variant) return &mk_variant_lines[i];
    }
    return NULL;
}

bool mk_variant_available(mk_variant variant) {
    const mk_variant_line* line = mk_variant_line_of(variant);
    return line != NULL && line->available(mk_cpu_info_get());
}

const char* mk_variant_name(mk_variant variant) {
    static const char* const names[MK_VARIANT_COUNT] = {
        "auto", "scalar", "avx2", "avx512", "neon", "blis", "avx512vnni", "avxvnni", "neondot"};
    return (unsigned)variant < MK_VARIANT_COUNT ? names[variant] : "unknown";
}

mk_variant mk_variant_best(void) {
    mk_variant best = MK_VARIANT_SCALAR;
    (void)mk_resolve_variant(MK_VARIANT_AUTO, mk_family_variants(MK_FAMILY_F32_GEMM), &best);
    return best;
}

mk_status mk_resolve_variant(mk_variant requested, unsigned mask, mk_variant* resolved) {
    if ((unsigned)requested >= MK_VARIANT_COUNT) return MK_STATUS_INVALID_ARGUMENT;
    if (requested == MK_VARIANT_AUTO) {
        for (size_t i = 0; i < MK_VARIANT_LINES; i++) {
            const mk_variant_line* line = &mk_variant_lines[i];
            if (line->automatic && (mask & MK_MASK(line->variant)) &&
                line->available(mk_cpu_info_get())) {
                *resolved = line->variant;
                return MK_STATUS_OK;
            }
        }
        return MK_STATUS_UNSUPPORTED;
    }
    if (!(mask & MK_MASK(requested)) || !mk_variant_available(requested)) {
        return MK_STATUS_UNSUPPORTED;
    }
    *resolved = requested;
    return MK_STATUS_OK;
}
