// ARM64 (NEON) conformance driver for CKernels: cross-compiled with aarch64-linux-gnu-gcc and run
// under qemu-aarch64 by `make test-arm64` (Tests/arm64/arm64.mk). Uses only the public C ABI.
//
// Every operator is run with MK_VARIANT_NEON and MK_VARIANT_SCALAR on the same randomized case
// (deterministic: each case's generator is seeded from the global seed, the family and the case
// index, so one case can be re-run alone) and the outputs are compared:
//   channel shuffle          bitwise (and against the defining formula);
//   bias + activation        at most 1 ulp apart (NaN matches NaN);
//   depthwise / convolution  |neon - scalar| <= 1e-5 * reduction_length + 1e-4 * |scalar|
//                            (NEON uses fused multiply-add, scalar need not).
// Every buffer is bracketed by sentinels (and gaps between pixels hold sentinels): an output
// gap, a guard or an input that changes fails the case, as does an output left unwritten.
// Inputs end flush against a PROT_NONE page, so a read past an input's last element crashes;
// the SIGSEGV handler names the case. Some cases also run NEON on a 2-thread pool and require
// results bit-identical to one thread. Also checks: AVX2 / AVX512 / BLIS are UNSUPPORTED on
// aarch64 and AUTO resolves to NEON.
//
// Usage: driver [--seed N] [--only FAMILY] [--case N] [--verbose]
//   FAMILY: variants, bias_activation, channel_shuffle, dwconv2d, conv2d
// Exit status: 0 when every case passes, 1 when any fails, 2 on a crash.
#define _DEFAULT_SOURCE 1  // MAP_ANONYMOUS

#include "ckernels.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------------
// Options, families, reporting

enum { FAM_VARIANTS, FAM_BIAS, FAM_SHUFFLE, FAM_DW, FAM_CONV, FAM_COUNT };
static const char* const g_family_names[FAM_COUNT] = {"variants", "bias_activation",
                                                      "channel_shuffle", "dwconv2d", "conv2d"};
// Randomized cases per family (the variants family is a fixed list of checks).
static const unsigned g_family_cases[FAM_COUNT] = {0, 600, 540, 1080, 1100};

typedef struct {
    unsigned cases, failures;
    unsigned pool_checks;       // cases also run on the 2-thread pool
    double worst_ratio;         // max |diff| / tolerance (convolutions)
    unsigned max_ulp;           // bias + activation
    unsigned signed_zero_diffs; // outputs that differ only in the sign of zero
} family_stats;

static family_stats g_stats[FAM_COUNT];
static uint64_t g_seed = 0x4D4B41524D3634ull;  // "MKARM64"
static int g_only = -1;
static long g_only_case = -1;
static int g_verbose = 0;
static mk_threadpool* g_pool2;

// The case being run (printed on failure and by the crash handler).
static int g_family = -1;
static unsigned g_case_index;
static char g_case_desc[768];
static int g_case_failed;
static unsigned g_printed_failures[FAM_COUNT];
#define MAX_PRINTED_FAILURES 12

static void case_begin(int family, unsigned index) {
    g_family = family;
    g_case_index = index;
    g_case_failed = 0;
    g_case_desc[0] = '\0';
}

static void describe(const char* format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(g_case_desc, sizeof g_case_desc, format, args);
    va_end(args);
    if (g_verbose) {
        printf("  %s #%u: %s\n", g_family_names[g_family], g_case_index, g_case_desc);
        fflush(stdout);
    }
}

// Records a failure of the current case; prints the first few of each family in full.
static void fail(const char* format, ...) {
    g_case_failed = 1;
    if (g_printed_failures[g_family]++ >= MAX_PRINTED_FAILURES) {
        if (g_printed_failures[g_family] == MAX_PRINTED_FAILURES + 1) {
            printf("FAIL %s: further failure details suppressed\n", g_family_names[g_family]);
        }
        return;
    }
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    printf("FAIL %s case %u (seed 0x%" PRIx64 "; rerun: --seed 0x%" PRIx64
           " --only %s --case %u)\n     case: %s\n     %s\n",
           g_family_names[g_family], g_case_index, g_seed, g_seed, g_family_names[g_family],
           g_case_index, g_case_desc, message);
    fflush(stdout);
}

static void case_end(void) {
    g_stats[g_family].cases++;
    if (g_case_failed) g_stats[g_family].failures++;
}

static void write_str(const char* s) {
    ssize_t r = write(STDOUT_FILENO, s, strlen(s));
    (void)r;
}

static atomic_flag g_crashed = ATOMIC_FLAG_INIT;

static void crash_handler(int sig) {
    char number[32];
    if (atomic_flag_test_and_set(&g_crashed)) {
        for (;;) pause();  // another thread is reporting; it ends the process
    }
    write_str("\nCRASH: ");
    write_str(sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : "signal");
    write_str(" (an access outside a buffer?) in family ");
    write_str(g_family >= 0 ? g_family_names[g_family] : "?");
    write_str(" case ");
    int n = snprintf(number, sizeof number, "%u", g_case_index);
    (void)n;
    write_str(number);
    write_str("\n     case: ");
    write_str(g_case_desc);
    write_str("\n");
    _exit(2);
}

static const char* status_name(mk_status status) { return mk_status_string(status); }

static const char* activation_name(mk_activation_kind kind) {
    switch (kind) {
        case MK_ACTIVATION_NONE: return "none";
        case MK_ACTIVATION_RELU: return "relu";
        case MK_ACTIVATION_RELU6: return "relu6";
        case MK_ACTIVATION_HARDSWISH: return "hardswish";
        case MK_ACTIVATION_HARDSIGMOID: return "hardsigmoid";
        case MK_ACTIVATION_CLAMP: return "clamp";
    }
    return "?";
}

// ---------------------------------------------------------------------------------------------
// Deterministic random numbers (splitmix64), reseeded per case

static uint64_t g_rng;

static uint64_t rnd_u64(void) {
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_for_case(int family, unsigned index) {
    g_rng = g_seed ^ ((uint64_t)(family + 1) << 56) ^ ((uint64_t)index * 0xD1B54A32D192ED03ull);
    (void)rnd_u64();
}

// Uniform in [lo, hi] (inclusive).
static size_t rnd_range(size_t lo, size_t hi) { return lo + (size_t)(rnd_u64() % (hi - lo + 1)); }
static int chance(unsigned percent) { return rnd_u64() % 100 < percent; }
// Uniform in [-1, 1).
static float rnd_unit(void) { return (float)((int64_t)(rnd_u64() >> 40) - (1 << 23)) / (float)(1 << 23); }

// ---------------------------------------------------------------------------------------------
// Tensors: `pixels` rows of `channels` floats, `stride` floats apart, inside a mapping that holds
// sentinels before the first element, in every gap and after the last row, followed by a
// PROT_NONE page. With `flush`, the tensor ends exactly at its last element ((pixels - 1) *
// stride + channels floats, no guard after it), so reading past it faults.

#define GUARD_FLOATS 19
static const uint32_t SENTINEL = 0x7FA5DEADu;  // a NaN pattern nothing computes

typedef struct {
    unsigned char* map;
    size_t map_bytes;
    float* base;   // first float of the checked region
    size_t total;  // floats in the checked region (guards included)
    float* p;      // element (0, 0)
    size_t pixels, stride, channels;
} tensor;

static size_t g_page;

static int is_sentinel(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u == SENTINEL;
}

static void tensor_alloc(tensor* t, size_t pixels, size_t stride, size_t channels, int flush) {
    memset(t, 0, sizeof *t);
    t->pixels = pixels;
    t->stride = stride;
    t->channels = channels;
    const size_t extent = pixels == 0 ? 0 : flush ? (pixels - 1) * stride + channels : pixels * stride;
    t->total = GUARD_FLOATS + extent + (flush ? 0 : GUARD_FLOATS);
    const size_t bytes = t->total * sizeof(float);
    const size_t data_pages = (bytes + g_page - 1) / g_page;
    t->map_bytes = (data_pages + 1) * g_page;
    void* map = mmap(NULL, t->map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        printf("FATAL: mmap of %zu bytes failed\n", t->map_bytes);
        exit(2);
    }
    t->map = map;
    if (mprotect(t->map + data_pages * g_page, g_page, PROT_NONE) != 0) {
        printf("FATAL: mprotect failed\n");
        exit(2);
    }
    t->base = (float*)(t->map + data_pages * g_page - bytes);
    t->p = t->base + GUARD_FLOATS;
    for (size_t i = 0; i < t->total; i++) memcpy(&t->base[i], &SENTINEL, sizeof(float));
}

static void tensor_free(tensor* t) {
    if (t->map != NULL) munmap(t->map, t->map_bytes);
    memset(t, 0, sizeof *t);
}

static float* at(const tensor* t, size_t pixel, size_t c) { return t->p + pixel * t->stride + c; }

// Valid elements: uniform in [-scale, scale).
static void tensor_fill(tensor* t, float scale) {
    for (size_t i = 0; i < t->pixels; i++) {
        for (size_t c = 0; c < t->channels; c++) *at(t, i, c) = scale * rnd_unit();
    }
}

// A new tensor with the layout of `src` (flush or not) and a copy of its whole region.
static void tensor_clone(tensor* dst, const tensor* src, int flush) {
    tensor_alloc(dst, src->pixels, src->stride, src->channels, flush);
    for (size_t i = 0; i < src->pixels; i++) {
        memcpy(at(dst, i, 0), at(src, i, 0), src->channels * sizeof(float));
    }
}

static int is_valid_index(const tensor* t, size_t i) {  // i counts from base
    if (i < GUARD_FLOATS) return 0;
    const size_t k = i - GUARD_FLOATS;
    return k / t->stride < t->pixels && k % t->stride < t->channels;
}

// Gaps and guards must still hold the sentinel; valid elements must have been written (when
// `written`) or be unchanged from `original` (when not NULL, for read-only inputs).
static int tensor_check_layout(const char* what, const tensor* t, int written,
                               const tensor* original) {
    for (size_t i = 0; i < t->total; i++) {
        if (!is_valid_index(t, i)) {
            if (!is_sentinel(t->base[i])) {
                long offset = (long)i - GUARD_FLOATS;
                fail("%s: element at float offset %ld (outside the tensor: %s) was overwritten "
                     "with %a", what, offset,
                     offset < 0 ? "before the start"
                     : (size_t)offset / t->stride >= t->pixels ? "past the end"
                                                               : "gap between pixels",
                     (double)t->base[i]);
                return 1;
            }
        } else if (written && is_sentinel(t->base[i])) {
            const size_t k = i - GUARD_FLOATS;
            fail("%s: pixel %zu channel %zu was never written", what, k / t->stride, k % t->stride);
            return 1;
        } else if (original != NULL) {
            uint32_t a, b;
            memcpy(&a, &t->base[i], 4);
            memcpy(&b, &original->base[i], 4);
            if (a != b) {
                const size_t k = i - GUARD_FLOATS;
                fail("%s: input pixel %zu channel %zu was modified", what, k / t->stride,
                     k % t->stride);
                return 1;
            }
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Comparisons

static uint32_t bits_of(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

// Monotonic integer image of a float: adjacent floats differ by 1, -0 and +0 map to 0.
static int64_t ordered(float x) {
    const uint32_t u = bits_of(x);
    return (u & 0x80000000u) ? -(int64_t)(u & 0x7FFFFFFFu) : (int64_t)u;
}

enum { CMP_EXACT, CMP_ULP1, CMP_TOL };

// Compares every valid element of `neon` against `scalar`. `reduction` is the length of each
// output's sum (CMP_TOL). Reports the first mismatch and how many elements mismatch.
static int compare(const char* what, int mode, const tensor* neon, const tensor* scalar,
                   double reduction) {
    size_t bad = 0, first_pixel = 0, first_c = 0;
    double first_detail = 0.0;
    float first_n = 0.0f, first_s = 0.0f;
    family_stats* st = &g_stats[g_family];
    for (size_t i = 0; i < neon->pixels; i++) {
        for (size_t c = 0; c < neon->channels; c++) {
            const float n = *at(neon, i, c), s = *at(scalar, i, c);
            int ok;
            double detail = 0.0;
            if (mode == CMP_EXACT) {
                ok = bits_of(n) == bits_of(s);
            } else if (mode == CMP_ULP1) {
                if (isnan(n) || isnan(s)) {
                    ok = isnan(n) && isnan(s);
                } else {
                    int64_t d = ordered(n) - ordered(s);
                    if (d < 0) d = -d;
                    detail = (double)d;
                    ok = d <= 1;
                    if (ok && (unsigned)d > st->max_ulp) st->max_ulp = (unsigned)d;
                    if (ok && n == 0.0f && s == 0.0f && bits_of(n) != bits_of(s)) {
                        st->signed_zero_diffs++;
                    }
                }
            } else {
                const double tol = 1e-5 * reduction + 1e-4 * fabs((double)s);
                const double diff = fabs((double)n - (double)s);
                ok = diff <= tol;  // false for NaN
                detail = diff;
                if (ok && diff / tol > st->worst_ratio) st->worst_ratio = diff / tol;
            }
            if (!ok) {
                if (bad++ == 0) {
                    first_pixel = i;
                    first_c = c;
                    first_n = n;
                    first_s = s;
                    first_detail = detail;
                }
            }
        }
    }
    if (bad == 0) return 0;
    if (mode == CMP_TOL) {
        const double tol = 1e-5 * reduction + 1e-4 * fabs((double)first_s);
        fail("%s: %zu of %zu outputs differ; first at pixel %zu channel %zu: neon %.9g scalar "
             "%.9g |diff| %.3g > tol %.3g (reduction %g)", what, bad,
             neon->pixels * neon->channels, first_pixel, first_c, (double)first_n,
             (double)first_s, first_detail, tol, reduction);
    } else if (mode == CMP_ULP1) {
        fail("%s: %zu of %zu outputs differ by more than 1 ulp; first at pixel %zu channel %zu: "
             "neon %.9g (0x%08x) scalar %.9g (0x%08x), %.0f ulp", what, bad,
             neon->pixels * neon->channels, first_pixel, first_c, (double)first_n,
             bits_of(first_n), (double)first_s, bits_of(first_s), first_detail);
    } else {
        fail("%s: %zu of %zu outputs differ bitwise; first at pixel %zu channel %zu: %.9g "
             "(0x%08x) vs %.9g (0x%08x)", what, bad, neon->pixels * neon->channels, first_pixel,
             first_c, (double)first_n, bits_of(first_n), (double)first_s, bits_of(first_s));
    }
    return 1;
}

// Bitwise equality of whole regions (guards and gaps included): thread-count independence.
static int compare_bitwise_region(const char* what, const tensor* a, const tensor* b) {
    for (size_t i = 0; i < a->total; i++) {
        if (bits_of(a->base[i]) != bits_of(b->base[i])) {
            const long k = (long)i - GUARD_FLOATS;
            fail("%s: 2-thread result differs from 1 thread at float offset %ld: %.9g vs %.9g", what,
                 k, (double)a->base[i], (double)b->base[i]);
            return 1;
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Random activations, strides, values

static mk_activation random_activation(mk_activation_kind kind) {
    mk_activation a = {kind, 0.0f, 0.0f};
    if (kind == MK_ACTIVATION_CLAMP) {
        switch (rnd_range(0, 5)) {
            case 0: a.min = -INFINITY; a.max = 2.0f * rnd_unit(); break;
            case 1: a.min = 2.0f * rnd_unit(); a.max = INFINITY; break;
            case 2: a.min = a.max = rnd_unit(); break;  // min == max
            default: {
                float x = 3.0f * rnd_unit(), y = 3.0f * rnd_unit();
                a.min = x < y ? x : y;
                a.max = x < y ? y : x;
            }
        }
    }
    return a;
}

static void format_activation(char* out, size_t size, mk_activation a) {
    if (a.kind == MK_ACTIVATION_CLAMP) {
        snprintf(out, size, "clamp[%g,%g]", (double)a.min, (double)a.max);
    } else {
        snprintf(out, size, "%s", activation_name(a.kind));
    }
}

// A pixel stride for `channels`: the layout stride and the value passed to the operator (0 =
// dense, or dense given explicitly, or wider than the channels).
static void random_stride(size_t channels, unsigned wider_percent, size_t* layout, size_t* arg) {
    if (chance(wider_percent)) {
        *layout = *arg = channels + rnd_range(1, 6);
    } else {
        *layout = channels;
        *arg = chance(50) ? 0 : channels;
    }
}

static float* random_floats(size_t n, float scale) {
    float* v = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = scale * rnd_unit();
    return v;
}

static int run_ok(const char* what, mk_status status) {
    if (status != MK_STATUS_OK) {
        fail("%s returned %s", what, status_name(status));
        return 0;
    }
    return 1;
}

static int want_pool(unsigned index, unsigned every) { return g_pool2 != NULL && index % every == 0; }

// ---------------------------------------------------------------------------------------------
// Family: variant availability and AUTO resolution

static void check(int condition, const char* format, ...) {
    case_end();  // each check counts as a case
    if (condition) return;
    char message[256];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    g_stats[g_family].failures++;
    printf("FAIL variants: %s\n", message);
}

static void family_variants(void) {
    case_begin(FAM_VARIANTS, 0);
    describe("variant availability and AUTO resolution");
    const mk_activation relu = {MK_ACTIVATION_RELU, 0, 0};
    check(mk_cpu_info_get()->neon, "mk_cpu_info_get()->neon is false");
    check(mk_variant_available(MK_VARIANT_NEON), "NEON not available");
    check(mk_variant_available(MK_VARIANT_SCALAR), "SCALAR not available");
    check(!mk_variant_available(MK_VARIANT_AVX2), "AVX2 reported available on aarch64");
    check(!mk_variant_available(MK_VARIANT_AVX512), "AVX512 reported available on aarch64");
    check(!mk_variant_available(MK_VARIANT_BLIS), "BLIS reported available in an MK_NO_BLIS build");
    check(mk_variant_best() == MK_VARIANT_NEON, "mk_variant_best() = %s, want neon",
          mk_variant_name(mk_variant_best()));

    const mk_variant unsupported[] = {MK_VARIANT_AVX2, MK_VARIANT_AVX512, MK_VARIANT_BLIS};
    float weights[64 * 9], bias[64], x[64], y[64];
    for (int i = 0; i < 64 * 9; i++) weights[i] = 0.01f * (float)(i % 17);
    for (int i = 0; i < 64; i++) bias[i] = x[i] = 0.1f * (float)(i % 5);
    const mk_dwconv2d_params dwp = {16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, relu};
    const mk_conv2d_params c1 = {.input_channels = 8, .output_channels = 8, .groups = 1,
                                 .kernel_h = 1, .kernel_w = 1, .stride_h = 1, .stride_w = 1,
                                 .dilation_h = 1, .dilation_w = 1, .activation = relu};
    mk_conv2d_params c3 = c1;
    c3.kernel_h = c3.kernel_w = 3;
    c3.pad_top = c3.pad_left = c3.pad_bottom = c3.pad_right = 1;
    mk_conv2d_params cs = c1;
    cs.groups = 2;
    cs.shuffle_output = true;
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        const mk_variant v = unsupported[i];
        const char* name = mk_variant_name(v);
        mk_bias_activation_op* b = NULL;
        mk_status s = mk_bias_activation_create(8, bias, relu, v, &b);
        check(s == MK_STATUS_UNSUPPORTED && b == NULL, "bias_activation_create(%s) = %s", name,
              status_name(s));
        mk_bias_activation_destroy(b);
        mk_dwconv2d_op* d = NULL;
        s = mk_dwconv2d_create(&dwp, weights, bias, v, &d);
        check(s == MK_STATUS_UNSUPPORTED && d == NULL, "dwconv2d_create(%s) = %s", name,
              status_name(s));
        mk_dwconv2d_destroy(d);
        const mk_conv2d_params* cps[] = {&c1, &c3, &cs};
        for (size_t j = 0; j < 3; j++) {
            mk_conv2d_op* c = NULL;
            s = mk_conv2d_create(cps[j], weights, bias, v, &c);
            check(s == MK_STATUS_UNSUPPORTED && c == NULL, "conv2d_create(%s, %s) = %s", name,
                  j == 0 ? "1x1" : j == 1 ? "3x3" : "shuffle", status_name(s));
            mk_conv2d_destroy(c);
        }
        mk_conv2d_op* c = NULL;
        s = mk_conv1x1_create(8, 8, 1, relu, weights, bias, v, &c);
        check(s == MK_STATUS_UNSUPPORTED && c == NULL, "conv1x1_create(%s) = %s", name,
              status_name(s));
        mk_conv2d_destroy(c);
        s = mk_channel_shuffle(2, 8, 1, x, 0, y, 0, v, NULL);
        check(s == MK_STATUS_UNSUPPORTED, "channel_shuffle(%s) = %s", name, status_name(s));
    }

    // AUTO resolves to NEON, and computes exactly what NEON computes.
    mk_bias_activation_op* b = NULL;
    mk_status s = mk_bias_activation_create(8, bias, relu, MK_VARIANT_AUTO, &b);
    check(s == MK_STATUS_OK && mk_bias_activation_variant(b) == MK_VARIANT_NEON,
          "bias_activation AUTO -> %s (%s)", b ? mk_variant_name(mk_bias_activation_variant(b)) : "-",
          status_name(s));
    mk_bias_activation_destroy(b);
    mk_dwconv2d_op* d = NULL;
    s = mk_dwconv2d_create(&dwp, weights, bias, MK_VARIANT_AUTO, &d);
    check(s == MK_STATUS_OK && mk_dwconv2d_variant(d) == MK_VARIANT_NEON,
          "dwconv2d AUTO -> %s (%s)", d ? mk_variant_name(mk_dwconv2d_variant(d)) : "-",
          status_name(s));
    check(d != NULL && mk_dwconv2d_is_specialized(d), "3x3 dwconv not specialized on NEON");
    mk_dwconv2d_destroy(d);
    const mk_conv2d_params* cps[] = {&c1, &c3, &cs};
    for (size_t j = 0; j < 3; j++) {
        mk_conv2d_op* c = NULL;
        s = mk_conv2d_create(cps[j], weights, bias, MK_VARIANT_AUTO, &c);
        check(s == MK_STATUS_OK && mk_conv2d_variant(c) == MK_VARIANT_NEON,
              "conv2d AUTO (%s) -> %s (%s)", j == 0 ? "1x1" : j == 1 ? "3x3" : "shuffle",
              c ? mk_variant_name(mk_conv2d_variant(c)) : "-", status_name(s));
        mk_conv2d_destroy(c);
    }
    mk_conv2d_op* c = NULL;
    s = mk_conv1x1_create(8, 8, 2, relu, weights, bias, MK_VARIANT_AUTO, &c);
    check(s == MK_STATUS_OK && mk_conv2d_variant(c) == MK_VARIANT_NEON,
          "conv1x1 AUTO -> %s (%s)", c ? mk_variant_name(mk_conv2d_variant(c)) : "-",
          status_name(s));
    mk_conv2d_destroy(c);
    // channel shuffle has no variant getter: AUTO must give NEON's bytes (and the formula).
    float in[3 * 12], out_auto[3 * 12], out_neon[3 * 12];
    for (int i = 0; i < 36; i++) in[i] = (float)i;
    s = mk_channel_shuffle(3, 12, 3, in, 0, out_auto, 0, MK_VARIANT_AUTO, NULL);
    mk_status s2 = mk_channel_shuffle(3, 12, 3, in, 0, out_neon, 0, MK_VARIANT_NEON, NULL);
    check(s == MK_STATUS_OK && s2 == MK_STATUS_OK && memcmp(out_auto, out_neon, sizeof out_auto) == 0,
          "channel_shuffle AUTO differs from NEON (%s, %s)", status_name(s), status_name(s2));
    g_case_failed = 0;
}

// ---------------------------------------------------------------------------------------------
// Family: bias + activation

static const float g_special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -3.0f, 3.0f, 6.0f,
                                  -6.0f, 1e-40f, -1e-40f, 3e38f, -3e38f, 2.9999998f, -3.0000002f,
                                  6.0000005f, 5.9999995f, 1.0f, -1.0f, 0.5f};

static void bias_case(unsigned index) {
    case_begin(FAM_BIAS, index);
    rng_for_case(FAM_BIAS, index);
    const mk_activation_kind kind = (mk_activation_kind)(index % 6);
    const mk_activation act = random_activation(kind);
    size_t channels;
    switch (rnd_range(0, 9)) {
        case 0: channels = rnd_range(1, 3); break;
        case 1: channels = 4 * rnd_range(1, 8) + rnd_range(0, 1) * rnd_range(1, 3); break;
        case 2: channels = 16 * rnd_range(1, 4) + rnd_range(0, 3); break;
        case 3: channels = rnd_range(65, 150); break;
        default: channels = rnd_range(1, 40); break;
    }
    const int pooled = want_pool(index, 10);
    size_t pixels = rnd_range(1, 24);
    if (chance(3)) pixels = 0;
    if (pooled) pixels = 16384 / channels * 2 + rnd_range(1, 40);  // several tiles
    size_t in_layout, in_arg, out_layout, out_arg;
    random_stride(channels, 40, &in_layout, &in_arg);
    random_stride(channels, 40, &out_layout, &out_arg);
    const int in_place = chance(25);
    if (in_place) {
        out_layout = in_layout;
        out_arg = in_arg;
    }
    const int with_bias = chance(80);
    float* bias = with_bias ? random_floats(channels, 4.0f) : NULL;
    char act_text[64];
    format_activation(act_text, sizeof act_text, act);
    describe("channels %zu pixels %zu in_stride %zu out_stride %zu %s bias:%s %s", channels,
             pixels, in_arg, out_arg, in_place ? "in-place" : "out-of-place",
             with_bias ? "yes" : "NULL", act_text);

    tensor input;
    tensor_alloc(&input, pixels, in_layout, channels, 1);
    tensor_fill(&input, 8.0f);
    for (size_t i = 0; i < pixels; i++) {  // special values: zeros, infinities, NaN, thresholds
        for (size_t c = 0; c < channels; c++) {
            if (chance(8)) *at(&input, i, c) = g_special[rnd_range(0, sizeof g_special / sizeof g_special[0] - 1)];
        }
    }
    if (with_bias && chance(30)) bias[rnd_range(0, channels - 1)] = -0.0f;

    mk_bias_activation_op *op_s = NULL, *op_n = NULL;
    if (!run_ok("create(scalar)", mk_bias_activation_create(channels, bias, act, MK_VARIANT_SCALAR, &op_s)) ||
        !run_ok("create(neon)", mk_bias_activation_create(channels, bias, act, MK_VARIANT_NEON, &op_n))) {
        goto done_ops;
    }
    if (mk_bias_activation_variant(op_n) != MK_VARIANT_NEON) fail("NEON op reports variant %s", mk_variant_name(mk_bias_activation_variant(op_n)));

    tensor in_copy, out_s, out_n, out_p;
    tensor_clone(&in_copy, &input, 1);
    if (in_place) {
        tensor_clone(&out_s, &input, 0);
        tensor_clone(&out_n, &input, 0);
        if (run_ok("run(scalar, in place)", mk_bias_activation_run(op_s, pixels, out_s.p, in_arg, out_s.p, out_arg, NULL)) &&
            run_ok("run(neon, in place)", mk_bias_activation_run(op_n, pixels, out_n.p, in_arg, out_n.p, out_arg, NULL))) {
            if (!tensor_check_layout("scalar output", &out_s, 0, NULL) &&
                !tensor_check_layout("neon output", &out_n, 0, NULL)) {
                compare("neon vs scalar", CMP_ULP1, &out_n, &out_s, 0);
            }
            if (pooled) {
                tensor_clone(&out_p, &input, 0);
                g_stats[FAM_BIAS].pool_checks++;
                if (run_ok("run(neon, in place, 2 threads)", mk_bias_activation_run(op_n, pixels, out_p.p, in_arg, out_p.p, out_arg, g_pool2))) {
                    compare_bitwise_region("neon in place", &out_p, &out_n);
                }
                tensor_free(&out_p);
            }
        }
    } else {
        tensor_alloc(&out_s, pixels, out_layout, channels, 0);
        tensor_alloc(&out_n, pixels, out_layout, channels, 0);
        if (run_ok("run(scalar)", mk_bias_activation_run(op_s, pixels, input.p, in_arg, out_s.p, out_arg, NULL)) &&
            run_ok("run(neon)", mk_bias_activation_run(op_n, pixels, input.p, in_arg, out_n.p, out_arg, NULL))) {
            if (!tensor_check_layout("scalar output", &out_s, 1, NULL) &&
                !tensor_check_layout("neon output", &out_n, 1, NULL) &&
                !tensor_check_layout("input", &input, 0, &in_copy)) {
                compare("neon vs scalar", CMP_ULP1, &out_n, &out_s, 0);
            }
            if (pooled) {
                tensor_alloc(&out_p, pixels, out_layout, channels, 0);
                g_stats[FAM_BIAS].pool_checks++;
                if (run_ok("run(neon, 2 threads)", mk_bias_activation_run(op_n, pixels, input.p, in_arg, out_p.p, out_arg, g_pool2))) {
                    compare_bitwise_region("neon", &out_p, &out_n);
                }
                tensor_free(&out_p);
            }
        }
    }
    tensor_free(&in_copy);
    tensor_free(&out_s);
    tensor_free(&out_n);
done_ops:
    mk_bias_activation_destroy(op_s);
    mk_bias_activation_destroy(op_n);
    tensor_free(&input);
    free(bias);
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Family: channel shuffle

static void shuffle_case(unsigned index) {
    case_begin(FAM_SHUFFLE, index);
    rng_for_case(FAM_SHUFFLE, index);
    const size_t groups = 1 + index % 9;
    size_t per_group = chance(80) ? rnd_range(1, 12) : rnd_range(13, 70);
    const size_t channels = groups * per_group;
    const int pooled = want_pool(index, 9);
    size_t pixels = rnd_range(1, 16);
    if (pooled) pixels = (16384 + channels - 1) / channels * 2 + rnd_range(1, 9);
    size_t in_layout, in_arg, out_layout, out_arg;
    random_stride(channels, 40, &in_layout, &in_arg);
    random_stride(channels, 40, &out_layout, &out_arg);
    const int in_place = chance(30);
    if (in_place) {
        out_layout = in_layout;
        out_arg = in_arg;
    }
    describe("groups %zu channels %zu pixels %zu in_stride %zu out_stride %zu %s", groups,
             channels, pixels, in_arg, out_arg, in_place ? "in-place" : "out-of-place");

    tensor input, in_copy, out_s, out_n, out_p;
    tensor_alloc(&input, pixels, in_layout, channels, 1);
    tensor_fill(&input, 100.0f);
    if (chance(20)) *at(&input, 0, 0) = -0.0f;
    tensor_clone(&in_copy, &input, 1);
    mk_status ss, sn;
    if (in_place) {
        tensor_clone(&out_s, &input, 0);
        tensor_clone(&out_n, &input, 0);
        ss = mk_channel_shuffle(groups, channels, pixels, out_s.p, in_arg, out_s.p, out_arg, MK_VARIANT_SCALAR, NULL);
        sn = mk_channel_shuffle(groups, channels, pixels, out_n.p, in_arg, out_n.p, out_arg, MK_VARIANT_NEON, NULL);
    } else {
        tensor_alloc(&out_s, pixels, out_layout, channels, 0);
        tensor_alloc(&out_n, pixels, out_layout, channels, 0);
        ss = mk_channel_shuffle(groups, channels, pixels, input.p, in_arg, out_s.p, out_arg, MK_VARIANT_SCALAR, NULL);
        sn = mk_channel_shuffle(groups, channels, pixels, input.p, in_arg, out_n.p, out_arg, MK_VARIANT_NEON, NULL);
    }
    if (run_ok("shuffle(scalar)", ss) && run_ok("shuffle(neon)", sn)) {
        if (!tensor_check_layout("scalar output", &out_s, !in_place, NULL) &&
            !tensor_check_layout("neon output", &out_n, !in_place, NULL) &&
            (in_place || !tensor_check_layout("input", &input, 0, &in_copy))) {
            if (!compare("neon vs scalar", CMP_EXACT, &out_n, &out_s, 0)) {
                // The definition: out[p, j * groups + g] = in[p, g * (C / groups) + j].
                for (size_t i = 0; i < pixels && !g_case_failed; i++) {
                    for (size_t g = 0; g < groups; g++) {
                        for (size_t j = 0; j < per_group; j++) {
                            const float want = *at(&in_copy, i, g * per_group + j);
                            const float got = *at(&out_n, i, j * groups + g);
                            if (bits_of(want) != bits_of(got)) {
                                fail("pixel %zu: out[%zu] = %g, want in[%zu] = %g", i,
                                     j * groups + g, (double)got, g * per_group + j, (double)want);
                                g = groups;
                                break;
                            }
                        }
                    }
                }
            }
        }
        if (pooled) {
            g_stats[FAM_SHUFFLE].pool_checks++;
            if (in_place) {
                tensor_clone(&out_p, &input, 0);
                sn = mk_channel_shuffle(groups, channels, pixels, out_p.p, in_arg, out_p.p, out_arg, MK_VARIANT_NEON, g_pool2);
            } else {
                tensor_alloc(&out_p, pixels, out_layout, channels, 0);
                sn = mk_channel_shuffle(groups, channels, pixels, input.p, in_arg, out_p.p, out_arg, MK_VARIANT_NEON, g_pool2);
            }
            if (run_ok("shuffle(neon, 2 threads)", sn)) compare_bitwise_region("neon", &out_p, &out_n);
            tensor_free(&out_p);
        }
    }
    tensor_free(&input);
    tensor_free(&in_copy);
    tensor_free(&out_s);
    tensor_free(&out_n);
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Family: depthwise convolution

// Padding for one side pair: each < extent, often "same"; returns whether the input was grown.
static void random_pads(size_t extent, size_t* a, size_t* b) {
    if (extent == 1) {
        *a = *b = 0;
        return;
    }
    switch (rnd_range(0, 3)) {
        case 0: *a = *b = (extent - 1) / 2; break;  // "same"
        case 1: *a = *b = 0; break;
        default:
            *a = rnd_range(0, extent - 1);
            *b = rnd_range(0, extent - 1);
    }
}

// An input size that, with the pads, covers the extent.
static size_t fit_input(size_t in, size_t extent, size_t pad_a, size_t pad_b) {
    return in + pad_a + pad_b >= extent ? in : extent - pad_a - pad_b;
}

static void dw_case(unsigned index) {
    case_begin(FAM_DW, index);
    rng_for_case(FAM_DW, index);
    size_t kh = 3, kw = 3, sh = 1, sw = 1, dh = 1, dwl = 1;
    switch (index % 9) {
        case 0: break;                                          // 3x3 s1
        case 1: sw = 2; sh = rnd_range(1, 2); break;            // 3x3 s2
        case 2: kh = kw = 5; break;                             // 5x5 s1
        case 3: kh = kw = 5; sw = 2; sh = rnd_range(1, 2); break;  // 5x5 s2
        case 4:  // specialized shapes with other vertical strides
            kh = kw = chance(50) ? 3 : 5;
            sw = rnd_range(1, 2);
            sh = rnd_range(1, 3);
            break;
        case 5: {  // generic kernels
            static const size_t shapes[][2] = {{1, 1}, {7, 7}, {2, 3}, {3, 2}, {1, 5}, {4, 4},
                                               {11, 1}, {1, 11}, {6, 6}, {3, 3}, {5, 5}};
            const size_t* s = shapes[rnd_range(0, sizeof shapes / sizeof shapes[0] - 1)];
            kh = s[0];
            kw = s[1];
            sh = rnd_range(1, 2);
            sw = (kh == 3 || kh == 5) && kh == kw ? 3 : rnd_range(1, 2);  // 3x3/5x5: stride 3
            break;
        }
        case 6:  // dilation 2
            kh = rnd_range(2, 5);
            kw = chance(50) ? kh : rnd_range(1, 5);
            dh = 2;
            dwl = chance(70) ? 2 : 1;
            sh = rnd_range(1, 2);
            sw = rnd_range(1, 2);
            break;
        case 7:  // 7x7 (MobileNetV3 / ConvNeXt style)
            kh = kw = 7;
            sh = sw = rnd_range(1, 2);
            break;
        default:  // anything
            kh = rnd_range(1, 9);
            kw = rnd_range(1, 9);
            sh = rnd_range(1, 3);
            sw = rnd_range(1, 3);
            dh = rnd_range(1, 3);
            dwl = rnd_range(1, 3);
    }
    const size_t eh = dh * (kh - 1) + 1, ew = dwl * (kw - 1) + 1;
    size_t pt, pb, pl, pr;
    random_pads(eh, &pt, &pb);
    random_pads(ew, &pl, &pr);
    size_t channels;
    switch (rnd_range(0, 9)) {
        case 0: case 1: channels = rnd_range(1, 5); break;
        case 2: channels = rnd_range(41, 72); break;
        case 3: channels = 4 * rnd_range(1, 10); break;
        default: channels = rnd_range(6, 40); break;
    }
    size_t h, w;
    if (chance(8)) {  // 1x1 input: the pads must cover the rest of the kernel
        h = w = 1;
        if (eh > 1) { pt = rnd_range(0, eh - 1); pb = eh - 1 - pt; }
        if (ew > 1) { pl = rnd_range(0, ew - 1); pr = ew - 1 - pl; }
    } else {
        h = rnd_range(1, 9);
        w = chance(35) ? rnd_range(17, 40) : rnd_range(1, 16);
    }
    h = fit_input(h, eh, pt, pb);
    w = fit_input(w, ew, pl, pr);
    const size_t batch = chance(25) ? 2 : 1;
    const mk_activation act = random_activation((mk_activation_kind)((index / 9) % 6));
    const mk_dwconv2d_params p = {channels, kh, kw, sh, sw, dh, dwl, pt, pl, pb, pr, act};
    size_t in_layout, in_arg, out_layout, out_arg;
    random_stride(channels, 35, &in_layout, &in_arg);
    random_stride(channels, 35, &out_layout, &out_arg);
    const int with_bias = chance(85);
    const float scale = chance(40) ? 3.0f : 1.0f;
    char act_text[64];
    format_activation(act_text, sizeof act_text, act);
    describe("n%zu %zux%zu C%zu k%zux%zu s%zux%zu d%zux%zu pad(t%zu l%zu b%zu r%zu) %s bias:%s "
             "in_stride %zu out_stride %zu scale %g",
             batch, h, w, channels, kh, kw, sh, sw, dh, dwl, pt, pl, pb, pr, act_text,
             with_bias ? "yes" : "NULL", in_arg, out_arg, (double)scale);

    float* weights = random_floats(channels * kh * kw, 1.0f);
    float* bias = with_bias ? random_floats(channels, 2.0f) : NULL;
    mk_dwconv2d_op *op_s = NULL, *op_n = NULL;
    tensor input = {0}, in_copy = {0}, out_s = {0}, out_n = {0}, out_p = {0};
    size_t oh = 0, ow = 0, oh2 = 0, ow2 = 0;
    if (!run_ok("create(scalar)", mk_dwconv2d_create(&p, weights, bias, MK_VARIANT_SCALAR, &op_s)) ||
        !run_ok("create(neon)", mk_dwconv2d_create(&p, weights, bias, MK_VARIANT_NEON, &op_n)) ||
        !run_ok("output_size(scalar)", mk_dwconv2d_output_size(op_s, h, w, &oh, &ow)) ||
        !run_ok("output_size(neon)", mk_dwconv2d_output_size(op_n, h, w, &oh2, &ow2))) {
        goto done;
    }
    if (oh != oh2 || ow != ow2) {
        fail("output sizes differ: scalar %zux%zu neon %zux%zu", oh, ow, oh2, ow2);
        goto done;
    }
    if (mk_dwconv2d_is_specialized(op_s) != mk_dwconv2d_is_specialized(op_n)) {
        fail("is_specialized differs: scalar %d neon %d", mk_dwconv2d_is_specialized(op_s),
             mk_dwconv2d_is_specialized(op_n));
    }
    tensor_alloc(&input, batch * h * w, in_layout, channels, 1);
    tensor_fill(&input, scale);
    tensor_clone(&in_copy, &input, 1);
    tensor_alloc(&out_s, batch * oh * ow, out_layout, channels, 0);
    tensor_alloc(&out_n, batch * oh * ow, out_layout, channels, 0);
    if (run_ok("run(scalar)", mk_dwconv2d_run(op_s, batch, h, w, input.p, in_arg, out_s.p, out_arg, NULL)) &&
        run_ok("run(neon)", mk_dwconv2d_run(op_n, batch, h, w, input.p, in_arg, out_n.p, out_arg, NULL))) {
        if (!tensor_check_layout("scalar output", &out_s, 1, NULL) &&
            !tensor_check_layout("neon output", &out_n, 1, NULL) &&
            !tensor_check_layout("input", &input, 0, &in_copy)) {
            compare("neon vs scalar", CMP_TOL, &out_n, &out_s, (double)(kh * kw));
        }
        if (want_pool(index, 6)) {
            g_stats[FAM_DW].pool_checks++;
            tensor_alloc(&out_p, batch * oh * ow, out_layout, channels, 0);
            if (run_ok("run(neon, 2 threads)", mk_dwconv2d_run(op_n, batch, h, w, input.p, in_arg, out_p.p, out_arg, g_pool2))) {
                compare_bitwise_region("neon", &out_p, &out_n);
            }
        }
    }
done:
    mk_dwconv2d_destroy(op_s);
    mk_dwconv2d_destroy(op_n);
    tensor_free(&input);
    tensor_free(&in_copy);
    tensor_free(&out_s);
    tensor_free(&out_n);
    tensor_free(&out_p);
    free(weights);
    free(bias);
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Family: dense / grouped / pointwise convolution

static void conv_case(unsigned index) {
    case_begin(FAM_CONV, index);
    rng_for_case(FAM_CONV, index);
    mk_conv2d_params p = {.groups = 1, .kernel_h = 1, .kernel_w = 1, .stride_h = 1,
                          .stride_w = 1, .dilation_h = 1, .dilation_w = 1};
    size_t cin_g = 1, cout_g = 1;
    int pointwise = 0;      // create through mk_conv1x1_create
    int allow_residual = 1;
    size_t h = rnd_range(1, 9), w = rnd_range(1, 9);
    const unsigned category = index % 11;
    switch (category) {
        case 0:  // pointwise, stride 1
        case 1:  // pointwise, stride 2 or 3
            pointwise = 1;
            cin_g = chance(80) ? rnd_range(1, 48) : rnd_range(49, 96);
            cout_g = chance(80) ? rnd_range(1, 48) : rnd_range(49, 80);
            p.stride_h = p.stride_w = category == 0 ? 1 : chance(75) ? 2 : 3;
            break;
        case 2:  // grouped 1x1, awkward group sizes
            p.groups = rnd_range(2, 8);
            cin_g = rnd_range(1, 13);
            cout_g = rnd_range(1, 13);
            p.stride_h = p.stride_w = rnd_range(1, 2);
            break;
        case 3:  // KxK dense
        case 4:
            p.kernel_h = rnd_range(1, 5);
            p.kernel_w = chance(50) ? p.kernel_h : rnd_range(1, 5);
            p.stride_h = rnd_range(1, 3);
            p.stride_w = rnd_range(1, 3);
            p.dilation_h = chance(30) ? 2 : 1;
            p.dilation_w = chance(30) ? 2 : 1;
            cin_g = rnd_range(1, 12);
            cout_g = rnd_range(1, 24);
            break;
        case 5:  // KxK grouped
            p.groups = rnd_range(2, 6);
            p.kernel_h = rnd_range(1, 4);
            p.kernel_w = rnd_range(1, 4);
            p.stride_h = rnd_range(1, 2);
            p.stride_w = rnd_range(1, 2);
            p.dilation_h = p.dilation_w = chance(25) ? 2 : 1;
            cin_g = rnd_range(1, 6);
            cout_g = rnd_range(1, 10);
            break;
        case 6:  // 3x3 "same", stride 1 or 2 (stems and bottlenecks)
            p.kernel_h = p.kernel_w = 3;
            p.stride_h = p.stride_w = rnd_range(1, 2);
            cin_g = rnd_range(1, 16);
            cout_g = rnd_range(1, 32);
            break;
        case 7:  // fused shuffle output, groups 2..8 (sometimes more: the generic shuffle)
        case 8:
            allow_residual = 0;
            p.shuffle_output = true;
            p.groups = chance(85) ? rnd_range(2, 8) : rnd_range(9, 12);
            cin_g = rnd_range(1, 10);
            cout_g = rnd_range(1, 16);
            if (chance(25)) {  // 3x3 grouped + shuffle
                p.kernel_h = p.kernel_w = 3;
                p.stride_h = p.stride_w = rnd_range(1, 2);
            } else if (chance(12)) {  // columns wider than the stage buffer: chunked
                p.groups = 8;
                cout_g = rnd_range(150, 220);
                h = rnd_range(1, 3);
                w = rnd_range(1, 4);
            } else {
                p.stride_h = p.stride_w = chance(80) ? 1 : 2;
            }
            break;
        case 9:  // long reductions: several K blocks
            if (chance(60)) {
                static const size_t cins[] = {600, 777, 1100};
                pointwise = chance(50);
                cin_g = cins[rnd_range(0, 2)];
                cout_g = rnd_range(1, 24);
                h = rnd_range(1, 4);
                w = rnd_range(1, 5);
            } else {
                p.kernel_h = p.kernel_w = 3;
                p.pad_top = 1;  // overwritten below when random pads are chosen
                cin_g = rnd_range(57, 130);
                cout_g = rnd_range(1, 12);
                h = rnd_range(2, 5);
                w = rnd_range(2, 5);
            }
            break;
        default:  // wide N: several N blocks (NEON: 256 columns)
            cin_g = rnd_range(1, 8);
            if (chance(50)) {
                pointwise = 1;
                cout_g = rnd_range(257, 300);
            } else {
                p.groups = 2;
                cout_g = rnd_range(257, 280);
            }
            h = rnd_range(1, 3);
            w = rnd_range(1, 3);
    }
    if (pointwise) p.stride_w = p.stride_h;
    const size_t eh = p.dilation_h * (p.kernel_h - 1) + 1, ew = p.dilation_w * (p.kernel_w - 1) + 1;
    random_pads(eh, &p.pad_top, &p.pad_bottom);
    random_pads(ew, &p.pad_left, &p.pad_right);
    if (chance(8) && !pointwise) {  // 1x1 input
        h = w = 1;
        if (eh > 1) { p.pad_top = rnd_range(0, eh - 1); p.pad_bottom = eh - 1 - p.pad_top; }
        if (ew > 1) { p.pad_left = rnd_range(0, ew - 1); p.pad_right = ew - 1 - p.pad_left; }
    }
    h = fit_input(h, eh, p.pad_top, p.pad_bottom);
    w = fit_input(w, ew, p.pad_left, p.pad_right);
    p.input_channels = cin_g * p.groups;
    p.output_channels = cout_g * p.groups;
    p.activation = random_activation((mk_activation_kind)((index / 11) % 6));
    const size_t batch = chance(25) ? 2 : 1;
    // Residual: none, a separate tensor, or the output itself (out += conv).
    const int residual_mode = allow_residual && chance(35) ? (chance(50) ? 1 : 2) : 0;
    size_t in_layout, in_arg, out_layout, out_arg, res_layout, res_arg;
    random_stride(p.input_channels, 35, &in_layout, &in_arg);
    random_stride(p.output_channels, 35, &out_layout, &out_arg);
    random_stride(p.output_channels, 35, &res_layout, &res_arg);
    if (residual_mode == 2) {
        res_layout = out_layout;
        res_arg = out_arg;
    }
    const int with_bias = chance(85);
    const float scale = chance(30) ? 2.0f : 1.0f;
    char act_text[64];
    format_activation(act_text, sizeof act_text, p.activation);
    describe("%s n%zu %zux%zu %zu->%zu g%zu k%zux%zu s%zux%zu d%zux%zu pad(t%zu l%zu b%zu r%zu) %s "
             "bias:%s residual:%s shuffle:%d in_stride %zu out_stride %zu res_stride %zu",
             pointwise ? "conv1x1_create" : "conv2d_create", batch, h, w, p.input_channels,
             p.output_channels, p.groups, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w,
             p.dilation_h, p.dilation_w, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right, act_text,
             with_bias ? "yes" : "NULL",
             residual_mode == 0 ? "none" : residual_mode == 1 ? "separate" : "==output",
             (int)p.shuffle_output, in_arg, out_arg, res_arg);

    const size_t taps = p.kernel_h * p.kernel_w;
    float* weights = random_floats(p.output_channels * cin_g * taps, 1.0f);
    float* bias = with_bias ? random_floats(p.output_channels, 1.0f) : NULL;
    mk_conv2d_op *op_s = NULL, *op_n = NULL;
    tensor input = {0}, in_copy = {0}, residual = {0}, res_copy = {0}, out_s = {0}, out_n = {0},
           out_p = {0};
    size_t oh = 0, ow = 0, oh2 = 0, ow2 = 0;
    mk_status cs, cn;
    if (pointwise) {
        cs = mk_conv1x1_create(p.input_channels, p.output_channels, p.stride_h, p.activation,
                               weights, bias, MK_VARIANT_SCALAR, &op_s);
        cn = mk_conv1x1_create(p.input_channels, p.output_channels, p.stride_h, p.activation,
                               weights, bias, MK_VARIANT_NEON, &op_n);
    } else {
        cs = mk_conv2d_create(&p, weights, bias, MK_VARIANT_SCALAR, &op_s);
        cn = mk_conv2d_create(&p, weights, bias, MK_VARIANT_NEON, &op_n);
    }
    if (!run_ok("create(scalar)", cs) || !run_ok("create(neon)", cn) ||
        !run_ok("output_size(scalar)", mk_conv2d_output_size(op_s, h, w, &oh, &ow)) ||
        !run_ok("output_size(neon)", mk_conv2d_output_size(op_n, h, w, &oh2, &ow2))) {
        goto done;
    }
    if (oh != oh2 || ow != ow2) {
        fail("output sizes differ: scalar %zux%zu neon %zux%zu", oh, ow, oh2, ow2);
        goto done;
    }
    if (mk_conv2d_variant(op_n) != MK_VARIANT_NEON) {
        fail("NEON op reports variant %s", mk_variant_name(mk_conv2d_variant(op_n)));
    }
    const size_t out_pixels = batch * oh * ow;
    tensor_alloc(&input, batch * h * w, in_layout, p.input_channels, 1);
    tensor_fill(&input, scale);
    tensor_clone(&in_copy, &input, 1);
    if (residual_mode == 1) {
        tensor_alloc(&residual, out_pixels, res_layout, p.output_channels, 1);
        tensor_fill(&residual, 2.0f);
        tensor_clone(&res_copy, &residual, 1);
    }
    tensor_alloc(&out_s, out_pixels, out_layout, p.output_channels, 0);
    if (residual_mode == 2) {  // the output holds the residual
        tensor_fill(&out_s, 2.0f);
        tensor_clone(&out_n, &out_s, 0);
        tensor_clone(&out_p, &out_s, 0);
    } else {
        tensor_alloc(&out_n, out_pixels, out_layout, p.output_channels, 0);
        tensor_alloc(&out_p, out_pixels, out_layout, p.output_channels, 0);
    }
    const float* res_s = residual_mode == 1 ? residual.p : residual_mode == 2 ? out_s.p : NULL;
    const float* res_n = residual_mode == 1 ? residual.p : residual_mode == 2 ? out_n.p : NULL;
    const float* res_p = residual_mode == 1 ? residual.p : residual_mode == 2 ? out_p.p : NULL;
    if (run_ok("run(scalar)", mk_conv2d_run(op_s, batch, h, w, input.p, in_arg, out_s.p, out_arg,
                                            res_s, res_arg, NULL)) &&
        run_ok("run(neon)", mk_conv2d_run(op_n, batch, h, w, input.p, in_arg, out_n.p, out_arg,
                                          res_n, res_arg, NULL))) {
        if (!tensor_check_layout("scalar output", &out_s, 1, NULL) &&
            !tensor_check_layout("neon output", &out_n, 1, NULL) &&
            !tensor_check_layout("input", &input, 0, &in_copy) &&
            (residual_mode != 1 || !tensor_check_layout("residual", &residual, 0, &res_copy))) {
            compare("neon vs scalar", CMP_TOL, &out_n, &out_s, (double)(taps * cin_g));
        }
        if (want_pool(index, 7)) {
            g_stats[FAM_CONV].pool_checks++;
            if (run_ok("run(neon, 2 threads)", mk_conv2d_run(op_n, batch, h, w, input.p, in_arg, out_p.p, out_arg, res_p, res_arg, g_pool2))) {
                compare_bitwise_region("neon", &out_p, &out_n);
            }
        }
    }
done:
    mk_conv2d_destroy(op_s);
    mk_conv2d_destroy(op_n);
    tensor_free(&input);
    tensor_free(&in_copy);
    tensor_free(&residual);
    tensor_free(&res_copy);
    tensor_free(&out_s);
    tensor_free(&out_n);
    tensor_free(&out_p);
    free(weights);
    free(bias);
    case_end();
}

// ---------------------------------------------------------------------------------------------

static void usage(void) {
    printf("usage: driver [--seed N] [--only FAMILY] [--case N] [--verbose]\n  families:");
    for (int f = 0; f < FAM_COUNT; f++) printf(" %s", g_family_names[f]);
    printf("\n");
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            g_seed = strtoull(argv[++i], NULL, 0);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            ++i;
            for (int f = 0; f < FAM_COUNT; f++) {
                if (strcmp(argv[i], g_family_names[f]) == 0) g_only = f;
            }
            if (g_only < 0) {
                usage();
                return 2;
            }
        } else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
            g_only_case = strtol(argv[++i], NULL, 0);
        } else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            g_verbose = 1;
        } else {
            usage();
            return 2;
        }
    }
    g_page = (size_t)sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = crash_handler;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);

#if !defined(__aarch64__)
    printf("this driver checks the NEON variant: build it for aarch64 (see Tests/arm64/arm64.mk)\n");
    return 2;
#endif
    printf("CKernels arm64 NEON-vs-scalar driver: seed 0x%" PRIx64 ", cpu \"%s\"\n", g_seed,
           mk_cpu_info_get()->brand);
    mk_status ps = mk_threadpool_create(2, &g_pool2);
    if (ps != MK_STATUS_OK || mk_threadpool_threads(g_pool2) != 2) {
        printf("FAIL: mk_threadpool_create(2) = %s\n", status_name(ps));
        return 1;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);

    void (*const runners[FAM_COUNT])(unsigned) = {NULL, bias_case, shuffle_case, dw_case, conv_case};
    for (int f = 0; f < FAM_COUNT; f++) {
        if (g_only >= 0 && f != g_only) continue;
        if (f == FAM_VARIANTS) {
            family_variants();
            continue;
        }
        for (unsigned i = 0; i < g_family_cases[f]; i++) {
            if (g_only_case >= 0 && (long)i != g_only_case) continue;
            runners[f](i);
        }
    }
    mk_threadpool_destroy(g_pool2);
    clock_gettime(CLOCK_MONOTONIC, &end);

    unsigned total_cases = 0, total_failures = 0;
    for (int f = 0; f < FAM_COUNT; f++) {
        if (g_only >= 0 && f != g_only) continue;
        const family_stats* s = &g_stats[f];
        char extra[160] = "";
        if (f == FAM_BIAS) {
            snprintf(extra, sizeof extra, "  (max %u ulp; %u outputs differ only in the sign of zero; %u on 2 threads)",
                     s->max_ulp, s->signed_zero_diffs, s->pool_checks);
        } else if (f == FAM_SHUFFLE) {
            snprintf(extra, sizeof extra, "  (bitwise; %u on 2 threads)", s->pool_checks);
        } else if (f == FAM_DW || f == FAM_CONV) {
            snprintf(extra, sizeof extra, "  (worst |diff|/tol %.3f; %u on 2 threads)",
                     s->worst_ratio, s->pool_checks);
        } else {
            snprintf(extra, sizeof extra, "  (fixed checks)");
        }
        printf("%-16s cases %4u  failures %u%s\n", g_family_names[f], s->cases, s->failures, extra);
        if (f != FAM_VARIANTS) total_cases += s->cases;
        total_failures += s->failures;
    }
    const double seconds = (double)(end.tv_sec - start.tv_sec) + 1e-9 * (double)(end.tv_nsec - start.tv_nsec);
    printf("%s: %u randomized cases, %u failures (seed 0x%" PRIx64 ", %.1f s)\n",
           total_failures ? "FAILED" : "PASSED", total_cases, total_failures, g_seed, seconds);
    return total_failures ? 1 : 0;
}
