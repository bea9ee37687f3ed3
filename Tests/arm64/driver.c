// ARM64 (NEON) conformance driver for CKernels: cross-compiled with aarch64-linux-gnu-gcc and run
// under qemu-aarch64 by `make test-arm64` (Tests/arm64/arm64.mk). Uses only the public C ABI.
//
// Every operator is run with MK_VARIANT_NEON and MK_VARIANT_SCALAR on the same randomized case
// (deterministic: each case's generator is seeded from the global seed, the family and the case
// index, so one case can be re-run alone) and the outputs are compared:
//   channel shuffle          bitwise (and against the defining formula);
//   bias + activation        at most 1 ulp apart (NaN matches NaN);
//   depthwise / convolution  |neon - scalar| <= 1e-5 * reduction_length + 1e-4 * |scalar|
//                            (NEON uses fused multiply-add, scalar need not);
//   max / average / global / adaptive pooling, residual add
//                            bitwise (both variants compute the same operations in the same
//                            order: see the pooling section), and against mk_pool.h's definition;
//   squeeze-and-excitation   |neon - scalar| <= 1e-5 * (C + S) + 1e-4 * |scalar|, and likewise
//                            against the definition;
//   training BatchNorm       forward + backward (mean, variance, inv_std, y, dgamma, dbeta, dx)
//                            within about 1e-5 of scalar's terms (a compiler may contract
//                            a * b + c on one variant), and against mk_training.h's definition
//                            (statistics in float64, within float32 chunk summation's bound);
//                            the running-statistic update against its loop;
//   activation gradient      dx bitwise (hard-swish: 1 ulp) against scalar and bntrain.h's
//                            definition; dbias within 1e-5 * sum|dx|.
//   depthwise backward       dx, dweight, dbias within 1e-5 * sum|terms| of scalar and of the
//                            float64 definition (dweight, dbias: within a chunk's float32
//                            summation bound when that is larger);
//   pooling backward         max forward (y and PyTorch's indices) and the max / average /
//                            adaptive input gradients bitwise against scalar and mk_training.h's
//                            definition (a scatter-add in ascending output order);
//   weight gradient GEMM     c and bias within 1e-5 * sum|terms| of scalar, and within float32
//                            summation's bound of the float64 definition; split pixels
//                            (accumulate) and 2 threads bitwise equal to one call.
//   SE training / backward   run_train's output bitwise run's; its saved values (pooled means,
//                            fc1 and fc2 before their activations) as the SE forward's against
//                            scalar and float64; both backwards on NEON's saved values, dx, dW1,
//                            db1, dW2, db2 within max(1e-5, chain * 2^-24) * sum|terms| of the
//                            float64 definition, and of scalar (+ 1e-4 * |scalar|); in place
//                            (dx == dy) and 2 threads bitwise equal to one call.
//   dropout                  no variant argument: against mk_training.h's definition (kept as
//                            mk_dropout_keeps says: within 1 ulp of x / (1 - p); dropped: 0; p = 0
//                            bitwise copies); in place, 2 threads and a split call bitwise equal.
//   set_weights              an op created with weights A and given B by set_weights (conv2d:
//                            pointwise, KxK, grouped, fused shuffle, row-tap stems, Winograd; the
//                            transposed form; depthwise; squeeze-and-excitation) runs bitwise as
//                            one created with B, on each variant.
//   sgd                      no variant argument: bitwise against mk_training.h's formula (plain,
//                            momentum, dampening, Nesterov, weight decay, first step); 2 threads
//                            and a split call bitwise equal; documented errors write nothing.
//   cross_entropy            loss and logits' gradient against the float64 definition; in place
//                            bitwise equal; a NaN logit gives a NaN row; errors write nothing.
// Every buffer is bracketed by sentinels (and gaps between pixels hold sentinels): an output
// gap, a guard or an input that changes fails the case, as does an output left unwritten.
// Inputs end flush against a PROT_NONE page, so a read past an input's last element crashes;
// the SIGSEGV handler names the case. Some cases also run NEON on a 2-thread pool and require
// results bit-identical to one thread. Also checks: AVX2 / AVX512 / BLIS are UNSUPPORTED on
// aarch64 and AUTO resolves to NEON (every operator, the training and backward ones included), the
// pooling family's argument errors, and the backward operators' documented errors.
//
// Usage: driver [--seed N] [--only FAMILY] [--case N] [--verbose]
//   FAMILY: variants, bias_activation, channel_shuffle, dwconv2d, conv2d, max_pool, avg_pool,
//           global_pool, adaptive_pool, squeeze_excitation, add, pool_errors, batchnorm_train,
//           activation_backward, dwconv2d_backward, pool2d_backward, weight_gradient,
//           conv_weight_gradient, squeeze_excitation_backward, dropout, set_weights, sgd,
//           cross_entropy
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

// New families go at the end: a family's index seeds its cases.
enum {
    FAM_VARIANTS, FAM_BIAS, FAM_SHUFFLE, FAM_DW, FAM_CONV,
    FAM_MAX_POOL, FAM_AVG_POOL, FAM_GLOBAL_POOL, FAM_ADAPTIVE_POOL, FAM_SE, FAM_ADD,
    FAM_POOL_ERRORS, FAM_BN_TRAIN, FAM_ACT_BWD, FAM_DW_BWD, FAM_POOL_BWD, FAM_WGRAD, FAM_CONV_WGRAD,
    FAM_SE_BWD, FAM_DROPOUT, FAM_SET_WEIGHTS, FAM_SGD, FAM_CE, FAM_TRANSPOSE, FAM_QS8_CONV, FAM_QS8_DW, FAM_QS8_SE, FAM_COUNT
};
static const char* const g_family_names[FAM_COUNT] = {
    "variants", "bias_activation", "channel_shuffle", "dwconv2d", "conv2d",
    "max_pool", "avg_pool", "global_pool", "adaptive_pool", "squeeze_excitation", "add",
    "pool_errors", "batchnorm_train", "activation_backward", "dwconv2d_backward", "pool2d_backward",
    "weight_gradient", "conv_weight_gradient", "squeeze_excitation_backward", "dropout",
    "set_weights", "sgd", "cross_entropy", "transpose", "conv2d_qs8", "dwconv2d_qs8",
    "squeeze_excitation_qs8"};
// Randomized cases per family (variants and pool_errors are fixed lists of checks).
static const unsigned g_family_cases[FAM_COUNT] = {0, 600, 540, 1080, 1100,
                                                   240, 240, 120, 120, 160, 200, 0, 160, 200,
                                                   200, 240, 150, 120, 200, 200, 250, 160, 160, 200,
                                                   300, 300, 150};
static int is_fixed_family(int f) { return f == FAM_VARIANTS || f == FAM_POOL_ERRORS; }

typedef struct {
    unsigned cases, failures;
    unsigned pool_checks;       // cases also run on the 2-thread pool
    double worst_ratio;         // max |diff| / tolerance (convolutions)
    unsigned max_ulp;           // bias + activation
    unsigned signed_zero_diffs; // outputs that differ only in the sign of zero
    unsigned exact_cases;       // cases whose outputs are bitwise equal (squeeze-excitation)
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

// CMP_EXACT_NAN: bitwise, except that any NaN matches any NaN.
enum { CMP_EXACT, CMP_ULP1, CMP_TOL, CMP_EXACT_NAN };

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
            } else if (mode == CMP_EXACT_NAN) {
                ok = bits_of(n) == bits_of(s) || (isnan(n) && isnan(s));
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
            fail("%s: differs from the 1-thread whole run at float offset %ld: %.9g vs %.9g", what,
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
    printf("FAIL %s: %s\n", g_family_names[g_family], message);
}

static void pool_variant_checks(void);
static void training_variant_checks(void);
static void backward_variant_checks(void);
static void wg_variant_checks(void);


// ---- One call per operator run (create where the caller does not hold the operator, reshape,
// run, destroy): the first status that is not OK, so every step's checks are exercised. ----

static mk_status channel_shuffle_once(size_t groups, size_t channels, size_t pixels, const float* x,
                                      size_t xs, float* y, size_t ys, mk_variant variant,
                                      mk_threadpool* pool) {
    mk_channel_shuffle_f32_op* op = NULL;
    mk_channel_shuffle_f32_plan plan;
    mk_status status = mk_channel_shuffle_f32_create(groups, channels, variant, &op);
    if (status == MK_STATUS_OK) status = mk_channel_shuffle_f32_reshape(op, pixels, xs, ys, pool, &plan);
    if (status == MK_STATUS_OK) status = mk_channel_shuffle_f32_run(op, &plan, x, y, pool);
    mk_channel_shuffle_f32_destroy(op);
    return status;
}

static mk_status add_once(size_t pixels, size_t channels, const float* a, size_t as, const float* b,
                          size_t bs, float* y, size_t ys, mk_activation activation,
                          mk_variant variant, mk_threadpool* pool) {
    mk_add_f32_op* op = NULL;
    mk_add_f32_plan plan;
    mk_status status = mk_add_f32_create(channels, activation, variant, &op);
    if (status == MK_STATUS_OK) status = mk_add_f32_reshape(op, pixels, as, bs, ys, pool, &plan);
    if (status == MK_STATUS_OK) status = mk_add_f32_run(op, &plan, a, b, y, pool);
    mk_add_f32_destroy(op);
    return status;
}

static mk_status pool_run_created(mk_status status, mk_pool2d_f32_op* op, size_t batch, size_t h,
                                  size_t w, const float* x, size_t xs, float* y, size_t ys,
                                  mk_threadpool* pool) {
    mk_pool2d_f32_plan plan;
    if (status == MK_STATUS_OK) status = mk_pool2d_f32_reshape(op, batch, h, w, xs, ys, pool, &plan);
    if (status == MK_STATUS_OK) status = mk_pool2d_f32_run(op, &plan, x, y, pool);
    mk_pool2d_f32_destroy(op);
    return status;
}

static mk_status max_pool_once(const mk_pool2d_params* params, size_t batch, size_t h, size_t w,
                               size_t c, const float* x, size_t xs, float* y, size_t ys,
                               mk_variant variant, mk_threadpool* pool) {
    mk_pool2d_f32_op* op = NULL;
    const mk_status status = mk_max_pool2d_f32_create(params, c, variant, &op);
    return pool_run_created(status, op, batch, h, w, x, xs, y, ys, pool);
}

static mk_status avg_pool_once(const mk_pool2d_params* params, size_t batch, size_t h, size_t w,
                               size_t c, const float* x, size_t xs, float* y, size_t ys,
                               mk_variant variant, mk_threadpool* pool) {
    mk_pool2d_f32_op* op = NULL;
    const mk_status status = mk_avg_pool2d_f32_create(params, c, variant, &op);
    return pool_run_created(status, op, batch, h, w, x, xs, y, ys, pool);
}

static mk_status global_avg_pool_once(size_t batch, size_t h, size_t w, size_t c, const float* x,
                                      size_t xs, float* y, size_t ys, mk_variant variant,
                                      mk_threadpool* pool) {
    mk_pool2d_f32_op* op = NULL;
    const mk_status status = mk_global_avg_pool_f32_create(c, variant, &op);
    return pool_run_created(status, op, batch, h, w, x, xs, y, ys, pool);
}

static mk_status adaptive_avg_pool_once(size_t batch, size_t h, size_t w, size_t c, size_t oh,
                                        size_t ow, const float* x, size_t xs, float* y, size_t ys,
                                        mk_variant variant, mk_threadpool* pool) {
    mk_pool2d_f32_op* op = NULL;
    const mk_status status = mk_adaptive_avg_pool2d_f32_create(c, oh, ow, variant, &op);
    return pool_run_created(status, op, batch, h, w, x, xs, y, ys, pool);
}

static mk_status bias_activation_run(const mk_bias_activation_f32_op* op, size_t pixels,
                                     const float* x, size_t xs, float* y, size_t ys,
                                     mk_threadpool* pool) {
    mk_bias_activation_f32_plan plan;
    const mk_status status = mk_bias_activation_f32_reshape(op, pixels, xs, ys, pool, &plan);
    return status != MK_STATUS_OK ? status : mk_bias_activation_f32_run(op, &plan, x, y, pool);
}

static mk_status squeeze_excitation_run(const mk_squeeze_excitation_f32_op* op, size_t batch,
                                        size_t h, size_t w, const float* x, size_t xs, float* y,
                                        size_t ys, mk_threadpool* pool) {
    mk_squeeze_excitation_f32_plan plan;
    const mk_status status = mk_squeeze_excitation_f32_reshape(op, batch, h, w, xs, ys, pool, &plan);
    return status != MK_STATUS_OK ? status : mk_squeeze_excitation_f32_run(op, &plan, x, y, pool);
}

static mk_status dwconv_run(const mk_dwconv2d_f32_op* op, size_t batch, size_t h, size_t w,
                            const float* x, size_t xs, float* y, size_t ys, mk_threadpool* pool) {
    mk_dwconv2d_f32_plan plan;
    const mk_status status = mk_dwconv2d_f32_reshape(op, batch, h, w, xs, ys, pool, &plan);
    return status != MK_STATUS_OK ? status : mk_dwconv2d_f32_run(op, &plan, x, y, pool);
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
    // qemu -cpu max has the dot product; float operators never resolve to the int8-only variant.
    check(mk_cpu_info_get()->neon_dot && mk_variant_available(MK_VARIANT_NEONDOT),
          "NEON dot product not available (run under qemu -cpu max)");
    check(!mk_variant_available(MK_VARIANT_AVX512VNNI) && !mk_variant_available(MK_VARIANT_AVXVNNI),
          "VNNI reported available on aarch64");

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
        mk_bias_activation_f32_op* b = NULL;
        mk_status s = mk_bias_activation_f32_create(8, bias, relu, v, &b);
        check(s == MK_STATUS_UNSUPPORTED && b == NULL, "bias_activation_create(%s) = %s", name,
              status_name(s));
        mk_bias_activation_f32_destroy(b);
        mk_dwconv2d_f32_op* d = NULL;
        s = mk_dwconv2d_f32_create(&dwp, weights, bias, v, &d);
        check(s == MK_STATUS_UNSUPPORTED && d == NULL, "dwconv2d_create(%s) = %s", name,
              status_name(s));
        mk_dwconv2d_f32_destroy(d);
        const mk_conv2d_params* cps[] = {&c1, &c3, &cs};
        for (size_t j = 0; j < 3; j++) {
            mk_conv2d_f32_op* c = NULL;
            s = mk_conv2d_f32_create(cps[j], weights, bias, v, &c);
            check(s == MK_STATUS_UNSUPPORTED && c == NULL, "conv2d_create(%s, %s) = %s", name,
                  j == 0 ? "1x1" : j == 1 ? "3x3" : "shuffle", status_name(s));
            mk_conv2d_f32_destroy(c);
        }
        mk_conv2d_f32_op* c = NULL;
        s = mk_conv1x1_f32_create(8, 8, 1, relu, weights, bias, v, &c);
        check(s == MK_STATUS_UNSUPPORTED && c == NULL, "conv1x1_create(%s) = %s", name,
              status_name(s));
        mk_conv2d_f32_destroy(c);
        s = channel_shuffle_once(2, 8, 1, x, 0, y, 0, v, NULL);
        check(s == MK_STATUS_UNSUPPORTED, "channel_shuffle(%s) = %s", name, status_name(s));
    }

    // AUTO resolves to NEON, and computes exactly what NEON computes.
    mk_bias_activation_f32_op* b = NULL;
    mk_status s = mk_bias_activation_f32_create(8, bias, relu, MK_VARIANT_AUTO, &b);
    check(s == MK_STATUS_OK && mk_bias_activation_f32_variant(b) == MK_VARIANT_NEON,
          "bias_activation AUTO -> %s (%s)", b ? mk_variant_name(mk_bias_activation_f32_variant(b)) : "-",
          status_name(s));
    mk_bias_activation_f32_destroy(b);
    mk_dwconv2d_f32_op* d = NULL;
    s = mk_dwconv2d_f32_create(&dwp, weights, bias, MK_VARIANT_AUTO, &d);
    check(s == MK_STATUS_OK && mk_dwconv2d_f32_variant(d) == MK_VARIANT_NEON,
          "dwconv2d AUTO -> %s (%s)", d ? mk_variant_name(mk_dwconv2d_f32_variant(d)) : "-",
          status_name(s));
    check(d != NULL && mk_dwconv2d_f32_is_specialized(d), "3x3 dwconv not specialized on NEON");
    mk_dwconv2d_f32_destroy(d);
    const mk_conv2d_params* cps[] = {&c1, &c3, &cs};
    for (size_t j = 0; j < 3; j++) {
        mk_conv2d_f32_op* c = NULL;
        s = mk_conv2d_f32_create(cps[j], weights, bias, MK_VARIANT_AUTO, &c);
        check(s == MK_STATUS_OK && mk_conv2d_f32_variant(c) == MK_VARIANT_NEON,
              "conv2d AUTO (%s) -> %s (%s)", j == 0 ? "1x1" : j == 1 ? "3x3" : "shuffle",
              c ? mk_variant_name(mk_conv2d_f32_variant(c)) : "-", status_name(s));
        mk_conv2d_f32_destroy(c);
    }
    mk_conv2d_f32_op* c = NULL;
    s = mk_conv1x1_f32_create(8, 8, 2, relu, weights, bias, MK_VARIANT_AUTO, &c);
    check(s == MK_STATUS_OK && mk_conv2d_f32_variant(c) == MK_VARIANT_NEON,
          "conv1x1 AUTO -> %s (%s)", c ? mk_variant_name(mk_conv2d_f32_variant(c)) : "-",
          status_name(s));
    mk_conv2d_f32_destroy(c);
    // channel shuffle has no variant getter: AUTO must give NEON's bytes (and the formula).
    float in[3 * 12], out_auto[3 * 12], out_neon[3 * 12];
    for (int i = 0; i < 36; i++) in[i] = (float)i;
    s = channel_shuffle_once(3, 12, 3, in, 0, out_auto, 0, MK_VARIANT_AUTO, NULL);
    mk_status s2 = channel_shuffle_once(3, 12, 3, in, 0, out_neon, 0, MK_VARIANT_NEON, NULL);
    check(s == MK_STATUS_OK && s2 == MK_STATUS_OK && memcmp(out_auto, out_neon, sizeof out_auto) == 0,
          "channel_shuffle AUTO differs from NEON (%s, %s)", status_name(s), status_name(s2));
    pool_variant_checks();
    training_variant_checks();
    backward_variant_checks();
    wg_variant_checks();
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

    mk_bias_activation_f32_op *op_s = NULL, *op_n = NULL;
    if (!run_ok("create(scalar)", mk_bias_activation_f32_create(channels, bias, act, MK_VARIANT_SCALAR, &op_s)) ||
        !run_ok("create(neon)", mk_bias_activation_f32_create(channels, bias, act, MK_VARIANT_NEON, &op_n))) {
        goto done_ops;
    }
    if (mk_bias_activation_f32_variant(op_n) != MK_VARIANT_NEON) fail("NEON op reports variant %s", mk_variant_name(mk_bias_activation_f32_variant(op_n)));

    tensor in_copy, out_s, out_n, out_p;
    tensor_clone(&in_copy, &input, 1);
    if (in_place) {
        tensor_clone(&out_s, &input, 0);
        tensor_clone(&out_n, &input, 0);
        if (run_ok("run(scalar, in place)", bias_activation_run(op_s, pixels, out_s.p, in_arg, out_s.p, out_arg, NULL)) &&
            run_ok("run(neon, in place)", bias_activation_run(op_n, pixels, out_n.p, in_arg, out_n.p, out_arg, NULL))) {
            if (!tensor_check_layout("scalar output", &out_s, 0, NULL) &&
                !tensor_check_layout("neon output", &out_n, 0, NULL)) {
                compare("neon vs scalar", CMP_ULP1, &out_n, &out_s, 0);
            }
            if (pooled) {
                tensor_clone(&out_p, &input, 0);
                g_stats[FAM_BIAS].pool_checks++;
                if (run_ok("run(neon, in place, 2 threads)", bias_activation_run(op_n, pixels, out_p.p, in_arg, out_p.p, out_arg, g_pool2))) {
                    compare_bitwise_region("neon in place", &out_p, &out_n);
                }
                tensor_free(&out_p);
            }
        }
    } else {
        tensor_alloc(&out_s, pixels, out_layout, channels, 0);
        tensor_alloc(&out_n, pixels, out_layout, channels, 0);
        if (run_ok("run(scalar)", bias_activation_run(op_s, pixels, input.p, in_arg, out_s.p, out_arg, NULL)) &&
            run_ok("run(neon)", bias_activation_run(op_n, pixels, input.p, in_arg, out_n.p, out_arg, NULL))) {
            if (!tensor_check_layout("scalar output", &out_s, 1, NULL) &&
                !tensor_check_layout("neon output", &out_n, 1, NULL) &&
                !tensor_check_layout("input", &input, 0, &in_copy)) {
                compare("neon vs scalar", CMP_ULP1, &out_n, &out_s, 0);
            }
            if (pooled) {
                tensor_alloc(&out_p, pixels, out_layout, channels, 0);
                g_stats[FAM_BIAS].pool_checks++;
                if (run_ok("run(neon, 2 threads)", bias_activation_run(op_n, pixels, input.p, in_arg, out_p.p, out_arg, g_pool2))) {
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
    mk_bias_activation_f32_destroy(op_s);
    mk_bias_activation_f32_destroy(op_n);
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
        ss = channel_shuffle_once(groups, channels, pixels, out_s.p, in_arg, out_s.p, out_arg, MK_VARIANT_SCALAR, NULL);
        sn = channel_shuffle_once(groups, channels, pixels, out_n.p, in_arg, out_n.p, out_arg, MK_VARIANT_NEON, NULL);
    } else {
        tensor_alloc(&out_s, pixels, out_layout, channels, 0);
        tensor_alloc(&out_n, pixels, out_layout, channels, 0);
        ss = channel_shuffle_once(groups, channels, pixels, input.p, in_arg, out_s.p, out_arg, MK_VARIANT_SCALAR, NULL);
        sn = channel_shuffle_once(groups, channels, pixels, input.p, in_arg, out_n.p, out_arg, MK_VARIANT_NEON, NULL);
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
                sn = channel_shuffle_once(groups, channels, pixels, out_p.p, in_arg, out_p.p, out_arg, MK_VARIANT_NEON, g_pool2);
            } else {
                tensor_alloc(&out_p, pixels, out_layout, channels, 0);
                sn = channel_shuffle_once(groups, channels, pixels, input.p, in_arg, out_p.p, out_arg, MK_VARIANT_NEON, g_pool2);
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
    mk_dwconv2d_f32_op *op_s = NULL, *op_n = NULL;
    tensor input = {0}, in_copy = {0}, out_s = {0}, out_n = {0}, out_p = {0}, out_r = {0};
    size_t oh = 0, ow = 0, oh2 = 0, ow2 = 0;
    if (!run_ok("create(scalar)", mk_dwconv2d_f32_create(&p, weights, bias, MK_VARIANT_SCALAR, &op_s)) ||
        !run_ok("create(neon)", mk_dwconv2d_f32_create(&p, weights, bias, MK_VARIANT_NEON, &op_n)) ||
        !run_ok("output_size(scalar)", mk_dwconv2d_f32_output_size(op_s, h, w, &oh, &ow)) ||
        !run_ok("output_size(neon)", mk_dwconv2d_f32_output_size(op_n, h, w, &oh2, &ow2))) {
        goto done;
    }
    if (oh != oh2 || ow != ow2) {
        fail("output sizes differ: scalar %zux%zu neon %zux%zu", oh, ow, oh2, ow2);
        goto done;
    }
    if (mk_dwconv2d_f32_is_specialized(op_s) != mk_dwconv2d_f32_is_specialized(op_n)) {
        fail("is_specialized differs: scalar %d neon %d", mk_dwconv2d_f32_is_specialized(op_s),
             mk_dwconv2d_f32_is_specialized(op_n));
    }
    tensor_alloc(&input, batch * h * w, in_layout, channels, 1);
    tensor_fill(&input, scale);
    tensor_clone(&in_copy, &input, 1);
    tensor_alloc(&out_s, batch * oh * ow, out_layout, channels, 0);
    tensor_alloc(&out_n, batch * oh * ow, out_layout, channels, 0);
    if (run_ok("run(scalar)", dwconv_run(op_s, batch, h, w, input.p, in_arg, out_s.p, out_arg, NULL)) &&
        run_ok("run(neon)", dwconv_run(op_n, batch, h, w, input.p, in_arg, out_n.p, out_arg, NULL))) {
        if (!tensor_check_layout("scalar output", &out_s, 1, NULL) &&
            !tensor_check_layout("neon output", &out_n, 1, NULL) &&
            !tensor_check_layout("input", &input, 0, &in_copy)) {
            compare("neon vs scalar", CMP_TOL, &out_n, &out_s, (double)(kh * kw));
        }
        if (want_pool(index, 6)) {
            g_stats[FAM_DW].pool_checks++;
            tensor_alloc(&out_p, batch * oh * ow, out_layout, channels, 0);
            if (run_ok("run(neon, 2 threads)", dwconv_run(op_n, batch, h, w, input.p, in_arg, out_p.p, out_arg, g_pool2))) {
                compare_bitwise_region("neon", &out_p, &out_n);
            }
        }
        if (batch == 1 && index % 3 == 0) {  // bands of rows (mk_dwconv2d_f32_run_rows) = the whole image
            tensor_alloc(&out_r, oh * ow, out_layout, channels, 0);
            const size_t band = rnd_range(1, 4);
            int ok = 1;
            for (size_t o0 = 0; o0 < oh && ok; o0 += band) {
                const size_t o1 = o0 + band < oh ? o0 + band : oh;
                const size_t top = o0 * sh, bottom = (o1 - 1) * sh + (kh - 1) * dh;
                const size_t first = top > pt ? top - pt : 0;
                size_t last = bottom >= pt ? bottom - pt : 0;
                if (last >= h) last = h - 1;
                ok = run_ok("run_rows(neon)",
                            mk_dwconv2d_f32_run_rows(op_n, h, w, first, last - first + 1, at(&input, first * w, 0),
                                                 in_arg, o0, o1, at(&out_r, o0 * ow, 0), out_arg,
                                                 (o0 / band) % 2 ? g_pool2 : NULL));
            }
            if (ok) compare_bitwise_region("neon bands of rows", &out_r, &out_n);
        }
    }
done:
    mk_dwconv2d_f32_destroy(op_s);
    mk_dwconv2d_f32_destroy(op_n);
    tensor_free(&input);
    tensor_free(&in_copy);
    tensor_free(&out_s);
    tensor_free(&out_n);
    tensor_free(&out_p);
    tensor_free(&out_r);
    free(weights);
    free(bias);
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Family: dense / grouped / pointwise convolution


// mk_conv2d_f32_reshape then mk_conv2d_f32_run: the first status that is not OK.
static mk_status conv_run(const mk_conv2d_f32_op* op, size_t batch, size_t h, size_t w, const float* x,
                          size_t x_stride, float* y, size_t y_stride, const float* r,
                          size_t r_stride, mk_threadpool* pool) {
    mk_conv2d_f32_plan plan;
    mk_status status = mk_conv2d_f32_reshape(op, batch, h, w, x_stride, y_stride, r_stride, pool, &plan);
    if (status != MK_STATUS_OK) return status;
    if (plan.workspace_bytes > 0) {  // Winograd
        plan.workspace = mk_aligned_alloc(plan.workspace_bytes);
        if (plan.workspace == NULL) return MK_STATUS_OUT_OF_MEMORY;
    }
    status = mk_conv2d_f32_run(op, &plan, x, y, r, pool);
    mk_aligned_free(plan.workspace);
    return status;
}

static void conv_case(unsigned index) {
    case_begin(FAM_CONV, index);
    rng_for_case(FAM_CONV, index);
    mk_conv2d_params p = {.groups = 1, .kernel_h = 1, .kernel_w = 1, .stride_h = 1,
                          .stride_w = 1, .dilation_h = 1, .dilation_w = 1};
    size_t cin_g = 1, cout_g = 1;
    int pointwise = 0;      // create through mk_conv1x1_f32_create
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
        case 6:  // 3x3 "same", stride 1 or 2 (stems and bottlenecks); stride 1 often Winograd
            p.kernel_h = p.kernel_w = 3;
            p.stride_h = p.stride_w = rnd_range(1, 2);
            cin_g = rnd_range(1, 16);
            cout_g = rnd_range(1, 32);
            if (p.stride_h == 1 && chance(60)) {
                p.algorithm = MK_CONV2D_ALGORITHM_WINOGRAD;
                cin_g = rnd_range(1, 40);
                h = rnd_range(1, 14);
                w = rnd_range(1, 14);
                if (chance(15)) {  // U (36 Cin Cout floats) above 16 MiB: computed per block
                    cin_g = rnd_range(340, 600);
                    cout_g = rnd_range(350, 600);
                    h = rnd_range(1, 6);
                    w = rnd_range(1, 6);
                } else if (chance(6)) {  // U of 4-16 MiB and several blocks of tiles: once per run
                    cin_g = rnd_range(175, 200);
                    cout_g = rnd_range(175, 200);
                    h = rnd_range(19, 24);
                    w = rnd_range(19, 24);
                }
            }
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
                cout_g = chance(50) ? rnd_range(1, 24) : rnd_range(32, 70);  // the panels form
                h = rnd_range(1, 4);
                w = rnd_range(1, 5);
            } else {
                p.kernel_h = p.kernel_w = 3;
                p.pad_top = 1;  // overwritten below when random pads are chosen
                if (chance(50)) p.algorithm = MK_CONV2D_ALGORITHM_WINOGRAD;
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
    describe("%s%s n%zu %zux%zu %zu->%zu g%zu k%zux%zu s%zux%zu d%zux%zu pad(t%zu l%zu b%zu r%zu) %s "
             "bias:%s residual:%s shuffle:%d in_stride %zu out_stride %zu res_stride %zu",
             pointwise ? "conv1x1_create" : "conv2d_create",
             p.algorithm == MK_CONV2D_ALGORITHM_WINOGRAD ? " winograd" : "", batch, h, w, p.input_channels,
             p.output_channels, p.groups, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w,
             p.dilation_h, p.dilation_w, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right, act_text,
             with_bias ? "yes" : "NULL",
             residual_mode == 0 ? "none" : residual_mode == 1 ? "separate" : "==output",
             (int)p.shuffle_output, in_arg, out_arg, res_arg);

    const size_t taps = p.kernel_h * p.kernel_w;
    float* weights = random_floats(p.output_channels * cin_g * taps, 1.0f);
    float* bias = with_bias ? random_floats(p.output_channels, 1.0f) : NULL;
    mk_conv2d_f32_op *op_s = NULL, *op_n = NULL;
    tensor input = {0}, in_copy = {0}, residual = {0}, res_copy = {0}, out_s = {0}, out_n = {0},
           out_p = {0};
    size_t oh = 0, ow = 0, oh2 = 0, ow2 = 0;
    mk_status cs, cn;
    if (pointwise) {
        cs = mk_conv1x1_f32_create(p.input_channels, p.output_channels, p.stride_h, p.activation,
                               weights, bias, MK_VARIANT_SCALAR, &op_s);
        cn = mk_conv1x1_f32_create(p.input_channels, p.output_channels, p.stride_h, p.activation,
                               weights, bias, MK_VARIANT_NEON, &op_n);
    } else {
        cs = mk_conv2d_f32_create(&p, weights, bias, MK_VARIANT_SCALAR, &op_s);
        cn = mk_conv2d_f32_create(&p, weights, bias, MK_VARIANT_NEON, &op_n);
    }
    if (!run_ok("create(scalar)", cs) || !run_ok("create(neon)", cn) ||
        !run_ok("output_size(scalar)", mk_conv2d_f32_output_size(op_s, h, w, &oh, &ow)) ||
        !run_ok("output_size(neon)", mk_conv2d_f32_output_size(op_n, h, w, &oh2, &ow2))) {
        goto done;
    }
    if (oh != oh2 || ow != ow2) {
        fail("output sizes differ: scalar %zux%zu neon %zux%zu", oh, ow, oh2, ow2);
        goto done;
    }
    if (mk_conv2d_f32_variant(op_n) != MK_VARIANT_NEON) {
        fail("NEON op reports variant %s", mk_variant_name(mk_conv2d_f32_variant(op_n)));
    }
    if (p.algorithm == MK_CONV2D_ALGORITHM_WINOGRAD &&
        (mk_conv2d_f32_algorithm(op_n) != MK_CONV2D_ALGORITHM_WINOGRAD ||
         mk_conv2d_f32_algorithm(op_s) != MK_CONV2D_ALGORITHM_WINOGRAD)) {
        fail("Winograd requested, not run");
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
    if (run_ok("run(scalar)", conv_run(op_s, batch, h, w, input.p, in_arg, out_s.p, out_arg,
                                            res_s, res_arg, NULL)) &&
        run_ok("run(neon)", conv_run(op_n, batch, h, w, input.p, in_arg, out_n.p, out_arg,
                                          res_n, res_arg, NULL))) {
        if (!tensor_check_layout("scalar output", &out_s, 1, NULL) &&
            !tensor_check_layout("neon output", &out_n, 1, NULL) &&
            !tensor_check_layout("input", &input, 0, &in_copy) &&
            (residual_mode != 1 || !tensor_check_layout("residual", &residual, 0, &res_copy))) {
            compare("neon vs scalar", CMP_TOL, &out_n, &out_s, (double)(taps * cin_g));
        }
        if (want_pool(index, 7)) {
            g_stats[FAM_CONV].pool_checks++;
            if (run_ok("run(neon, 2 threads)", conv_run(op_n, batch, h, w, input.p, in_arg, out_p.p, out_arg, res_p, res_arg, g_pool2))) {
                compare_bitwise_region("neon", &out_p, &out_n);
            }
        }
    }
done:
    mk_conv2d_f32_destroy(op_s);
    mk_conv2d_f32_destroy(op_n);
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
// Pooling, squeeze-and-excitation and the residual add (mk_pool.h)
//
// Which comparison, from the code (CKernels/microkernels/pool/pool_template.h, instantiated by
// pool_scalar.c and pool_neon.c, driven by the shared operators pooling.c, squeeze_excitation.c
// and elementwise_add.c): both variants run the same portable C loops, and only the channel block
// widths differ (scalar 16/4, NEON 32/4). Every output channel is reduced on its own, in the same
// order (window rows then columns from -inf or 0, one division by the same float divisor, the
// same epilogue), with no reassociation across channels and no FMA (a product and a sum are
// separate statements, and -std=c11 makes gcc use -ffp-contract=off). The window bounds, the
// divisors and the thread split come from the shared operator code. So the max, average, global
// and adaptive pools and the add compute the same operations in the same order on both
// variants, and are compared bitwise (NaN payloads included). They are also compared with the
// definition in mk_pool.h computed here in the same order (bitwise; any NaN matches any NaN,
// since `output == b` computes b + a). Squeeze-and-excitation is held to the convolutions'
// tolerance, 1e-5 * (C + S) + 1e-4 * |scalar| (C + S being the lengths of its two dot products),
// against scalar and against the definition; how many cases are bitwise equal is counted too.

static const float g_pool_special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-40f, -1e-40f,
                                       3e38f, -3e38f, -3.0f, 3.0f, 6.0f, -6.0f, 1.0f, -1.0f};

// Replaces about `percent` % of the valid elements with special values (`moderate`: no NaN,
// infinity or huge value, whose sums would overflow: for the tolerance comparisons).
static void sprinkle_specials(tensor* t, unsigned percent, int moderate) {
    const size_t count = sizeof g_pool_special / sizeof g_pool_special[0];
    for (size_t i = 0; i < t->pixels; i++) {
        for (size_t c = 0; c < t->channels; c++) {
            if (!chance(percent)) continue;
            float v = g_pool_special[rnd_range(0, count - 1)];
            if (moderate && !(fabsf(v) <= 1e6f)) v = -0.0f;
            *at(t, i, c) = v;
        }
    }
}

// Channel counts 1..70: below one vector (the tail loop), whole vectors, around one NEON block
// (32) and one scalar block (16), and 64..70 (two 64-channel tiles on 2 threads).
static size_t random_pool_channels(void) {
    switch (rnd_range(0, 9)) {
        case 0: case 1: return rnd_range(1, 3);
        case 2: return 4 * rnd_range(1, 8);
        case 3: return rnd_range(32, 36);
        case 4: return rnd_range(64, 70);
        case 5: return rnd_range(37, 63);
        default: return rnd_range(4, 31);
    }
}

// One side pair of window padding, each < kernel: none, k / 2 (PyTorch's largest), k - 1 (the
// API's largest) or independent.
static void pool_pads(size_t kernel, size_t* a, size_t* b) {
    if (kernel == 1) {
        *a = *b = 0;
        return;
    }
    switch (rnd_range(0, 4)) {
        case 0: *a = *b = 0; break;
        case 1: *a = *b = kernel / 2; break;
        case 2: *a = *b = kernel - 1; break;
        default:
            *a = rnd_range(0, kernel - 1);
            *b = rnd_range(0, kernel - 1);
    }
}

static float ref_clamp(float x, float lo, float hi) {
    x = x < lo ? lo : x;  // NaN stays NaN
    return x > hi ? hi : x;
}

// The activations as mk_activation.h defines them, /6 as a product with the float nearest 1/6.
static float ref_act(float x, mk_activation a) {
    const float one_sixth = 0x1.555556p-3f;
    switch (a.kind) {
        case MK_ACTIVATION_NONE: return x;
        case MK_ACTIVATION_RELU: return ref_clamp(x, 0.0f, INFINITY);
        case MK_ACTIVATION_RELU6: return ref_clamp(x, 0.0f, 6.0f);
        case MK_ACTIVATION_HARDSWISH: return (x * ref_clamp(x + 3.0f, 0.0f, 6.0f)) * one_sixth;
        case MK_ACTIVATION_HARDSIGMOID: return ref_clamp(x + 3.0f, 0.0f, 6.0f) * one_sixth;
        case MK_ACTIVATION_CLAMP: return ref_clamp(x, a.min, a.max);
    }
    return x;
}

// mk_pool.h's window reduction of image n (h x w) over rows [y0, y1) and columns [x0, x1), row by
// row: max from -inf keeping v when v > best or v is NaN, or the sum from 0 divided by `divisor`;
// then the activation. Writes every channel of `out` (pixel `o` of a reference tensor).
static void ref_window(const tensor* in, size_t n, size_t h, size_t w, size_t y0, size_t y1,
                       size_t x0, size_t x1, int max, float divisor, mk_activation act,
                       tensor* out, size_t o) {
    for (size_t c = 0; c < in->channels; c++) {
        float acc = max ? -INFINITY : 0.0f;
        for (size_t y = y0; y < y1; y++) {
            for (size_t x = x0; x < x1; x++) {
                const float v = *at(in, (n * h + y) * w + x, c);
                if (max) {
                    if (v > acc || v != v) acc = v;
                } else {
                    acc = acc + v;
                }
            }
        }
        *at(out, o, c) = ref_act(max ? acc : acc / divisor, act);
    }
}

// Valid elements bitwise equal (statistics only).
static int tensors_bitwise_equal(const tensor* a, const tensor* b) {
    for (size_t i = 0; i < a->pixels; i++) {
        for (size_t c = 0; c < a->channels; c++) {
            if (bits_of(*at(a, i, c)) != bits_of(*at(b, i, c))) return 0;
        }
    }
    return 1;
}

typedef mk_status (*pool2d_fn)(const mk_pool2d_params*, size_t, size_t, size_t, size_t,
                               const float*, size_t, float*, size_t, mk_variant, mk_threadpool*);

// ---------------------------------------------------------------------------------------------
// Families: max pooling and average pooling (max_pool_once / avg_pool_once)

static void window_pool_case(int family, unsigned index) {
    case_begin(family, index);
    rng_for_case(family, index);
    const int average = family == FAM_AVG_POOL;
    static const size_t square[] = {2, 3, 5};
    static const size_t any[] = {1, 2, 3, 5, 7};
    mk_pool2d_params p = {0};
    size_t h = rnd_range(1, 12), w = chance(30) ? rnd_range(13, 40) : rnd_range(1, 12);
    int whole_image = 0;
    switch (index % 4) {
        case 0:  // 2x2 / 3x3 / 5x5, stride 1
        case 1:  // the same, stride 2
            p.kernel_h = p.kernel_w = square[rnd_range(0, 2)];
            p.stride_h = p.stride_w = index % 4 == 0 ? 1 : 2;
            if (chance(15)) p.stride_h = 3 - p.stride_w;  // mixed strides
            break;
        case 2:  // rectangular kernels and strides
            p.kernel_h = any[rnd_range(0, 4)];
            p.kernel_w = any[rnd_range(0, 4)];
            p.stride_h = rnd_range(1, 3);
            p.stride_w = rnd_range(1, 3);
            break;
        default:
            if (chance(50)) {  // kernel == stride (no overlap), ResNet / classic 2x2 s2
                p.kernel_h = p.kernel_w = square[rnd_range(0, 2)];
                p.stride_h = p.stride_w = p.kernel_h;
            } else {  // one window over the whole image (the global pool through the window path)
                whole_image = 1;
                p.kernel_h = h;
                p.kernel_w = w;
                p.stride_h = rnd_range(1, 2);
                p.stride_w = rnd_range(1, 2);
            }
    }
    if (!whole_image) {
        pool_pads(p.kernel_h, &p.pad_top, &p.pad_bottom);
        pool_pads(p.kernel_w, &p.pad_left, &p.pad_right);
        if (chance(8)) {  // 1x1 input: the padding covers the rest of the kernel
            h = w = 1;
            p.pad_top = rnd_range(0, p.kernel_h - 1);
            p.pad_bottom = p.kernel_h - 1 - p.pad_top;
            p.pad_left = rnd_range(0, p.kernel_w - 1);
            p.pad_right = p.kernel_w - 1 - p.pad_left;
        }
        h = fit_input(h, p.kernel_h, p.pad_top, p.pad_bottom);
        w = fit_input(w, p.kernel_w, p.pad_left, p.pad_right);
    }
    p.count_include_pad = (index / 24) % 2 == 0;
    p.activation = random_activation((mk_activation_kind)((index / 4) % 6));
    const size_t channels = random_pool_channels();
    const size_t batch = chance(30) ? 2 : 1;
    size_t in_layout, in_arg, out_layout, out_arg;
    random_stride(channels, 35, &in_layout, &in_arg);
    random_stride(channels, 35, &out_layout, &out_arg);
    const float scale = chance(30) ? 100.0f : 2.0f;
    const int specials = chance(30);
    char act_text[64];
    format_activation(act_text, sizeof act_text, p.activation);
    describe("%s n%zu %zux%zu C%zu k%zux%zu s%zux%zu pad(t%zu l%zu b%zu r%zu) "
             "count_include_pad:%d %s in_stride %zu out_stride %zu scale %g specials:%d",
             average ? "avg_pool2d" : "max_pool2d", batch, h, w, channels, p.kernel_h,
             p.kernel_w, p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.pad_bottom,
             p.pad_right, (int)p.count_include_pad, act_text, in_arg, out_arg, (double)scale,
             specials);

    const pool2d_fn fn = average ? avg_pool_once : max_pool_once;
    tensor input = {0}, in_copy = {0}, out_s = {0}, out_n = {0}, out_p = {0}, ref = {0};
    size_t oh = 0, ow = 0;
    if (!run_ok("pool2d_output_size", mk_pool2d_output_size(&p, h, w, &oh, &ow))) goto done;
    const size_t want_h = (h + p.pad_top + p.pad_bottom - p.kernel_h) / p.stride_h + 1;
    const size_t want_w = (w + p.pad_left + p.pad_right - p.kernel_w) / p.stride_w + 1;
    if (oh != want_h || ow != want_w) {
        fail("pool2d_output_size = %zux%zu, want %zux%zu", oh, ow, want_h, want_w);
        goto done;
    }
    const size_t out_pixels = batch * oh * ow;
    tensor_alloc(&input, batch * h * w, in_layout, channels, 1);
    tensor_fill(&input, scale);
    if (specials) sprinkle_specials(&input, 6, 0);
    tensor_clone(&in_copy, &input, 1);
    tensor_alloc(&out_s, out_pixels, out_layout, channels, 0);
    tensor_alloc(&out_n, out_pixels, out_layout, channels, 0);
    if (run_ok("run(scalar)", fn(&p, batch, h, w, channels, input.p, in_arg, out_s.p, out_arg,
                                 MK_VARIANT_SCALAR, NULL)) &&
        run_ok("run(neon)", fn(&p, batch, h, w, channels, input.p, in_arg, out_n.p, out_arg,
                               MK_VARIANT_NEON, NULL))) {
        if (!tensor_check_layout("scalar output", &out_s, 1, NULL) &&
            !tensor_check_layout("neon output", &out_n, 1, NULL) &&
            !tensor_check_layout("input", &input, 0, &in_copy) &&
            !compare("neon vs scalar", CMP_EXACT, &out_n, &out_s, 0)) {
            // The definition: window rows oy * stride - pad + [0, kernel) clipped to the image.
            tensor_alloc(&ref, out_pixels, channels, channels, 0);
            for (size_t n = 0; n < batch; n++) {
                for (size_t oy = 0; oy < oh; oy++) {
                    const long ys = (long)(oy * p.stride_h) - (long)p.pad_top;
                    const long ye = ys + (long)p.kernel_h;
                    const size_t y0 = ys < 0 ? 0 : (size_t)ys, y1 = ye > (long)h ? h : (size_t)ye;
                    for (size_t ox = 0; ox < ow; ox++) {
                        const long xs = (long)(ox * p.stride_w) - (long)p.pad_left;
                        const long xe = xs + (long)p.kernel_w;
                        const size_t x0 = xs < 0 ? 0 : (size_t)xs;
                        const size_t x1 = xe > (long)w ? w : (size_t)xe;
                        const float divisor = p.count_include_pad
                                                  ? (float)(p.kernel_h * p.kernel_w)
                                                  : (float)((y1 - y0) * (x1 - x0));
                        ref_window(&in_copy, n, h, w, y0, y1, x0, x1, !average, divisor,
                                   p.activation, &ref, (n * oh + oy) * ow + ox);
                    }
                }
            }
            compare("neon vs definition", CMP_EXACT_NAN, &out_n, &ref, 0);
        }
        if (want_pool(index, 8)) {
            g_stats[family].pool_checks++;
            tensor_alloc(&out_p, out_pixels, out_layout, channels, 0);
            if (run_ok("run(neon, 2 threads)", fn(&p, batch, h, w, channels, input.p, in_arg,
                                                  out_p.p, out_arg, MK_VARIANT_NEON, g_pool2))) {
                compare_bitwise_region("neon", &out_p, &out_n);
            }
        }
    }
done:
    tensor_free(&input);
    tensor_free(&in_copy);
    tensor_free(&out_s);
    tensor_free(&out_n);
    tensor_free(&out_p);
    tensor_free(&ref);
    case_end();
}

static void max_pool_case(unsigned index) { window_pool_case(FAM_MAX_POOL, index); }
static void avg_pool_case(unsigned index) { window_pool_case(FAM_AVG_POOL, index); }

// ---------------------------------------------------------------------------------------------
// Families: global average pooling and adaptive average pooling

// Global (out_h = out_w = 0) or adaptive pooling, NEON vs scalar vs the definition.
static void adaptive_like_case(int family, unsigned index, size_t batch, size_t h, size_t w,
                               size_t out_h, size_t out_w, size_t channels, int pooled) {
    const int global = family == FAM_GLOBAL_POOL;
    size_t in_layout, in_arg, out_layout, out_arg;
    random_stride(channels, 35, &in_layout, &in_arg);
    random_stride(channels, 35, &out_layout, &out_arg);
    const float scale = chance(30) ? 100.0f : 2.0f;
    const int specials = chance(25);
    if (global) out_h = out_w = 1;
    describe("%s n%zu %zux%zu -> %zux%zu C%zu in_stride %zu out_stride %zu scale %g specials:%d",
             global ? "global_avg_pool" : "adaptive_avg_pool2d", batch, h, w, out_h, out_w,
             channels, in_arg, out_arg, (double)scale, specials);
    const size_t out_pixels = batch * out_h * out_w;
    tensor input, in_copy, out_s, out_n, out_p = {0}, ref = {0};
    tensor_alloc(&input, batch * h * w, in_layout, channels, 1);
    tensor_fill(&input, scale);
    if (specials) sprinkle_specials(&input, 5, 0);
    tensor_clone(&in_copy, &input, 1);
    tensor_alloc(&out_s, out_pixels, out_layout, channels, 0);
    tensor_alloc(&out_n, out_pixels, out_layout, channels, 0);
#define RUN_POOL(variant, out, threadpool)                                                      \
    (global ? global_avg_pool_once(batch, h, w, channels, input.p, in_arg, (out), out_arg,        \
                                 (variant), (threadpool))                                       \
            : adaptive_avg_pool_once(batch, h, w, channels, out_h, out_w, input.p, in_arg,      \
                                     (out), out_arg, (variant), (threadpool)))
    if (run_ok("run(scalar)", RUN_POOL(MK_VARIANT_SCALAR, out_s.p, NULL)) &&
        run_ok("run(neon)", RUN_POOL(MK_VARIANT_NEON, out_n.p, NULL))) {
        if (!tensor_check_layout("scalar output", &out_s, 1, NULL) &&
            !tensor_check_layout("neon output", &out_n, 1, NULL) &&
            !tensor_check_layout("input", &input, 0, &in_copy) &&
            !compare("neon vs scalar", CMP_EXACT, &out_n, &out_s, 0)) {
            // The definition: cell (i, j) averages rows floor(i * h / out_h) ..<
            // ceil((i + 1) * h / out_h) (columns alike); global: the whole image.
            const mk_activation none = {MK_ACTIVATION_NONE, 0.0f, 0.0f};
            tensor_alloc(&ref, out_pixels, channels, channels, 0);
            for (size_t n = 0; n < batch; n++) {
                for (size_t i = 0; i < out_h; i++) {
                    const size_t y0 = i * h / out_h, y1 = ((i + 1) * h + out_h - 1) / out_h;
                    for (size_t j = 0; j < out_w; j++) {
                        const size_t x0 = j * w / out_w, x1 = ((j + 1) * w + out_w - 1) / out_w;
                        ref_window(&in_copy, n, h, w, y0, y1, x0, x1, 0,
                                   (float)((y1 - y0) * (x1 - x0)), none, &ref,
                                   (n * out_h + i) * out_w + j);
                    }
                }
            }
            compare("neon vs definition", CMP_EXACT_NAN, &out_n, &ref, 0);
        }
        if (pooled) {
            g_stats[family].pool_checks++;
            tensor_alloc(&out_p, out_pixels, out_layout, channels, 0);
            if (run_ok("run(neon, 2 threads)", RUN_POOL(MK_VARIANT_NEON, out_p.p, g_pool2))) {
                compare_bitwise_region("neon", &out_p, &out_n);
            }
        }
    }
#undef RUN_POOL
    tensor_free(&input);
    tensor_free(&in_copy);
    tensor_free(&out_s);
    tensor_free(&out_n);
    tensor_free(&out_p);
    tensor_free(&ref);
}

static void global_pool_case(unsigned index) {
    case_begin(FAM_GLOBAL_POOL, index);
    rng_for_case(FAM_GLOBAL_POOL, index);
    static const size_t nets[][2] = {{7, 7}, {14, 14}, {13, 17}, {28, 28}, {5, 9}, {56, 3}};
    size_t h, w;
    switch (index % 4) {
        case 0: h = w = rnd_range(1, 8); break;
        case 1:  // 1x1, 1xN, Nx1
            h = chance(50) ? 1 : rnd_range(2, 30);
            w = h == 1 ? rnd_range(1, 30) : 1;
            break;
        case 2: {
            const size_t* s = nets[rnd_range(0, sizeof nets / sizeof nets[0] - 1)];
            h = s[0];
            w = s[1];
            break;
        }
        default: h = rnd_range(1, 20); w = rnd_range(1, 20);
    }
    const size_t batch = chance(50) ? 1 : chance(70) ? 2 : 3;
    const int pooled = want_pool(index, 6);
    size_t channels = chance(88) ? random_pool_channels() : rnd_range(71, 300);
    // 2 threads: 64-channel tiles when there are few rows, so several tiles.
    if (pooled) channels = chance(50) ? rnd_range(65, 70) : rnd_range(129, 300);
    adaptive_like_case(FAM_GLOBAL_POOL, index, batch, h, w, 0, 0, channels, pooled);
    case_end();
}

static void adaptive_pool_case(unsigned index) {
    case_begin(FAM_ADAPTIVE_POOL, index);
    rng_for_case(FAM_ADAPTIVE_POOL, index);
    size_t h = rnd_range(1, 14), w = rnd_range(1, 14), oh, ow;
    switch (index % 4) {
        case 0:  // smaller output (windows overlap when the sizes do not divide)
            oh = rnd_range(1, h);
            ow = rnd_range(1, w);
            break;
        case 1:  // equal: the identity
            oh = h;
            ow = w;
            break;
        case 2:  // larger output: cells repeat
            oh = h + rnd_range(0, 5);
            ow = w + rnd_range(1, 5);
            break;
        default:  // torchvision shapes: 7x7 from larger maps, 1x1, 1xN
            if (chance(40)) {
                oh = ow = 7;
                h = rnd_range(7, 20);
                w = rnd_range(7, 20);
            } else if (chance(50)) {
                oh = ow = 1;
            } else {
                oh = 1;
                ow = rnd_range(1, 2 * w);
            }
    }
    if (chance(6)) h = w = 1;  // 1x1 input
    const size_t batch = chance(30) ? 2 : 1;
    const size_t channels = random_pool_channels();
    adaptive_like_case(FAM_ADAPTIVE_POOL, index, batch, h, w, oh, ow, channels,
                       want_pool(index, 6));
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Family: squeeze-and-excitation (create / run / destroy)

static void se_case(unsigned index) {
    case_begin(FAM_SE, index);
    rng_for_case(FAM_SE, index);
    const size_t C = chance(90) ? random_pool_channels() : rnd_range(71, 200);
    size_t S;
    switch (rnd_range(0, 3)) {
        case 0: S = C / 4 > 0 ? C / 4 : 1; break;  // MobileNetV3: C / 4
        case 1: S = rnd_range(1, 8); break;
        case 2: S = rnd_range(1, C + 8); break;    // sometimes wider than C
        default: S = rnd_range(1, C);
    }
    const int in_place = index % 3 == 0;
    const int pooled = want_pool(index, 8);
    size_t h = rnd_range(1, 12), w = rnd_range(1, 12);
    if (chance(10)) h = w = 1;
    if (pooled) {  // several 16K-float scaling tiles on 2 threads
        h = rnd_range(8, 16);
        w = (16384 / C * 2 + rnd_range(1, 40)) / h + 1;
    }
    const size_t batch = chance(35) ? 2 : 1;
    size_t in_layout, in_arg, out_layout, out_arg;
    random_stride(C, 35, &in_layout, &in_arg);
    random_stride(C, 35, &out_layout, &out_arg);
    if (in_place) {
        out_layout = in_layout;
        out_arg = in_arg;
    }
    const int with_b1 = chance(80), with_b2 = chance(80);
    const float scale = chance(40) ? 3.0f : 1.0f;
    const int lean = chance(50);  // NEON op made by create_inference (no backward layouts)
    describe("C%zu S%zu n%zu %zux%zu %s fc1_bias:%s fc2_bias:%s in_stride %zu out_stride %zu "
             "scale %g%s", C, S, batch, h, w, in_place ? "in-place" : "out-of-place",
             with_b1 ? "yes" : "NULL", with_b2 ? "yes" : "NULL", in_arg, out_arg, (double)scale,
             lean ? " inference-only" : "");

    // Weights spread so that both relu and hardsigmoid see both sides of their kinks.
    float* w1 = random_floats(S * C, 2.0f / sqrtf((float)C));
    float* w2 = random_floats(C * S, 4.0f / sqrtf((float)S));
    float* b1 = with_b1 ? random_floats(S, 0.5f) : NULL;
    float* b2 = with_b2 ? random_floats(C, 2.0f) : NULL;
    float* offset = random_floats(C, 1.0f);  // per-channel means far from 0
    mk_squeeze_excitation_f32_op *op_s = NULL, *op_n = NULL;
    tensor input = {0}, in_copy = {0}, out_s = {0}, out_n = {0}, out_p = {0}, ref = {0};
    const size_t pixels = batch * h * w;
    if (!run_ok("create(scalar)", mk_squeeze_excitation_f32_create(C, S, w1, b1, w2, b2,
                                                               MK_VARIANT_SCALAR, &op_s)) ||
        !run_ok("create(neon)", (lean ? mk_squeeze_excitation_f32_create_inference
                                      : mk_squeeze_excitation_f32_create)(C, S, w1, b1, w2, b2,
                                                                          MK_VARIANT_NEON, &op_n))) {
        goto done;
    }
    if (mk_squeeze_excitation_f32_variant(op_n) != MK_VARIANT_NEON ||
        mk_squeeze_excitation_f32_variant(op_s) != MK_VARIANT_SCALAR) {
        fail("ops report variants %s (neon) and %s (scalar)",
             mk_variant_name(mk_squeeze_excitation_f32_variant(op_n)),
             mk_variant_name(mk_squeeze_excitation_f32_variant(op_s)));
    }
    tensor_alloc(&input, pixels, in_layout, C, 1);
    tensor_fill(&input, scale);
    for (size_t i = 0; i < pixels; i++) {
        for (size_t c = 0; c < C; c++) *at(&input, i, c) += offset[c];
    }
    if (chance(20)) sprinkle_specials(&input, 5, 1);
    tensor_clone(&in_copy, &input, 1);
    if (in_place) {
        tensor_clone(&out_s, &input, 0);
        tensor_clone(&out_n, &input, 0);
    } else {
        tensor_alloc(&out_s, pixels, out_layout, C, 0);
        tensor_alloc(&out_n, pixels, out_layout, C, 0);
    }
    const float* src_s = in_place ? out_s.p : input.p;
    const float* src_n = in_place ? out_n.p : input.p;
    if (run_ok("run(scalar)", squeeze_excitation_run(op_s, batch, h, w, src_s, in_arg, out_s.p,
                                                        out_arg, NULL)) &&
        run_ok("run(neon)", squeeze_excitation_run(op_n, batch, h, w, src_n, in_arg, out_n.p,
                                                      out_arg, NULL))) {
        if (!tensor_check_layout("scalar output", &out_s, !in_place, NULL) &&
            !tensor_check_layout("neon output", &out_n, !in_place, NULL) &&
            (in_place || !tensor_check_layout("input", &input, 0, &in_copy)) &&
            !compare("neon vs scalar", CMP_TOL, &out_n, &out_s, (double)(C + S))) {
            if (tensors_bitwise_equal(&out_n, &out_s)) g_stats[FAM_SE].exact_cases++;
            // The definition (mk_pool.h), in its order: the means, t = relu(fc1 . s + b1),
            // g = hardsigmoid(fc2 . t + b2), y = x * g.
            const mk_activation relu = {MK_ACTIVATION_RELU, 0.0f, 0.0f};
            const mk_activation hsig = {MK_ACTIVATION_HARDSIGMOID, 0.0f, 0.0f};
            const mk_activation none = {MK_ACTIVATION_NONE, 0.0f, 0.0f};
            tensor mean;
            tensor_alloc(&mean, batch, C, C, 0);
            float* t = malloc(S * sizeof(float));
            float* g = malloc(C * sizeof(float));
            tensor_alloc(&ref, pixels, C, C, 0);
            for (size_t n = 0; n < batch; n++) {
                ref_window(&in_copy, n, h, w, 0, h, 0, w, 0, (float)(h * w), none, &mean, n);
                const float* s = at(&mean, n, 0);
                for (size_t j = 0; j < S; j++) {
                    float acc = 0.0f;
                    for (size_t c = 0; c < C; c++) {
                        const float prod = s[c] * w1[j * C + c];
                        acc = acc + prod;
                    }
                    t[j] = ref_act(acc + (b1 ? b1[j] : 0.0f), relu);
                }
                for (size_t c = 0; c < C; c++) {
                    float acc = 0.0f;
                    for (size_t j = 0; j < S; j++) {
                        const float prod = t[j] * w2[c * S + j];
                        acc = acc + prod;
                    }
                    g[c] = ref_act(acc + (b2 ? b2[c] : 0.0f), hsig);
                }
                for (size_t q = 0; q < h * w; q++) {
                    for (size_t c = 0; c < C; c++) {
                        *at(&ref, n * h * w + q, c) = *at(&in_copy, n * h * w + q, c) * g[c];
                    }
                }
            }
            compare("neon vs definition", CMP_TOL, &out_n, &ref, (double)(C + S));
            free(t);
            free(g);
            tensor_free(&mean);
        }
        if (pooled) {
            g_stats[FAM_SE].pool_checks++;
            if (in_place) {
                tensor_clone(&out_p, &in_copy, 0);
            } else {
                tensor_alloc(&out_p, pixels, out_layout, C, 0);
            }
            if (run_ok("run(neon, 2 threads)",
                       squeeze_excitation_run(op_n, batch, h, w, in_place ? out_p.p : input.p,
                                                 in_arg, out_p.p, out_arg, g_pool2))) {
                compare_bitwise_region("neon", &out_p, &out_n);
            }
        }
    }
done:
    mk_squeeze_excitation_f32_destroy(op_s);
    mk_squeeze_excitation_f32_destroy(op_n);
    tensor_free(&input);
    tensor_free(&in_copy);
    tensor_free(&out_s);
    tensor_free(&out_n);
    tensor_free(&out_p);
    tensor_free(&ref);
    free(w1);
    free(w2);
    free(b1);
    free(b2);
    free(offset);
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Family: the residual add (mk_elementwise_add)

static void add_case(unsigned index) {
    case_begin(FAM_ADD, index);
    rng_for_case(FAM_ADD, index);
    // 0: out of place; 1: out == a; 2: out == b; 3: a == b, out separate; 4: out == a == b.
    static const char* const modes[] = {"out-of-place", "out==a", "out==b", "a==b", "out==a==b"};
    const unsigned mode = index % 5;
    const mk_activation act = random_activation((mk_activation_kind)((index / 5) % 6));
    const size_t channels = chance(88) ? random_pool_channels() : rnd_range(71, 300);
    const int pooled = want_pool(index, 10);
    size_t pixels = rnd_range(1, 40);
    if (pooled) pixels = 16384 / channels * 2 + rnd_range(1, 40);  // several tiles
    size_t a_layout, a_arg, b_layout, b_arg, out_layout, out_arg;
    random_stride(channels, 35, &a_layout, &a_arg);
    random_stride(channels, 35, &b_layout, &b_arg);
    random_stride(channels, 35, &out_layout, &out_arg);
    if (mode == 1 || mode == 4) {
        out_layout = a_layout;
        out_arg = a_arg;
    } else if (mode == 2) {
        out_layout = b_layout;
        out_arg = b_arg;
    }
    if (mode >= 3) {
        b_layout = a_layout;
        b_arg = a_arg;
    }
    const int specials = chance(30);
    char act_text[64];
    format_activation(act_text, sizeof act_text, act);
    describe("pixels %zu C%zu %s %s a_stride %zu b_stride %zu out_stride %zu specials:%d", pixels,
             channels, modes[mode], act_text, a_arg, b_arg, out_arg, specials);

    tensor a, b = {0}, a_copy, b_copy = {0}, out_s, out_n, out_p = {0}, ref = {0};
    tensor_alloc(&a, pixels, a_layout, channels, 1);
    tensor_fill(&a, 8.0f);
    if (specials) sprinkle_specials(&a, 8, 0);
    tensor_clone(&a_copy, &a, 1);
    if (mode < 3) {
        tensor_alloc(&b, pixels, b_layout, channels, 1);
        tensor_fill(&b, 8.0f);
        if (specials) sprinkle_specials(&b, 8, 0);
        if (chance(20)) {  // exact cancellations: b = -a somewhere
            for (size_t i = 0; i < pixels; i++) *at(&b, i, 0) = -*at(&a, i, 0);
        }
        tensor_clone(&b_copy, &b, 1);
    }
    const tensor* b_orig = mode < 3 ? &b_copy : &a_copy;
    // Each run's operands and output (in place: a clone of the operand that is written).
    const int in_place = mode == 1 || mode == 2 || mode == 4;
    if (in_place) {
        tensor_clone(&out_s, mode == 2 ? &b : &a, 0);
        tensor_clone(&out_n, mode == 2 ? &b : &a, 0);
    } else {
        tensor_alloc(&out_s, pixels, out_layout, channels, 0);
        tensor_alloc(&out_n, pixels, out_layout, channels, 0);
    }
#define ADD_A(out) (mode == 1 || mode == 4 ? (out).p : a.p)
#define ADD_B(out) (mode == 2 || mode == 4 ? (out).p : mode == 3 ? a.p : b.p)
#define RUN_ADD(out, variant, threadpool)                                                   \
    add_once(pixels, channels, ADD_A(out), a_arg, ADD_B(out), b_arg, (out).p,     \
                       out_arg, act, (variant), (threadpool))
    if (run_ok("add(scalar)", RUN_ADD(out_s, MK_VARIANT_SCALAR, NULL)) &&
        run_ok("add(neon)", RUN_ADD(out_n, MK_VARIANT_NEON, NULL))) {
        if (!tensor_check_layout("scalar output", &out_s, !in_place, NULL) &&
            !tensor_check_layout("neon output", &out_n, !in_place, NULL) &&
            (mode == 1 || mode == 4 || !tensor_check_layout("a", &a, 0, &a_copy)) &&
            (mode >= 3 || mode == 2 || !tensor_check_layout("b", &b, 0, &b_copy)) &&
            !compare("neon vs scalar", CMP_EXACT, &out_n, &out_s, 0)) {
            tensor_alloc(&ref, pixels, channels, channels, 0);
            for (size_t i = 0; i < pixels; i++) {
                for (size_t c = 0; c < channels; c++) {
                    *at(&ref, i, c) = ref_act(*at(&a_copy, i, c) + *at(b_orig, i, c), act);
                }
            }
            compare("neon vs definition", CMP_EXACT_NAN, &out_n, &ref, 0);
        }
        if (pooled) {
            g_stats[FAM_ADD].pool_checks++;
            if (in_place) {
                tensor_clone(&out_p, mode == 2 ? &b_copy : &a_copy, 0);
            } else {
                tensor_alloc(&out_p, pixels, out_layout, channels, 0);
            }
            if (run_ok("add(neon, 2 threads)", RUN_ADD(out_p, MK_VARIANT_NEON, g_pool2))) {
                compare_bitwise_region("neon", &out_p, &out_n);
            }
        }
    }
#undef RUN_ADD
#undef ADD_A
#undef ADD_B
    tensor_free(&a);
    tensor_free(&b);
    tensor_free(&a_copy);
    tensor_free(&b_copy);
    tensor_free(&out_s);
    tensor_free(&out_n);
    tensor_free(&out_p);
    tensor_free(&ref);
    case_end();
}

// Pooling family: AVX2 / AVX-512 / BLIS are UNSUPPORTED (and write nothing); AUTO gives NEON.
static void pool_variant_checks(void) {
    const mk_activation relu = {MK_ACTIVATION_RELU, 0, 0};
    const mk_pool2d_params pp = {3, 3, 2, 2, 1, 1, 1, 1, true, relu};
    enum { C = 8, PIX = 5 * 5 };
    float x[PIX * C], b[PIX * C], y[PIX * C], w1[2 * C], w2[C * 2], bias[C];
    for (int i = 0; i < PIX * C; i++) {
        x[i] = 0.37f * (float)(i % 11) - 1.5f;
        b[i] = 0.21f * (float)(i % 7) - 0.6f;
    }
    for (int i = 0; i < 2 * C; i++) w1[i] = w2[i] = 0.1f * (float)(i % 5) - 0.2f;
    for (int i = 0; i < C; i++) bias[i] = 0.05f * (float)i;
    const mk_variant unsupported[] = {MK_VARIANT_AVX2, MK_VARIANT_AVX512, MK_VARIANT_BLIS};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        const mk_variant v = unsupported[i];
        const char* name = mk_variant_name(v);
        for (int k = 0; k < PIX * C; k++) memcpy(&y[k], &SENTINEL, sizeof(float));
        mk_status s = max_pool_once(&pp, 1, 5, 5, C, x, 0, y, 0, v, NULL);
        check(s == MK_STATUS_UNSUPPORTED, "max_pool2d(%s) = %s", name, status_name(s));
        s = avg_pool_once(&pp, 1, 5, 5, C, x, 0, y, 0, v, NULL);
        check(s == MK_STATUS_UNSUPPORTED, "avg_pool2d(%s) = %s", name, status_name(s));
        s = global_avg_pool_once(1, 5, 5, C, x, 0, y, 0, v, NULL);
        check(s == MK_STATUS_UNSUPPORTED, "global_avg_pool(%s) = %s", name, status_name(s));
        s = adaptive_avg_pool_once(1, 5, 5, C, 2, 3, x, 0, y, 0, v, NULL);
        check(s == MK_STATUS_UNSUPPORTED, "adaptive_avg_pool2d(%s) = %s", name, status_name(s));
        s = add_once(PIX, C, x, 0, b, 0, y, 0, relu, v, NULL);
        check(s == MK_STATUS_UNSUPPORTED, "elementwise_add(%s) = %s", name, status_name(s));
        mk_squeeze_excitation_f32_op* se = NULL;
        s = mk_squeeze_excitation_f32_create(C, 2, w1, bias, w2, bias, v, &se);
        check(s == MK_STATUS_UNSUPPORTED && se == NULL, "squeeze_excitation_create(%s) = %s",
              name, status_name(s));
        mk_squeeze_excitation_f32_destroy(se);
        int untouched = 1;
        for (int k = 0; k < PIX * C; k++) untouched &= is_sentinel(y[k]);
        check(untouched, "a pooling call with %s wrote its output", name);
    }

    // AUTO computes exactly what NEON computes (no variant getter except SE's).
    float ya[PIX * C], yn[PIX * C];
    const char* names[] = {"max_pool2d", "avg_pool2d", "global_avg_pool", "adaptive_avg_pool2d",
                           "elementwise_add", "squeeze_excitation"};
    for (int f = 0; f < 6; f++) {
        memset(ya, 0, sizeof ya);
        memset(yn, 0, sizeof yn);
        mk_status sa = MK_STATUS_OK, sn = MK_STATUS_OK;
        const mk_variant vs[2] = {MK_VARIANT_AUTO, MK_VARIANT_NEON};
        for (int k = 0; k < 2; k++) {
            float* out = k == 0 ? ya : yn;
            mk_status* st = k == 0 ? &sa : &sn;
            switch (f) {
                case 0: *st = max_pool_once(&pp, 1, 5, 5, C, x, 0, out, 0, vs[k], NULL); break;
                case 1: *st = avg_pool_once(&pp, 1, 5, 5, C, x, 0, out, 0, vs[k], NULL); break;
                case 2: *st = global_avg_pool_once(1, 5, 5, C, x, 0, out, 0, vs[k], NULL); break;
                case 3: *st = adaptive_avg_pool_once(1, 5, 5, C, 2, 3, x, 0, out, 0, vs[k], NULL); break;
                case 4: *st = add_once(PIX, C, x, 0, b, 0, out, 0, relu, vs[k], NULL); break;
                default: {
                    mk_squeeze_excitation_f32_op* se = NULL;
                    *st = mk_squeeze_excitation_f32_create(C, 2, w1, bias, w2, bias, vs[k], &se);
                    if (*st == MK_STATUS_OK) {
                        check(mk_squeeze_excitation_f32_variant(se) == MK_VARIANT_NEON,
                              "squeeze_excitation %s -> %s", k == 0 ? "AUTO" : "NEON",
                              mk_variant_name(mk_squeeze_excitation_f32_variant(se)));
                        *st = squeeze_excitation_run(se, 1, 5, 5, x, 0, out, 0, NULL);
                    }
                    mk_squeeze_excitation_f32_destroy(se);
                }
            }
        }
        check(sa == MK_STATUS_OK && sn == MK_STATUS_OK && memcmp(ya, yn, sizeof ya) == 0,
              "%s AUTO differs from NEON (%s, %s)", names[f], status_name(sa), status_name(sn));
    }
    mk_squeeze_excitation_f32_op* se = NULL;
    mk_status s = mk_squeeze_excitation_f32_create(C, 2, w1, NULL, w2, NULL, MK_VARIANT_SCALAR, &se);
    check(s == MK_STATUS_OK && mk_squeeze_excitation_f32_variant(se) == MK_VARIANT_SCALAR,
          "squeeze_excitation SCALAR -> %s (%s)",
          se ? mk_variant_name(mk_squeeze_excitation_f32_variant(se)) : "-", status_name(s));
    mk_squeeze_excitation_f32_destroy(se);
}

// ---------------------------------------------------------------------------------------------
// Family: argument errors of the pooling family (fixed checks)

static void expect(mk_status got, mk_status want, const char* what) {
    check(got == want, "%s = %s, want %s", what, status_name(got), status_name(want));
}

static void family_pool_errors(void) {
    case_begin(FAM_POOL_ERRORS, 0);
    describe("pooling / SE / add argument errors");
    enum { C = 8, H = 4, W = 4, PIX = H * W };
    const mk_activation none = {MK_ACTIVATION_NONE, 0, 0};
    const mk_activation bad_kind = {(mk_activation_kind)99, 0, 0};
    const mk_activation bad_clamp = {MK_ACTIVATION_CLAMP, 1.0f, -1.0f};
    const mk_activation nan_clamp = {MK_ACTIVATION_CLAMP, NAN, 1.0f};
    const mk_variant NE = MK_VARIANT_NEON, BAD_VARIANT = (mk_variant)99;
    static float x[4 * PIX * C], y[4 * PIX * C], w1[MK_SQUEEZE_EXCITATION_MAX_CHANNELS + 1];
    for (int i = 0; i < 4 * PIX * C; i++) x[i] = 0.25f * (float)(i % 9) - 1.0f;
    for (int i = 0; i < 4 * PIX * C; i++) memcpy(&y[i], &SENTINEL, sizeof(float));
    for (int i = 0; i <= MK_SQUEEZE_EXCITATION_MAX_CHANNELS; i++) w1[i] = 0.01f;

    // mk_pool2d_output_size
    const mk_pool2d_params ok = {3, 3, 1, 1, 1, 1, 1, 1, true, none};
    size_t oh = 0, ow = 0;
    mk_status s = mk_pool2d_output_size(&ok, H, W, &oh, &ow);
    check(s == MK_STATUS_OK && oh == H && ow == W, "output_size 3x3 s1 p1 of 4x4 = %s %zux%zu",
          status_name(s), oh, ow);
    const mk_pool2d_params k5s2 = {5, 2, 2, 2, 4, 0, 2, 1, false, none};  // (7+6-5)/2+1, (5+1-2)/2+1
    s = mk_pool2d_output_size(&k5s2, 7, 5, &oh, &ow);
    check(s == MK_STATUS_OK && oh == 5 && ow == 3, "output_size k5x2 s2 pads(4,0,2,1) of 7x5 = %s %zux%zu",
          status_name(s), oh, ow);
    expect(mk_pool2d_output_size(NULL, H, W, &oh, &ow),
           MK_STATUS_NULL_POINTER, "output_size(NULL params)");
    expect(mk_pool2d_output_size(&ok, H, W, NULL, &ow),
           MK_STATUS_NULL_POINTER, "output_size(NULL out_h)");
    mk_pool2d_params p = ok;
    p.kernel_h = 0;
    expect(mk_pool2d_output_size(&p, H, W, &oh, &ow),
           MK_STATUS_INVALID_ARGUMENT, "output_size(kernel_h 0)");
    p = ok;
    p.stride_w = 0;
    expect(mk_pool2d_output_size(&p, H, W, &oh, &ow),
           MK_STATUS_INVALID_ARGUMENT, "output_size(stride_w 0)");
    const char* sides[] = {"pad_top", "pad_left", "pad_bottom", "pad_right"};
    for (int side = 0; side < 4; side++) {
        p = ok;
        size_t* pad = side == 0 ? &p.pad_top : side == 1 ? &p.pad_left : side == 2 ? &p.pad_bottom : &p.pad_right;
        *pad = 3;  // == kernel
        char what[64];
        snprintf(what, sizeof what, "output_size(%s == kernel)", sides[side]);
        expect(mk_pool2d_output_size(&p, H, W, &oh, &ow), MK_STATUS_INVALID_ARGUMENT, what);
    }
    p = ok;
    p.activation = bad_kind;
    expect(mk_pool2d_output_size(&p, H, W, &oh, &ow),
           MK_STATUS_INVALID_ARGUMENT, "output_size(activation 99)");
    p.activation = bad_clamp;
    expect(mk_pool2d_output_size(&p, H, W, &oh, &ow),
           MK_STATUS_INVALID_ARGUMENT, "output_size(clamp min > max)");
    p.activation = nan_clamp;
    expect(mk_pool2d_output_size(&p, H, W, &oh, &ow),
           MK_STATUS_INVALID_ARGUMENT, "output_size(clamp NaN)");
    expect(mk_pool2d_output_size(&ok, 0, W, &oh, &ow),
           MK_STATUS_INVALID_ARGUMENT, "output_size(in_h 0)");
    expect(mk_pool2d_output_size(&ok, H, 0, &oh, &ow),
           MK_STATUS_INVALID_ARGUMENT, "output_size(in_w 0)");
    const mk_pool2d_params nopad = {5, 5, 1, 1, 0, 0, 0, 0, true, none};
    expect(mk_pool2d_output_size(&nopad, H, W, &oh, &ow),
           MK_STATUS_INVALID_ARGUMENT, "output_size(4x4 < kernel 5, no padding)");
    expect(mk_pool2d_output_size(&ok, SIZE_MAX, W, &oh, &ow),
           MK_STATUS_SIZE_OVERFLOW, "output_size(in_h SIZE_MAX + padding)");

    // max_pool_once / avg_pool_once
    const pool2d_fn fns[2] = {max_pool_once, avg_pool_once};
    for (int f = 0; f < 2; f++) {
        const pool2d_fn fn = fns[f];
        const char* name = f == 0 ? "max_pool2d" : "avg_pool2d";
        char what[96];
#define EXPECT(call, want, text) \
    (snprintf(what, sizeof what, "%s(%s)", name, text), expect((call), (want), what))
        EXPECT(fn(NULL, 1, H, W, C, x, 0, y, 0, NE, NULL), MK_STATUS_NULL_POINTER, "NULL params");
        EXPECT(fn(&ok, 1, H, W, C, NULL, 0, y, 0, NE, NULL), MK_STATUS_NULL_POINTER, "NULL input");
        EXPECT(fn(&ok, 1, H, W, C, x, 0, NULL, 0, NE, NULL), MK_STATUS_NULL_POINTER, "NULL output");
        EXPECT(fn(&ok, 0, H, W, C, x, 0, y, 0, NE, NULL), MK_STATUS_INVALID_ARGUMENT, "batch 0");
        EXPECT(fn(&ok, 1, H, W, 0, x, 0, y, 0, NE, NULL), MK_STATUS_INVALID_ARGUMENT, "channels 0");
        EXPECT(fn(&ok, 1, 0, W, C, x, 0, y, 0, NE, NULL), MK_STATUS_INVALID_ARGUMENT, "in_h 0");
        EXPECT(fn(&ok, 1, H, W, C, x, C - 1, y, 0, NE, NULL),
               MK_STATUS_INVALID_ARGUMENT, "input stride < channels");
        EXPECT(fn(&ok, 1, H, W, C, x, 0, y, C - 1, NE, NULL),
               MK_STATUS_INVALID_ARGUMENT, "output stride < channels");
        EXPECT(fn(&p, 1, H, W, C, x, 0, y, 0, NE, NULL), MK_STATUS_INVALID_ARGUMENT, "clamp NaN");
        EXPECT(fn(&nopad, 1, H, W, C, x, 0, y, 0, NE, NULL),
               MK_STATUS_INVALID_ARGUMENT, "input smaller than kernel");
        EXPECT(fn(&ok, 1, H, W, C, x, 0, y, 0, BAD_VARIANT, NULL),
               MK_STATUS_INVALID_ARGUMENT, "variant 99");
        EXPECT(fn(&ok, 1, H, W, C, x, 0, x + 3, 0, NE, NULL),
               MK_STATUS_INVALID_ARGUMENT, "output overlaps input");
        EXPECT(fn(&ok, 1, H, W, C, x, 0, x, 0, MK_VARIANT_SCALAR, NULL),
               MK_STATUS_INVALID_ARGUMENT, "output == input");
#undef EXPECT
    }
    // mk_global_avg_pool / mk_adaptive_avg_pool2d
    expect(global_avg_pool_once(1, H, W, C, NULL, 0, y, 0, NE, NULL),
           MK_STATUS_NULL_POINTER, "global_avg_pool(NULL input)");
    expect(global_avg_pool_once(0, H, W, C, x, 0, y, 0, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "global_avg_pool(batch 0)");
    expect(global_avg_pool_once(1, 0, W, C, x, 0, y, 0, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "global_avg_pool(h 0)");
    expect(global_avg_pool_once(1, H, W, 0, x, 0, y, 0, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "global_avg_pool(channels 0)");
    expect(global_avg_pool_once(2, H, W, C, x, 0, y, C - 1, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "global_avg_pool(output stride < channels)");
    expect(global_avg_pool_once(1, H, W, C, x, 0, x + PIX * C - 1, 0, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "global_avg_pool(output overlaps the input's end)");
    expect(global_avg_pool_once(1, H, W, C, x, 0, y, 0, BAD_VARIANT, NULL),
           MK_STATUS_INVALID_ARGUMENT, "global_avg_pool(variant 99)");
    expect(adaptive_avg_pool_once(1, H, W, C, 2, 2, x, 0, NULL, 0, NE, NULL),
           MK_STATUS_NULL_POINTER, "adaptive_avg_pool2d(NULL output)");
    expect(adaptive_avg_pool_once(1, H, W, C, 0, 2, x, 0, y, 0, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "adaptive_avg_pool2d(out_h 0)");
    expect(adaptive_avg_pool_once(1, H, W, C, 2, 0, x, 0, y, 0, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "adaptive_avg_pool2d(out_w 0)");
    expect(adaptive_avg_pool_once(1, H, 0, C, 2, 2, x, 0, y, 0, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "adaptive_avg_pool2d(in_w 0)");
    expect(adaptive_avg_pool_once(1, H, W, C, 2, 2, x, C + 1, y, C - 1, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "adaptive_avg_pool2d(output stride < channels)");
    expect(adaptive_avg_pool_once(1, H, W, C, SIZE_MAX, 2, x, 0, y, 0, NE, NULL),
           MK_STATUS_SIZE_OVERFLOW, "adaptive_avg_pool2d(out_h SIZE_MAX)");
    expect(adaptive_avg_pool_once(1, H, W, C, 2, 2, x, 0, x + 5, 0, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "adaptive_avg_pool2d(output overlaps input)");

    // mk_squeeze_excitation_create / _run
    mk_squeeze_excitation_f32_op* se = (mk_squeeze_excitation_f32_op*)(void*)y;  // must be reset to NULL
    expect(mk_squeeze_excitation_f32_create(C, 2, w1, NULL, NULL, NULL, NE, &se),
           MK_STATUS_NULL_POINTER, "squeeze_excitation_create(NULL fc2_weight)");
    check(se == NULL, "squeeze_excitation_create left *op_out set after an error");
    expect(mk_squeeze_excitation_f32_create(C, 2, NULL, NULL, w1, NULL, NE, &se),
           MK_STATUS_NULL_POINTER, "squeeze_excitation_create(NULL fc1_weight)");
    expect(mk_squeeze_excitation_f32_create(C, 2, w1, NULL, w1, NULL, NE, NULL),
           MK_STATUS_NULL_POINTER, "squeeze_excitation_create(NULL op_out)");
    expect(mk_squeeze_excitation_f32_create(0, 2, w1, NULL, w1, NULL, NE, &se),
           MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_create(channels 0)");
    expect(mk_squeeze_excitation_f32_create(C, 0, w1, NULL, w1, NULL, NE, &se),
           MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_create(squeeze 0)");
    expect(mk_squeeze_excitation_f32_create(MK_SQUEEZE_EXCITATION_MAX_CHANNELS + 1, 1, w1, NULL, w1, NULL, NE, &se),
           MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_create(channels MAX + 1)");
    expect(mk_squeeze_excitation_f32_create(1, MK_SQUEEZE_EXCITATION_MAX_CHANNELS + 1, w1, NULL, w1, NULL, NE, &se),
           MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_create(squeeze MAX + 1)");
    expect(mk_squeeze_excitation_f32_create(C, 2, w1, NULL, w1, NULL, BAD_VARIANT, &se),
           MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_create(variant 99)");
    check(se == NULL, "squeeze_excitation_create left *op_out set after an error");
    s = mk_squeeze_excitation_f32_create(MK_SQUEEZE_EXCITATION_MAX_CHANNELS, 1, w1, NULL, w1, NULL, NE, &se);
    check(s == MK_STATUS_OK && se != NULL, "squeeze_excitation_create(channels MAX) = %s", status_name(s));
    mk_squeeze_excitation_f32_destroy(se);
    se = NULL;
    mk_squeeze_excitation_f32_destroy(NULL);  // a no-op
    s = mk_squeeze_excitation_f32_create(C, 2, w1, NULL, w1, NULL, NE, &se);
    check(s == MK_STATUS_OK, "squeeze_excitation_create(C 8, S 2) = %s", status_name(s));
    if (se != NULL) {
        expect(squeeze_excitation_run(NULL, 1, H, W, x, 0, y, 0, NULL),
               MK_STATUS_NULL_POINTER, "squeeze_excitation_run(NULL op)");
        expect(squeeze_excitation_run(se, 1, H, W, NULL, 0, y, 0, NULL),
               MK_STATUS_NULL_POINTER, "squeeze_excitation_run(NULL input)");
        expect(squeeze_excitation_run(se, 0, H, W, x, 0, y, 0, NULL),
               MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_run(batch 0)");
        expect(squeeze_excitation_run(se, 1, 0, W, x, 0, y, 0, NULL),
               MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_run(h 0)");
        expect(squeeze_excitation_run(se, 1, H, 0, x, 0, y, 0, NULL),
               MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_run(w 0)");
        expect(squeeze_excitation_run(se, 1, H, W, x, C - 1, y, 0, NULL),
               MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_run(input stride < channels)");
        expect(squeeze_excitation_run(se, 1, H, W, x, 0, y, C - 1, NULL),
               MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_run(output stride < channels)");
        expect(squeeze_excitation_run(se, 1, H, W, x, 0, x + 1, 0, NULL),
               MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_run(output == input + 1)");
        expect(squeeze_excitation_run(se, 1, H, W, x, C, x, C + 1, NULL),
               MK_STATUS_INVALID_ARGUMENT, "squeeze_excitation_run(output == input, other stride)");
        mk_squeeze_excitation_f32_destroy(se);
    }

    // mk_elementwise_add
    const float* b = x + 2 * PIX * C;
    expect(add_once(PIX, C, NULL, 0, b, 0, y, 0, none, NE, NULL),
           MK_STATUS_NULL_POINTER, "elementwise_add(NULL a)");
    expect(add_once(PIX, C, x, 0, b, 0, NULL, 0, none, NE, NULL),
           MK_STATUS_NULL_POINTER, "elementwise_add(NULL output)");
    expect(add_once(0, C, x, 0, b, 0, y, 0, none, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "elementwise_add(pixels 0)");
    expect(add_once(PIX, 0, x, 0, b, 0, y, 0, none, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "elementwise_add(channels 0)");
    expect(add_once(PIX, C, x, C - 1, b, 0, y, 0, none, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "elementwise_add(a stride < channels)");
    expect(add_once(PIX, C, x, 0, b, C - 1, y, 0, none, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "elementwise_add(b stride < channels)");
    expect(add_once(PIX, C, x, 0, b, 0, y, C - 1, none, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "elementwise_add(output stride < channels)");
    expect(add_once(PIX, C, x, 0, b, 0, y, 0, bad_kind, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "elementwise_add(activation 99)");
    expect(add_once(PIX, C, x, 0, b, 0, y, 0, bad_clamp, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "elementwise_add(clamp min > max)");
    expect(add_once(PIX, C, x, 0, b, 0, y, 0, none, BAD_VARIANT, NULL),
           MK_STATUS_INVALID_ARGUMENT, "elementwise_add(variant 99)");
    float* xa = x;
    expect(add_once(PIX, C, xa, 0, b, 0, xa + 1, 0, none, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "elementwise_add(output == a + 1)");
    expect(add_once(PIX, C, xa, C, b, 0, xa, C + 1, none, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "elementwise_add(output == a, other stride)");
    expect(add_once(PIX, C, xa, 0, b, 0, (float*)b + C, 0, none, NE, NULL),
           MK_STATUS_INVALID_ARGUMENT, "elementwise_add(output == b + C)");
    int untouched = 1;
    for (int i = 0; i < 4 * PIX * C; i++) untouched &= is_sentinel(y[i]);
    check(untouched, "a failing pooling / SE / add call wrote its output");
    g_case_failed = 0;
}

// ---------------------------------------------------------------------------------------------
// Families: training-mode BatchNorm and the activation gradient (mk_training.h)
//
// Both variants run bntrain_template.h's loops through the same operator code. A reduction sums
// each channel in row order within chunks of chunk_rows = max(64, ceil(8192 / C)) pixels (a
// function of the shape only) and combines the chunks in order in float64, so 1 and 2 threads
// must agree bit for bit. NEON is checked against mk_training.h's definition; only when its
// outputs are not bitwise scalar's are scalar checked too and the two compared. NEON vs scalar
// (tolerances, since a compiler may contract a * b + c on one variant, about 10x above what
// -ffp-contract=fast on the NEON file produces):
//   mean          1e-5 * sum|x| / P;   variance  1e-5 * variance + tol(mean)^2;
//   inv_std       1e-5 * |inv_std| + 0.6 * |inv_std| * tol(variance) / (variance + eps);
//   y             1e-5 * (1 + |y| + |xhat * gamma| + |beta|);
//   dbeta, dgamma 1e-5 * the sum of |terms| (|g|, |g * xhat|);
//   dx            2e-5 * (1 + |xhat|) * max over the channel's pixels of |gamma * inv_std| *
//                 max(|dy|, |g|).
// Against the definition: mean and variance against float64 sums over x within the bound of
// float32 summation over a chunk (bn_ref); inv_std within 2^-23 of 1 / sqrtf(variance + eps);
// y, dx and the sums of dbeta and dgamma computed here from the variant's own statistics (and,
// for dx, its own dbeta and dgamma) with the tolerances above (the sums: the larger of 1e-5 and
// (chunk rows + 3) * 2^-24 of their sum of |terms|). The running-statistic update: within
// 2^-22 of its terms. Where u = xhat * gamma + beta lies within 1e-6 * (|xhat * gamma| + |beta|)
// of a jump of act' (with gamma != 0), one rounding could flip g: such elements add their |g|
// terms to the tolerances of their channel. Channels with gamma == 0 and beta on a kink put u
// on the kink exactly, where PyTorch's rules are checked exactly. The activation gradient does
// one operation per element: dx must match scalar and bntrain.h's definition bitwise (hard-
// swish's dy * (u / 3 + 0.5): 1 ulp); dbias within 1e-5 * sum|dx| of scalar (and of float64's
// sum, within the chunk summation bound).

static size_t bn_chunk_rows(size_t channels) {
    const size_t rows = (8192 + channels - 1) / channels;
    return rows < 64 ? 64 : rows;
}

// A pixel count: 1 or 2 to a few hundred, or past one chunk (up to about 3000 pixels; with
// `several_chunks`, for the 2-thread runs, as many chunks as fit, up to 3, and a partial one).
static size_t train_pixels(size_t channels, size_t min_pixels, int several_chunks) {
    const size_t cr = bn_chunk_rows(channels), cap = 3000;
    if (several_chunks || chance(30)) {
        if (cr > cap / 2) return rnd_range(cap / 2, cap);  // C <= 5: one or two chunks
        const size_t kmax = cap / cr > 3 ? 3 : cap / cr;
        const size_t k = several_chunks ? kmax : rnd_range(1, kmax > 2 ? 2 : kmax);
        switch (rnd_range(0, 3)) {
            case 0: return k * cr;      // whole chunks
            case 1: return k * cr + 1;  // a 1-row last chunk
            case 2: return k * cr - 1;
            default: return k * cr + rnd_range(2, cr - 1);
        }
    }
    switch (rnd_range(0, 5)) {
        case 0: return min_pixels + rnd_range(0, 2);
        case 1: case 2: return rnd_range(41, 400);
        default: return rnd_range(min_pixels, 40);
    }
}

// The stride argument for a second operand that must have the layout `layout` of the first
// (whose argument is `arg`): the same, or the other spelling of a dense stride (0 or C).
static size_t same_layout_arg(size_t layout, size_t arg, size_t channels) {
    if (layout != channels) return arg;
    return chance(50) ? 0 : channels;
}

// bntrain.h's act'(u) * dy with PyTorch's kink rules.
static float ref_dact(mk_activation a, float u, float dy) {
    switch (a.kind) {
        case MK_ACTIVATION_NONE: return dy;
        case MK_ACTIVATION_RELU: return u > 0.0f ? dy : 0.0f;
        case MK_ACTIVATION_RELU6: return (u > 0.0f && u < 6.0f) ? dy : 0.0f;
        case MK_ACTIVATION_CLAMP: return (u >= a.min && u <= a.max) ? dy : 0.0f;
        case MK_ACTIVATION_HARDSWISH:
            return u < -3.0f ? 0.0f : u <= 3.0f ? dy * (u / 3.0f + 0.5f) : dy;
        case MK_ACTIVATION_HARDSIGMOID: return (u > -3.0f && u < 3.0f) ? dy / 6.0f : 0.0f;
    }
    return dy;
}

// Where act' jumps; returns how many such points there are.
static int dact_kinks(mk_activation a, float k[2]) {
    switch (a.kind) {
        case MK_ACTIVATION_NONE: return 0;
        case MK_ACTIVATION_RELU: k[0] = 0.0f; return 1;
        case MK_ACTIVATION_RELU6: k[0] = 0.0f; k[1] = 6.0f; return 2;
        case MK_ACTIVATION_CLAMP: k[0] = a.min; k[1] = a.max; return 2;
        case MK_ACTIVATION_HARDSWISH:
        case MK_ACTIVATION_HARDSIGMOID: k[0] = -3.0f; k[1] = 3.0f; return 2;
    }
    return 0;
}

// The finite kinks of an activation, for near_kink.
typedef struct {
    int n;
    float k[2];
} kinks;

static kinks kinks_of(mk_activation a) {
    kinks r = {0, {0.0f, 0.0f}};
    float k[2];
    const int n = dact_kinks(a, k);
    for (int i = 0; i < n; i++) {
        if (isfinite(k[i])) r.k[r.n++] = k[i];
    }
    return r;
}

// Whether a fused xhat * gamma + beta could land on the other side of a kink than u: within
// 1e-6 * (|xhat * gamma| + |beta|) of one (about 8 roundings).
static int near_kink(const kinks* k, float u, float xhat, float gamma, float beta) {
    if (k->n == 0 || gamma == 0.0f) return 0;  // gamma 0: u == beta exactly, fused or not
    const float window = 1e-6f * (fabsf(xhat * gamma) + fabsf(beta));
    for (int i = 0; i < k->n; i++) {
        if (fabsf(u - k->k[i]) <= window) return 1;
    }
    return 0;
}

// Tolerance comparisons of many values: the first failure is reported by close_end.
typedef struct {
    const char* what;
    size_t bad, count, pixel, c;
    double n, s, tol;
} close_acc;

static void close_begin(close_acc* a, const char* what) {
    memset(a, 0, sizeof *a);
    a->what = what;
}

static void close_add(close_acc* a, size_t pixel, size_t c, double n, double s, double tol) {
    a->count++;
    const double diff = fabs(n - s);
    if (diff <= tol) {  // false for NaN
        if (tol > 0.0 && diff / tol > g_stats[g_family].worst_ratio) {
            g_stats[g_family].worst_ratio = diff / tol;
        }
        return;
    }
    if (a->bad++ == 0) {
        a->pixel = pixel;
        a->c = c;
        a->n = n;
        a->s = s;
        a->tol = tol;
    }
}

static int close_end(const close_acc* a) {
    if (a->bad == 0) return 0;
    fail("%s: %zu of %zu values out of tolerance; first at pixel %zu channel %zu: %.9g vs %.9g "
         "(|diff| %.3g > tol %.3g)", a->what, a->bad, a->count, a->pixel, a->c, a->n, a->s,
         fabs(a->n - a->s), a->tol);
    return 1;
}

// A workspace of `bytes`: from mk_aligned_alloc, or (guarded) ending flush against a PROT_NONE
// page after sentinel guards (a 64-byte multiple keeps it aligned), so that a write past its end
// faults and one before its start shows. Filled with NaN garbage before every call.
typedef struct {
    void* p;
    size_t bytes;
    tensor t;
    int guarded;
} workspace;

static void* workspace_get(workspace* w, size_t bytes, int guarded) {
    memset(w, 0, sizeof *w);
    w->bytes = bytes;
    if (bytes == 0) return NULL;
    if (guarded && bytes % 64 == 0) {
        tensor_alloc(&w->t, 1, bytes / sizeof(float), bytes / sizeof(float), 1);
        w->guarded = 1;
        w->p = w->t.p;
    } else {
        w->p = mk_aligned_alloc(bytes);
    }
    if (w->p != NULL) memset(w->p, 0xFF, bytes);
    return w->p;
}

static void workspace_scramble(workspace* w) {
    if (w->p != NULL) memset(w->p, 0xFF, w->bytes);
}

// Frees the workspace; nonzero when a guard before it was overwritten.
static int workspace_release(workspace* w) {
    int bad = 0;
    if (w->guarded) {
        bad = tensor_check_layout("workspace", &w->t, 0, NULL);
        tensor_free(&w->t);
    } else {
        mk_aligned_free(w->p);
    }
    memset(w, 0, sizeof *w);
    return bad;
}

// ---- BatchNorm ------------------------------------------------------------------------------

typedef struct {
    size_t C, P, x_layout, x_arg, y_layout, y_arg;
    int in_place_fwd, in_place_bwd, with_dx, guard_ws;
    mk_activation act;
    float eps;
    tensor x, dy, gamma, beta;  // inputs, flush against PROT_NONE
    tensor x_copy, dy_copy, gamma_copy, beta_copy;
} bn_setup;

typedef struct {
    tensor y, dx, mean, var, inv, dgamma, dbeta;  // dx unallocated without dx
} bn_out;

static void bn_out_free(bn_out* o) {
    tensor_free(&o->y);
    tensor_free(&o->dx);
    tensor_free(&o->mean);
    tensor_free(&o->var);
    tensor_free(&o->inv);
    tensor_free(&o->dgamma);
    tensor_free(&o->dbeta);
}

// reshape, forward, backward (x the original input even after an in-place forward), checking
// the statuses, every output's gaps and guards, and that no input changed. 1 when all is well.
static int bn_run(const bn_setup* s, const mk_batchnorm_train_f32_op* op, const char* name,
                  mk_threadpool* pool, bn_out* o) {
    char what[96];
    memset(o, 0, sizeof *o);
    tensor* vectors[5] = {&o->mean, &o->var, &o->inv, &o->dgamma, &o->dbeta};
    const char* vector_names[5] = {"mean", "variance", "inv_std", "dgamma", "dbeta"};
    for (int i = 0; i < 5; i++) tensor_alloc(vectors[i], 1, s->C, s->C, 0);
    mk_batchnorm_train_f32_plan plan;
    snprintf(what, sizeof what, "reshape(%s)", name);
    if (!run_ok(what, mk_batchnorm_train_f32_reshape(op, s->P, s->x_arg, s->y_arg, pool, &plan))) {
        return 0;
    }
    if (plan.workspace_bytes == 0) {
        fail("reshape(%s): workspace_bytes is 0", name);
        return 0;
    }
    workspace ws;
    plan.workspace = workspace_get(&ws, plan.workspace_bytes, s->guard_ws);
    const float* x_in = s->x.p;
    if (s->in_place_fwd) {
        tensor_clone(&o->y, &s->x, 0);
        x_in = o->y.p;
    } else {
        tensor_alloc(&o->y, s->P, s->y_layout, s->C, 0);
    }
    int ok = 0;
    snprintf(what, sizeof what, "forward(%s)", name);
    if (run_ok(what, mk_batchnorm_train_f32_forward(op, &plan, x_in, s->gamma.p, s->beta.p, o->y.p,
                                                    o->mean.p, o->var.p, o->inv.p, pool))) {
        const float* dy_in = s->dy.p;
        float* dx = NULL;
        if (s->in_place_bwd) {
            tensor_clone(&o->dx, &s->dy, 0);
            dx = o->dx.p;
            dy_in = dx;
        } else if (s->with_dx) {
            tensor_alloc(&o->dx, s->P, s->x_layout, s->C, 0);
            dx = o->dx.p;
        }
        float* saved = malloc(2 * s->C * sizeof(float));
        memcpy(saved, o->mean.p, s->C * sizeof(float));
        memcpy(saved + s->C, o->inv.p, s->C * sizeof(float));
        workspace_scramble(&ws);
        snprintf(what, sizeof what, "backward(%s)", name);
        ok = run_ok(what, mk_batchnorm_train_f32_backward(op, &plan, s->x.p, dy_in, s->gamma.p,
                                                          s->beta.p, o->mean.p, o->inv.p, dx,
                                                          o->dgamma.p, o->dbeta.p, pool));
        if (ok && (memcmp(saved, o->mean.p, s->C * sizeof(float)) != 0 ||
                   memcmp(saved + s->C, o->inv.p, s->C * sizeof(float)) != 0)) {
            fail("backward(%s) modified mean or inv_std", name);
            ok = 0;
        }
        free(saved);
    }
    if (workspace_release(&ws)) ok = 0;
    if (!ok) return 0;
    snprintf(what, sizeof what, "%s y", name);
    if (tensor_check_layout(what, &o->y, !s->in_place_fwd, NULL)) return 0;
    for (int i = 0; i < 5; i++) {
        snprintf(what, sizeof what, "%s %s", name, vector_names[i]);
        if (tensor_check_layout(what, vectors[i], 1, NULL)) return 0;
    }
    snprintf(what, sizeof what, "%s dx", name);
    if (o->dx.map != NULL && tensor_check_layout(what, &o->dx, !s->in_place_bwd, NULL)) return 0;
    snprintf(what, sizeof what, "input x (after %s)", name);
    if (tensor_check_layout(what, &s->x, 0, &s->x_copy)) return 0;
    snprintf(what, sizeof what, "input dy (after %s)", name);
    if (tensor_check_layout(what, &s->dy, 0, &s->dy_copy)) return 0;
    if (tensor_check_layout("input gamma", &s->gamma, 0, &s->gamma_copy) ||
        tensor_check_layout("input beta", &s->beta, 0, &s->beta_copy)) {
        return 0;
    }
    return 1;
}

// Per channel: the statistics of the float64 definition and the tolerances of the statistics.
// NEON vs scalar (the same float32 operations, up to contraction): tol_mean = 1e-5 * sum|x| / P,
// tol_var = 1e-5 * variance + tol_mean^2. A variant vs the float64 definition: a chunk of n rows
// summed in float32 is within (n + 2) * 2^-24 * sum|x| of the exact sum (recursive summation's
// bound), so def_tol_mean = the chunks' bounds over P; the variance inherits each chunk mean's
// error d_k (the chunk's m2 is taken about it and Chan's term n_k (m_k - M)^2 uses it):
// def_tol_var = (n + 4) * 2^-24 * variance + sum over chunks of n_k (d_k^2 + 2 |m_k - M| d_k) / P.
// The backward's chunked sums get sum_rel = max(1e-5, (n + 3) * 2^-24) of their sum of |terms|.
typedef struct {
    double *mean, *var, *tol_mean, *tol_var, *def_tol_mean, *def_tol_var;
    double sum_rel;
} bn_ref;

static void bn_ref_compute(const bn_setup* s, bn_ref* r) {
    const size_t C = s->C, P = s->P, rows = bn_chunk_rows(C);
    const double u = ldexp(1.0, -24);
    double* block = calloc(8 * C, sizeof(double));
    r->mean = block;
    r->var = block + C;
    r->tol_mean = block + 2 * C;
    r->tol_var = block + 3 * C;
    r->def_tol_mean = block + 4 * C;
    r->def_tol_var = block + 5 * C;
    double* chunk_sum = block + 6 * C;
    double* chunk_abs = block + 7 * C;
    for (size_t p = 0; p < P; p++) {
        for (size_t c = 0; c < C; c++) {
            const double v = *at(&s->x_copy, p, c);
            r->mean[c] += v;
            r->tol_mean[c] += fabs(v);
        }
    }
    for (size_t c = 0; c < C; c++) {
        r->mean[c] /= (double)P;
        r->tol_mean[c] *= 1e-5 / (double)P;
    }
    for (size_t p = 0; p < P; p++) {
        for (size_t c = 0; c < C; c++) {
            const double d = *at(&s->x_copy, p, c) - r->mean[c];
            r->var[c] += d * d;
        }
    }
    for (size_t c = 0; c < C; c++) {
        r->var[c] /= (double)P;
        r->tol_var[c] = 1e-5 * r->var[c] + r->tol_mean[c] * r->tol_mean[c];
        r->def_tol_var[c] = (double)((rows < P ? rows : P) + 4) * u * r->var[c];
    }
    for (size_t first = 0; first < P; first += rows) {
        const size_t n = P - first < rows ? P - first : rows;
        for (size_t c = 0; c < C; c++) chunk_sum[c] = chunk_abs[c] = 0.0;
        for (size_t p = first; p < first + n; p++) {
            for (size_t c = 0; c < C; c++) {
                const double v = *at(&s->x_copy, p, c);
                chunk_sum[c] += v;
                chunk_abs[c] += fabs(v);
            }
        }
        for (size_t c = 0; c < C; c++) {
            const double err = (double)(n + 2) * u * chunk_abs[c];  // of the chunk's sum
            const double d = err / (double)n;                       // of its mean
            r->def_tol_mean[c] += err / (double)P;
            r->def_tol_var[c] += (double)n * (d * d + 2.0 * fabs(chunk_sum[c] / (double)n - r->mean[c]) * d) / (double)P;
        }
    }
    for (size_t c = 0; c < C; c++) {  // the final roundings to float
        r->def_tol_mean[c] += u * fabs(r->mean[c]);
        r->def_tol_var[c] += u * r->var[c];
    }
    const double sum_rel = (double)((rows < P ? rows : P) + 3) * u;
    r->sum_rel = sum_rel > 1e-5 ? sum_rel : 1e-5;
}

static void bn_ref_free(bn_ref* r) { free(r->mean); }

// Per channel, from one pass over the pixels with one variant's mean and inv_std: the sums of the
// backward's definition (g = act'(u) * dy), the sums of |terms|, dx's scale
// (max |gamma * inv_std| * max(|dy|, |g|)) and the allowance for elements near a kink.
typedef struct {
    double *sum_g, *sum_gx, *abs_g, *abs_gx, *dx_scale, *amb_g, *amb_gx;
} bn_terms;

// The same pass checks y: against the definition act(u) (y_expect NULL) or against y_expect,
// within 1e-5 * (1 + |expected| + |xhat * gamma| + |beta|).
static void bn_terms_compute(const bn_setup* s, const float* mean, const float* inv, bn_terms* t,
                             const tensor* y, const tensor* y_expect, close_acc* ay) {
    const kinks kk = kinks_of(s->act);
    const size_t C = s->C;
    double* block = calloc(7 * C, sizeof(double));
    double** fields[7] = {&t->sum_g, &t->sum_gx, &t->abs_g, &t->abs_gx, &t->dx_scale, &t->amb_g,
                          &t->amb_gx};
    for (int i = 0; i < 7; i++) *fields[i] = block + (size_t)i * C;
    const float* gamma = s->gamma_copy.p;
    const float* beta = s->beta_copy.p;
    for (size_t p = 0; p < s->P; p++) {
        const float* x = at(&s->x_copy, p, 0);
        const float* dyr = at(&s->dy_copy, p, 0);
        for (size_t c = 0; c < C; c++) {
            const float gm = gamma[c], bt = beta[c], dy = dyr[c];
            const float xhat = (x[c] - mean[c]) * inv[c];
            const float u = xhat * gm + bt;
            if (y != NULL) {
                const float r = y_expect != NULL ? *at(y_expect, p, c) : ref_act(u, s->act);
                const float tol = 1e-5f * (1.0f + fabsf(r) + fabsf(xhat * gm) + fabsf(bt));
                close_add(ay, p, c, *at(y, p, c), r, tol);
            }
            const float g = ref_dact(s->act, u, dy);
            t->sum_g[c] += (double)g;
            t->sum_gx[c] += (double)g * (double)xhat;
            t->abs_g[c] += fabs((double)g);
            t->abs_gx[c] += fabs((double)g * (double)xhat);
            const float m = fabsf(gm * inv[c]) * fmaxf(fabsf(dy), fabsf(g));
            if (m > t->dx_scale[c]) t->dx_scale[c] = m;
            if (near_kink(&kk, u, xhat, gm, bt)) {
                t->amb_g[c] += 2.0 * fabs((double)dy);
                t->amb_gx[c] += 2.0 * fabs((double)dy * (double)xhat);
            }
        }
    }
}

static void bn_terms_free(bn_terms* t) { free(t->sum_g); }

// Checks dx against dx_expect or, when NULL, against the definition from the variant's own
// statistics and dgamma, dbeta: ka * ((g - kb) - xhat * kc), ka = gamma * inv_std,
// kb = dbeta / P, kc = dgamma / P. Tolerance: 2e-5 * (1 + |xhat|) * the channel's dx scale, plus
// the kink allowances (the element's own 2 |ka * dy|, and the channel's through kb and kc).
static void bn_dx_pass(const bn_setup* s, const bn_terms* t, const float* mean, const float* inv,
                       const float* dgamma, const float* dbeta, const tensor* dx,
                       const tensor* dx_expect, close_acc* a) {
    const kinks kk = kinks_of(s->act);
    const float Pf = (float)s->P;
    for (size_t p = 0; p < s->P; p++) {
        const float* x = at(&s->x_copy, p, 0);
        const float* dyr = at(&s->dy_copy, p, 0);
        for (size_t c = 0; c < s->C; c++) {
            const float gm = s->gamma_copy.p[c], bt = s->beta_copy.p[c], dy = dyr[c];
            const float xhat = (x[c] - mean[c]) * inv[c];
            const float u = xhat * gm + bt;
            const float ka = gm * inv[c];
            float r;
            if (dx_expect != NULL) {
                r = *at(dx_expect, p, c);
            } else {
                const float g = ref_dact(s->act, u, dy);
                r = ka * ((g - dbeta[c] / Pf) - xhat * (dgamma[c] / Pf));
            }
            double tol = 2e-5 * (1.0 + fabs((double)xhat)) * t->dx_scale[c];
            if (t->amb_g[c] != 0.0) {
                tol += fabs((double)ka) * (t->amb_g[c] + fabs((double)xhat) * t->amb_gx[c]) / (double)s->P;
                if (near_kink(&kk, u, xhat, gm, bt)) tol += 2.0 * fabs((double)ka * (double)dy);
            }
            close_add(a, p, c, *at(dx, p, c), r, tol);
        }
    }
}

// One variant's outputs against mk_training.h's definition: the statistics against float64
// sums over x, the rest computed here from the variant's own statistics (and, for dx, its own
// dgamma and dbeta).
static void bn_check_definition(const bn_setup* s, const bn_out* o, const char* name,
                                const bn_ref* ref) {
    char what[96];
    close_acc a;
    const size_t C = s->C;
    const float* mean = o->mean.p;
    const float* var = o->var.p;
    const float* inv = o->inv.p;
    snprintf(what, sizeof what, "%s mean vs float64 definition", name);
    close_begin(&a, what);
    for (size_t c = 0; c < C; c++) close_add(&a, 0, c, mean[c], ref->mean[c], ref->def_tol_mean[c]);
    if (close_end(&a)) return;
    snprintf(what, sizeof what, "%s variance vs float64 definition", name);
    close_begin(&a, what);
    for (size_t c = 0; c < C; c++) close_add(&a, 0, c, var[c], ref->var[c], ref->def_tol_var[c]);
    if (close_end(&a)) return;
    snprintf(what, sizeof what, "%s inv_std vs 1 / sqrtf(variance + eps)", name);
    close_begin(&a, what);
    for (size_t c = 0; c < C; c++) {
        const float r = 1.0f / sqrtf(var[c] + s->eps);
        close_add(&a, 0, c, inv[c], r, ldexp(fabs((double)r), -23));
    }
    if (close_end(&a)) return;
    snprintf(what, sizeof what, "%s y vs definition", name);
    close_begin(&a, what);
    bn_terms t;
    bn_terms_compute(s, mean, inv, &t, &o->y, NULL, &a);
    if (!close_end(&a)) {
        snprintf(what, sizeof what, "%s dbeta vs definition", name);
        close_begin(&a, what);
        for (size_t c = 0; c < C; c++) {
            close_add(&a, 0, c, o->dbeta.p[c], t.sum_g[c], ref->sum_rel * t.abs_g[c] + t.amb_g[c]);
        }
        if (!close_end(&a)) {
            snprintf(what, sizeof what, "%s dgamma vs definition", name);
            close_begin(&a, what);
            for (size_t c = 0; c < C; c++) {
                close_add(&a, 0, c, o->dgamma.p[c], t.sum_gx[c],
                          ref->sum_rel * t.abs_gx[c] + t.amb_gx[c]);
            }
            if (!close_end(&a) && o->dx.map != NULL) {
                snprintf(what, sizeof what, "%s dx vs definition", name);
                close_begin(&a, what);
                bn_dx_pass(s, &t, mean, inv, o->dgamma.p, o->dbeta.p, &o->dx, NULL, &a);
                close_end(&a);
            }
        }
    }
    bn_terms_free(&t);
}

// NEON against scalar, with tolerances from scalar's values.
static void bn_compare_variants(const bn_setup* s, const bn_out* n, const bn_out* sc,
                                const bn_ref* ref) {
    close_acc a;
    const size_t C = s->C;
    close_begin(&a, "neon vs scalar mean");
    for (size_t c = 0; c < C; c++) close_add(&a, 0, c, n->mean.p[c], sc->mean.p[c], ref->tol_mean[c]);
    if (close_end(&a)) return;
    close_begin(&a, "neon vs scalar variance");
    for (size_t c = 0; c < C; c++) close_add(&a, 0, c, n->var.p[c], sc->var.p[c], ref->tol_var[c]);
    if (close_end(&a)) return;
    close_begin(&a, "neon vs scalar inv_std");
    for (size_t c = 0; c < C; c++) {
        const double r = fabs((double)sc->inv.p[c]);
        close_add(&a, 0, c, n->inv.p[c], sc->inv.p[c],
                  1e-5 * r + 0.6 * r * ref->tol_var[c] / ((double)sc->var.p[c] + (double)s->eps));
    }
    if (close_end(&a)) return;
    close_begin(&a, "neon vs scalar y");
    bn_terms t;
    bn_terms_compute(s, sc->mean.p, sc->inv.p, &t, &n->y, &sc->y, &a);
    if (!close_end(&a)) {
        close_begin(&a, "neon vs scalar dbeta");
        for (size_t c = 0; c < C; c++) {
            close_add(&a, 0, c, n->dbeta.p[c], sc->dbeta.p[c], 1e-5 * t.abs_g[c] + t.amb_g[c]);
        }
        if (!close_end(&a)) {
            close_begin(&a, "neon vs scalar dgamma");
            for (size_t c = 0; c < C; c++) {
                close_add(&a, 0, c, n->dgamma.p[c], sc->dgamma.p[c], 1e-5 * t.abs_gx[c] + t.amb_gx[c]);
            }
            if (!close_end(&a) && n->dx.map != NULL) {
                close_begin(&a, "neon vs scalar dx");
                bn_dx_pass(s, &t, sc->mean.p, sc->inv.p, NULL, NULL, &n->dx, &sc->dx, &a);
                close_end(&a);
            }
        }
    }
    bn_terms_free(&t);
}

// The whole outputs bitwise (2 threads against 1; and for the statistics of bitwise equality).
static int bn_outputs_bitwise(const bn_out* a, const bn_out* b, int regions) {
    const tensor* ta[7] = {&a->y, &a->dx, &a->mean, &a->var, &a->inv, &a->dgamma, &a->dbeta};
    const tensor* tb[7] = {&b->y, &b->dx, &b->mean, &b->var, &b->inv, &b->dgamma, &b->dbeta};
    const char* names[7] = {"y", "dx", "mean", "variance", "inv_std", "dgamma", "dbeta"};
    for (int i = 0; i < 7; i++) {
        if (ta[i]->map == NULL) continue;
        if (regions) {
            char what[64];
            snprintf(what, sizeof what, "neon 2 threads %s", names[i]);
            if (compare_bitwise_region(what, ta[i], tb[i])) return 0;
        } else if (!tensors_bitwise_equal(ta[i], tb[i])) {
            return 0;
        }
    }
    return 1;
}

// mk_batchnorm_update_running_f32 against the plain loop of its definition.
static void bn_check_running(const bn_setup* s, const bn_out* o) {
    const size_t C = s->C;
    float momentum;
    switch (rnd_range(0, 4)) {
        case 0: momentum = 0.1f; break;
        case 1: momentum = chance(50) ? 0.0f : 1.0f; break;
        default: momentum = (rnd_unit() + 1.0f) * 0.5f;
    }
    tensor rm, rv;
    tensor_alloc(&rm, 1, C, C, 0);
    tensor_alloc(&rv, 1, C, C, 0);
    float* rm0 = random_floats(C, 2.0f);
    float* rv0 = random_floats(C, 1.0f);
    for (size_t c = 0; c < C; c++) {
        rv0[c] = fabsf(rv0[c]) + 0.5f;
        rm.p[c] = rm0[c];
        rv.p[c] = rv0[c];
    }
    const mk_status status = mk_batchnorm_update_running_f32(C, o->mean.p, o->var.p, s->P, momentum,
                                                             rm.p, rv.p);
    if (run_ok("update_running", status) && !tensor_check_layout("running_mean", &rm, 1, NULL) &&
        !tensor_check_layout("running_var", &rv, 1, NULL)) {
        const float unbias = (float)s->P / (float)(s->P - 1);
        char what[96];
        snprintf(what, sizeof what, "update_running (momentum %.9g, count %zu)", (double)momentum, s->P);
        close_acc a;
        close_begin(&a, what);
        for (size_t c = 0; c < C; c++) {
            const float bm = o->mean.p[c], bv = o->var.p[c] * unbias;
            const float em = (1.0f - momentum) * rm0[c] + momentum * bm;
            const float ev = (1.0f - momentum) * rv0[c] + momentum * bv;
            const double tm = ldexp(fabs((1.0 - momentum) * rm0[c]) + fabs((double)momentum * bm), -22);
            const double tv = ldexp(fabs((1.0 - momentum) * rv0[c]) + fabs((double)momentum * bv), -22);
            close_add(&a, 0, c, rm.p[c], em, tm);
            close_add(&a, 1, c, rv.p[c], ev, tv);  // "pixel" 1: running_var
        }
        close_end(&a);
    }
    free(rm0);
    free(rv0);
    tensor_free(&rm);
    tensor_free(&rv);
}

static void bn_train_case(unsigned index) {
    case_begin(FAM_BN_TRAIN, index);
    rng_for_case(FAM_BN_TRAIN, index);
    bn_setup s;
    memset(&s, 0, sizeof s);
    s.act = random_activation((mk_activation_kind)(index % 6));
    s.eps = chance(50) ? 1e-5f : 1e-3f;
    const size_t C = s.C = chance(85) ? random_pool_channels() : rnd_range(71, 300);
    const int pooled = want_pool(index, 5);
    const size_t P = s.P = train_pixels(C, 2, pooled);
    random_stride(C, 35, &s.x_layout, &s.x_arg);
    random_stride(C, 35, &s.y_layout, &s.y_arg);
    s.in_place_fwd = chance(25);
    s.in_place_bwd = chance(25);
    if (s.in_place_fwd || s.in_place_bwd) {  // y == x, or dx == dy: one layout
        s.y_layout = s.x_layout;
        s.y_arg = same_layout_arg(s.x_layout, s.x_arg, C);
    }
    s.with_dx = s.in_place_bwd || chance(85);
    s.guard_ws = (index / 6) % 2;
    // Inputs: per channel an offset and a spread (sometimes a large offset over a small spread,
    // or a constant channel); gamma and beta wide enough for u to reach every kink.
    const int far_mean = chance(10), constants = chance(20), kinks = chance(40);
    const float dscale = chance(20) ? 100.0f : 1.0f;
    tensor_alloc(&s.gamma, 1, C, C, 1);
    tensor_alloc(&s.beta, 1, C, C, 1);
    tensor_alloc(&s.x, P, s.x_layout, C, 1);
    tensor_alloc(&s.dy, P, s.y_layout, C, 1);
    float* offset = random_floats(C, far_mean ? 50.0f : 4.0f);
    float* spread = malloc(C * sizeof(float));
    float kink_values[2];
    const int n_kinks = dact_kinks(s.act, kink_values);
    size_t kink_channels = 0;
    for (size_t c = 0; c < C; c++) {
        if (!far_mean && chance(50)) offset[c] = 0.0f;
        const float scales[3] = {1.0f, 0.1f, 10.0f};
        spread[c] = far_mean ? 0.05f : scales[rnd_range(0, 2)] * (0.5f + 0.5f * fabsf(rnd_unit()));
        if (constants && chance(10)) spread[c] = 0.0f;
        float gm = chance(35) ? 1.0f + 0.25f * rnd_unit() : 3.0f * rnd_unit();
        float bt = 3.0f * rnd_unit();
        if (kinks && chance(20)) {  // u == beta exactly, on a kink
            gm = chance(50) ? 0.0f : -0.0f;
            const size_t k = rnd_range(0, 2);
            bt = (int)k < n_kinks && isfinite(kink_values[k]) ? kink_values[k] : chance(50) ? 0.0f : -0.0f;
            kink_channels++;
        }
        s.gamma.p[c] = gm;
        s.beta.p[c] = bt;
    }
    for (size_t p = 0; p < P; p++) {
        for (size_t c = 0; c < C; c++) {
            *at(&s.x, p, c) = offset[c] + spread[c] * rnd_unit();
            *at(&s.dy, p, c) = chance(3) ? (chance(50) ? 0.0f : -0.0f) : dscale * rnd_unit();
        }
    }
    tensor_clone(&s.x_copy, &s.x, 1);
    tensor_clone(&s.dy_copy, &s.dy, 1);
    tensor_clone(&s.gamma_copy, &s.gamma, 1);
    tensor_clone(&s.beta_copy, &s.beta, 1);
    char act_text[64];
    format_activation(act_text, sizeof act_text, s.act);
    describe("C%zu P%zu (chunk_rows %zu) x_stride %zu y_stride %zu %s eps %g%s%s%s%s%s "
             "kink_channels %zu", C, P, bn_chunk_rows(C), s.x_arg, s.y_arg, act_text,
             (double)s.eps, s.in_place_fwd ? " y==x" : "", s.in_place_bwd ? " dx==dy" : "",
             s.with_dx ? "" : " dx:NULL", far_mean ? " far-mean" : "",
             constants ? " constant-channels" : "", kink_channels);

    bn_ref ref;
    bn_ref_compute(&s, &ref);

    mk_batchnorm_train_f32_op *op_s = NULL, *op_n = NULL;
    bn_out out_s, out_n, out_p;
    memset(&out_s, 0, sizeof out_s);
    memset(&out_n, 0, sizeof out_n);
    memset(&out_p, 0, sizeof out_p);
    if (!run_ok("create(scalar)", mk_batchnorm_train_f32_create(C, s.eps, s.act, MK_VARIANT_SCALAR, &op_s)) ||
        !run_ok("create(neon)", mk_batchnorm_train_f32_create(C, s.eps, s.act, MK_VARIANT_NEON, &op_n))) {
        goto done;
    }
    if (mk_batchnorm_train_f32_variant(op_n) != MK_VARIANT_NEON ||
        mk_batchnorm_train_f32_variant(op_s) != MK_VARIANT_SCALAR) {
        fail("ops report variants %s (neon) and %s (scalar)",
             mk_variant_name(mk_batchnorm_train_f32_variant(op_n)),
             mk_variant_name(mk_batchnorm_train_f32_variant(op_s)));
    }
    if (bn_run(&s, op_s, "scalar", NULL, &out_s) && bn_run(&s, op_n, "neon", NULL, &out_n)) {
        // NEON against the definition; when its outputs are not bitwise scalar's, scalar too,
        // and the two against each other.
        bn_check_definition(&s, &out_n, "neon", &ref);
        if (bn_outputs_bitwise(&out_n, &out_s, 0)) {
            g_stats[FAM_BN_TRAIN].exact_cases++;
        } else {
            bn_check_definition(&s, &out_s, "scalar", &ref);
            bn_compare_variants(&s, &out_n, &out_s, &ref);
        }
        bn_check_running(&s, &out_n);
        if (pooled) {
            g_stats[FAM_BN_TRAIN].pool_checks++;
            if (bn_run(&s, op_n, "neon 2 threads", g_pool2, &out_p)) bn_outputs_bitwise(&out_p, &out_n, 1);
        }
    }
done:
    mk_batchnorm_train_f32_destroy(op_s);
    mk_batchnorm_train_f32_destroy(op_n);
    bn_out_free(&out_s);
    bn_out_free(&out_n);
    bn_out_free(&out_p);
    tensor_free(&s.x);
    tensor_free(&s.dy);
    tensor_free(&s.gamma);
    tensor_free(&s.beta);
    tensor_free(&s.x_copy);
    tensor_free(&s.dy_copy);
    tensor_free(&s.gamma_copy);
    tensor_free(&s.beta_copy);
    free(offset);
    free(spread);
    bn_ref_free(&ref);
    case_end();
}

// ---- Activation gradient --------------------------------------------------------------------

// Runs reshape and run (dx and dbias are the caller's, dbias may be NULL; with dbias NULL the
// plan's workspace stays NULL). 1 when every status is OK and the workspace guards hold.
static int act_bwd_run(const mk_activation_backward_f32_op* op, size_t P, size_t u_arg,
                       size_t dy_arg, size_t dx_arg, const float* u, const float* dy, float* dx,
                       float* dbias, int guard_ws, mk_threadpool* pool, const char* name) {
    char what[96];
    mk_activation_backward_f32_plan plan;
    snprintf(what, sizeof what, "reshape(%s)", name);
    if (!run_ok(what, mk_activation_backward_f32_reshape(op, P, u_arg, dy_arg, dx_arg, pool, &plan))) {
        return 0;
    }
    workspace ws;
    memset(&ws, 0, sizeof ws);
    plan.workspace = dbias != NULL ? workspace_get(&ws, plan.workspace_bytes, guard_ws) : NULL;
    snprintf(what, sizeof what, "run(%s)", name);
    int ok = run_ok(what, mk_activation_backward_f32_run(op, &plan, u, dy, dx, dbias, pool));
    if (workspace_release(&ws)) ok = 0;
    return ok;
}

static const float g_act_bwd_special[] = {0.0f, -0.0f, 6.0f, -6.0f, -3.0f, 3.0f, 2.9999998f,
                                          3.0000002f, -2.9999998f, -3.0000002f, 5.9999995f,
                                          6.0000005f, 1e-40f, -1e-40f, INFINITY, -INFINITY, NAN};

static void act_bwd_case(unsigned index) {
    case_begin(FAM_ACT_BWD, index);
    rng_for_case(FAM_ACT_BWD, index);
    const mk_activation act = random_activation((mk_activation_kind)(index % 6));
    const int hardswish = act.kind == MK_ACTIVATION_HARDSWISH;
    const size_t C = chance(85) ? random_pool_channels() : rnd_range(71, 300);
    const int pooled = want_pool(index, 5);
    const size_t P = train_pixels(C, 1, pooled);
    size_t u_layout, u_arg, dy_layout, dy_arg, dx_layout, dx_arg;
    random_stride(C, 35, &u_layout, &u_arg);
    random_stride(C, 35, &dy_layout, &dy_arg);
    random_stride(C, 35, &dx_layout, &dx_arg);
    const int in_place = chance(25);
    if (in_place) {
        dx_layout = dy_layout;
        dx_arg = same_layout_arg(dy_layout, dy_arg, C);
    }
    const int with_bias = chance(80), guard_ws = (index / 6) % 2;
    // mk_training.h: for NONE, RELU, RELU6 and CLAMP, u may be the activation's output. CLAMP is
    // left out: its rule lo <= u <= hi passes every output value, so from the output dx = dy
    // even where the input lay outside [lo, hi] (the header's claim does not hold for it).
    const int output_check = (act.kind == MK_ACTIVATION_NONE || act.kind == MK_ACTIVATION_RELU ||
                              act.kind == MK_ACTIVATION_RELU6) && (index / 6) % 2 == 0;
    const float dscale = chance(20) ? 50.0f : 1.0f;
    char act_text[64];
    format_activation(act_text, sizeof act_text, act);
    describe("C%zu P%zu (chunk_rows %zu) u_stride %zu dy_stride %zu dx_stride %zu %s %s dbias:%s",
             C, P, bn_chunk_rows(C), u_arg, dy_arg, dx_arg, act_text,
             in_place ? "dx==dy" : "out-of-place", with_bias ? "yes" : "NULL");

    tensor u, dy, u_copy, dy_copy, dx_s = {0}, dx_n = {0}, dx_p = {0}, dx_o = {0}, u_out = {0};
    tensor ref = {0}, b_s = {0}, b_n = {0}, b_p = {0}, b_o = {0};
    tensor_alloc(&u, P, u_layout, C, 1);
    tensor_alloc(&dy, P, dy_layout, C, 1);
    for (size_t p = 0; p < P; p++) {
        for (size_t c = 0; c < C; c++) {
            float v = 8.0f * rnd_unit();
            if (chance(20)) {
                if (act.kind == MK_ACTIVATION_CLAMP && chance(40)) {
                    v = chance(50) ? act.min : act.max;  // on a bound
                    if (chance(30)) v = nextafterf(v, chance(50) ? INFINITY : -INFINITY);
                } else {
                    v = g_act_bwd_special[rnd_range(0, sizeof g_act_bwd_special / sizeof g_act_bwd_special[0] - 1)];
                }
            }
            *at(&u, p, c) = v;
            *at(&dy, p, c) = chance(3) ? (chance(50) ? 0.0f : -0.0f) : dscale * rnd_unit();
        }
    }
    tensor_clone(&u_copy, &u, 1);
    tensor_clone(&dy_copy, &dy, 1);
    if (with_bias) {
        tensor_alloc(&b_s, 1, C, C, 0);
        tensor_alloc(&b_n, 1, C, C, 0);
    }
    mk_activation_backward_f32_op *op_s = NULL, *op_n = NULL;
    if (!run_ok("create(scalar)", mk_activation_backward_f32_create(C, act, MK_VARIANT_SCALAR, &op_s)) ||
        !run_ok("create(neon)", mk_activation_backward_f32_create(C, act, MK_VARIANT_NEON, &op_n))) {
        goto done;
    }
    if (mk_activation_backward_f32_variant(op_n) != MK_VARIANT_NEON ||
        mk_activation_backward_f32_variant(op_s) != MK_VARIANT_SCALAR) {
        fail("ops report variants %s (neon) and %s (scalar)",
             mk_variant_name(mk_activation_backward_f32_variant(op_n)),
             mk_variant_name(mk_activation_backward_f32_variant(op_s)));
    }
    // dx: a clone of dy when in place (the run then reads dy from it), else a fresh tensor.
#define ACT_BWD_DX(t)                                       \
    do {                                                    \
        if (in_place) {                                     \
            tensor_clone(&(t), &dy_copy, 0);                \
        } else {                                            \
            tensor_alloc(&(t), P, dx_layout, C, 0);         \
        }                                                   \
    } while (0)
#define ACT_BWD_RUN(op, uu, t, bias, pool, name)                                                    \
    act_bwd_run((op), P, u_arg, dy_arg, dx_arg, (uu).p, in_place ? (t).p : dy.p, (t).p,             \
                with_bias ? (bias).p : NULL, guard_ws, (pool), (name))
    ACT_BWD_DX(dx_s);
    ACT_BWD_DX(dx_n);
    if (!ACT_BWD_RUN(op_s, u, dx_s, b_s, NULL, "scalar") || !ACT_BWD_RUN(op_n, u, dx_n, b_n, NULL, "neon")) {
        goto done;
    }
    if (tensor_check_layout("scalar dx", &dx_s, !in_place, NULL) ||
        tensor_check_layout("neon dx", &dx_n, !in_place, NULL) ||
        (with_bias && (tensor_check_layout("scalar dbias", &b_s, 1, NULL) ||
                       tensor_check_layout("neon dbias", &b_n, 1, NULL))) ||
        tensor_check_layout("input u", &u, 0, &u_copy) ||
        tensor_check_layout("input dy", &dy, 0, &dy_copy)) {
        goto done;
    }
    const int mode = hardswish ? CMP_ULP1 : CMP_EXACT;
    compare("neon vs scalar dx", mode, &dx_n, &dx_s, 0);
    tensor_alloc(&ref, P, C, C, 0);
    for (size_t p = 0; p < P; p++) {
        for (size_t c = 0; c < C; c++) *at(&ref, p, c) = ref_dact(act, *at(&u_copy, p, c), *at(&dy_copy, p, c));
    }
    compare("neon dx vs definition", mode, &dx_n, &ref, 0);
    compare("scalar dx vs definition", mode, &dx_s, &ref, 0);
    if (with_bias) {
        close_acc a, d;
        // A chunk of n rows summed in float32: within (n + 2) * 2^-24 * sum|dx| of float64's sum.
        const size_t rows = bn_chunk_rows(C) < P ? bn_chunk_rows(C) : P;
        const double sum_rel = fmax(1e-5, ldexp((double)(rows + 2), -24));
        close_begin(&a, "neon vs scalar dbias");
        close_begin(&d, "neon dbias vs float64 sum of the definition");
        for (size_t c = 0; c < C; c++) {
            double sum = 0.0, abs_sum = 0.0;
            for (size_t p = 0; p < P; p++) {
                sum += (double)*at(&ref, p, c);
                abs_sum += fabs((double)*at(&ref, p, c));
            }
            close_add(&a, 0, c, b_n.p[c], b_s.p[c], 1e-5 * abs_sum);
            close_add(&d, 0, c, b_n.p[c], sum, sum_rel * abs_sum);
        }
        if (!close_end(&a)) close_end(&d);
    }
    if (output_check) {  // the same dx and dbias from u = act(u)
        tensor_clone(&u_out, &u_copy, 1);
        for (size_t p = 0; p < P; p++) {
            for (size_t c = 0; c < C; c++) *at(&u_out, p, c) = ref_act(*at(&u_copy, p, c), act);
        }
        ACT_BWD_DX(dx_o);
        if (with_bias) tensor_alloc(&b_o, 1, C, C, 0);
        if (ACT_BWD_RUN(op_n, u_out, dx_o, b_o, NULL, "neon, u = act(u)")) {
            if (!compare("neon dx from the output vs from the input", CMP_EXACT, &dx_o, &dx_n, 0) &&
                with_bias) {
                compare("neon dbias from the output vs from the input", CMP_EXACT, &b_o, &b_n, 0);
            }
        }
    }
    if (pooled) {
        g_stats[FAM_ACT_BWD].pool_checks++;
        ACT_BWD_DX(dx_p);
        if (with_bias) tensor_alloc(&b_p, 1, C, C, 0);
        if (ACT_BWD_RUN(op_n, u, dx_p, b_p, g_pool2, "neon, 2 threads")) {
            if (!compare_bitwise_region("neon 2 threads dx", &dx_p, &dx_n) && with_bias) {
                compare_bitwise_region("neon 2 threads dbias", &b_p, &b_n);
            }
        }
    }
#undef ACT_BWD_RUN
#undef ACT_BWD_DX
done:
    mk_activation_backward_f32_destroy(op_s);
    mk_activation_backward_f32_destroy(op_n);
    tensor* all[] = {&u, &dy, &u_copy, &dy_copy, &dx_s, &dx_n, &dx_p, &dx_o, &u_out,
                     &ref, &b_s, &b_n, &b_p, &b_o};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Families: depthwise convolution backward and pooling backward (mk_training.h)
//
// Depthwise backward (dwconv2d_backward.c, dwgrad_template.h): the input gradient gathers, for
// each input pixel, the (output pixel, tap) pairs that read it, in tap order, from 0; the weight
// gradient sums dy * x (and dy, for dbias) in float32 over the output pixels of a chunk of
// chunk_rows = out_w >= 1024 ? 1 : ceil(1024 / out_w) output rows (fixed by the shape), pixel by
// pixel, and the chunks in order in float64, so 2 threads must give 1 thread's bits. NEON vs
// scalar: within 1e-5 * the sum of |terms| (+1e-30), in case a compiler contracts a * b + c on
// one variant. Against the float64 definition (padding reads 0): dx within 1e-5 of its sum of
// |terms| (at most 121 terms, so float32 summation stays well inside), dweight and dbias within
// max(1e-5, (chunk pixels + 3) * 2^-24) of theirs (recursive summation's bound over a chunk).
//
// Pooling backward (pooling_backward.c, poolgrad_template.h): both variants run the same portable
// loops (no FMA, no reassociation), so everything is compared bitwise: the max forward's y and
// indices (PyTorch's rule: v is taken when v > best or v is NaN, from -inf and the window's first
// cell), and dx against scalar and against the plain scatter-add in ascending output order in
// float (max: dy to the pixel its index names; average: dy / divisor; adaptive: dy / the cell
// count), which adds the same values in the same order per input pixel as the gathers do.

static size_t dwb_chunk_rows(size_t out_w) { return out_w >= 1024 ? 1 : (1024 + out_w - 1) / out_w; }

// Every valid element still holds the sentinel (a failing call wrote nothing).
static int tensor_untouched(const tensor* t) {
    for (size_t i = 0; i < t->pixels; i++) {
        for (size_t c = 0; c < t->channels; c++) {
            if (!is_sentinel(*at(t, i, c))) return 0;
        }
    }
    return 1;
}

// ---- Depthwise convolution backward ---------------------------------------------------------

typedef struct {
    mk_dwconv2d_params p;
    size_t batch, h, w, oh, ow, C, T;
    size_t in_layout, in_arg, out_layout, out_arg;
    int with_bias, guard_ws;
    tensor x, dy, x_copy, dy_copy;  // inputs, flush against PROT_NONE
    const float* weights;           // [C][1][kh][kw]
} dwb_setup;

typedef struct {
    tensor dx, dw, db;  // db unallocated without dbias
} dwb_out;

static void dwb_out_free(dwb_out* o) {
    tensor_free(&o->dx);
    tensor_free(&o->dw);
    tensor_free(&o->db);
}

// reshape (for `pool`'s thread count), then on `pool` the weight gradient and the input gradient.
// With `late_weights`, the operator holds no weights yet: the weight gradient runs without them,
// the input gradient must then be INVALID_ARGUMENT and write nothing, and set_weights(late_weights)
// comes before the real one. Checks the statuses, the plan's output size, every output's gaps and
// guards, the workspace's guards and that no input changed. 1 when all is well.
static int dwb_run(const dwb_setup* s, mk_dwconv2d_backward_f32_op* op, const char* name,
                   mk_threadpool* pool, const float* late_weights, dwb_out* o) {
    char what[96];
    memset(o, 0, sizeof *o);
    tensor_alloc(&o->dx, s->batch * s->h * s->w, s->in_layout, s->C, 0);
    tensor_alloc(&o->dw, s->C, s->T, s->T, 0);
    if (s->with_bias) tensor_alloc(&o->db, 1, s->C, s->C, 0);
    mk_dwconv2d_backward_f32_plan plan;
    snprintf(what, sizeof what, "reshape(%s)", name);
    if (!run_ok(what, mk_dwconv2d_backward_f32_reshape(op, s->batch, s->h, s->w, s->in_arg,
                                                       s->out_arg, pool, &plan))) {
        return 0;
    }
    if (plan.out_h != s->oh || plan.out_w != s->ow || plan.workspace_bytes == 0) {
        fail("reshape(%s): output %zux%zu (want %zux%zu), workspace_bytes %zu", name, plan.out_h,
             plan.out_w, s->oh, s->ow, plan.workspace_bytes);
        return 0;
    }
    workspace ws;
    plan.workspace = workspace_get(&ws, plan.workspace_bytes, s->guard_ws);
    snprintf(what, sizeof what, "weight_gradient(%s)", name);
    int ok = run_ok(what, mk_dwconv2d_backward_f32_weight_gradient(
                              op, &plan, s->x.p, s->dy.p, o->dw.p, s->with_bias ? o->db.p : NULL, pool));
    if (ok && late_weights != NULL) {
        const mk_status st = mk_dwconv2d_backward_f32_input_gradient(op, &plan, s->dy.p, o->dx.p, pool);
        if (st != MK_STATUS_INVALID_ARGUMENT || !tensor_untouched(&o->dx)) {
            fail("input_gradient(%s) before set_weights = %s (want INVALID_ARGUMENT)%s", name,
                 status_name(st), tensor_untouched(&o->dx) ? "" : " and wrote dx");
            ok = 0;
        }
        snprintf(what, sizeof what, "set_weights(%s)", name);
        ok = ok && run_ok(what, mk_dwconv2d_backward_f32_set_weights(op, late_weights));
    }
    if (ok) {
        workspace_scramble(&ws);
        snprintf(what, sizeof what, "input_gradient(%s)", name);
        ok = run_ok(what, mk_dwconv2d_backward_f32_input_gradient(op, &plan, s->dy.p, o->dx.p, pool));
    }
    if (workspace_release(&ws)) ok = 0;
    if (!ok) return 0;
    snprintf(what, sizeof what, "%s dx", name);
    if (tensor_check_layout(what, &o->dx, 1, NULL)) return 0;
    snprintf(what, sizeof what, "%s dweight", name);
    if (tensor_check_layout(what, &o->dw, 1, NULL)) return 0;
    snprintf(what, sizeof what, "%s dbias", name);
    if (s->with_bias && tensor_check_layout(what, &o->db, 1, NULL)) return 0;
    snprintf(what, sizeof what, "input x (after %s)", name);
    if (tensor_check_layout(what, &s->x, 0, &s->x_copy)) return 0;
    snprintf(what, sizeof what, "input dy (after %s)", name);
    if (tensor_check_layout(what, &s->dy, 0, &s->dy_copy)) return 0;
    return 1;
}

// The definition in float64: each sum and its sum of |terms|.
typedef struct {
    double *dx, *dx_abs, *dw, *dw_abs, *db, *db_abs;
} dwb_ref;

static void dwb_ref_compute(const dwb_setup* s, dwb_ref* r) {
    const size_t C = s->C, T = s->T, in_pixels = s->batch * s->h * s->w;
    const mk_dwconv2d_params* p = &s->p;
    double* m = calloc(2 * in_pixels * C + 2 * C * T + 2 * C, sizeof(double));
    r->dx = m;
    r->dx_abs = r->dx + in_pixels * C;
    r->dw = r->dx_abs + in_pixels * C;
    r->dw_abs = r->dw + C * T;
    r->db = r->dw_abs + C * T;
    r->db_abs = r->db + C;
    for (size_t n = 0; n < s->batch; n++) {
        for (size_t oy = 0; oy < s->oh; oy++) {
            for (size_t ox = 0; ox < s->ow; ox++) {
                const float* d = at(&s->dy_copy, (n * s->oh + oy) * s->ow + ox, 0);
                for (size_t c = 0; c < C; c++) {
                    r->db[c] += (double)d[c];
                    r->db_abs[c] += fabs((double)d[c]);
                }
                for (size_t ky = 0; ky < p->kernel_h; ky++) {
                    const long iy = (long)(oy * p->stride_h + ky * p->dilation_h) - (long)p->pad_top;
                    if (iy < 0 || iy >= (long)s->h) continue;
                    for (size_t kx = 0; kx < p->kernel_w; kx++) {
                        const long ix = (long)(ox * p->stride_w + kx * p->dilation_w) - (long)p->pad_left;
                        if (ix < 0 || ix >= (long)s->w) continue;
                        const size_t t = ky * p->kernel_w + kx;
                        const size_t i = (n * s->h + (size_t)iy) * s->w + (size_t)ix;
                        const float* xv = at(&s->x_copy, i, 0);
                        double* dx = r->dx + i * C;
                        double* dxa = r->dx_abs + i * C;
                        for (size_t c = 0; c < C; c++) {
                            const double a = (double)d[c] * (double)s->weights[c * T + t];
                            const double b = (double)d[c] * (double)xv[c];
                            dx[c] += a;
                            dxa[c] += fabs(a);
                            r->dw[c * T + t] += b;
                            r->dw_abs[c * T + t] += fabs(b);
                        }
                    }
                }
            }
        }
    }
}

// One variant's outputs against the definition.
static void dwb_check_definition(const dwb_setup* s, const dwb_out* o, const char* name,
                                 const dwb_ref* r) {
    char what[96];
    const size_t C = s->C, T = s->T, in_pixels = s->batch * s->h * s->w;
    size_t chunk_pixels = dwb_chunk_rows(s->ow) * s->ow;
    if (chunk_pixels > s->batch * s->oh * s->ow) chunk_pixels = s->batch * s->oh * s->ow;
    const double sum_rel = fmax(1e-5, ldexp((double)(chunk_pixels + 3), -24));
    close_acc a;
    snprintf(what, sizeof what, "%s dx vs definition", name);
    close_begin(&a, what);
    for (size_t i = 0; i < in_pixels; i++) {
        for (size_t c = 0; c < C; c++) {
            close_add(&a, i, c, *at(&o->dx, i, c), r->dx[i * C + c], 1e-5 * r->dx_abs[i * C + c] + 1e-30);
        }
    }
    if (close_end(&a)) return;
    snprintf(what, sizeof what, "%s dweight vs definition (pixel = channel, channel = tap)", name);
    close_begin(&a, what);
    for (size_t c = 0; c < C; c++) {
        for (size_t t = 0; t < T; t++) {
            close_add(&a, c, t, o->dw.p[c * T + t], r->dw[c * T + t], sum_rel * r->dw_abs[c * T + t] + 1e-30);
        }
    }
    if (close_end(&a) || !s->with_bias) return;
    snprintf(what, sizeof what, "%s dbias vs definition", name);
    close_begin(&a, what);
    for (size_t c = 0; c < C; c++) close_add(&a, 0, c, o->db.p[c], r->db[c], sum_rel * r->db_abs[c] + 1e-30);
    close_end(&a);
}

// NEON against scalar: 1e-5 of the definition's sums of |terms|.
static void dwb_compare_variants(const dwb_setup* s, const dwb_out* n, const dwb_out* sc,
                                 const dwb_ref* r) {
    const size_t C = s->C, T = s->T, in_pixels = s->batch * s->h * s->w;
    close_acc a;
    close_begin(&a, "neon vs scalar dx");
    for (size_t i = 0; i < in_pixels; i++) {
        for (size_t c = 0; c < C; c++) {
            close_add(&a, i, c, *at(&n->dx, i, c), *at(&sc->dx, i, c), 1e-5 * r->dx_abs[i * C + c] + 1e-30);
        }
    }
    if (close_end(&a)) return;
    close_begin(&a, "neon vs scalar dweight (pixel = channel, channel = tap)");
    for (size_t c = 0; c < C; c++) {
        for (size_t t = 0; t < T; t++) {
            close_add(&a, c, t, n->dw.p[c * T + t], sc->dw.p[c * T + t], 1e-5 * r->dw_abs[c * T + t] + 1e-30);
        }
    }
    if (close_end(&a) || !s->with_bias) return;
    close_begin(&a, "neon vs scalar dbias");
    for (size_t c = 0; c < C; c++) close_add(&a, 0, c, n->db.p[c], sc->db.p[c], 1e-5 * r->db_abs[c] + 1e-30);
    close_end(&a);
}

// The outputs bitwise: whole regions (2 threads against 1, reporting) or valid elements (silent).
static int dwb_outputs_bitwise(const dwb_out* a, const dwb_out* b, int regions) {
    const tensor* ta[3] = {&a->dx, &a->dw, &a->db};
    const tensor* tb[3] = {&b->dx, &b->dw, &b->db};
    const char* names[3] = {"neon 2 threads dx", "neon 2 threads dweight", "neon 2 threads dbias"};
    for (int i = 0; i < 3; i++) {
        if (ta[i]->map == NULL) continue;
        if (regions ? compare_bitwise_region(names[i], ta[i], tb[i]) : !tensors_bitwise_equal(ta[i], tb[i])) {
            return 0;
        }
    }
    return 1;
}

// The documented errors, on this case's shape (which = index % 6; 4 and 5: none).
static void dwb_error_checks(const dwb_setup* s, mk_dwconv2d_backward_f32_op* op, unsigned which) {
    mk_dwconv2d_backward_f32_plan plan;
    if (which == 0) {  // an activation at create
        mk_dwconv2d_params q = s->p;
        q.activation = random_activation((mk_activation_kind)rnd_range(1, 5));
        const mk_variant vs[2] = {MK_VARIANT_NEON, MK_VARIANT_SCALAR};
        for (int k = 0; k < 2; k++) {
            mk_dwconv2d_backward_f32_op* bad = NULL;
            const mk_status st = mk_dwconv2d_backward_f32_create(&q, s->weights, vs[k], &bad);
            if (st != MK_STATUS_INVALID_ARGUMENT || bad != NULL) {
                fail("create(%s, activation %s) = %s, op %s (want INVALID_ARGUMENT, NULL)",
                     mk_variant_name(vs[k]), activation_name(q.activation.kind), status_name(st),
                     bad == NULL ? "NULL" : "set");
            }
            mk_dwconv2d_backward_f32_destroy(bad);
        }
        return;
    }
    if (which > 3) return;
    if (!run_ok("reshape(neon, errors)", mk_dwconv2d_backward_f32_reshape(op, s->batch, s->h, s->w, s->in_arg,
                                                                          s->out_arg, NULL, &plan))) {
        return;
    }
    workspace ws;
    plan.workspace = workspace_get(&ws, plan.workspace_bytes, 0);
    dwb_out o;
    memset(&o, 0, sizeof o);
    tensor_alloc(&o.dx, s->batch * s->h * s->w, s->in_layout, s->C, 0);
    tensor_alloc(&o.dw, s->C, s->T, s->T, 0);
    mk_status a = MK_STATUS_OK, b = MK_STATUS_OK;
    if (which == 1) {  // a 1-thread plan on the 2-thread pool
        a = mk_dwconv2d_backward_f32_input_gradient(op, &plan, s->dy.p, o.dx.p, g_pool2);
        b = mk_dwconv2d_backward_f32_weight_gradient(op, &plan, s->x.p, s->dy.p, o.dw.p, NULL, g_pool2);
        if (a != MK_STATUS_INVALID_ARGUMENT || b != MK_STATUS_INVALID_ARGUMENT) {
            fail("a 1-thread plan run on 2 threads: input_gradient = %s, weight_gradient = %s "
                 "(want INVALID_ARGUMENT)", status_name(a), status_name(b));
        }
    } else if (which == 2) {  // dx overlapping dy: dx starts at dy's last element
        const size_t in_extent = (s->batch * s->h * s->w - 1) * s->in_layout + s->C;
        const size_t out_extent = (s->batch * s->oh * s->ow - 1) * s->out_layout + s->C;
        float* buf = malloc((in_extent + out_extent) * sizeof(float));
        for (size_t i = 0; i < in_extent + out_extent; i++) buf[i] = 0.5f;
        a = mk_dwconv2d_backward_f32_input_gradient(op, &plan, buf, buf + out_extent - 1, NULL);
        int untouched = 1;
        for (size_t i = 0; i < in_extent + out_extent; i++) untouched &= buf[i] == 0.5f;
        if (a != MK_STATUS_INVALID_ARGUMENT || !untouched) {
            fail("input_gradient with dx overlapping dy = %s (want INVALID_ARGUMENT)%s",
                 status_name(a), untouched ? "" : ", and it wrote");
        }
        free(buf);
    } else {  // no workspace for the weight gradient
        plan.workspace = NULL;
        b = mk_dwconv2d_backward_f32_weight_gradient(op, &plan, s->x.p, s->dy.p, o.dw.p, NULL, NULL);
        if (b != MK_STATUS_INVALID_ARGUMENT) {
            fail("weight_gradient without a workspace = %s (want INVALID_ARGUMENT)", status_name(b));
        }
    }
    if (!tensor_untouched(&o.dx) || !tensor_untouched(&o.dw)) fail("a failing call wrote dx or dweight");
    dwb_out_free(&o);
    workspace_release(&ws);
}

static void dwb_case(unsigned index) {
    case_begin(FAM_DW_BWD, index);
    rng_for_case(FAM_DW_BWD, index);
    const int pooled = want_pool(index, 5);  // every shape (index % 8) in turn
    const unsigned shape = index % 8;
    size_t kh = 3, kw = 3, sh = 1, sw = 1, dh = 1, dwl = 1;
    switch (shape) {
        case 0: break;                                              // 3x3 s1 (9 taps)
        case 1: sw = 2; sh = rnd_range(1, 2); break;                // 3x3 s2
        case 2: kh = kw = 5; break;                                 // 5x5 s1 (25 taps)
        case 3: kh = kw = 5; sw = 2; sh = rnd_range(1, 2); break;   // 5x5 s2
        case 4: {  // generic kernels (9x1 and 1x9 have 9 taps too), dilation, unequal strides
            static const size_t shapes[][2] = {{1, 1}, {2, 3}, {3, 2}, {7, 7}, {1, 5}, {5, 1}, {4, 4},
                                               {9, 1}, {1, 9}, {11, 1}, {1, 11}, {6, 6}, {3, 5}};
            const size_t* k = shapes[rnd_range(0, sizeof shapes / sizeof shapes[0] - 1)];
            kh = k[0];
            kw = k[1];
            dh = rnd_range(1, 2);
            dwl = rnd_range(1, 2);
            sh = rnd_range(1, 3);
            sw = rnd_range(1, 3);
            if (sh == sw && chance(70)) sw = sh % 3 + 1;
            break;
        }
        case 5:  // dilated 3x3 / 5x5
            kh = kw = chance(50) ? 3 : 5;
            dh = 2;
            dwl = rnd_range(1, 2);
            sh = rnd_range(1, 2);
            sw = rnd_range(1, 3);
            break;
        case 6:  // anything
            kh = rnd_range(1, 7);
            kw = rnd_range(1, 7);
            sh = rnd_range(1, 3);
            sw = rnd_range(1, 3);
            dh = rnd_range(1, 2);
            dwl = rnd_range(1, 2);
            break;
        default:  // large outputs: several weight-gradient chunks (below)
            kh = kw = chance(40) ? 3 : chance(50) ? 5 : rnd_range(1, 4);
    }
    const size_t eh = dh * (kh - 1) + 1, ew = dwl * (kw - 1) + 1;
    size_t pt, pb, pl, pr;
    random_pads(eh, &pt, &pb);
    random_pads(ew, &pl, &pr);
    size_t C, h, w, batch = chance(60) ? 1 : chance(60) ? 2 : 3;
    int wide = 0;
    if (shape == 7) {  // > 1024 output pixels, or out_w >= 1024 (chunk_rows 1)
        wide = chance(25);
        C = rnd_range(1, wide ? 8 : 16);
        if (wide) {
            h = rnd_range(1, 2);
            w = rnd_range(1030, 1100);
            batch = rnd_range(1, 2);
        } else {
            h = rnd_range(24, 40);
            w = rnd_range(28, 40);
        }
    } else {
        if (pooled && chance(50)) {
            C = rnd_range(257, 300);  // two 256-channel tiles of the weight gradient
        } else {
            C = chance(85) ? random_pool_channels() : rnd_range(71, 300);
        }
        if (chance(8)) {  // 1x1 input: the pads cover the rest of the kernel
            h = w = 1;
            if (eh > 1) { pt = rnd_range(0, eh - 1); pb = eh - 1 - pt; }
            if (ew > 1) { pl = rnd_range(0, ew - 1); pr = ew - 1 - pl; }
        } else if (C > 128) {
            h = rnd_range(1, 8);
            w = rnd_range(1, 10);
        } else {
            h = rnd_range(1, 12);
            w = chance(30) ? rnd_range(13, 40) : rnd_range(1, 12);
        }
    }
    h = fit_input(h, eh, pt, pb);
    w = fit_input(w, ew, pl, pr);

    dwb_setup s;
    memset(&s, 0, sizeof s);
    const mk_activation none = {MK_ACTIVATION_NONE, 0.0f, 0.0f};
    s.p = (mk_dwconv2d_params){C, kh, kw, sh, sw, dh, dwl, pt, pl, pb, pr, none};
    s.batch = batch;
    s.h = h;
    s.w = w;
    s.C = C;
    s.T = kh * kw;
    s.oh = (h + pt + pb - eh) / sh + 1;
    s.ow = (w + pl + pr - ew) / sw + 1;
    random_stride(C, 35, &s.in_layout, &s.in_arg);
    random_stride(C, 35, &s.out_layout, &s.out_arg);
    s.with_bias = chance(80);
    s.guard_ws = chance(50);
    const unsigned weights_mode = (index / 8) % 4;  // 1: NULL at create, 2: replaced by set_weights
    const float xscale = chance(30) ? 4.0f : 1.0f, dscale = chance(20) ? 50.0f : 1.0f;
    const size_t rows = batch * s.oh, chunks = (rows + dwb_chunk_rows(s.ow) - 1) / dwb_chunk_rows(s.ow);
    describe("n%zu %zux%zu -> %zux%zu C%zu k%zux%zu s%zux%zu d%zux%zu pad(t%zu l%zu b%zu r%zu) "
             "in_stride %zu out_stride %zu weights:%s dbias:%s chunks %zu (chunk_rows %zu)%s",
             batch, h, w, s.oh, s.ow, C, kh, kw, sh, sw, dh, dwl, pt, pl, pb, pr, s.in_arg,
             s.out_arg, weights_mode == 1 ? "late" : weights_mode == 2 ? "replaced" : "at create",
             s.with_bias ? "yes" : "NULL", chunks, dwb_chunk_rows(s.ow), pooled ? " 2-threads" : "");

    float* weights = random_floats(C * s.T, 1.0f);
    float* other = random_floats(C * s.T, 1.0f);
    for (size_t i = 0; i < C * s.T; i++) {
        if (chance(3)) weights[i] = 0.0f;
    }
    s.weights = weights;
    tensor_alloc(&s.x, batch * h * w, s.in_layout, C, 1);
    tensor_alloc(&s.dy, batch * s.oh * s.ow, s.out_layout, C, 1);
    tensor_fill(&s.x, xscale);
    tensor_fill(&s.dy, dscale);
    for (size_t i = 0; i < s.dy.pixels; i++) {
        for (size_t c = 0; c < C; c++) {
            if (chance(3)) *at(&s.dy, i, c) = chance(50) ? 0.0f : -0.0f;
        }
    }
    tensor_clone(&s.x_copy, &s.x, 1);
    tensor_clone(&s.dy_copy, &s.dy, 1);
    dwb_ref ref;
    dwb_ref_compute(&s, &ref);

    mk_dwconv2d_backward_f32_op *op_s = NULL, *op_n = NULL;
    dwb_out out_s, out_n, out_p;
    memset(&out_s, 0, sizeof out_s);
    memset(&out_n, 0, sizeof out_n);
    memset(&out_p, 0, sizeof out_p);
    const float* created = weights_mode == 1 ? NULL : weights_mode == 2 ? other : weights;
    if (!run_ok("create(scalar)", mk_dwconv2d_backward_f32_create(&s.p, created, MK_VARIANT_SCALAR, &op_s)) ||
        !run_ok("create(neon)", mk_dwconv2d_backward_f32_create(&s.p, created, MK_VARIANT_NEON, &op_n))) {
        goto done;
    }
    if (mk_dwconv2d_backward_f32_variant(op_n) != MK_VARIANT_NEON ||
        mk_dwconv2d_backward_f32_variant(op_s) != MK_VARIANT_SCALAR) {
        fail("ops report variants %s (neon) and %s (scalar)",
             mk_variant_name(mk_dwconv2d_backward_f32_variant(op_n)),
             mk_variant_name(mk_dwconv2d_backward_f32_variant(op_s)));
    }
    if (weights_mode == 2 &&
        (!run_ok("set_weights(scalar)", mk_dwconv2d_backward_f32_set_weights(op_s, weights)) ||
         !run_ok("set_weights(neon)", mk_dwconv2d_backward_f32_set_weights(op_n, weights)))) {
        goto done;
    }
    const float* late = weights_mode == 1 ? weights : NULL;
    if (dwb_run(&s, op_s, "scalar", NULL, late, &out_s) && dwb_run(&s, op_n, "neon", NULL, late, &out_n)) {
        dwb_check_definition(&s, &out_n, "neon", &ref);
        if (dwb_outputs_bitwise(&out_n, &out_s, 0)) {
            g_stats[FAM_DW_BWD].exact_cases++;
        } else {
            dwb_check_definition(&s, &out_s, "scalar", &ref);
            dwb_compare_variants(&s, &out_n, &out_s, &ref);
        }
        if (pooled) {
            g_stats[FAM_DW_BWD].pool_checks++;
            if (dwb_run(&s, op_n, "neon 2 threads", g_pool2, NULL, &out_p)) {
                dwb_outputs_bitwise(&out_p, &out_n, 1);
            }
        }
        dwb_error_checks(&s, op_n, index % 6);
    }
done:
    mk_dwconv2d_backward_f32_destroy(op_s);
    mk_dwconv2d_backward_f32_destroy(op_n);
    dwb_out_free(&out_s);
    dwb_out_free(&out_n);
    dwb_out_free(&out_p);
    tensor* all[] = {&s.x, &s.dy, &s.x_copy, &s.dy_copy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
    free(ref.dx);
    free(weights);
    free(other);
    case_end();
}

// ---- Pooling backward -----------------------------------------------------------------------

enum { PGB_MAX, PGB_AVG, PGB_ADAPTIVE };
static const char* const g_pgb_mode_names[3] = {"max", "avg", "adaptive"};

typedef struct {
    int mode;
    mk_pool2d_params p;  // max and average
    size_t batch, h, w, oh, ow, C;
    size_t in_layout, in_arg, out_layout, out_arg;
} pgb_setup;

static mk_status pgb_create(const pgb_setup* s, mk_variant v, mk_pool2d_backward_f32_op** op) {
    switch (s->mode) {
        case PGB_MAX: return mk_max_pool2d_backward_f32_create(&s->p, s->C, v, op);
        case PGB_AVG: return mk_avg_pool2d_backward_f32_create(&s->p, s->C, v, op);
        default: return mk_adaptive_avg_pool2d_backward_f32_create(s->C, s->oh, s->ow, v, op);
    }
}

// Output o's window [lo, hi) along one axis: the forward's (clipped to the image; adaptive:
// PyTorch's floor(o * in / out) ..< ceil((o + 1) * in / out)).
static void pgb_window(const pgb_setup* s, int vertical, size_t o, size_t* lo, size_t* hi) {
    const size_t in = vertical ? s->h : s->w, out = vertical ? s->oh : s->ow;
    if (s->mode == PGB_ADAPTIVE) {
        *lo = o * in / out;
        *hi = ((o + 1) * in + out - 1) / out;
        return;
    }
    const size_t stride = vertical ? s->p.stride_h : s->p.stride_w;
    const size_t pad = vertical ? s->p.pad_top : s->p.pad_left;
    const size_t kernel = vertical ? s->p.kernel_h : s->p.kernel_w;
    const long start = (long)(o * stride) - (long)pad, end = start + (long)kernel;
    *lo = start < 0 ? 0 : (size_t)start;
    *hi = end > (long)in ? in : (size_t)end;
}

// The most windows holding one coordinate along an axis (mk_training.h allows 32).
static size_t pgb_max_windows(const pgb_setup* s, int vertical) {
    const size_t in = vertical ? s->h : s->w, out = vertical ? s->oh : s->ow;
    size_t* count = calloc(in, sizeof(size_t));
    size_t most = 0;
    for (size_t o = 0; o < out; o++) {
        size_t lo, hi;
        pgb_window(s, vertical, o, &lo, &hi);
        for (size_t i = lo; i < hi; i++) {
            if (++count[i] > most) most = count[i];
        }
    }
    free(count);
    return most;
}

// Indices as int32 in a tensor's floats (dense [pixels][C]; the sentinel checks see the bits).
static int32_t* idx_ptr(const tensor* t) { return (int32_t*)(void*)t->p; }
static int32_t idx_at(const tensor* t, size_t pixel, size_t c) {
    int32_t v;
    memcpy(&v, at(t, pixel, c), sizeof v);
    return v;
}

static int compare_indices(const char* what, const tensor* a, const tensor* b) {
    size_t bad = 0, fp = 0, fc = 0;
    int32_t fa = 0, fb = 0;
    for (size_t i = 0; i < a->pixels; i++) {
        for (size_t c = 0; c < a->channels; c++) {
            const int32_t va = idx_at(a, i, c), vb = idx_at(b, i, c);
            if (va != vb && bad++ == 0) {
                fp = i;
                fc = c;
                fa = va;
                fb = vb;
            }
        }
    }
    if (bad == 0) return 0;
    fail("%s: %zu of %zu indices differ; first at pixel %zu channel %zu: %d vs %d", what, bad,
         a->pixels * a->channels, fp, fc, (int)fa, (int)fb);
    return 1;
}

// reshape on `pool` and the max forward with indices into y and idx (allocated here); checks the
// statuses, the plan's output size, the outputs' gaps and guards and that x did not change.
static int pgb_forward(const pgb_setup* s, const mk_pool2d_backward_f32_op* op, const char* name,
                       mk_threadpool* pool, const tensor* x, const tensor* x_copy, tensor* y,
                       tensor* idx) {
    char what[96];
    const size_t out_pixels = s->batch * s->oh * s->ow;
    tensor_alloc(y, out_pixels, s->out_layout, s->C, 0);
    tensor_alloc(idx, out_pixels, s->C, s->C, 0);
    mk_pool2d_backward_f32_plan plan;
    snprintf(what, sizeof what, "reshape(%s)", name);
    if (!run_ok(what, mk_pool2d_backward_f32_reshape(op, s->batch, s->h, s->w, s->in_arg, s->out_arg,
                                                     pool, &plan))) {
        return 0;
    }
    if (plan.out_h != s->oh || plan.out_w != s->ow) {
        fail("reshape(%s): output %zux%zu, want %zux%zu", name, plan.out_h, plan.out_w, s->oh, s->ow);
        return 0;
    }
    snprintf(what, sizeof what, "forward_indices(%s)", name);
    if (!run_ok(what, mk_max_pool2d_f32_forward_indices(op, &plan, x->p, y->p, idx_ptr(idx), pool))) {
        return 0;
    }
    snprintf(what, sizeof what, "%s y", name);
    if (tensor_check_layout(what, y, 1, NULL)) return 0;
    snprintf(what, sizeof what, "%s indices", name);
    if (tensor_check_layout(what, idx, 1, NULL)) return 0;
    snprintf(what, sizeof what, "input x (after %s)", name);
    return !tensor_check_layout(what, x, 0, x_copy);
}

// reshape on `pool` and the input gradient into dx (allocated here); checks as above, dy and the
// indices (max) unchanged.
static int pgb_backward(const pgb_setup* s, const mk_pool2d_backward_f32_op* op, const char* name,
                        mk_threadpool* pool, const tensor* dy, const tensor* dy_copy,
                        const tensor* idx, const tensor* idx_copy, tensor* dx) {
    char what[96];
    tensor_alloc(dx, s->batch * s->h * s->w, s->in_layout, s->C, 0);
    mk_pool2d_backward_f32_plan plan;
    snprintf(what, sizeof what, "reshape(%s)", name);
    if (!run_ok(what, mk_pool2d_backward_f32_reshape(op, s->batch, s->h, s->w, s->in_arg, s->out_arg,
                                                     pool, &plan))) {
        return 0;
    }
    if (plan.out_h != s->oh || plan.out_w != s->ow) {
        fail("reshape(%s): output %zux%zu, want %zux%zu", name, plan.out_h, plan.out_w, s->oh, s->ow);
        return 0;
    }
    snprintf(what, sizeof what, "run(%s)", name);
    if (!run_ok(what, mk_pool2d_backward_f32_run(op, &plan, dy->p, idx ? idx_ptr(idx) : NULL, dx->p, pool))) {
        return 0;
    }
    snprintf(what, sizeof what, "%s dx", name);
    if (tensor_check_layout(what, dx, 1, NULL)) return 0;
    snprintf(what, sizeof what, "input dy (after %s)", name);
    if (tensor_check_layout(what, dy, 0, dy_copy)) return 0;
    snprintf(what, sizeof what, "input indices (after %s)", name);
    return !(idx && tensor_check_layout(what, idx, 0, idx_copy));
}

// The max forward's definition: from -inf and the window's first cell, row by row, v taken when
// v > best or v is NaN; the index y * w + x within the image.
static void pgb_ref_forward(const pgb_setup* s, const tensor* x, tensor* y, tensor* idx) {
    for (size_t n = 0; n < s->batch; n++) {
        for (size_t oy = 0; oy < s->oh; oy++) {
            size_t y0, y1;
            pgb_window(s, 1, oy, &y0, &y1);
            for (size_t ox = 0; ox < s->ow; ox++) {
                size_t x0, x1;
                pgb_window(s, 0, ox, &x0, &x1);
                const size_t o = (n * s->oh + oy) * s->ow + ox;
                for (size_t c = 0; c < s->C; c++) {
                    float best = -INFINITY;
                    int32_t cell = (int32_t)(y0 * s->w + x0);
                    for (size_t yy = y0; yy < y1; yy++) {
                        for (size_t xx = x0; xx < x1; xx++) {
                            const float v = *at(x, (n * s->h + yy) * s->w + xx, c);
                            if (v > best || v != v) {
                                best = v;
                                cell = (int32_t)(yy * s->w + xx);
                            }
                        }
                    }
                    *at(y, o, c) = best;
                    memcpy(at(idx, o, c), &cell, sizeof cell);
                }
            }
        }
    }
}

// The backward's definition as the reference computes it: a scatter-add in float from 0, in
// ascending output order (n, oy, ox): max, dy to the pixel its index names; average, dy / the
// divisor (kernel_h * kernel_w with count_include_pad, else the window's real pixels) to every
// pixel of the window; adaptive, dy / the window's cell count.
static void pgb_ref_backward(const pgb_setup* s, const tensor* dy, const tensor* idx, tensor* dx) {
    for (size_t i = 0; i < dx->pixels; i++) {
        for (size_t c = 0; c < s->C; c++) *at(dx, i, c) = 0.0f;
    }
    for (size_t n = 0; n < s->batch; n++) {
        for (size_t oy = 0; oy < s->oh; oy++) {
            size_t y0, y1;
            pgb_window(s, 1, oy, &y0, &y1);
            for (size_t ox = 0; ox < s->ow; ox++) {
                size_t x0, x1;
                pgb_window(s, 0, ox, &x0, &x1);
                const size_t o = (n * s->oh + oy) * s->ow + ox;
                if (s->mode == PGB_MAX) {
                    for (size_t c = 0; c < s->C; c++) {
                        const size_t i = n * s->h * s->w + (size_t)idx_at(idx, o, c);
                        *at(dx, i, c) += *at(dy, o, c);
                    }
                    continue;
                }
                const float divisor = s->mode == PGB_AVG && s->p.count_include_pad
                                          ? (float)(s->p.kernel_h * s->p.kernel_w)
                                          : (float)((y1 - y0) * (x1 - x0));
                for (size_t yy = y0; yy < y1; yy++) {
                    for (size_t xx = x0; xx < x1; xx++) {
                        float* d = at(dx, (n * s->h + yy) * s->w + xx, 0);
                        for (size_t c = 0; c < s->C; c++) d[c] += *at(dy, o, c) / divisor;
                    }
                }
            }
        }
    }
}

// The documented errors around this case's operator (which = index % 8; 4..7: none).
static void pgb_error_checks(const pgb_setup* s, const mk_pool2d_backward_f32_op* op,
                             const tensor* dy, unsigned which) {
    const mk_variant v = MK_VARIANT_NEON;
    mk_pool2d_backward_f32_plan plan;
    if (which == 0) {
        if (s->mode != PGB_ADAPTIVE) {  // an activation; padding == kernel; > 32 windows per axis
            pgb_setup q = *s;
            q.p.activation = random_activation((mk_activation_kind)rnd_range(1, 5));
            mk_pool2d_backward_f32_op* bad = NULL;
            mk_status st = pgb_create(&q, v, &bad);
            if (st != MK_STATUS_INVALID_ARGUMENT || bad != NULL) {
                fail("create(%s, activation %s) = %s (want INVALID_ARGUMENT, NULL op)",
                     g_pgb_mode_names[s->mode], activation_name(q.p.activation.kind), status_name(st));
            }
            mk_pool2d_backward_f32_destroy(bad);
            bad = NULL;
            q = *s;
            q.p.pad_left = q.p.kernel_w;
            st = pgb_create(&q, v, &bad);
            if (st != MK_STATUS_INVALID_ARGUMENT || bad != NULL) {
                fail("create(%s, pad_left == kernel_w) = %s (want INVALID_ARGUMENT)",
                     g_pgb_mode_names[s->mode], status_name(st));
            }
            mk_pool2d_backward_f32_destroy(bad);
            bad = NULL;
            q = *s;
            q.p.kernel_h = 33;
            q.p.stride_h = 1;
            q.p.pad_top = q.p.pad_bottom = 0;
            st = pgb_create(&q, v, &bad);
            if (st != MK_STATUS_INVALID_ARGUMENT || bad != NULL) {
                fail("create(%s, kernel_h 33 stride_h 1: 33 windows per row) = %s (want "
                     "INVALID_ARGUMENT)", g_pgb_mode_names[s->mode], status_name(st));
            }
            mk_pool2d_backward_f32_destroy(bad);
        } else {  // ceil(out / in) + 1 > 32 at reshape
            mk_pool2d_backward_f32_op* big = NULL;
            mk_status st = mk_adaptive_avg_pool2d_backward_f32_create(s->C, s->oh, 32 * s->w, v, &big);
            if (st == MK_STATUS_OK) st = mk_pool2d_backward_f32_reshape(big, s->batch, s->h, s->w, s->in_arg,
                                                                        s->out_arg, NULL, &plan);
            if (st != MK_STATUS_INVALID_ARGUMENT) {
                fail("adaptive %zux%zu -> %zux%zu (33 windows per column) = %s (want "
                     "INVALID_ARGUMENT at reshape)", s->h, s->w, s->oh, 32 * s->w, status_name(st));
            }
            mk_pool2d_backward_f32_destroy(big);
        }
        return;
    }
    if (which > 3) return;
    if (!run_ok("reshape(neon, errors)", mk_pool2d_backward_f32_reshape(op, s->batch, s->h, s->w, s->in_arg,
                                                                        s->out_arg, NULL, &plan))) {
        return;
    }
    tensor dx, y, idx;
    tensor_alloc(&dx, s->batch * s->h * s->w, s->in_layout, s->C, 0);
    tensor_alloc(&y, s->batch * s->oh * s->ow, s->out_layout, s->C, 0);
    tensor_alloc(&idx, s->batch * s->oh * s->ow, s->C, s->C, 0);
    if (which == 1 && s->mode != PGB_MAX) {  // indices from an average operator
        const mk_status st = mk_max_pool2d_f32_forward_indices(op, &plan, dx.p, y.p, idx_ptr(&idx), NULL);
        if (st != MK_STATUS_INVALID_ARGUMENT) {
            fail("forward_indices(%s operator) = %s (want INVALID_ARGUMENT)",
                 g_pgb_mode_names[s->mode], status_name(st));
        }
    } else if (which == 1) {  // max without indices
        const mk_status st = mk_pool2d_backward_f32_run(op, &plan, dy->p, NULL, dx.p, NULL);
        if (st == MK_STATUS_OK) fail("run(max, indices NULL) = OK");
    } else if (which == 2) {  // dx overlapping dy: dx starts at dy's last element
        const size_t in_extent = (s->batch * s->h * s->w - 1) * s->in_layout + s->C;
        const size_t out_extent = (s->batch * s->oh * s->ow - 1) * s->out_layout + s->C;
        float* buf = malloc((in_extent + out_extent) * sizeof(float));
        for (size_t i = 0; i < in_extent + out_extent; i++) buf[i] = 0.5f;
        const int32_t* indices = s->mode == PGB_MAX ? idx_ptr(&idx) : NULL;
        const mk_status st = mk_pool2d_backward_f32_run(op, &plan, buf, indices, buf + out_extent - 1, NULL);
        int untouched = 1;
        for (size_t i = 0; i < in_extent + out_extent; i++) untouched &= buf[i] == 0.5f;
        if (st != MK_STATUS_INVALID_ARGUMENT || !untouched) {
            fail("run with dx overlapping dy = %s (want INVALID_ARGUMENT)%s", status_name(st),
                 untouched ? "" : ", and it wrote");
        }
        free(buf);
    } else if (s->mode == PGB_MAX) {  // y overlapping x: y starts at x's last element
        const size_t in_extent = (s->batch * s->h * s->w - 1) * s->in_layout + s->C;
        const size_t out_extent = (s->batch * s->oh * s->ow - 1) * s->out_layout + s->C;
        float* buf = malloc((in_extent + out_extent) * sizeof(float));
        for (size_t i = 0; i < in_extent + out_extent; i++) buf[i] = 0.5f;
        const mk_status st = mk_max_pool2d_f32_forward_indices(op, &plan, buf, buf + in_extent - 1,
                                                               idx_ptr(&idx), NULL);
        int untouched = 1;
        for (size_t i = 0; i < in_extent + out_extent; i++) untouched &= buf[i] == 0.5f;
        if (st != MK_STATUS_INVALID_ARGUMENT || !untouched) {
            fail("forward_indices with y overlapping x = %s (want INVALID_ARGUMENT)%s",
                 status_name(st), untouched ? "" : ", and it wrote");
        }
        free(buf);
    }
    if (!tensor_untouched(&dx) || !tensor_untouched(&y) || !tensor_untouched(&idx)) {
        fail("a failing pooling-backward call wrote an output");
    }
    tensor_free(&dx);
    tensor_free(&y);
    tensor_free(&idx);
}

static void pgb_case(unsigned index) {
    case_begin(FAM_POOL_BWD, index);
    rng_for_case(FAM_POOL_BWD, index);
    pgb_setup s;
    memset(&s, 0, sizeof s);
    s.mode = (int)(index % 3);
    const unsigned sub = (index / 3) % 8;
    const int pooled = want_pool(index, 4);
    size_t h = rnd_range(1, 12), w = chance(30) ? rnd_range(13, 40) : rnd_range(1, 12);
    int wide = 0, edge = 0;
    if (s.mode != PGB_ADAPTIVE) {
        mk_pool2d_params* p = &s.p;
        int whole = 0;
        switch (sub) {
            case 0: case 1:  // 2x2 / 3x3 at stride 1 / 2 (sometimes mixed)
                p->kernel_h = p->kernel_w = rnd_range(2, 3);
                p->stride_h = p->stride_w = sub + 1;
                if (chance(15)) p->stride_h = 3 - p->stride_w;
                break;
            case 2: case 3: case 4:  // rectangular kernels 1..5, strides 1..3
                p->kernel_h = rnd_range(1, 5);
                p->kernel_w = rnd_range(1, 5);
                p->stride_h = rnd_range(1, 3);
                p->stride_w = rnd_range(1, 3);
                break;
            case 5:  // kernel == stride (no overlap)
                p->kernel_h = rnd_range(1, 5);
                p->kernel_w = chance(50) ? p->kernel_h : rnd_range(1, 5);
                p->stride_h = p->kernel_h;
                p->stride_w = p->kernel_w;
                break;
            case 6:  // one window over the whole image
                whole = 1;
                h = rnd_range(1, 5);
                w = rnd_range(1, 5);
                p->kernel_h = h;
                p->kernel_w = w;
                p->stride_h = rnd_range(1, 2);
                p->stride_w = rnd_range(1, 2);
                break;
            default:  // past the column cache (1024): every pixel's windows computed in place
                wide = 1;
                h = rnd_range(1, 3);
                w = rnd_range(1025, 1100);
                p->kernel_h = rnd_range(1, 5);
                p->kernel_w = rnd_range(1, 5);
                p->stride_h = rnd_range(1, 3);
                p->stride_w = rnd_range(1, 3);
        }
        if (!whole) {
            pool_pads(p->kernel_h, &p->pad_top, &p->pad_bottom);
            pool_pads(p->kernel_w, &p->pad_left, &p->pad_right);
            if (!wide && chance(8)) {  // 1x1 input: the padding covers the rest of the kernel
                h = w = 1;
                p->pad_top = rnd_range(0, p->kernel_h - 1);
                p->pad_bottom = p->kernel_h - 1 - p->pad_top;
                p->pad_left = rnd_range(0, p->kernel_w - 1);
                p->pad_right = p->kernel_w - 1 - p->pad_left;
            }
            h = fit_input(h, p->kernel_h, p->pad_top, p->pad_bottom);
            w = fit_input(w, p->kernel_w, p->pad_left, p->pad_right);
        }
        p->count_include_pad = (index / 6) % 2 == 0;
        s.oh = (h + p->pad_top + p->pad_bottom - p->kernel_h) / p->stride_h + 1;
        s.ow = (w + p->pad_left + p->pad_right - p->kernel_w) / p->stride_w + 1;
    } else {
        switch (sub) {
            case 0: case 1:  // smaller (windows overlap when the sizes do not divide)
                h = rnd_range(1, 20);
                w = rnd_range(1, 20);
                s.oh = rnd_range(1, h);
                s.ow = rnd_range(1, w);
                break;
            case 2:  // equal: the identity
                s.oh = h;
                s.ow = w;
                break;
            case 3:  // larger: cells repeat (1x1 -> 7x7)
                if (chance(30)) {
                    h = w = 1;
                    s.oh = s.ow = 7;
                } else {
                    s.oh = h + rnd_range(0, 5);
                    s.ow = w + rnd_range(1, 5);
                }
                break;
            case 4:  // global (1, 1)
                s.oh = s.ow = 1;
                break;
            case 5: {  // as many windows per coordinate as reshape accepts: ceil(out / in) + 1
                // == 32, i.e. out in (30 * in, 31 * in] (a coordinate lies in at most
                // ceil(out / in) + 1 windows; 3 -> 95 put coordinate 1 in 33, windows 31..63)
                edge = 1;
                const size_t in = chance(50) ? rnd_range(1, 2) : rnd_range(3, 11);
                const size_t out = rnd_range(30 * in + 1, 31 * in);
                const size_t small = rnd_range(1, 4), small_out = rnd_range(1, 6);
                if (chance(50)) {
                    h = in; s.oh = out; w = small; s.ow = small_out;
                } else {
                    w = in; s.ow = out; h = small; s.oh = small_out;
                }
                break;
            }
            case 6:  // an input wider than the column cache
                wide = 1;
                h = rnd_range(1, 2);
                w = rnd_range(1025, 1100);
                s.oh = rnd_range(1, h + 1);
                s.ow = chance(50) ? rnd_range(1, 12) : w - rnd_range(0, 60);
                break;
            default:  // an output wider than the column cache (up to 31 windows per column)
                wide = 1;
                h = rnd_range(1, 2);
                w = rnd_range(36, 40);
                s.oh = rnd_range(1, 2);
                s.ow = rnd_range(1025, 1100);
        }
    }
    s.h = h;
    s.w = w;
    s.batch = wide || edge ? rnd_range(1, 2) : chance(50) ? 1 : chance(60) ? 2 : 3;
    s.C = wide ? rnd_range(1, 40) : edge ? rnd_range(1, 16)
          : chance(88) ? random_pool_channels() : rnd_range(71, 300);
    const size_t C = s.C, in_pixels = s.batch * h * w, out_pixels = s.batch * s.oh * s.ow;
    random_stride(C, 35, &s.in_layout, &s.in_arg);
    random_stride(C, 35, &s.out_layout, &s.out_arg);
    const int ties = chance(50), neg_inf = chance(20), nans = chance(15);
    const int random_indices = s.mode == PGB_MAX && chance(30);
    const float dscale = chance(20) ? 50.0f : 1.0f;
    if (s.mode == PGB_ADAPTIVE) {
        describe("adaptive n%zu %zux%zu -> %zux%zu C%zu in_stride %zu out_stride %zu "
                 "windows per coordinate %zu x %zu%s", s.batch, h, w, s.oh, s.ow, C, s.in_arg,
                 s.out_arg, pgb_max_windows(&s, 1), pgb_max_windows(&s, 0),
                 pooled ? " 2-threads" : "");
    } else {
        describe("%s n%zu %zux%zu -> %zux%zu C%zu k%zux%zu s%zux%zu pad(t%zu l%zu b%zu r%zu) "
                 "count_include_pad:%d in_stride %zu out_stride %zu x:%s%s%s%s%s",
                 g_pgb_mode_names[s.mode], s.batch, h, w, s.oh, s.ow, C, s.p.kernel_h,
                 s.p.kernel_w, s.p.stride_h, s.p.stride_w, s.p.pad_top, s.p.pad_left,
                 s.p.pad_bottom, s.p.pad_right, (int)s.p.count_include_pad, s.in_arg, s.out_arg,
                 ties ? "ties" : "uniform", neg_inf ? " -inf" : "", nans ? " NaN" : "",
                 random_indices ? " random-indices" : "", pooled ? " 2-threads" : "");
    }

    tensor x = {0}, x_copy = {0}, dy, dy_copy, y_s = {0}, y_n = {0}, y_p = {0}, y_f = {0}, y_r = {0};
    tensor i_s = {0}, i_n = {0}, i_p = {0}, i_r = {0}, idx = {0}, idx_copy = {0};
    tensor dx_s = {0}, dx_n = {0}, dx_p = {0}, dx_r = {0};
    tensor_alloc(&dy, out_pixels, s.out_layout, C, 1);
    for (size_t i = 0; i < out_pixels; i++) {
        for (size_t c = 0; c < C; c++) {
            float v = ties ? 0.25f * (float)rnd_range(0, 8) - 1.0f : dscale * rnd_unit();
            if (chance(3)) v = chance(50) ? 0.0f : -0.0f;
            *at(&dy, i, c) = v;
        }
    }
    tensor_clone(&dy_copy, &dy, 1);
    mk_pool2d_backward_f32_op *op_s = NULL, *op_n = NULL;
    if (!run_ok("create(scalar)", pgb_create(&s, MK_VARIANT_SCALAR, &op_s)) ||
        !run_ok("create(neon)", pgb_create(&s, MK_VARIANT_NEON, &op_n))) {
        goto done;
    }
    if (mk_pool2d_backward_f32_variant(op_n) != MK_VARIANT_NEON ||
        mk_pool2d_backward_f32_variant(op_s) != MK_VARIANT_SCALAR) {
        fail("ops report variants %s (neon) and %s (scalar)",
             mk_variant_name(mk_pool2d_backward_f32_variant(op_n)),
             mk_variant_name(mk_pool2d_backward_f32_variant(op_s)));
    }
    if (s.mode == PGB_MAX) {
        static const float tie_values[] = {-2.0f, -1.0f, -0.0f, 0.0f, 1.0f, 2.0f};
        tensor_alloc(&x, in_pixels, s.in_layout, C, 1);
        for (size_t i = 0; i < in_pixels; i++) {
            for (size_t c = 0; c < C; c++) {
                float v = ties ? tie_values[rnd_range(0, 5)] : 4.0f * rnd_unit();
                if (neg_inf && chance(40)) v = -INFINITY;
                if (nans && chance(3)) v = NAN;
                *at(&x, i, c) = v;
            }
        }
        tensor_clone(&x_copy, &x, 1);
        if (!pgb_forward(&s, op_s, "scalar", NULL, &x, &x_copy, &y_s, &i_s) ||
            !pgb_forward(&s, op_n, "neon", NULL, &x, &x_copy, &y_n, &i_n)) {
            goto done;
        }
        if (compare("neon vs scalar y", CMP_EXACT, &y_n, &y_s, 0) ||
            compare_indices("neon vs scalar indices", &i_n, &i_s)) {
            goto done;
        }
        tensor_alloc(&y_r, out_pixels, C, C, 0);
        tensor_alloc(&i_r, out_pixels, C, C, 0);
        pgb_ref_forward(&s, &x_copy, &y_r, &i_r);
        compare("neon y vs definition", CMP_EXACT, &y_n, &y_r, 0);
        compare_indices("neon indices vs definition", &i_n, &i_r);
        tensor_alloc(&y_f, out_pixels, s.out_layout, C, 0);  // mk_max_pool2d_f32's y
        if (run_ok("max_pool2d forward(neon)", max_pool_once(&s.p, s.batch, h, w, C, x.p, s.in_arg, y_f.p,
                                                             s.out_arg, MK_VARIANT_NEON, NULL))) {
            compare("neon y vs mk_max_pool2d_f32", CMP_EXACT, &y_n, &y_f, 0);
        }
        if (pooled && pgb_forward(&s, op_n, "neon 2 threads", g_pool2, &x, &x_copy, &y_p, &i_p)) {
            if (!compare_bitwise_region("neon 2 threads y", &y_p, &y_n)) {
                compare_bitwise_region("neon 2 threads indices", &i_p, &i_n);
            }
        }
        // The backward's indices: the forward's, or any cell of each window (more outputs
        // naming one pixel).
        tensor_clone(&idx, &i_n, 1);
        if (random_indices) {
            for (size_t n = 0; n < s.batch; n++) {
                for (size_t oy = 0; oy < s.oh; oy++) {
                    size_t y0, y1;
                    pgb_window(&s, 1, oy, &y0, &y1);
                    for (size_t ox = 0; ox < s.ow; ox++) {
                        size_t x0, x1;
                        pgb_window(&s, 0, ox, &x0, &x1);
                        for (size_t c = 0; c < C; c++) {
                            const int32_t cell = (int32_t)(rnd_range(y0, y1 - 1) * w + rnd_range(x0, x1 - 1));
                            memcpy(at(&idx, (n * s.oh + oy) * s.ow + ox, c), &cell, sizeof cell);
                        }
                    }
                }
            }
        }
        tensor_clone(&idx_copy, &idx, 1);
    }
    {
        const tensor* ix = s.mode == PGB_MAX ? &idx : NULL;
        if (!pgb_backward(&s, op_s, "scalar", NULL, &dy, &dy_copy, ix, &idx_copy, &dx_s) ||
            !pgb_backward(&s, op_n, "neon", NULL, &dy, &dy_copy, ix, &idx_copy, &dx_n)) {
            goto done;
        }
        if (!compare("neon vs scalar dx", CMP_EXACT, &dx_n, &dx_s, 0)) {
            tensor_alloc(&dx_r, in_pixels, C, C, 0);
            pgb_ref_backward(&s, &dy_copy, &idx_copy, &dx_r);
            compare("neon dx vs definition", CMP_EXACT, &dx_n, &dx_r, 0);
        }
        if (pooled) {
            g_stats[FAM_POOL_BWD].pool_checks++;
            if (pgb_backward(&s, op_n, "neon 2 threads", g_pool2, &dy, &dy_copy, ix, &idx_copy, &dx_p)) {
                compare_bitwise_region("neon 2 threads dx", &dx_p, &dx_n);
            }
        }
    }
    pgb_error_checks(&s, op_n, &dy, index % 8);
done:
    mk_pool2d_backward_f32_destroy(op_s);
    mk_pool2d_backward_f32_destroy(op_n);
    tensor* all[] = {&x, &x_copy, &dy, &dy_copy, &y_s, &y_n, &y_p, &y_f, &y_r, &i_s, &i_n,
                     &i_p, &i_r, &idx, &idx_copy, &dx_s, &dx_n, &dx_p, &dx_r};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
    case_end();
}

// ---- Variant availability (part of the `variants` family) -----------------------------------

// BatchNorm forward + backward and the activation gradient on a small dense case.
static mk_status training_small_run(mk_variant variant, float* out, size_t out_floats) {
    enum { C = 10, P = 7 };
    const mk_activation hswish = {MK_ACTIVATION_HARDSWISH, 0, 0};
    float x[P * C], dy[P * C], gamma[C], beta[C];
    for (int i = 0; i < P * C; i++) {
        x[i] = 0.37f * (float)(i % 11) - 1.5f;
        dy[i] = 0.21f * (float)(i % 7) - 0.6f;
    }
    for (int i = 0; i < C; i++) {
        gamma[i] = 1.0f + 0.1f * (float)i;
        beta[i] = 0.3f * (float)(i % 4) - 0.5f;
    }
    memset(out, 0, out_floats * sizeof(float));
    float* y = out;                // P * C
    float* dx = y + P * C;         // P * C
    float* stats = dx + P * C;     // mean, variance, inv_std, dgamma, dbeta: 5 * C
    float* gdx = stats + 5 * C;    // P * C
    float* dbias = gdx + P * C;    // C
    mk_batchnorm_train_f32_op* bn = NULL;
    mk_batchnorm_train_f32_plan plan;
    mk_status s = mk_batchnorm_train_f32_create(C, 1e-5f, hswish, variant, &bn);
    if (s == MK_STATUS_OK) s = mk_batchnorm_train_f32_reshape(bn, P, 0, 0, NULL, &plan);
    void* ws = NULL;
    if (s == MK_STATUS_OK) {
        ws = mk_aligned_alloc(plan.workspace_bytes);
        plan.workspace = ws;
        s = mk_batchnorm_train_f32_forward(bn, &plan, x, gamma, beta, y, stats, stats + C,
                                           stats + 2 * C, NULL);
    }
    if (s == MK_STATUS_OK) {
        s = mk_batchnorm_train_f32_backward(bn, &plan, x, dy, gamma, beta, stats, stats + 2 * C, dx,
                                            stats + 3 * C, stats + 4 * C, NULL);
    }
    mk_aligned_free(ws);
    mk_batchnorm_train_f32_destroy(bn);
    if (s != MK_STATUS_OK) return s;
    mk_activation_backward_f32_op* ab = NULL;
    mk_activation_backward_f32_plan aplan;
    s = mk_activation_backward_f32_create(C, hswish, variant, &ab);
    if (s == MK_STATUS_OK) s = mk_activation_backward_f32_reshape(ab, P, 0, 0, 0, NULL, &aplan);
    ws = NULL;
    if (s == MK_STATUS_OK) {
        ws = mk_aligned_alloc(aplan.workspace_bytes);
        aplan.workspace = ws;
        s = mk_activation_backward_f32_run(ab, &aplan, x, dy, gdx, dbias, NULL);
    }
    mk_aligned_free(ws);
    mk_activation_backward_f32_destroy(ab);
    return s;
}

// AVX2 / AVX-512 / BLIS are UNSUPPORTED for both training operators; AUTO gives NEON.
static void training_variant_checks(void) {
    const mk_activation relu = {MK_ACTIVATION_RELU, 0, 0};
    const mk_variant unsupported[] = {MK_VARIANT_AVX2, MK_VARIANT_AVX512, MK_VARIANT_BLIS};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        const mk_variant v = unsupported[i];
        const char* name = mk_variant_name(v);
        mk_batchnorm_train_f32_op* bn = NULL;
        mk_status s = mk_batchnorm_train_f32_create(8, 1e-5f, relu, v, &bn);
        check(s == MK_STATUS_UNSUPPORTED && bn == NULL, "batchnorm_train_create(%s) = %s", name,
              status_name(s));
        mk_batchnorm_train_f32_destroy(bn);
        mk_activation_backward_f32_op* ab = NULL;
        s = mk_activation_backward_f32_create(8, relu, v, &ab);
        check(s == MK_STATUS_UNSUPPORTED && ab == NULL, "activation_backward_create(%s) = %s", name,
              status_name(s));
        mk_activation_backward_f32_destroy(ab);
    }
    const mk_variant resolved[3][2] = {{MK_VARIANT_AUTO, MK_VARIANT_NEON},
                                       {MK_VARIANT_NEON, MK_VARIANT_NEON},
                                       {MK_VARIANT_SCALAR, MK_VARIANT_SCALAR}};
    for (int i = 0; i < 3; i++) {
        mk_batchnorm_train_f32_op* bn = NULL;
        mk_status s = mk_batchnorm_train_f32_create(8, 1e-5f, relu, resolved[i][0], &bn);
        check(s == MK_STATUS_OK && mk_batchnorm_train_f32_variant(bn) == resolved[i][1],
              "batchnorm_train %s -> %s (%s)", mk_variant_name(resolved[i][0]),
              bn ? mk_variant_name(mk_batchnorm_train_f32_variant(bn)) : "-", status_name(s));
        mk_batchnorm_train_f32_destroy(bn);
        mk_activation_backward_f32_op* ab = NULL;
        s = mk_activation_backward_f32_create(8, relu, resolved[i][0], &ab);
        check(s == MK_STATUS_OK && mk_activation_backward_f32_variant(ab) == resolved[i][1],
              "activation_backward %s -> %s (%s)", mk_variant_name(resolved[i][0]),
              ab ? mk_variant_name(mk_activation_backward_f32_variant(ab)) : "-", status_name(s));
        mk_activation_backward_f32_destroy(ab);
    }
    enum { FLOATS = 3 * 7 * 10 + 6 * 10 };
    float auto_out[FLOATS], neon_out[FLOATS];
    const mk_status sa = training_small_run(MK_VARIANT_AUTO, auto_out, FLOATS);
    const mk_status sn = training_small_run(MK_VARIANT_NEON, neon_out, FLOATS);
    check(sa == MK_STATUS_OK && sn == MK_STATUS_OK && memcmp(auto_out, neon_out, sizeof auto_out) == 0,
          "batchnorm_train / activation_backward AUTO differ from NEON (%s, %s)", status_name(sa),
          status_name(sn));
}

// The depthwise backward (both gradients) and the pooling backward (max forward with indices and
// the three input gradients) on small dense cases.
static mk_status backward_small_run(mk_variant variant, float* out, size_t out_floats) {
    enum { C = 12, H = 5, W = 6, K = 3, OH = 3, OW = 3, T = K * K };  // dwconv: k3 s2 pad 1
    const mk_activation none = {MK_ACTIVATION_NONE, 0, 0};
    float x[H * W * C], dy[H * W * C], w[C * T];
    for (int i = 0; i < H * W * C; i++) {
        x[i] = 0.37f * (float)(i % 11) - 1.5f;
        dy[i] = 0.21f * (float)(i % 7) - 0.6f;
    }
    for (int i = 0; i < C * T; i++) w[i] = 0.1f * (float)(i % 9) - 0.4f;
    memset(out, 0, out_floats * sizeof(float));
    float* dx = out;                // H * W * C
    float* dw = dx + H * W * C;     // C * T
    float* db = dw + C * T;         // C
    float* pool = db + C;           // y, indices, max dx, avg dx, adaptive dx
    const mk_dwconv2d_params dp = {C, K, K, 2, 2, 1, 1, 1, 1, 1, 1, none};
    mk_dwconv2d_backward_f32_op* d = NULL;
    mk_dwconv2d_backward_f32_plan plan;
    mk_status s = mk_dwconv2d_backward_f32_create(&dp, w, variant, &d);
    if (s == MK_STATUS_OK) s = mk_dwconv2d_backward_f32_reshape(d, 1, H, W, 0, 0, NULL, &plan);
    void* ws = NULL;
    if (s == MK_STATUS_OK) {
        ws = mk_aligned_alloc(plan.workspace_bytes);
        plan.workspace = ws;
        s = mk_dwconv2d_backward_f32_input_gradient(d, &plan, dy, dx, NULL);
    }
    if (s == MK_STATUS_OK) s = mk_dwconv2d_backward_f32_weight_gradient(d, &plan, x, dy, dw, db, NULL);
    mk_aligned_free(ws);
    mk_dwconv2d_backward_f32_destroy(d);
    if (s != MK_STATUS_OK) return s;
    const mk_pool2d_params pp = {3, 2, 2, 2, 1, 0, 1, 1, false, none};  // 5x6 -> 3x3
    for (int m = 0; m < 3 && s == MK_STATUS_OK; m++) {
        mk_pool2d_backward_f32_op* op = NULL;
        mk_pool2d_backward_f32_plan pplan;
        s = m == 0   ? mk_max_pool2d_backward_f32_create(&pp, C, variant, &op)
            : m == 1 ? mk_avg_pool2d_backward_f32_create(&pp, C, variant, &op)
                     : mk_adaptive_avg_pool2d_backward_f32_create(C, 4, 7, variant, &op);
        if (s == MK_STATUS_OK) s = mk_pool2d_backward_f32_reshape(op, 1, H, W, 0, 0, NULL, &pplan);
        if (s == MK_STATUS_OK && m == 0) {
            int32_t* idx = (int32_t*)(void*)(pool + OH * OW * C);
            s = mk_max_pool2d_f32_forward_indices(op, &pplan, x, pool, idx, NULL);
            if (s == MK_STATUS_OK) {
                s = mk_pool2d_backward_f32_run(op, &pplan, dy, idx, pool + 2 * OH * OW * C, NULL);
            }
        } else if (s == MK_STATUS_OK) {
            s = mk_pool2d_backward_f32_run(op, &pplan, dy, NULL, pool + (2 * OH * OW + m * H * W) * C, NULL);
        }
        mk_pool2d_backward_f32_destroy(op);
    }
    return s;
}

// AVX2 / AVX-512 / BLIS are UNSUPPORTED for the backward operators; AUTO gives NEON.
static void backward_variant_checks(void) {
    const mk_activation none = {MK_ACTIVATION_NONE, 0, 0};
    const mk_dwconv2d_params dp = {8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, none};
    const mk_pool2d_params pp = {2, 2, 2, 2, 0, 0, 0, 0, true, none};
    float w[8 * 9];
    for (int i = 0; i < 8 * 9; i++) w[i] = 0.1f * (float)(i % 5);
    const mk_variant unsupported[] = {MK_VARIANT_AVX2, MK_VARIANT_AVX512, MK_VARIANT_BLIS};
    const char* pool_names[3] = {"max_pool2d_backward", "avg_pool2d_backward",
                                 "adaptive_avg_pool2d_backward"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        const mk_variant v = unsupported[i];
        const char* name = mk_variant_name(v);
        for (int k = 0; k < 2; k++) {
            mk_dwconv2d_backward_f32_op* d = NULL;
            const mk_status s = mk_dwconv2d_backward_f32_create(&dp, k ? NULL : w, v, &d);
            check(s == MK_STATUS_UNSUPPORTED && d == NULL, "dwconv2d_backward_create(%s, weights %s) = %s",
                  name, k ? "NULL" : "set", status_name(s));
            mk_dwconv2d_backward_f32_destroy(d);
        }
        for (int m = 0; m < 3; m++) {
            mk_pool2d_backward_f32_op* op = NULL;
            const mk_status s = m == 0   ? mk_max_pool2d_backward_f32_create(&pp, 8, v, &op)
                                : m == 1 ? mk_avg_pool2d_backward_f32_create(&pp, 8, v, &op)
                                         : mk_adaptive_avg_pool2d_backward_f32_create(8, 2, 3, v, &op);
            check(s == MK_STATUS_UNSUPPORTED && op == NULL, "%s_create(%s) = %s", pool_names[m], name,
                  status_name(s));
            mk_pool2d_backward_f32_destroy(op);
        }
    }
    const mk_variant resolved[3][2] = {{MK_VARIANT_AUTO, MK_VARIANT_NEON},
                                       {MK_VARIANT_NEON, MK_VARIANT_NEON},
                                       {MK_VARIANT_SCALAR, MK_VARIANT_SCALAR}};
    for (int i = 0; i < 3; i++) {
        mk_dwconv2d_backward_f32_op* d = NULL;
        mk_status s = mk_dwconv2d_backward_f32_create(&dp, w, resolved[i][0], &d);
        check(s == MK_STATUS_OK && mk_dwconv2d_backward_f32_variant(d) == resolved[i][1],
              "dwconv2d_backward %s -> %s (%s)", mk_variant_name(resolved[i][0]),
              d ? mk_variant_name(mk_dwconv2d_backward_f32_variant(d)) : "-", status_name(s));
        mk_dwconv2d_backward_f32_destroy(d);
        for (int m = 0; m < 3; m++) {
            mk_pool2d_backward_f32_op* op = NULL;
            s = m == 0   ? mk_max_pool2d_backward_f32_create(&pp, 8, resolved[i][0], &op)
                : m == 1 ? mk_avg_pool2d_backward_f32_create(&pp, 8, resolved[i][0], &op)
                         : mk_adaptive_avg_pool2d_backward_f32_create(8, 2, 3, resolved[i][0], &op);
            check(s == MK_STATUS_OK && mk_pool2d_backward_f32_variant(op) == resolved[i][1],
                  "%s %s -> %s (%s)", pool_names[m], mk_variant_name(resolved[i][0]),
                  op ? mk_variant_name(mk_pool2d_backward_f32_variant(op)) : "-", status_name(s));
            mk_pool2d_backward_f32_destroy(op);
        }
    }
    enum { FLOATS = 5 * 6 * 12 + 12 * 9 + 12 + (3 * 3 * 2 + 5 * 6 * 3) * 12 };
    static float auto_out[FLOATS], neon_out[FLOATS];
    const mk_status sa = backward_small_run(MK_VARIANT_AUTO, auto_out, FLOATS);
    const mk_status sn = backward_small_run(MK_VARIANT_NEON, neon_out, FLOATS);
    check(sa == MK_STATUS_OK && sn == MK_STATUS_OK && memcmp(auto_out, neon_out, sizeof auto_out) == 0,
          "dwconv2d_backward / pool2d_backward AUTO differ from NEON (%s, %s)", status_name(sa),
          status_name(sn));
}

// ---------------------------------------------------------------------------------------------
// Family: the weight-gradient GEMM (mk_weight_gradient_f32, weight_gradient.c, wgrad_template.h)
//
// c[i * ldc + j] (+)= sum over pixels p, in order, of a[p * lda + i] * b[p * ldb + j], and
// bias[i] (+)= sum over p of a[p * lda + i]. Each element is one float32 chain in pixel order on
// every variant, so: NEON within 1e-5 * sum|terms| of scalar (either may contract to FMA), both
// within float32 summation's bound ((pixels + 2) * 2^-24 * sum|terms|) of the float64
// definition, 2 threads bitwise equal to 1, and two calls splitting the pixels (the second with
// accumulate) bitwise equal to one call.

typedef struct {
    size_t pixels, m, n, lda, ldb, ldc;
    int accumulate, with_bias;
    tensor a, b, c0, bias0;  // inputs (flush) and the initial c / bias
} wg_setup;

// A fresh copy of the initial c and bias (gaps and guards hold sentinels).
static void wg_outputs(const wg_setup* s, tensor* c, tensor* bias) {
    tensor_clone(c, &s->c0, 0);
    if (s->with_bias) tensor_clone(bias, &s->bias0, 0);
}

static mk_status wg_call(const wg_setup* s, size_t p0, size_t pixels, int accumulate, tensor* c,
                         tensor* bias, mk_variant v, mk_threadpool* pool) {
    // Half the calls bring their own workspace (exactly the size asked for), half let the
    // operator allocate one.
    size_t bytes = 0;
    float* ws = NULL;
    if ((pixels + s->m) % 2 == 0 && mk_weight_gradient_f32_workspace_bytes(s->m, s->n, v, pool, &bytes) == MK_STATUS_OK) {
        ws = malloc(bytes);
    }
    const mk_status status = mk_weight_gradient_f32(pixels, s->m, s->n, s->a.p + p0 * s->lda, s->lda,
                                                    s->b.p + p0 * s->ldb, s->ldb, c->p, s->ldc,
                                                    s->with_bias ? bias->p : NULL, accumulate, ws, bytes, v, pool);
    free(ws);
    return status;
}

// The documented errors on this case's buffers: each returns its status and writes nothing.
static void wg_error_checks(const wg_setup* s) {
    tensor c, bias;
    memset(&bias, 0, sizeof bias);
    wg_outputs(s, &c, &bias);
    float* bp = s->with_bias ? bias.p : NULL;
    const float *a = s->a.p, *b = s->b.p;
    const size_t P = s->pixels, m = s->m, n = s->n, lda = s->lda, ldb = s->ldb, ldc = s->ldc;
    const mk_variant V = MK_VARIANT_NEON;
    size_t ws_bytes = 0;
    const mk_status ws_status = mk_weight_gradient_f32_workspace_bytes(m, n, V, g_pool2, &ws_bytes);
    check(ws_status == MK_STATUS_OK && ws_bytes > 0, "weight_gradient workspace_bytes = %s", status_name(ws_status));
    float* ws = malloc(ws_bytes);
    struct {
        const char* what;
        mk_status got, want;
    } e[] = {
        {"workspace short", mk_weight_gradient_f32(P, m, n, a, lda, b, ldb, c.p, ldc, bp, false, ws, ws_bytes - 4, V, g_pool2), MK_STATUS_INVALID_ARGUMENT},
        {"workspace == c", mk_weight_gradient_f32(P, m, n, a, lda, b, ldb, c.p, ldc, bp, false, c.p, ws_bytes, V, NULL), MK_STATUS_INVALID_ARGUMENT},
        {"workspace m 0", mk_weight_gradient_f32_workspace_bytes(0, n, V, NULL, &ws_bytes), MK_STATUS_INVALID_ARGUMENT},
        {"workspace NULL out", mk_weight_gradient_f32_workspace_bytes(m, n, V, NULL, NULL), MK_STATUS_NULL_POINTER},
        {"pixels 0", mk_weight_gradient_f32(0, m, n, a, lda, b, ldb, c.p, ldc, bp, false, NULL, 0, V, NULL), MK_STATUS_INVALID_ARGUMENT},
        {"m 0", mk_weight_gradient_f32(P, 0, n, a, lda, b, ldb, c.p, ldc, bp, false, NULL, 0, V, NULL), MK_STATUS_INVALID_ARGUMENT},
        {"n 0", mk_weight_gradient_f32(P, m, 0, a, lda, b, ldb, c.p, ldc, bp, false, NULL, 0, V, NULL), MK_STATUS_INVALID_ARGUMENT},
        {"lda < m", mk_weight_gradient_f32(P, m, n, a, m - 1, b, ldb, c.p, ldc, bp, false, NULL, 0, V, NULL), MK_STATUS_INVALID_ARGUMENT},
        {"ldb < n", mk_weight_gradient_f32(P, m, n, a, lda, b, n - 1, c.p, ldc, bp, false, NULL, 0, V, NULL), MK_STATUS_INVALID_ARGUMENT},
        {"ldc < n", mk_weight_gradient_f32(P, m, n, a, lda, b, ldb, c.p, n - 1, bp, true, NULL, 0, V, g_pool2), MK_STATUS_INVALID_ARGUMENT},
        {"c == a", mk_weight_gradient_f32(P, m, n, a, lda, b, ldb, (float*)a, ldc, bp, false, NULL, 0, V, NULL), MK_STATUS_INVALID_ARGUMENT},
        {"c == b", mk_weight_gradient_f32(P, m, n, a, lda, b, ldb, (float*)b, ldc, bp, false, NULL, 0, V, NULL), MK_STATUS_INVALID_ARGUMENT},
        {"a NULL", mk_weight_gradient_f32(P, m, n, NULL, lda, b, ldb, c.p, ldc, bp, false, NULL, 0, V, NULL), MK_STATUS_NULL_POINTER},
        {"b NULL", mk_weight_gradient_f32(P, m, n, a, lda, NULL, ldb, c.p, ldc, bp, false, NULL, 0, V, NULL), MK_STATUS_NULL_POINTER},
        {"c NULL", mk_weight_gradient_f32(P, m, n, a, lda, b, ldb, NULL, ldc, bp, false, NULL, 0, V, NULL), MK_STATUS_NULL_POINTER},
        {"avx2", mk_weight_gradient_f32(P, m, n, a, lda, b, ldb, c.p, ldc, bp, false, NULL, 0, MK_VARIANT_AVX2, NULL), MK_STATUS_UNSUPPORTED},
        {"avx512", mk_weight_gradient_f32(P, m, n, a, lda, b, ldb, c.p, ldc, bp, false, NULL, 0, MK_VARIANT_AVX512, NULL), MK_STATUS_UNSUPPORTED},
        {"blis", mk_weight_gradient_f32(P, m, n, a, lda, b, ldb, c.p, ldc, bp, true, NULL, 0, MK_VARIANT_BLIS, g_pool2), MK_STATUS_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
        if (e[i].got != e[i].want) {
            fail("weight_gradient(%s) = %s, want %s", e[i].what, status_name(e[i].got),
                 status_name(e[i].want));
        }
    }
    if (!compare_bitwise_region("c after the failing calls", &c, &s->c0) && s->with_bias) {
        compare_bitwise_region("bias after the failing calls", &bias, &s->bias0);
    }
    free(ws);
    tensor_free(&c);
    tensor_free(&bias);
}

// The case's a and b read as `groups` products side by side (m / groups columns of a and
// n / groups of b each): mk_grouped_weight_gradient_f32 bitwise equal to one
// mk_weight_gradient_f32 per group, NEON and scalar, on 1 thread and then on 2 accumulating
// onto that (the scalar one without the bias); its own errors.
static void wg_grouped_check(const wg_setup* s, size_t groups) {
    const size_t m = s->m / groups, n = s->n / groups, ldc = n + (chance(50) ? 2 : 0);
    tensor c_g, c_r, bias_g, bias_r;
    tensor_alloc(&c_g, groups * m, ldc, n, 0);
    tensor_alloc(&c_r, groups * m, ldc, n, 0);
    tensor_alloc(&bias_g, 1, groups * m, groups * m, 0);
    tensor_alloc(&bias_r, 1, groups * m, groups * m, 0);
    const mk_variant variants[] = {MK_VARIANT_NEON, MK_VARIANT_SCALAR};
    for (size_t v = 0; v < 2; v++) {
        for (size_t threads = 1; threads <= 2; threads++) {
            mk_threadpool* pool = threads == 2 ? g_pool2 : NULL;
            char what[96];
            snprintf(what, sizeof what, "grouped_weight_gradient(%s, %zu groups, %zu thread(s))",
                     variants[v] == MK_VARIANT_NEON ? "neon" : "scalar", groups, threads);
            // The second thread count accumulates onto the first's result (both sides), without
            // the bias on the scalar variant.
            const bool accumulate = threads == 2;
            float* bg = v == 1 && accumulate ? NULL : bias_g.p;
            if (!run_ok(what, mk_grouped_weight_gradient_f32(s->pixels, groups, m, n, s->a.p, s->lda, s->b.p, s->ldb,
                                                             c_g.p, ldc, bg, accumulate, NULL, 0, variants[v], pool))) {
                continue;
            }
            for (size_t g = 0; g < groups; g++) {
                run_ok("weight_gradient per group",
                       mk_weight_gradient_f32(s->pixels, m, n, s->a.p + g * m, s->lda, s->b.p + g * n, s->ldb,
                                              c_r.p + g * m * ldc, ldc, bg == NULL ? NULL : bias_r.p + g * m, accumulate,
                                              NULL, 0, variants[v], NULL));
            }
            if (!compare_bitwise_region(what, &c_g, &c_r)) compare_bitwise_region(what, &bias_g, &bias_r);
        }
    }
    const struct { const char* what; mk_status got, want; } e[] = {
        {"groups 0", mk_grouped_weight_gradient_f32(s->pixels, 0, m, n, s->a.p, s->lda, s->b.p, s->ldb, c_g.p, ldc, NULL,
                                                     false, NULL, 0, MK_VARIANT_NEON, NULL), MK_STATUS_INVALID_ARGUMENT},
        {"lda < groups * m", mk_grouped_weight_gradient_f32(s->pixels, groups, m, n, s->a.p, groups * m - 1, s->b.p, s->ldb,
                                                             c_g.p, ldc, NULL, false, NULL, 0, MK_VARIANT_NEON, NULL),
         MK_STATUS_INVALID_ARGUMENT},
        {"ldb < groups * n", mk_grouped_weight_gradient_f32(s->pixels, groups, m, n, s->a.p, s->lda, s->b.p, groups * n - 1,
                                                             c_g.p, ldc, NULL, false, NULL, 0, MK_VARIANT_NEON, NULL),
         MK_STATUS_INVALID_ARGUMENT},
        {"groups * m overflows", mk_grouped_weight_gradient_f32(s->pixels, SIZE_MAX / 2, m + 2, n, s->a.p, s->lda, s->b.p,
                                                                 s->ldb, c_g.p, ldc, NULL, false, NULL, 0, MK_VARIANT_NEON, NULL),
         MK_STATUS_SIZE_OVERFLOW},
    };
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
        if (e[i].got != e[i].want) {
            fail("grouped_weight_gradient(%s) = %s, want %s", e[i].what, status_name(e[i].got), status_name(e[i].want));
        }
    }
    tensor_free(&c_g);
    tensor_free(&c_r);
    tensor_free(&bias_g);
    tensor_free(&bias_r);
}

static void wg_case(unsigned index) {
    case_begin(FAM_WGRAD, index);
    rng_for_case(FAM_WGRAD, index);
    wg_setup s;
    memset(&s, 0, sizeof s);
    switch (rnd_range(0, 5)) {
        case 0: s.pixels = rnd_range(1, 8); break;
        case 1: s.pixels = rnd_range(60, 70); break;
        case 2: case 3: s.pixels = rnd_range(65, 700); break;
        default: s.pixels = rnd_range(1, 200); break;
    }
    // m past the 72-row block of A and n past the 1024-column pass of B now and then (the
    // latter with few pixels, for qemu's sake).
    s.m = chance(30) ? rnd_range(1, 6) : chance(15) ? rnd_range(70, 160) : rnd_range(1, 40);
    if (s.m % 6 == 0 && chance(70)) s.m++;
    const unsigned nk = (unsigned)rnd_range(0, 4);
    s.n = nk == 0 ? rnd_range(257, 300) : nk == 1 ? rnd_range(1, 9) : nk == 4 ? rnd_range(1020, 1100) : rnd_range(1, 256);
    if (nk == 4 && s.pixels > 40) s.pixels = rnd_range(1, 40);
    if (s.n % 8 == 0 && chance(60)) s.n++;
    while (s.pixels * s.m * s.n > 300000) s.pixels = s.pixels * 3 / 4;  // keeps the run short
    if (s.pixels > 64 && s.pixels % 64 == 0) s.pixels++;
    s.lda = s.m + (chance(30) ? rnd_range(1, 5) : 0);
    s.ldb = s.n + (chance(30) ? rnd_range(1, 5) : 0);
    s.ldc = s.n + (chance(40) ? rnd_range(1, 5) : 0);
    s.accumulate = chance(40);
    s.with_bias = chance(75);
    const int split = s.pixels >= 2 && chance(30);
    const size_t p1 = split ? rnd_range(1, s.pixels - 1) : 0;
    const int pooled = want_pool(index, 3);
    describe("pixels %zu m %zu n %zu lda %zu ldb %zu ldc %zu%s%s%s", s.pixels, s.m, s.n, s.lda,
             s.ldb, s.ldc, s.accumulate ? " accumulate" : "", s.with_bias ? " bias" : " bias NULL",
             split ? " split" : "");
    tensor_alloc(&s.a, s.pixels, s.lda, s.m, 1);
    tensor_alloc(&s.b, s.pixels, s.ldb, s.n, 1);
    tensor_fill(&s.a, 1.0f);
    tensor_fill(&s.b, 1.0f);
    tensor_alloc(&s.c0, s.m, s.ldc, s.n, 0);
    tensor_alloc(&s.bias0, 1, s.m, s.m, 0);
    if (s.accumulate) {
        tensor_fill(&s.c0, 2.0f);
        tensor_fill(&s.bias0, 2.0f);
    } else {  // must be ignored: NaN garbage (not the sentinel)
        const uint32_t garbage = 0x7FC0BEEFu;
        for (size_t i = 0; i < s.m; i++) {
            for (size_t j = 0; j < s.n; j++) memcpy(at(&s.c0, i, j), &garbage, 4);
            memcpy(at(&s.bias0, 0, i), &garbage, 4);
        }
    }
    tensor a_copy, b_copy, c_n, c_s, c_p, c_x, bias_n, bias_s, bias_p, bias_x;
    memset(&bias_n, 0, sizeof(tensor));
    bias_s = bias_p = bias_x = bias_n;
    memset(&c_p, 0, sizeof c_p);
    c_x = c_p;
    tensor_clone(&a_copy, &s.a, 1);
    tensor_clone(&b_copy, &s.b, 1);
    wg_outputs(&s, &c_n, &bias_n);
    wg_outputs(&s, &c_s, &bias_s);

    if (index % 4 == 0) wg_error_checks(&s);
    if (index % 3 == 1) {
        const size_t groups = (size_t)rnd_range(2, 4);
        if (s.m >= groups && s.n >= groups) wg_grouped_check(&s, groups);
    }
    if (!run_ok("neon", wg_call(&s, 0, s.pixels, s.accumulate, &c_n, &bias_n, MK_VARIANT_NEON, NULL)) ||
        !run_ok("scalar", wg_call(&s, 0, s.pixels, s.accumulate, &c_s, &bias_s, MK_VARIANT_SCALAR, NULL))) {
        goto done;
    }
    if (tensor_check_layout("a", &s.a, 0, &a_copy) || tensor_check_layout("b", &s.b, 0, &b_copy) ||
        tensor_check_layout("neon c", &c_n, 1, NULL) || tensor_check_layout("scalar c", &c_s, 1, NULL) ||
        (s.with_bias && (tensor_check_layout("neon bias", &bias_n, 1, NULL) ||
                         tensor_check_layout("scalar bias", &bias_s, 1, NULL)))) {
        goto done;
    }
    {
        close_acc vs, dn, ds;
        const double rel = ldexp((double)(s.pixels + 2), -24);
        int exact = 1;
        close_begin(&vs, "neon vs scalar c");
        close_begin(&dn, "neon c vs float64 definition");
        close_begin(&ds, "scalar c vs float64 definition");
        for (size_t i = 0; i < s.m; i++) {
            for (size_t j = 0; j < s.n; j++) {
                const double c0 = s.accumulate ? (double)*at(&s.c0, i, j) : 0.0;
                double sum = c0, abs_sum = fabs(c0);
                for (size_t p = 0; p < s.pixels; p++) {
                    const double t = (double)*at(&s.a, p, i) * (double)*at(&s.b, p, j);
                    sum += t;
                    abs_sum += fabs(t);
                }
                const float n = *at(&c_n, i, j), sc = *at(&c_s, i, j);
                exact &= bits_of(n) == bits_of(sc);
                close_add(&vs, i, j, n, sc, 1e-5 * abs_sum + 1e-30);
                close_add(&dn, i, j, n, sum, rel * abs_sum + 1e-30);
                close_add(&ds, i, j, sc, sum, rel * abs_sum + 1e-30);
            }
        }
        if (!close_end(&vs) && !close_end(&dn)) close_end(&ds);
        if (s.with_bias) {
            close_begin(&vs, "neon vs scalar bias");
            close_begin(&dn, "neon bias vs float64 definition");
            close_begin(&ds, "scalar bias vs float64 definition");
            for (size_t i = 0; i < s.m; i++) {
                const double b0 = s.accumulate ? (double)*at(&s.bias0, 0, i) : 0.0;
                double sum = b0, abs_sum = fabs(b0);
                for (size_t p = 0; p < s.pixels; p++) {
                    sum += (double)*at(&s.a, p, i);
                    abs_sum += fabs((double)*at(&s.a, p, i));
                }
                const float n = *at(&bias_n, 0, i), sc = *at(&bias_s, 0, i);
                exact &= bits_of(n) == bits_of(sc);
                close_add(&vs, 0, i, n, sc, 1e-5 * abs_sum + 1e-30);
                close_add(&dn, 0, i, n, sum, rel * abs_sum + 1e-30);
                close_add(&ds, 0, i, sc, sum, rel * abs_sum + 1e-30);
            }
            if (!close_end(&vs) && !close_end(&dn)) close_end(&ds);
        }
        if (exact) g_stats[FAM_WGRAD].exact_cases++;
    }
    if (split) {  // two calls over the pixels, the second accumulating: the same chains
        wg_outputs(&s, &c_x, &bias_x);
        if (run_ok("neon, pixels [0, split)", wg_call(&s, 0, p1, s.accumulate, &c_x, &bias_x, MK_VARIANT_NEON, NULL)) &&
            run_ok("neon, pixels [split, end) accumulate",
                   wg_call(&s, p1, s.pixels - p1, 1, &c_x, &bias_x, MK_VARIANT_NEON, NULL))) {
            char what[64];
            snprintf(what, sizeof what, "neon split at pixel %zu c", p1);
            if (!compare_bitwise_region(what, &c_x, &c_n) && s.with_bias) {
                compare_bitwise_region("neon split bias", &bias_x, &bias_n);
            }
        }
    }
    if (pooled) {
        g_stats[FAM_WGRAD].pool_checks++;
        wg_outputs(&s, &c_p, &bias_p);
        if (run_ok("neon, 2 threads", wg_call(&s, 0, s.pixels, s.accumulate, &c_p, &bias_p, MK_VARIANT_NEON, g_pool2))) {
            if (!compare_bitwise_region("neon 2 threads c", &c_p, &c_n) && s.with_bias) {
                compare_bitwise_region("neon 2 threads bias", &bias_p, &bias_n);
            }
        }
    }
done:;
    tensor* all[] = {&s.a, &s.b, &s.c0, &s.bias0, &a_copy, &b_copy, &c_n, &c_s, &c_p, &c_x,
                     &bias_n, &bias_s, &bias_p, &bias_x};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Family: a convolution's weight gradient with the patches built while packing
// (mk_conv2d_weight_gradient_f32, weight_gradient.c)
//
// The result must be bitwise what mk_weight_gradient_f32 gives on the materialized im2col
// patches with the same variant (scalar and NEON), and for NEON on 2 threads; NEON within the
// float32 bound of the float64 definition; nothing written outside dw and dbias.

static void cwg_case(unsigned index) {
    case_begin(FAM_CONV_WGRAD, index);
    rng_for_case(FAM_CONV_WGRAD, index);
    mk_conv2d_wgrad_geometry g;
    memset(&g, 0, sizeof g);
    g.batch = rnd_range(1, 3);
    const int alex = chance(8);
    g.kernel_h = alex ? 11 : rnd_range(1, 5);
    g.kernel_w = alex ? 11 : chance(70) ? g.kernel_h : rnd_range(1, 5);
    g.stride_h = alex ? 4 : rnd_range(1, 3);
    g.stride_w = alex ? 4 : chance(70) ? g.stride_h : rnd_range(1, 3);
    g.dilation_h = alex ? 1 : rnd_range(1, 2);
    g.dilation_w = alex ? 1 : rnd_range(1, 2);
    const size_t ext_h = g.dilation_h * (g.kernel_h - 1) + 1, ext_w = g.dilation_w * (g.kernel_w - 1) + 1;
    g.pad_top = rnd_range(0, ext_h - 1);
    g.pad_left = rnd_range(0, ext_w - 1);
    const size_t pad_bottom = rnd_range(0, ext_h - 1), pad_right = rnd_range(0, ext_w - 1);
    g.in_h = rnd_range(ext_h > g.pad_top + pad_bottom ? ext_h - g.pad_top - pad_bottom : 1, alex ? 27 : 12);
    g.in_w = rnd_range(ext_w > g.pad_left + pad_right ? ext_w - g.pad_left - pad_right : 1, alex ? 27 : 12);
    g.out_h = (g.in_h + g.pad_top + pad_bottom - ext_h) / g.stride_h + 1;
    g.out_w = (g.in_w + g.pad_left + pad_right - ext_w) / g.stride_w + 1;
    // Now and then past the 1024-column pass (120 channels x 9 taps) or the 72-row block.
    const int wide = !alex && g.kernel_h * g.kernel_w >= 9 && chance(15);
    g.in_channels = alex ? 3 : wide ? rnd_range(115, 125) : rnd_range(1, 20);
    g.out_channels = chance(15) ? rnd_range(70, 90) : rnd_range(1, 20);
    if (wide) g.batch = 1;
    g.input_pixel_stride = g.in_channels + (chance(40) ? rnd_range(1, 5) : 0);
    g.output_pixel_stride = g.out_channels + (chance(40) ? rnd_range(1, 5) : 0);
    const int with_bias = chance(75), accumulate = chance(30), pooled = want_pool(index, 3);
    const size_t P = g.batch * g.out_h * g.out_w, K = g.kernel_h * g.kernel_w * g.in_channels;
    const size_t M = g.out_channels;
    describe("batch %zu in %zux%zu out %zux%zu kernel %zux%zu stride %zux%zu dilation %zux%zu pad %zu,%zu "
             "channels %zu->%zu strides %zu,%zu%s%s",
             g.batch, g.in_h, g.in_w, g.out_h, g.out_w, g.kernel_h, g.kernel_w, g.stride_h, g.stride_w,
             g.dilation_h, g.dilation_w, g.pad_top, g.pad_left, g.in_channels, g.out_channels,
             g.input_pixel_stride, g.output_pixel_stride, with_bias ? " bias" : "", accumulate ? " accumulate" : "");
    tensor x, dy, patches, c0, b0;
    tensor c[5], b[5];  // neon, scalar, neon on patches, scalar on patches, neon 2 threads
    memset(c, 0, sizeof c);
    memset(b, 0, sizeof b);
    tensor_alloc(&x, g.batch * g.in_h * g.in_w, g.input_pixel_stride, g.in_channels, 1);
    tensor_alloc(&dy, P, g.output_pixel_stride, M, 1);
    tensor_fill(&x, 1.0f);
    tensor_fill(&dy, 1.0f);
    tensor_alloc(&patches, P, K, K, 1);
    tensor_alloc(&c0, M, K, K, 1);
    tensor_alloc(&b0, 1, M, M, 1);
    tensor_fill(&c0, 2.0f);
    tensor_fill(&b0, 2.0f);
    for (size_t p = 0; p < P; p++) {
        const size_t image = p / (g.out_h * g.out_w), oy = p % (g.out_h * g.out_w) / g.out_w, ox = p % g.out_w;
        for (size_t ky = 0; ky < g.kernel_h; ky++) {
            for (size_t kx = 0; kx < g.kernel_w; kx++) {
                const long iy = (long)(oy * g.stride_h + ky * g.dilation_h) - (long)g.pad_top;
                const long ix = (long)(ox * g.stride_w + kx * g.dilation_w) - (long)g.pad_left;
                const int inside = iy >= 0 && ix >= 0 && iy < (long)g.in_h && ix < (long)g.in_w;
                for (size_t ci = 0; ci < g.in_channels; ci++) {
                    *at(&patches, p, (ky * g.kernel_w + kx) * g.in_channels + ci) =
                        inside ? *at(&x, (image * g.in_h + (size_t)iy) * g.in_w + (size_t)ix, ci) : 0.0f;
                }
            }
        }
    }
    for (int i = 0; i < 5; i++) {
        tensor_clone(&c[i], &c0, 1);
        tensor_clone(&b[i], &b0, 1);
    }
    mk_status st[5];
    st[0] = mk_conv2d_weight_gradient_f32(&g, x.p, dy.p, c[0].p, with_bias ? b[0].p : NULL, accumulate, NULL, 0,
                                          MK_VARIANT_NEON, NULL);
    st[1] = mk_conv2d_weight_gradient_f32(&g, x.p, dy.p, c[1].p, with_bias ? b[1].p : NULL, accumulate, NULL, 0,
                                          MK_VARIANT_SCALAR, NULL);
    st[2] = mk_weight_gradient_f32(P, M, K, dy.p, g.output_pixel_stride, patches.p, K, c[2].p, K,
                                   with_bias ? b[2].p : NULL, accumulate, NULL, 0, MK_VARIANT_NEON, NULL);
    st[3] = mk_weight_gradient_f32(P, M, K, dy.p, g.output_pixel_stride, patches.p, K, c[3].p, K,
                                   with_bias ? b[3].p : NULL, accumulate, NULL, 0, MK_VARIANT_SCALAR, NULL);
    st[4] = MK_STATUS_OK;
    if (pooled) {
        size_t bytes = 0;
        g_stats[FAM_CONV_WGRAD].pool_checks++;
        st[4] = mk_conv2d_weight_gradient_f32_workspace_bytes(&g, MK_VARIANT_NEON, g_pool2, &bytes);
        float* ws = malloc(bytes);
        if (st[4] == MK_STATUS_OK) {
            st[4] = mk_conv2d_weight_gradient_f32(&g, x.p, dy.p, c[4].p, with_bias ? b[4].p : NULL, accumulate, ws,
                                                  bytes, MK_VARIANT_NEON, g_pool2);
        }
        free(ws);
    }
    static const char* const names[5] = {"neon", "scalar", "neon on patches", "scalar on patches", "neon 2 threads"};
    for (int i = 0; i < 5; i++) {
        if (!run_ok(names[i], st[i])) goto done;
        if (tensor_check_layout(names[i], &c[i], 1, NULL) || tensor_check_layout(names[i], &b[i], 1, NULL)) goto done;
    }
    if (compare_bitwise_region("neon vs neon on patches", &c[0], &c[2]) ||
        compare_bitwise_region("scalar vs scalar on patches", &c[1], &c[3]) ||
        (pooled && compare_bitwise_region("neon 2 threads", &c[4], &c[0]))) {
        goto done;
    }
    if (with_bias && (compare_bitwise_region("neon bias vs on patches", &b[0], &b[2]) ||
                      compare_bitwise_region("scalar bias vs on patches", &b[1], &b[3]) ||
                      (pooled && compare_bitwise_region("neon 2 threads bias", &b[4], &b[0])))) {
        goto done;
    }
    if (!with_bias && compare_bitwise_region("dbias NULL: untouched", &b[0], &b0)) goto done;
    {
        close_acc dn;
        const double rel = ldexp((double)(P + 2), -24);
        int exact = 1;
        close_begin(&dn, "neon dw vs float64 definition");
        for (size_t o = 0; o < M; o++) {
            for (size_t j = 0; j < K; j++) {
                const double start = accumulate ? (double)*at(&c0, o, j) : 0.0;
                double sum = start, abs_sum = fabs(start);
                for (size_t p = 0; p < P; p++) {
                    const double t = (double)*at(&dy, p, o) * (double)*at(&patches, p, j);
                    sum += t;
                    abs_sum += fabs(t);
                }
                exact &= bits_of(*at(&c[0], o, j)) == bits_of(*at(&c[1], o, j));
                close_add(&dn, o, j, *at(&c[0], o, j), sum, rel * abs_sum + 1e-30);
            }
        }
        close_end(&dn);
        if (exact) g_stats[FAM_CONV_WGRAD].exact_cases++;
    }
    if (index % 5 == 0) {  // the documented errors: each returns its status and writes nothing
        mk_conv2d_wgrad_geometry bad = g;
        typedef struct {
            const char* what;
            mk_status got, want;
        } cwg_error;
        cwg_error e[8];
        size_t n = 0, bytes = 0;
        float tiny[4];
        e[n++] = (cwg_error){"geometry NULL", mk_conv2d_weight_gradient_f32(NULL, x.p, dy.p, c[1].p, NULL, false, NULL, 0, MK_VARIANT_NEON, NULL), MK_STATUS_NULL_POINTER};
        e[n++] = (cwg_error){"x NULL", mk_conv2d_weight_gradient_f32(&g, NULL, dy.p, c[1].p, NULL, false, NULL, 0, MK_VARIANT_NEON, NULL), MK_STATUS_NULL_POINTER};
        bad.kernel_w = 0;
        e[n++] = (cwg_error){"kernel_w 0", mk_conv2d_weight_gradient_f32(&bad, x.p, dy.p, c[1].p, NULL, false, NULL, 0, MK_VARIANT_NEON, NULL), MK_STATUS_INVALID_ARGUMENT};
        bad = g;
        bad.input_pixel_stride = g.in_channels - 1;
        e[n++] = (cwg_error){"input stride < channels", mk_conv2d_weight_gradient_f32(&bad, x.p, dy.p, c[1].p, NULL, false, NULL, 0, MK_VARIANT_NEON, NULL), MK_STATUS_INVALID_ARGUMENT};
        bad = g;
        bad.out_h = SIZE_MAX / 2;
        e[n++] = (cwg_error){"out_h huge", mk_conv2d_weight_gradient_f32(&bad, x.p, dy.p, c[1].p, NULL, false, NULL, 0, MK_VARIANT_NEON, NULL), MK_STATUS_SIZE_OVERFLOW};
        e[n++] = (cwg_error){"dw == x", mk_conv2d_weight_gradient_f32(&g, x.p, dy.p, x.p, NULL, false, NULL, 0, MK_VARIANT_NEON, NULL), MK_STATUS_INVALID_ARGUMENT};
        e[n++] = (cwg_error){"workspace short", mk_conv2d_weight_gradient_f32(&g, x.p, dy.p, c[1].p, NULL, false, tiny, sizeof tiny, MK_VARIANT_NEON, NULL), MK_STATUS_INVALID_ARGUMENT};
        e[n++] = (cwg_error){"avx2", mk_conv2d_weight_gradient_f32_workspace_bytes(&g, MK_VARIANT_AVX2, NULL, &bytes), MK_STATUS_UNSUPPORTED};
        for (size_t i = 0; i < n; i++) {
            if (e[i].got != e[i].want) {
                fail("conv_weight_gradient(%s) = %s, want %s", e[i].what, status_name(e[i].got), status_name(e[i].want));
            }
        }
        compare_bitwise_region("dw after the failing calls", &c[1], &c[3]);
    }
done:;
    tensor* all[] = {&x, &dy, &patches, &c0, &b0};
    for (size_t i = 0; i < 5; i++) tensor_free(all[i]);
    for (int i = 0; i < 5; i++) {
        tensor_free(&c[i]);
        tensor_free(&b[i]);
    }
    case_end();
}

// Part of the `variants` family: AVX2 / AVX-512 / BLIS are UNSUPPORTED and write nothing; AUTO
// computes NEON's bits.
static void wg_variant_checks(void) {
    enum { P = 5, M = 7, N = 19 };
    float a[P * M], b[P * N], c[M * N], bias[M], c_auto[M * N], bias_auto[M];
    for (int i = 0; i < P * M; i++) a[i] = 0.1f * (float)(i % 7) - 0.3f;
    for (int i = 0; i < P * N; i++) b[i] = 0.05f * (float)(i % 11) - 0.2f;
    const mk_variant unsupported[] = {MK_VARIANT_AVX2, MK_VARIANT_AVX512, MK_VARIANT_BLIS};
    for (size_t i = 0; i < 3; i++) {
        for (int k = 0; k < M * N; k++) memcpy(&c[k], &SENTINEL, 4);
        for (int k = 0; k < M; k++) memcpy(&bias[k], &SENTINEL, 4);
        const mk_status s = mk_weight_gradient_f32(P, M, N, a, M, b, N, c, N, bias, false, NULL, 0, unsupported[i], NULL);
        int clean = 1;
        for (int k = 0; k < M * N; k++) clean &= is_sentinel(c[k]);
        for (int k = 0; k < M; k++) clean &= is_sentinel(bias[k]);
        check(s == MK_STATUS_UNSUPPORTED && clean, "weight_gradient(%s) = %s%s",
              mk_variant_name(unsupported[i]), status_name(s), clean ? "" : " and wrote its output");
    }
    const mk_status sa = mk_weight_gradient_f32(P, M, N, a, M, b, N, c_auto, N, bias_auto, false, NULL, 0, MK_VARIANT_AUTO, NULL);
    const mk_status sn = mk_weight_gradient_f32(P, M, N, a, M, b, N, c, N, bias, false, NULL, 0, MK_VARIANT_NEON, NULL);
    check(sa == MK_STATUS_OK && sn == MK_STATUS_OK && memcmp(c, c_auto, sizeof c) == 0 &&
              memcmp(bias, bias_auto, sizeof bias) == 0,
          "weight_gradient AUTO differs from NEON (%s, %s)", status_name(sa), status_name(sn));
}

// ---------------------------------------------------------------------------------------------
// Family: squeeze-and-excitation training (mk_squeeze_excitation_f32_run_train, _backward)
//
// run_train must give run's output bits, and its saved values ([pooled means C | fc1's output
// before the ReLU S | fc2's before the hardsigmoid C] per image) must be within the SE
// forward's tolerance, 1e-5 * (C + S) + 1e-4 * |scalar|, of scalar's and of the float64 layers
// recomputed from the variant's own means (the output, likewise, of x * hardsigmoid(its z2)).
// Both backwards then run on NEON's saved values: were each fed its own, a z1 near 0 or a z2
// near +-3 could lie on different sides of a kink in the two variants. dx, dW1, db1, dW2 and db2
// (written, not added: the outputs start as sentinels) must be within rel * A + 1e-4 * |scalar|
// of each other, and within rel * A of the float64 definition computed here from the same saved
// values: gate = hardsigmoid(z2), dgate = sum over the image of dy * x, dz2 = dgate / 6 strictly
// inside (-3, 3), dz1 = fc2^T dz2 where z1 > 0, dx = dy * gate + fc1^T dz1 / (h * w), and the
// parameter gradients summed over the images. A is the value's sum of |terms| expanded through
// that chain (|dy * x| summed, then through |fc2|, |fc1|, ...), and rel = max(1e-5, (h * w + C +
// S + batch + 8) * 2^-24) bounds float32 rounding along its longest chain of sums, in any order
// (no relative slack there: a gradient 1e-4 off must fail). 2 threads (each image's sums and the
// sums over images have a fixed order) and in place (dx == dy) must give one thread's
// out-of-place bits. fc2 rows of zeros with a bias of exactly +-3 (fc1 rows of zeros with a zero
// bias) put z2 on the hardsigmoid's kinks (z1 on the ReLU's) exactly, where the gradient must be
// 0 (PyTorch's rules).

typedef struct {
    size_t batch, h, w, C, S, P;  // P = batch * h * w
    size_t in_layout, in_arg, out_layout, out_arg;
    int with_b1, with_b2, with_db1, with_db2;
    float *w1, *b1, *w2, *b2;                // b1 and b2 are zeros when not passed
    tensor x, x_copy, dy, dy_copy;           // inputs, flush against PROT_NONE
    tensor saved, saved_copy;                // the backwards' saved values (NEON's), flush
} seb_setup;

typedef struct {
    tensor dx, dw1, db1, dw2, db2;  // db1 / db2 unallocated when passed NULL
} seb_out;

static void seb_out_free(seb_out* o) {
    tensor_free(&o->dx);
    tensor_free(&o->dw1);
    tensor_free(&o->db1);
    tensor_free(&o->dw2);
    tensor_free(&o->db2);
}

static void seb_out_alloc(const seb_setup* s, seb_out* o) {
    memset(o, 0, sizeof *o);
    tensor_alloc(&o->dx, s->P, s->out_layout, s->C, 0);
    tensor_alloc(&o->dw1, s->S, s->C, s->C, 0);
    tensor_alloc(&o->dw2, s->C, s->S, s->S, 0);
    if (s->with_db1) tensor_alloc(&o->db1, 1, s->S, s->S, 0);
    if (s->with_db2) tensor_alloc(&o->db2, 1, s->C, s->C, 0);
}

// run and run_train with a plan made for `pool`; checks both outputs' and saved's gaps, guards
// and unwritten elements, that the input did not change and that the outputs are the same bits.
// 1 when all is well.
static int seb_forward(const seb_setup* s, const mk_squeeze_excitation_f32_op* op, const char* name,
                       mk_threadpool* pool, tensor* out_run, tensor* out_train, tensor* saved) {
    char what[96];
    tensor_alloc(out_run, s->P, s->out_layout, s->C, 0);
    tensor_alloc(out_train, s->P, s->out_layout, s->C, 0);
    tensor_alloc(saved, s->batch, 2 * s->C + s->S, 2 * s->C + s->S, 0);
    mk_squeeze_excitation_f32_plan plan;
    snprintf(what, sizeof what, "reshape(%s)", name);
    if (!run_ok(what, mk_squeeze_excitation_f32_reshape(op, s->batch, s->h, s->w, s->in_arg, s->out_arg,
                                                        pool, &plan))) {
        return 0;
    }
    snprintf(what, sizeof what, "run(%s)", name);
    if (!run_ok(what, mk_squeeze_excitation_f32_run(op, &plan, s->x.p, out_run->p, pool))) return 0;
    snprintf(what, sizeof what, "run_train(%s)", name);
    if (!run_ok(what, mk_squeeze_excitation_f32_run_train(op, &plan, s->x.p, out_train->p, saved->p, pool))) {
        return 0;
    }
    snprintf(what, sizeof what, "%s run_train output", name);
    if (tensor_check_layout(what, out_train, 1, NULL)) return 0;
    snprintf(what, sizeof what, "%s saved", name);
    if (tensor_check_layout(what, saved, 1, NULL)) return 0;
    snprintf(what, sizeof what, "input x (after %s)", name);
    if (tensor_check_layout(what, &s->x, 0, &s->x_copy)) return 0;
    snprintf(what, sizeof what, "%s run_train output vs run's", name);
    return !compare_bitwise_region(what, out_train, out_run);
}

// The backward into freshly allocated outputs. `ws_mode` 0: no workspace (the operator
// allocates one); k = 1..16: exactly the reported size at an address (k - 1) floats short of a
// PROT_NONE page, so the k - 1 floats after it (sentinels) catch a write past its end and the
// operator must align it itself; the guards before it catch one before its start. With
// `in_place`, dx starts as a copy of dy and is passed as both. 1 when all is well.
static int seb_backward(const seb_setup* s, const mk_squeeze_excitation_f32_op* op, const char* name,
                        mk_threadpool* pool, int in_place, unsigned ws_mode, seb_out* o) {
    char what[96];
    seb_out_alloc(s, o);
    if (in_place) {
        for (size_t i = 0; i < s->P; i++) memcpy(at(&o->dx, i, 0), at(&s->dy, i, 0), s->C * sizeof(float));
    }
    mk_squeeze_excitation_f32_plan plan;
    snprintf(what, sizeof what, "reshape(%s)", name);
    if (!run_ok(what, mk_squeeze_excitation_f32_reshape(op, s->batch, s->h, s->w, s->in_arg, s->out_arg,
                                                        pool, &plan))) {
        return 0;
    }
    size_t bytes = 0;
    snprintf(what, sizeof what, "backward_workspace_bytes(%s)", name);
    if (!run_ok(what, mk_squeeze_excitation_f32_backward_workspace_bytes(op, s->batch, pool, &bytes))) return 0;
    tensor ws;
    memset(&ws, 0, sizeof ws);
    const size_t tail = ws_mode > 0 ? ws_mode - 1 : 0;
    if (ws_mode > 0) {
        tensor_alloc(&ws, 1, bytes / sizeof(float) + tail, bytes / sizeof(float) + tail, 1);
        memset(ws.p, 0xFF, bytes);  // NaN garbage
    }
    snprintf(what, sizeof what, "backward(%s)", name);
    int ok = run_ok(what, mk_squeeze_excitation_f32_backward(
                              op, &plan, s->x.p, s->saved.p, in_place ? o->dx.p : s->dy.p, o->dx.p, o->dw1.p,
                              s->with_db1 ? o->db1.p : NULL, o->dw2.p, s->with_db2 ? o->db2.p : NULL,
                              ws_mode > 0 ? (void*)ws.p : NULL, bytes, pool));
    if (ws_mode > 0) {
        if (tensor_check_layout("workspace (before its start)", &ws, 0, NULL)) ok = 0;
        for (size_t i = 0; ok && i < tail; i++) {
            if (!is_sentinel(ws.p[bytes / sizeof(float) + i])) {
                fail("%s wrote float %zu past the end of its %zu-byte workspace", what, i, bytes);
                ok = 0;
            }
        }
        tensor_free(&ws);
    }
    if (!ok) return 0;
    const struct {
        const char* what;
        const tensor* t;
    } outs[] = {{"dx", &o->dx}, {"dW1", &o->dw1}, {"db1", &o->db1}, {"dW2", &o->dw2}, {"db2", &o->db2}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        if (outs[i].t->map == NULL) continue;
        snprintf(what, sizeof what, "%s %s", name, outs[i].what);
        if (tensor_check_layout(what, outs[i].t, 1, NULL)) return 0;
    }
    const struct {
        const char* what;
        const tensor *t, *copy;
    } ins[] = {{"x", &s->x, &s->x_copy}, {"dy", &s->dy, &s->dy_copy}, {"saved", &s->saved, &s->saved_copy}};
    for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) {
        if (in_place && ins[i].t == &s->dy) continue;  // not passed
        snprintf(what, sizeof what, "input %s (after %s)", ins[i].what, name);
        if (tensor_check_layout(what, ins[i].t, 0, ins[i].copy)) return 0;
    }
    return 1;
}

// The float64 definition on the saved values: each value and its sum of |terms| (see above).
typedef struct {
    double *dx, *dx_abs, *dw1, *dw1_abs, *db1, *db1_abs, *dw2, *dw2_abs, *db2, *db2_abs;
} seb_ref;

static void seb_ref_compute(const seb_setup* s, seb_ref* r) {
    const size_t C = s->C, S = s->S, HW = s->h * s->w;
    double* m = calloc(2 * (s->P * C + 2 * C * S + S + C) + 4 * (C + S), sizeof(double));
    r->dx = m;
    r->dx_abs = r->dx + s->P * C;
    r->dw1 = r->dx_abs + s->P * C;
    r->dw1_abs = r->dw1 + S * C;
    r->db1 = r->dw1_abs + S * C;
    r->db1_abs = r->db1 + S;
    r->dw2 = r->db1_abs + S;
    r->dw2_abs = r->dw2 + C * S;
    r->db2 = r->dw2_abs + C * S;
    r->db2_abs = r->db2 + C;
    double* dz2 = r->db2_abs + C;  // per image: dz2, its |terms|, dz1, its |terms|
    double* az2 = dz2 + C;
    double* dz1 = az2 + C;
    double* az1 = dz1 + S;
    for (size_t n = 0; n < s->batch; n++) {
        const float* pooled = at(&s->saved_copy, n, 0);
        const float* z1 = pooled + C;
        const float* z2 = z1 + S;
        for (size_t c = 0; c < C; c++) {
            double g = 0.0, ag = 0.0;
            for (size_t q = 0; q < HW; q++) {
                const double t = (double)*at(&s->dy_copy, n * HW + q, c) * (double)*at(&s->x_copy, n * HW + q, c);
                g += t;
                ag += fabs(t);
            }
            const int inside = z2[c] > -3.0f && z2[c] < 3.0f;
            dz2[c] = inside ? g / 6.0 : 0.0;
            az2[c] = inside ? ag / 6.0 : 0.0;
        }
        for (size_t j = 0; j < S; j++) {
            double h = 0.0, ah = 0.0;
            for (size_t c = 0; c < C; c++) {
                h += (double)s->w2[c * S + j] * dz2[c];
                ah += fabs((double)s->w2[c * S + j]) * az2[c];
            }
            dz1[j] = z1[j] > 0.0f ? h : 0.0;
            az1[j] = z1[j] > 0.0f ? ah : 0.0;
        }
        for (size_t c = 0; c < C; c++) {
            double dp = 0.0, ap = 0.0;
            for (size_t j = 0; j < S; j++) {
                dp += (double)s->w1[j * C + c] * dz1[j];
                ap += fabs((double)s->w1[j * C + c]) * az1[j];
            }
            dp /= (double)HW;
            ap /= (double)HW;
            const double gate = fmin(fmax((double)z2[c] + 3.0, 0.0), 6.0) / 6.0;
            for (size_t q = 0; q < HW; q++) {
                const double t = (double)*at(&s->dy_copy, n * HW + q, c) * gate;
                r->dx[(n * HW + q) * C + c] = t + dp;
                r->dx_abs[(n * HW + q) * C + c] = fabs(t) + ap;
            }
            r->db2[c] += dz2[c];
            r->db2_abs[c] += az2[c];
            for (size_t j = 0; j < S; j++) {
                const double t = z1[j] > 0.0f ? (double)z1[j] : 0.0;
                r->dw2[c * S + j] += dz2[c] * t;
                r->dw2_abs[c * S + j] += az2[c] * t;
            }
        }
        for (size_t j = 0; j < S; j++) {
            r->db1[j] += dz1[j];
            r->db1_abs[j] += az1[j];
            for (size_t c = 0; c < C; c++) {
                r->dw1[j * C + c] += dz1[j] * (double)pooled[c];
                r->dw1_abs[j * C + c] += az1[j] * fabs((double)pooled[c]);
            }
        }
    }
}

// `o` against `ref` (another variant's outputs: within rel * |terms| + 1e-4 * |ref's value|, the
// SE forward's form) or, with NULL, the definition (within rel * |terms|, a bound on float32's
// rounding along any order of the sums). Reports the first output that fails.
static void seb_check(const seb_setup* s, const seb_out* o, const seb_out* ref, const seb_ref* r,
                      const char* name) {
    const size_t HW = s->h * s->w;
    const double rel = fmax(1e-5, ldexp((double)(HW + s->C + s->S + s->batch + 8), -24));
    const struct {
        const char* what;
        const tensor *t, *u;
        const double *v, *a;
    } outs[] = {{"dx", &o->dx, &ref->dx, r->dx, r->dx_abs},
                {"dW1 (pixel = row j, channel = c)", &o->dw1, &ref->dw1, r->dw1, r->dw1_abs},
                {"db1", &o->db1, &ref->db1, r->db1, r->db1_abs},
                {"dW2 (pixel = row c, channel = j)", &o->dw2, &ref->dw2, r->dw2, r->dw2_abs},
                {"db2", &o->db2, &ref->db2, r->db2, r->db2_abs}};
    for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) {
        const tensor* t = outs[k].t;
        if (t->map == NULL) continue;
        char what[128];
        snprintf(what, sizeof what, "%s %s vs %s", name, outs[k].what, ref ? "scalar" : "float64 definition");
        close_acc acc;
        close_begin(&acc, what);
        for (size_t i = 0; i < t->pixels; i++) {
            for (size_t c = 0; c < t->channels; c++) {
                const size_t e = i * t->channels + c;
                const double other = ref ? (double)*at(outs[k].u, i, c) : outs[k].v[e];
                const double slack = ref ? 1e-4 * fabs(other) : 0.0;  // the SE forward's, for scalar
                close_add(&acc, i, c, *at(t, i, c), other, rel * outs[k].a[e] + slack + 1e-30);
            }
        }
        if (close_end(&acc)) return;
    }
}

// Every output bitwise: whole regions (reporting, `what` naming the run) or valid elements
// (silent, for the count of exact cases).
static int seb_outputs_bitwise(const seb_out* a, const seb_out* b, const char* what) {
    const tensor* ta[5] = {&a->dx, &a->dw1, &a->db1, &a->dw2, &a->db2};
    const tensor* tb[5] = {&b->dx, &b->dw1, &b->db1, &b->dw2, &b->db2};
    static const char* const names[5] = {"dx", "dW1", "db1", "dW2", "db2"};
    for (int i = 0; i < 5; i++) {
        if (ta[i]->map == NULL) continue;
        if (what != NULL) {
            char full[128];
            snprintf(full, sizeof full, "%s %s", what, names[i]);
            if (compare_bitwise_region(full, ta[i], tb[i])) return 0;
        } else if (!tensors_bitwise_equal(ta[i], tb[i])) {
            return 0;
        }
    }
    return 1;
}

static int seb_untouched(const seb_out* o) {
    const tensor* t[5] = {&o->dx, &o->dw1, &o->db1, &o->dw2, &o->db2};
    for (int i = 0; i < 5; i++) {
        if (t[i]->map != NULL && !tensor_untouched(t[i])) return 0;
    }
    return 1;
}

// The documented errors on this case's shape (NEON's op, `other` a second op); each failing
// call must write nothing.
static void seb_error_checks(const seb_setup* s, const mk_squeeze_excitation_f32_op* op,
                             const mk_squeeze_excitation_f32_op* other) {
    const size_t C = s->C, S = s->S;
    mk_squeeze_excitation_f32_plan plan, other_plan;
    size_t bytes = 0, zero_bytes = 1;
    if (!run_ok("reshape(errors)", mk_squeeze_excitation_f32_reshape(op, s->batch, s->h, s->w, s->in_arg,
                                                                     s->out_arg, NULL, &plan)) ||
        !run_ok("reshape(other op, errors)", mk_squeeze_excitation_f32_reshape(other, s->batch, s->h, s->w,
                                                                               s->in_arg, s->out_arg, NULL,
                                                                               &other_plan)) ||
        !run_ok("backward_workspace_bytes(errors)",
                mk_squeeze_excitation_f32_backward_workspace_bytes(op, s->batch, NULL, &bytes))) {
        return;
    }
    const size_t saved_floats = mk_squeeze_excitation_f32_saved_floats(op, s->batch);
    if (saved_floats != s->batch * (2 * C + S) || mk_squeeze_excitation_f32_saved_floats(NULL, 1) != 0) {
        fail("saved_floats = %zu (want %zu), %zu for a NULL op (want 0)", saved_floats,
             s->batch * (2 * C + S), mk_squeeze_excitation_f32_saved_floats(NULL, 1));
    }
    seb_out o;
    seb_out_alloc(s, &o);
    float* db1 = s->with_db1 ? o.db1.p : NULL;
    float* db2 = s->with_db2 ? o.db2.p : NULL;
    const size_t in_extent = (s->P - 1) * s->in_layout + C, out_extent = (s->P - 1) * s->out_layout + C;
    // A scratch region that the calls below may name as an overlapping operand: large enough for
    // any of them, so a missed overlap shows as a change here rather than a crash.
    const size_t scratch_floats = 2 * (in_extent + out_extent + 2 * C * S + bytes / sizeof(float)) + 64;
    float* scratch = malloc(scratch_floats * sizeof(float));
    for (size_t i = 0; i < scratch_floats; i++) scratch[i] = 0.5f;
    void* ws = mk_aligned_alloc(bytes);
    tensor out, saved;
    tensor_alloc(&out, s->P, s->out_layout, C, 0);
    tensor_alloc(&saved, s->batch, 2 * C + S, 2 * C + S, 0);
    const float *x = s->x.p, *dy = s->dy.p, *sv = s->saved.p;
    typedef struct {
        const char* what;
        mk_status got, want;
    } seb_error;
    seb_error e[16];
    size_t n = 0;
    e[n++] = (seb_error){"workspace one byte short", mk_squeeze_excitation_f32_backward(op, &plan, x, sv, dy, o.dx.p, o.dw1.p, db1, o.dw2.p, db2, ws, bytes - 1, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (seb_error){"fc2 weight gradient == fc1's", mk_squeeze_excitation_f32_backward(op, &plan, x, sv, dy, o.dx.p, o.dw1.p, db1, o.dw1.p, db2, ws, bytes, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (seb_error){"fc2 weight gradient overlapping fc1's last element", mk_squeeze_excitation_f32_backward(op, &plan, x, sv, dy, o.dx.p, scratch, db1, scratch + C * S - 1, db2, NULL, 0, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (seb_error){"saved NULL", mk_squeeze_excitation_f32_backward(op, &plan, x, NULL, dy, o.dx.p, o.dw1.p, db1, o.dw2.p, db2, ws, bytes, NULL), MK_STATUS_NULL_POINTER};
    e[n++] = (seb_error){"a plan of another op", mk_squeeze_excitation_f32_backward(op, &other_plan, x, sv, dy, o.dx.p, o.dw1.p, db1, o.dw2.p, db2, ws, bytes, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (seb_error){"dx overlapping x", mk_squeeze_excitation_f32_backward(op, &plan, scratch, sv, dy, scratch + in_extent - 1, o.dw1.p, db1, o.dw2.p, db2, ws, bytes, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (seb_error){"dx one float past dy", mk_squeeze_excitation_f32_backward(op, &plan, x, sv, scratch, scratch + 1, o.dw1.p, db1, o.dw2.p, db2, ws, bytes, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (seb_error){"fc1 weight gradient overlapping saved", mk_squeeze_excitation_f32_backward(op, &plan, x, scratch, dy, o.dx.p, scratch + s->batch * (2 * C + S) - 1, db1, o.dw2.p, db2, ws, bytes, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (seb_error){"workspace overlapping dx", mk_squeeze_excitation_f32_backward(op, &plan, x, sv, dy, scratch, o.dw1.p, db1, o.dw2.p, db2, scratch + out_extent - 1, bytes, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (seb_error){"workspace_bytes for batch 0", mk_squeeze_excitation_f32_backward_workspace_bytes(op, 0, NULL, &zero_bytes), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (seb_error){"workspace_bytes NULL op", mk_squeeze_excitation_f32_backward_workspace_bytes(NULL, s->batch, NULL, &zero_bytes), MK_STATUS_NULL_POINTER};
    e[n++] = (seb_error){"run_train saved NULL", mk_squeeze_excitation_f32_run_train(op, &plan, x, out.p, NULL, NULL), MK_STATUS_NULL_POINTER};
    e[n++] = (seb_error){"run_train a plan of another op", mk_squeeze_excitation_f32_run_train(op, &other_plan, x, out.p, saved.p, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (seb_error){"run_train saved overlapping the output", mk_squeeze_excitation_f32_run_train(op, &plan, x, scratch, scratch + out_extent - 1, NULL), MK_STATUS_INVALID_ARGUMENT};
    for (size_t i = 0; i < n; i++) {
        if (e[i].got != e[i].want) {
            fail("squeeze_excitation(%s) = %s, want %s", e[i].what, status_name(e[i].got), status_name(e[i].want));
        }
    }
    int scratch_ok = 1;
    for (size_t i = 0; i < scratch_floats; i++) scratch_ok &= scratch[i] == 0.5f;
    if (!seb_untouched(&o) || !tensor_untouched(&out) || !tensor_untouched(&saved) || !scratch_ok) {
        fail("a failing call wrote an output (%s)", !scratch_ok ? "an overlapping operand" : "the gradients, output or saved");
    }
    tensor_check_layout("input x (after the failing calls)", &s->x, 0, &s->x_copy);
    tensor_check_layout("input dy (after the failing calls)", &s->dy, 0, &s->dy_copy);
    tensor_check_layout("input saved (after the failing calls)", &s->saved, 0, &s->saved_copy);
    free(scratch);
    mk_aligned_free(ws);
    tensor_free(&out);
    tensor_free(&saved);
    seb_out_free(&o);
}

static void seb_case(unsigned index) {
    case_begin(FAM_SE_BWD, index);
    rng_for_case(FAM_SE_BWD, index);
    seb_setup s;
    memset(&s, 0, sizeof s);
    // Channels off 4 and 16 (the vector and block tails) most of the time, past 64 (two tiles on
    // 2 threads) sometimes.
    s.C = chance(70) ? random_pool_channels() : rnd_range(71, 200);
    if (s.C % 4 == 0 && chance(50)) s.C -= rnd_range(1, 3);
    switch (rnd_range(0, 3)) {
        case 0: s.S = s.C / 4 > 0 ? (s.C / 4 > 64 ? 64 : s.C / 4) : 1; break;  // MobileNetV3: C / 4
        case 1: s.S = rnd_range(1, 8); break;
        default: s.S = rnd_range(1, 64);
    }
    s.batch = chance(40) ? 1 : rnd_range(2, 4);
    s.h = rnd_range(1, 9);
    s.w = rnd_range(1, 9);
    if (chance(10)) s.h = s.w = 1;
    s.P = s.batch * s.h * s.w;
    random_stride(s.C, 50, &s.in_layout, &s.in_arg);
    random_stride(s.C, 50, &s.out_layout, &s.out_arg);
    s.with_b1 = chance(75);
    s.with_b2 = chance(75);
    s.with_db1 = chance(75);
    s.with_db2 = chance(75);
    const int saturate = s.with_b2 && chance(40);  // fc2 biases of +-5 on some channels
    const int kinks = chance(25);
    const int in_place = index % 3 == 1;
    const int pooled = want_pool(index, 4);
    const int errors = index % 5 == 0;
    const float scale = chance(40) ? 3.0f : 1.0f;
    describe("C%zu S%zu n%zu %zux%zu in_stride %zu out_stride %zu fc1_bias:%s fc2_bias:%s%s%s "
             "db1:%s db2:%s scale %g%s", s.C, s.S, s.batch, s.h, s.w, s.in_arg, s.out_arg,
             s.with_b1 ? "yes" : "NULL", s.with_b2 ? "yes" : "NULL", saturate ? " (some +-5)" : "",
             kinks ? " kinks" : "", s.with_db1 ? "yes" : "NULL", s.with_db2 ? "yes" : "NULL",
             (double)scale, in_place ? " in-place" : "");
    // Weights spread as in the forward family, so that both kinks see both sides.
    s.w1 = random_floats(s.S * s.C, 2.0f / sqrtf((float)s.C));
    s.w2 = random_floats(s.C * s.S, 4.0f / sqrtf((float)s.S));
    s.b1 = random_floats(s.S, 0.5f);
    s.b2 = random_floats(s.C, 2.0f);
    if (saturate) {
        for (size_t c = 0; c < s.C; c++) {
            if (chance(40)) s.b2[c] = chance(50) ? 5.0f : -5.0f;
        }
    }
    if (kinks) {  // z1 == 0 (the fc1 row sums zeros, + 0), z2 == +-3 (zeros, + b2) exactly
        for (size_t j = 0; j < s.S; j++) {
            if (!chance(20)) continue;
            for (size_t c = 0; c < s.C; c++) s.w1[j * s.C + c] = 0.0f;
            s.b1[j] = 0.0f;
        }
        if (s.with_b2) {
            for (size_t c = 0; c < s.C; c++) {
                if (!chance(20)) continue;
                for (size_t j = 0; j < s.S; j++) s.w2[c * s.S + j] = 0.0f;
                s.b2[c] = chance(50) ? 3.0f : -3.0f;
            }
        }
    }
    if (!s.with_b1) memset(s.b1, 0, s.S * sizeof(float));
    if (!s.with_b2) memset(s.b2, 0, s.C * sizeof(float));
    float* offset = random_floats(s.C, 1.0f);  // channel means away from 0
    mk_squeeze_excitation_f32_op *op_n = NULL, *op_s = NULL;
    tensor run_n, run_s, train_n, train_s, saved_n, saved_s, run_p, train_p, saved_p, ref_saved, ref_out;
    tensor* fwd[] = {&run_n, &run_s, &train_n, &train_s, &saved_n, &saved_s, &run_p, &train_p, &saved_p,
                     &ref_saved, &ref_out};
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) memset(fwd[i], 0, sizeof(tensor));
    seb_out out_n, out_s, out_ip, out_p;
    memset(&out_n, 0, sizeof out_n);
    out_s = out_ip = out_p = out_n;
    seb_ref ref = {0};
    if (!run_ok("create(neon)", mk_squeeze_excitation_f32_create(s.C, s.S, s.w1, s.with_b1 ? s.b1 : NULL, s.w2,
                                                                 s.with_b2 ? s.b2 : NULL, MK_VARIANT_NEON, &op_n)) ||
        !run_ok("create(scalar)", mk_squeeze_excitation_f32_create(s.C, s.S, s.w1, s.with_b1 ? s.b1 : NULL, s.w2,
                                                                   s.with_b2 ? s.b2 : NULL, MK_VARIANT_SCALAR, &op_s))) {
        goto done;
    }
    tensor_alloc(&s.x, s.P, s.in_layout, s.C, 1);
    tensor_fill(&s.x, scale);
    for (size_t i = 0; i < s.P; i++) {
        for (size_t c = 0; c < s.C; c++) *at(&s.x, i, c) += offset[c];
    }
    tensor_clone(&s.x_copy, &s.x, 1);
    tensor_alloc(&s.dy, s.P, s.out_layout, s.C, 1);
    tensor_fill(&s.dy, 1.0f);
    tensor_clone(&s.dy_copy, &s.dy, 1);

    // The forwards.
    if (!seb_forward(&s, op_n, "neon", NULL, &run_n, &train_n, &saved_n) ||
        !seb_forward(&s, op_s, "scalar", NULL, &run_s, &train_s, &saved_s)) {
        goto done;
    }
    if (compare("neon vs scalar saved (pixel = image)", CMP_TOL, &saved_n, &saved_s, (double)(s.C + s.S))) goto done;
    {
        // The layers in float64 from NEON's own means and ReLU output; the output from its z2.
        const size_t C = s.C, S = s.S, HW = s.h * s.w;
        tensor_clone(&ref_saved, &saved_n, 0);
        tensor_alloc(&ref_out, s.P, C, C, 0);
        const mk_activation hsig = {MK_ACTIVATION_HARDSIGMOID, 0.0f, 0.0f};
        for (size_t n = 0; n < s.batch; n++) {
            const float* own = at(&saved_n, n, 0);
            float* r = at(&ref_saved, n, 0);
            for (size_t c = 0; c < C; c++) {
                double sum = 0.0;
                for (size_t q = 0; q < HW; q++) sum += (double)*at(&s.x_copy, n * HW + q, c);
                r[c] = (float)(sum / (double)HW);
            }
            for (size_t j = 0; j < S; j++) {
                double sum = (double)s.b1[j];
                for (size_t c = 0; c < C; c++) sum += (double)s.w1[j * C + c] * (double)own[c];
                r[C + j] = (float)sum;
            }
            for (size_t c = 0; c < C; c++) {
                double sum = (double)s.b2[c];
                for (size_t j = 0; j < S; j++) {
                    sum += (double)s.w2[c * S + j] * (own[C + j] > 0.0f ? (double)own[C + j] : 0.0);
                }
                r[C + S + c] = (float)sum;
                for (size_t q = 0; q < HW; q++) {
                    *at(&ref_out, n * HW + q, c) = *at(&s.x_copy, n * HW + q, c) * ref_act(own[C + S + c], hsig);
                }
            }
        }
        if (compare("neon saved vs float64 layers (pixel = image)", CMP_TOL, &saved_n, &ref_saved, (double)(C + S)) ||
            compare("neon output vs x * hardsigmoid(saved z2)", CMP_TOL, &train_n, &ref_out, 1.0)) {
            goto done;
        }
    }
    tensor_clone(&s.saved, &saved_n, 1);
    tensor_clone(&s.saved_copy, &saved_n, 1);

    // The backwards, on the same saved values.
    if (!seb_backward(&s, op_n, "neon", NULL, 0, (unsigned)rnd_range(0, 16), &out_n) ||
        !seb_backward(&s, op_s, "scalar", NULL, 0, (unsigned)rnd_range(0, 16), &out_s)) {
        goto done;
    }
    seb_ref_compute(&s, &ref);
    seb_check(&s, &out_n, NULL, &ref, "neon");
    if (seb_outputs_bitwise(&out_n, &out_s, NULL)) {
        g_stats[FAM_SE_BWD].exact_cases++;
    } else {
        seb_check(&s, &out_n, &out_s, &ref, "neon");
        seb_check(&s, &out_s, NULL, &ref, "scalar");
    }
    if (in_place) {
        const mk_squeeze_excitation_f32_op* op = index % 2 ? op_n : op_s;
        const char* name = index % 2 ? "neon in place" : "scalar in place";
        if (seb_backward(&s, op, name, NULL, 1, (unsigned)rnd_range(0, 16), &out_ip)) {
            seb_outputs_bitwise(&out_ip, index % 2 ? &out_n : &out_s, name);
        }
    }
    if (pooled) {
        g_stats[FAM_SE_BWD].pool_checks++;
        if (seb_forward(&s, op_n, "neon 2 threads", g_pool2, &run_p, &train_p, &saved_p) &&
            !compare_bitwise_region("neon 2 threads run_train output", &train_p, &train_n) &&
            !compare_bitwise_region("neon 2 threads saved", &saved_p, &saved_n) &&
            seb_backward(&s, op_n, "neon 2 threads", g_pool2, 0, (unsigned)rnd_range(0, 16), &out_p)) {
            seb_outputs_bitwise(&out_p, &out_n, "neon 2 threads");
        }
    }
    if (errors) seb_error_checks(&s, op_n, op_s);
done:
    mk_squeeze_excitation_f32_destroy(op_n);
    mk_squeeze_excitation_f32_destroy(op_s);
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) tensor_free(fwd[i]);
    tensor* ins[] = {&s.x, &s.x_copy, &s.dy, &s.dy_copy, &s.saved, &s.saved_copy};
    for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) tensor_free(ins[i]);
    seb_out_free(&out_n);
    seb_out_free(&out_s);
    seb_out_free(&out_ip);
    seb_out_free(&out_p);
    free(ref.dx);
    free(s.w1);
    free(s.w2);
    free(s.b1);
    free(s.b2);
    free(offset);
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Family: dropout (mk_dropout_f32, mk_dropout_keeps; dropout.c)
//
// There is no variant argument (one loop for every ISA), so there is no NEON-vs-scalar pair:
// mk_dropout_f32 is checked against mk_training.h's definition, y[i] = x[i] / (1 - p) where
// mk_dropout_keeps(seed, offset + i, p), else 0. The quotient is that of the float x by 1 - p,
// rounded once; y may be 1 ulp from it (a product with a rounded 1 / (1 - p) is within 1 ulp of
// it; the cases in which every kept element has the quotient's bits are counted). A dropped
// element must compare equal to 0 (either sign: x * 0). p = 0 must copy x bit for bit (NaN and
// infinities included) and p = 1 give zeros; elsewhere x is finite, since the header's "0" for a
// dropped element and x * 0 differ for a NaN or infinite x. The mask is a pure function of
// (seed, offset + i): in place (y == x), on 2 threads, and as two calls (the second on the tail
// at offset + k) y must be the same bits. Over 10,000 elements the kept count must be within 6
// standard deviations (plus the documented 2^-24 of the rate) of count * (1 - p). The documented
// errors (count 0, p outside [0, 1] or NaN, an overlap other than y == x, NULL pointers) must
// write nothing.

static unsigned long g_dropout_ulp_values;  // kept elements 1 ulp from the quotient

static float dropout_p(void) {
    static const float small[] = {0x1p-24f, 1e-8f, 1e-3f, 0.1f, 0.2f};
    switch (rnd_range(0, 9)) {
        case 0: return chance(15) ? -0.0f : 0.0f;  // -0 is within [0, 1]
        case 1: return chance(60) ? 1.0f : nextafterf(1.0f, 0.0f);
        case 2: case 3: return small[rnd_range(0, 4)];
        case 4: case 5: return 0.5f;
        case 6: return 0.9f;
        default: return (float)(rnd_u64() >> 40) * 0x1p-24f;  // in [0, 1)
    }
}

// 1..100,000 elements: small odd counts, and counts about the 16K-element thread tile.
static size_t dropout_count(void) {
    switch (rnd_range(0, 5)) {
        case 0: return 2 * rnd_range(0, 16) + 1;
        case 1: return rnd_range(2, 1000);
        case 2: return rnd_range(1001, 16384);
        case 3: return 16384 * rnd_range(1, 6) + rnd_range(0, 2) - 1;
        default: return rnd_range(16385, 100000);
    }
}

// The documented errors on this case's buffers; each must write nothing.
static void dropout_error_checks(size_t count, const tensor* x, float p, uint64_t seed, uint64_t offset) {
    tensor y;
    tensor_alloc(&y, 1, count, count, 0);
    float* scratch = malloc((count + 1) * sizeof(float));
    for (size_t i = 0; i <= count; i++) scratch[i] = 0.5f;
    typedef struct {
        const char* what;
        mk_status got, want;
    } dropout_error;
    dropout_error e[12];
    size_t n = 0;
    e[n++] = (dropout_error){"count 0", mk_dropout_f32(0, x->p, y.p, p, seed, offset, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (dropout_error){"p -0.25", mk_dropout_f32(count, x->p, y.p, -0.25f, seed, offset, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (dropout_error){"p just above 1", mk_dropout_f32(count, x->p, y.p, nextafterf(1.0f, 2.0f), seed, offset, g_pool2), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (dropout_error){"p NaN", mk_dropout_f32(count, x->p, y.p, NAN, seed, offset, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (dropout_error){"p inf", mk_dropout_f32(count, x->p, y.p, INFINITY, seed, offset, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (dropout_error){"p -inf", mk_dropout_f32(count, x->p, y.p, -INFINITY, seed, offset, NULL), MK_STATUS_INVALID_ARGUMENT};
    e[n++] = (dropout_error){"x NULL", mk_dropout_f32(count, NULL, y.p, p, seed, offset, NULL), MK_STATUS_NULL_POINTER};
    e[n++] = (dropout_error){"y NULL", mk_dropout_f32(count, x->p, NULL, p, seed, offset, NULL), MK_STATUS_NULL_POINTER};
    if (count >= 2) {  // one element apart: overlapping, not equal
        e[n++] = (dropout_error){"y == x + 1", mk_dropout_f32(count, scratch, scratch + 1, p, seed, offset, NULL), MK_STATUS_INVALID_ARGUMENT};
        e[n++] = (dropout_error){"y == x - 1", mk_dropout_f32(count, scratch + 1, scratch, p, seed, offset, g_pool2), MK_STATUS_INVALID_ARGUMENT};
    }
    for (size_t i = 0; i < n; i++) {
        if (e[i].got != e[i].want) {
            fail("dropout(%s) = %s, want %s", e[i].what, status_name(e[i].got), status_name(e[i].want));
        }
    }
    int scratch_ok = 1;
    for (size_t i = 0; i <= count; i++) scratch_ok &= scratch[i] == 0.5f;
    if (!tensor_untouched(&y) || !scratch_ok) {
        fail("a failing dropout call wrote %s", scratch_ok ? "y" : "an overlapping y");
    }
    tensor_check_layout("y (after the failing calls)", &y, 0, NULL);
    free(scratch);
    tensor_free(&y);
}

static void dropout_case(unsigned index) {
    case_begin(FAM_DROPOUT, index);
    rng_for_case(FAM_DROPOUT, index);
    const size_t count = dropout_count();
    const float p = dropout_p();
    const uint64_t seed = rnd_u64();
    uint64_t offset;
    switch (rnd_range(0, 3)) {
        case 0: offset = 0; break;
        case 1: offset = rnd_range(0, 1u << 20); break;
        case 2: offset = UINT64_MAX - rnd_range(0, count); break;  // offset + i wraps
        default: offset = rnd_u64();
    }
    static const float scales[] = {1.0f, 1.0f, 1e3f, 1e-38f, 1e37f};
    const float scale = scales[rnd_range(0, 4)];
    const int pooled = want_pool(index, 2);
    const int split = count >= 2 && chance(40);
    const size_t k = split ? rnd_range(1, count - 1) : 0;
    describe("count %zu p %a (%.9g) seed 0x%016" PRIx64 " offset 0x%016" PRIx64 " x scale %g%s", count,
             (double)p, (double)p, seed, offset, (double)scale, split ? " split" : "");
    tensor x, x_copy, y, y_ip, y_split, y_p;
    memset(&y_ip, 0, sizeof y_ip);
    y_split = y_p = y_ip;
    tensor_alloc(&x, 1, count, count, 1);
    tensor_fill(&x, scale);
    for (size_t i = 0; i < count; i++) {
        if (chance(3)) x.p[i] = chance(50) ? 0.0f : -0.0f;
        // p = 0 copies: whatever x holds.
        if (p == 0.0f && chance(3)) x.p[i] = chance(30) ? NAN : chance(50) ? INFINITY : -INFINITY;
    }
    tensor_clone(&x_copy, &x, 1);
    tensor_alloc(&y, 1, count, count, 0);
    if (!run_ok("dropout", mk_dropout_f32(count, x.p, y.p, p, seed, offset, NULL))) goto done;
    if (tensor_check_layout("y", &y, 1, NULL) || tensor_check_layout("x", &x, 0, &x_copy)) goto done;
    {
        size_t kept = 0, bad = 0, first = 0, off_ulp = 0;
        int first_keep = 0;
        float want = 0.0f;
        family_stats* st = &g_stats[FAM_DROPOUT];
        for (size_t i = 0; i < count; i++) {
            const float xi = x.p[i], yi = y.p[i];
            const int keep = mk_dropout_keeps(seed, offset + i, p);
            float expect = 0.0f;
            int ok;
            kept += keep;
            if (p == 0.0f) {
                expect = xi;
                ok = keep && bits_of(yi) == bits_of(xi);
            } else if (keep) {
                expect = (float)((double)xi / (1.0 - (double)p));
                int64_t d = ordered(yi) - ordered(expect);
                if (d < 0) d = -d;
                ok = p < 1.0f && !isnan(yi) && d <= 1;
                if (ok && d == 1) off_ulp++;
                if (ok && (unsigned)d > st->max_ulp) st->max_ulp = (unsigned)d;
            } else {
                ok = yi == 0.0f;
            }
            if (!ok && bad++ == 0) {
                first = i;
                first_keep = keep;
                want = expect;
            }
        }
        if (bad) {
            fail("%zu of %zu elements differ from the definition; first %zu (index offset + %zu): "
                 "x %.9g (0x%08x) y %.9g (0x%08x), keeps %d, want %.9g (0x%08x)", bad, count, first,
                 first, (double)x.p[first], bits_of(x.p[first]), (double)y.p[first],
                 bits_of(y.p[first]), first_keep, (double)want, bits_of(want));
        }
        if (off_ulp == 0) st->exact_cases++;
        g_dropout_ulp_values += off_ulp;
        if (count >= 10000) {
            const double q = 1.0 - (double)p;
            const double sd = sqrt((double)count * (double)p * q);
            const double dev = fabs((double)kept - (double)count * q);
            if (dev > 6.0 * sd + (double)count * 0x1p-24 + 1.0) {
                fail("kept %zu of %zu (%.6f), want 1 - p = %.6f within %.1f elements", kept, count,
                     (double)kept / (double)count, q, 6.0 * sd + (double)count * 0x1p-24 + 1.0);
            }
        }
    }
    // In place: the same bits, nothing written outside.
    tensor_clone(&y_ip, &x_copy, 1);
    if (run_ok("dropout in place", mk_dropout_f32(count, y_ip.p, y_ip.p, p, seed, offset, NULL)) &&
        !tensor_check_layout("in place y", &y_ip, 0, NULL) && !tensors_bitwise_equal(&y_ip, &y)) {
        fail("in place (y == x) differs from out of place");
    }
    if (split) {  // elements [k, count) at offset + k: the same mask
        tensor_alloc(&y_split, 1, count, count, 0);
        if (run_ok("dropout [0, k)", mk_dropout_f32(k, x.p, y_split.p, p, seed, offset, NULL)) &&
            run_ok("dropout [k, count) at offset + k",
                   mk_dropout_f32(count - k, x.p + k, y_split.p + k, p, seed, offset + k, NULL))) {
            char what[64];
            snprintf(what, sizeof what, "two calls split at %zu", k);
            compare_bitwise_region(what, &y_split, &y);
        }
    }
    if (pooled) {
        g_stats[FAM_DROPOUT].pool_checks++;
        tensor_alloc(&y_p, 1, count, count, 0);
        if (run_ok("dropout, 2 threads", mk_dropout_f32(count, x.p, y_p.p, p, seed, offset, g_pool2))) {
            compare_bitwise_region("2 threads", &y_p, &y);
        }
    }
    if (index % 4 == 0) dropout_error_checks(count, &x, p, seed, offset);
done:;
    tensor* all[] = {&x, &x_copy, &y, &y_ip, &y_split, &y_p};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Family: set_weights (a training step's update of an operator's packed weights)
//
// An op created with weights A whose set_weights gives B must run exactly as an op created with
// B (the same packed bits, so the same outputs bit for bit): pointwise (and the transposed form
// of Linear's input gradient), dense / grouped / fused-shuffle KxK, Winograd 3x3, depthwise and
// squeeze-and-excitation, on the scalar and NEON variants alike; biases NULL or not on either
// side. set_weights_transposed is INVALID_ARGUMENT for anything but a 1x1 single-group op.

static void conv_outputs_equal(const char* what, const mk_conv2d_f32_op* got_op,
                               const mk_conv2d_f32_op* want_op, const mk_conv2d_params* p,
                               size_t batch, size_t h, size_t w) {
    size_t oh = 0, ow = 0;
    if (!run_ok("output_size", mk_conv2d_f32_output_size(want_op, h, w, &oh, &ow))) return;
    tensor x, got, want;
    tensor_alloc(&x, batch * h * w, p->input_channels, p->input_channels, 1);
    tensor_fill(&x, 1.0f);
    tensor_alloc(&got, batch * oh * ow, p->output_channels, p->output_channels, 0);
    tensor_alloc(&want, batch * oh * ow, p->output_channels, p->output_channels, 0);
    char label[96];
    snprintf(label, sizeof label, "run after %s", what);
    if (run_ok(label, conv_run(got_op, batch, h, w, x.p, 0, got.p, 0, NULL, 0, NULL)) &&
        run_ok("run(created with the new weights)",
               conv_run(want_op, batch, h, w, x.p, 0, want.p, 0, NULL, 0, NULL)) &&
        !tensor_check_layout("output", &got, 1, NULL)) {
        snprintf(label, sizeof label, "%s vs create", what);
        compare(label, CMP_EXACT, &got, &want, 0.0);
    }
    tensor_free(&x);
    tensor_free(&got);
    tensor_free(&want);
}

static void sw_conv_case(unsigned index, unsigned kind, mk_variant variant) {
    mk_conv2d_params p = {.groups = 1, .kernel_h = 1, .kernel_w = 1, .stride_h = 1, .stride_w = 1,
                          .dilation_h = 1, .dilation_w = 1};
    size_t cin_g = rnd_range(1, 40), cout_g = rnd_range(1, 40);
    size_t h = rnd_range(1, 9), w = rnd_range(1, 9);
    if (kind == 0) {  // pointwise: also the transposed form
        if (chance(20)) cout_g = rnd_range(257, 300);  // several N blocks
        if (chance(15)) cin_g = rnd_range(1100, 2200);  // several K blocks (kc is 512..1024)
    } else if (kind == 1) {  // dense / grouped KxK, sometimes the fused shuffle
        p.groups = chance(50) ? 1 : rnd_range(2, 6);
        p.kernel_h = rnd_range(1, 5);
        p.kernel_w = chance(50) ? p.kernel_h : rnd_range(1, 5);
        p.stride_h = rnd_range(1, 2);
        p.stride_w = rnd_range(1, 2);
        cin_g = rnd_range(1, 12);
        cout_g = rnd_range(1, 20);
        p.shuffle_output = p.groups > 1 && chance(40);
        if (chance(30)) {  // a stem: the row-tap packing (2..4 input channels, kernel_w * cin >= 9)
            p.groups = 1;
            p.shuffle_output = false;
            cin_g = rnd_range(2, 4);
            p.kernel_h = p.kernel_w = cin_g == 2 ? 5 : rnd_range(3, 5);
        }
    } else {  // Winograd 3x3
        p.kernel_h = p.kernel_w = 3;
        p.algorithm = MK_CONV2D_ALGORITHM_WINOGRAD;
        h = rnd_range(1, 14);
        w = rnd_range(1, 14);
    }
    random_pads(p.dilation_h * (p.kernel_h - 1) + 1, &p.pad_top, &p.pad_bottom);
    random_pads(p.dilation_w * (p.kernel_w - 1) + 1, &p.pad_left, &p.pad_right);
    h = fit_input(h, p.kernel_h, p.pad_top, p.pad_bottom);
    w = fit_input(w, p.kernel_w, p.pad_left, p.pad_right);
    p.input_channels = cin_g * p.groups;
    p.output_channels = cout_g * p.groups;
    p.activation = random_activation((mk_activation_kind)((index / 10) % 6));
    const size_t batch = chance(25) ? 2 : 1;
    const int bias_a = chance(70), bias_b = chance(70);
    describe("%s %s n%zu %zux%zu %zu->%zu g%zu k%zux%zu s%zux%zu pad(t%zu l%zu b%zu r%zu) "
             "shuffle:%d bias A:%s B:%s", mk_variant_name(variant),
             kind == 0 ? "pointwise" : kind == 1 ? "conv2d" : "winograd", batch, h, w,
             p.input_channels, p.output_channels, p.groups, p.kernel_h, p.kernel_w, p.stride_h,
             p.stride_w, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right, (int)p.shuffle_output,
             bias_a ? "yes" : "NULL", bias_b ? "yes" : "NULL");
    const size_t taps = p.kernel_h * p.kernel_w, weight_count = p.output_channels * cin_g * taps;
    float* wa = random_floats(weight_count, 1.0f);
    float* wb = random_floats(weight_count, 1.0f);
    float* ba = bias_a ? random_floats(p.output_channels, 1.0f) : NULL;
    float* bb = bias_b ? random_floats(p.output_channels, 1.0f) : NULL;
    float* wbt = NULL;
    mk_conv2d_f32_op *op_a = NULL, *op_b = NULL, *op_t = NULL;
    if (!run_ok("create(A)", mk_conv2d_f32_create(&p, wa, ba, variant, &op_a)) ||
        !run_ok("create(B)", mk_conv2d_f32_create(&p, wb, bb, variant, &op_b))) {
        goto done;
    }
    if (kind == 2 && mk_conv2d_f32_algorithm(op_a) != MK_CONV2D_ALGORITHM_WINOGRAD) {
        fail("Winograd requested, not run");
    }
    if (run_ok("set_weights(B)", mk_conv2d_f32_set_weights(op_a, wb, bb))) {
        conv_outputs_equal("set_weights", op_a, op_b, &p, batch, h, w);
    }
    const mk_status expect_t = taps == 1 && p.groups == 1 ? MK_STATUS_OK : MK_STATUS_INVALID_ARGUMENT;
    if (kind == 2) goto done;  // a 3x3 op: covered by kind 1's refusals
    wbt = malloc(weight_count * sizeof(float));
    if (wbt == NULL) {
        printf("FATAL: malloc of %zu floats failed\n", weight_count);
        exit(2);
    }
    if (taps == 1 && p.groups == 1) {  // [Cout][Cin] -> [Cin][Cout]
        for (size_t o = 0; o < p.output_channels; o++) {
            for (size_t i = 0; i < p.input_channels; i++) wbt[i * p.output_channels + o] = wb[o * p.input_channels + i];
        }
    } else {
        memcpy(wbt, wb, weight_count * sizeof(float));
    }
    if (!run_ok("create(A) for the transposed update", mk_conv2d_f32_create(&p, wa, ba, variant, &op_t))) goto done;
    const mk_status st = mk_conv2d_f32_set_weights_transposed(op_t, wbt, bb);
    if (st != expect_t) {
        fail("set_weights_transposed = %s, want %s", status_name(st), status_name(expect_t));
    } else if (st == MK_STATUS_OK) {
        conv_outputs_equal("set_weights_transposed", op_t, op_b, &p, batch, h, w);
    } else {  // refused: the op still runs its old weights A
        mk_conv2d_f32_destroy(op_b);
        op_b = NULL;
        if (run_ok("create(A) again", mk_conv2d_f32_create(&p, wa, ba, variant, &op_b))) {
            conv_outputs_equal("a refused set_weights_transposed", op_t, op_b, &p, batch, h, w);
        }
    }
    if (mk_conv2d_f32_set_weights(NULL, wb, bb) != MK_STATUS_NULL_POINTER ||
        mk_conv2d_f32_set_weights(op_t, NULL, bb) != MK_STATUS_NULL_POINTER) {
        fail("set_weights with a NULL op or weights is not NULL_POINTER");
    }
done:
    mk_conv2d_f32_destroy(op_a);
    mk_conv2d_f32_destroy(op_b);
    mk_conv2d_f32_destroy(op_t);
    free(wa);
    free(wb);
    free(ba);
    free(bb);
    free(wbt);
}

static void sw_dw_case(unsigned index, mk_variant variant) {
    // One draw per statement: the order of an initializer list's evaluations is unspecified.
    mk_dwconv2d_params p = {.dilation_h = 1, .dilation_w = 1};
    p.channels = chance(80) ? rnd_range(1, 40) : rnd_range(41, 200);
    p.kernel_h = chance(40) ? 3 : chance(50) ? 5 : rnd_range(1, 7);
    p.stride_h = rnd_range(1, 2);
    p.kernel_w = chance(80) ? p.kernel_h : rnd_range(1, 7);
    p.stride_w = p.stride_h;
    random_pads(p.kernel_h, &p.pad_top, &p.pad_bottom);
    random_pads(p.kernel_w, &p.pad_left, &p.pad_right);
    p.activation = random_activation((mk_activation_kind)((index / 10) % 6));
    const size_t batch = chance(25) ? 2 : 1;
    const size_t h = fit_input(rnd_range(1, 12), p.kernel_h, p.pad_top, p.pad_bottom);
    const size_t w = fit_input(rnd_range(1, 12), p.kernel_w, p.pad_left, p.pad_right);
    const int bias_a = chance(70), bias_b = chance(70);
    describe("%s depthwise n%zu %zux%zu c%zu k%zux%zu s%zu pad(t%zu l%zu b%zu r%zu) bias A:%s B:%s",
             mk_variant_name(variant), batch, h, w, p.channels, p.kernel_h, p.kernel_w, p.stride_h,
             p.pad_top, p.pad_left, p.pad_bottom, p.pad_right, bias_a ? "yes" : "NULL",
             bias_b ? "yes" : "NULL");
    const size_t count = p.channels * p.kernel_h * p.kernel_w;
    float* wa = random_floats(count, 1.0f);
    float* wb = random_floats(count, 1.0f);
    float* ba = bias_a ? random_floats(p.channels, 1.0f) : NULL;
    float* bb = bias_b ? random_floats(p.channels, 1.0f) : NULL;
    mk_dwconv2d_f32_op *op_a = NULL, *op_b = NULL;
    tensor x = {0}, got = {0}, want = {0};
    size_t oh = 0, ow = 0;
    if (!run_ok("create(A)", mk_dwconv2d_f32_create(&p, wa, ba, variant, &op_a)) ||
        !run_ok("create(B)", mk_dwconv2d_f32_create(&p, wb, bb, variant, &op_b)) ||
        !run_ok("set_weights(B)", mk_dwconv2d_f32_set_weights(op_a, wb, bb)) ||
        !run_ok("output_size", mk_dwconv2d_f32_output_size(op_b, h, w, &oh, &ow))) {
        goto done;
    }
    tensor_alloc(&x, batch * h * w, p.channels, p.channels, 1);
    tensor_fill(&x, 1.0f);
    tensor_alloc(&got, batch * oh * ow, p.channels, p.channels, 0);
    tensor_alloc(&want, batch * oh * ow, p.channels, p.channels, 0);
    if (run_ok("run after set_weights", dwconv_run(op_a, batch, h, w, x.p, 0, got.p, 0, NULL)) &&
        run_ok("run(created with B)", dwconv_run(op_b, batch, h, w, x.p, 0, want.p, 0, NULL)) &&
        !tensor_check_layout("output", &got, 1, NULL)) {
        compare("set_weights vs create", CMP_EXACT, &got, &want, 0.0);
    }
    if (mk_dwconv2d_f32_set_weights(op_a, NULL, bb) != MK_STATUS_NULL_POINTER ||
        mk_dwconv2d_f32_set_weights(NULL, wb, bb) != MK_STATUS_NULL_POINTER) {
        fail("set_weights with a NULL op or weights is not NULL_POINTER");
    }
done:
    mk_dwconv2d_f32_destroy(op_a);
    mk_dwconv2d_f32_destroy(op_b);
    tensor_free(&x);
    tensor_free(&got);
    tensor_free(&want);
    free(wa);
    free(wb);
    free(ba);
    free(bb);
}

static void sw_se_case(mk_variant variant) {
    const size_t C = chance(80) ? rnd_range(1, 64) : rnd_range(65, 300);
    const size_t S = rnd_range(1, C < 40 ? C : 40);
    const size_t batch = chance(25) ? 2 : 1, h = rnd_range(1, 7), w = rnd_range(1, 7);
    const int bias_a = chance(70), bias_b = chance(70);
    describe("%s squeeze-excitation n%zu %zux%zu C%zu S%zu bias A:%s B:%s", mk_variant_name(variant),
             batch, h, w, C, S, bias_a ? "yes" : "NULL", bias_b ? "yes" : "NULL");
    float *w1a = random_floats(S * C, 0.5f), *w2a = random_floats(C * S, 0.5f);
    float *w1b = random_floats(S * C, 0.5f), *w2b = random_floats(C * S, 0.5f);
    float* b1a = bias_a ? random_floats(S, 0.5f) : NULL;
    float* b2a = bias_a ? random_floats(C, 0.5f) : NULL;
    float* b1b = bias_b ? random_floats(S, 0.5f) : NULL;
    float* b2b = bias_b ? random_floats(C, 0.5f) : NULL;
    mk_squeeze_excitation_f32_op *op_a = NULL, *op_b = NULL;
    tensor x = {0}, got = {0}, want = {0};
    if (!run_ok("create(A)", mk_squeeze_excitation_f32_create(C, S, w1a, b1a, w2a, b2a, variant, &op_a)) ||
        !run_ok("create(B)", mk_squeeze_excitation_f32_create(C, S, w1b, b1b, w2b, b2b, variant, &op_b)) ||
        !run_ok("set_weights(B)", mk_squeeze_excitation_f32_set_weights(op_a, w1b, b1b, w2b, b2b))) {
        goto done;
    }
    tensor_alloc(&x, batch * h * w, C, C, 1);
    tensor_fill(&x, 2.0f);
    tensor_alloc(&got, batch * h * w, C, C, 0);
    tensor_alloc(&want, batch * h * w, C, C, 0);
    if (run_ok("run after set_weights", squeeze_excitation_run(op_a, batch, h, w, x.p, 0, got.p, 0, NULL)) &&
        run_ok("run(created with B)", squeeze_excitation_run(op_b, batch, h, w, x.p, 0, want.p, 0, NULL)) &&
        !tensor_check_layout("output", &got, 1, NULL)) {
        compare("set_weights vs create", CMP_EXACT, &got, &want, 0.0);
    }
    if (mk_squeeze_excitation_f32_set_weights(op_a, NULL, b1b, w2b, b2b) != MK_STATUS_NULL_POINTER ||
        mk_squeeze_excitation_f32_set_weights(op_a, w1b, b1b, NULL, b2b) != MK_STATUS_NULL_POINTER ||
        mk_squeeze_excitation_f32_set_weights(NULL, w1b, b1b, w2b, b2b) != MK_STATUS_NULL_POINTER) {
        fail("set_weights with a NULL op or weights is not NULL_POINTER");
    }
done:
    mk_squeeze_excitation_f32_destroy(op_a);
    mk_squeeze_excitation_f32_destroy(op_b);
    tensor_free(&x);
    tensor_free(&got);
    tensor_free(&want);
    free(w1a); free(w2a); free(w1b); free(w2b); free(b1a); free(b2a); free(b1b); free(b2b);
}

static void set_weights_case(unsigned index) {
    case_begin(FAM_SET_WEIGHTS, index);
    rng_for_case(FAM_SET_WEIGHTS, index);
    const unsigned kind = index % 5;
    const mk_variant variant = (index / 5) % 2 ? MK_VARIANT_SCALAR : MK_VARIANT_NEON;
    if (kind <= 2) {
        sw_conv_case(index, kind, variant);
    } else if (kind == 3) {
        sw_dw_case(index, variant);
    } else {
        sw_se_case(variant);
    }
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Family: SGD (mk_sgd_f32): bitwise against mk_training.h's formula, one rounding per operation
// (this file is compiled without contraction: -std=c11), with and without momentum, Nesterov,
// dampening, weight decay, the first step; 2 threads and a split call bitwise equal; errors.

static void check_status_in_case(const char* what, mk_status got, mk_status want) {
    if (got != want) fail("%s: %s, want %s", what, status_name(got), status_name(want));
}

static float sgd_definition(float p, float g, float* buf, const mk_sgd_params* h, int first) {
    float d = g;
    if (h->weight_decay != 0.0f) {
        const float decay = h->weight_decay * p;
        d = d + decay;
    }
    if (h->momentum > 0.0f) {
        float b;
        if (first) {
            b = d;
        } else {
            const float old = h->momentum * *buf;
            const float add = (1.0f - h->dampening) * d;
            b = old + add;
        }
        *buf = b;
        if (h->nesterov) {
            const float look = h->momentum * b;
            d = d + look;
        } else {
            d = b;
        }
    }
    const float step = h->learning_rate * d;
    return p - step;
}

static void sgd_case(unsigned index) {
    case_begin(FAM_SGD, index);
    rng_for_case(FAM_SGD, index);
    const size_t count = chance(70) ? rnd_range(1, 300) : rnd_range(16000, 70000);
    mk_sgd_params h = {0};
    h.learning_rate = chance(10) ? 0.0f : 0.1f * (rnd_unit() + 1.0f);
    const unsigned mode = index % 4;  // 0 plain, 1 momentum, 2 momentum + dampening, 3 Nesterov
    if (mode > 0) h.momentum = chance(80) ? 0.9f : 0.5f * (rnd_unit() + 1.0f);
    if (mode == 2) h.dampening = chance(30) ? 1.0f : 0.5f * (rnd_unit() + 1.0f);
    h.nesterov = mode == 3;
    h.weight_decay = chance(30) ? 0.0f : 5e-4f * (rnd_unit() + 1.5f);
    const int first = chance(30);
    describe("count %zu lr %a momentum %a dampening %a wd %a nesterov %d first %d", count,
             (double)h.learning_rate, (double)h.momentum, (double)h.dampening,
             (double)h.weight_decay, (int)h.nesterov, first);
    tensor p, g, buf, p2, buf2, p3, buf3, want_p, want_buf;
    tensor_alloc(&p, 1, count, count, 1);
    tensor_fill(&p, 1.0f);
    tensor_alloc(&g, 1, count, count, 1);
    tensor_fill(&g, 0.1f);
    tensor_alloc(&buf, 1, count, count, 1);
    tensor_fill(&buf, 0.1f);
    if (chance(20)) {  // special values flow through as the formula says
        p.p[rnd_range(0, count - 1)] = INFINITY;
        g.p[rnd_range(0, count - 1)] = NAN;
        g.p[rnd_range(0, count - 1)] = -0.0f;
    }
    tensor_clone(&p2, &p, 1);
    tensor_clone(&buf2, &buf, 1);
    tensor_clone(&p3, &p, 1);
    tensor_clone(&buf3, &buf, 1);
    tensor_clone(&want_p, &p, 1);
    tensor_clone(&want_buf, &buf, 1);
    for (size_t i = 0; i < count; i++) {
        want_p.p[i] = sgd_definition(p.p[i], g.p[i], &want_buf.p[i], &h, first);
    }
    float* const momentum = h.momentum > 0.0f ? buf.p : (chance(50) ? NULL : buf.p);
    if (run_ok("sgd", mk_sgd_f32(count, p.p, g.p, momentum, &h, first, NULL))) {
        compare("params vs the definition", CMP_EXACT_NAN, &p, &want_p, 0.0);
        if (h.momentum > 0.0f) compare("momentum buffer vs the definition", CMP_EXACT_NAN, &buf, &want_buf, 0.0);
    }
    if (want_pool(index, 2) && run_ok("sgd, 2 threads", mk_sgd_f32(count, p2.p, g.p, h.momentum > 0.0f ? buf2.p : NULL, &h, first, g_pool2))) {
        g_stats[FAM_SGD].pool_checks++;
        compare_bitwise_region("params, 2 threads", &p2, &p);
        if (h.momentum > 0.0f) compare_bitwise_region("momentum, 2 threads", &buf2, &buf);
    }
    if (count >= 2) {  // two calls over [0, k) and [k, count)
        const size_t k = rnd_range(1, count - 1);
        float* b3 = h.momentum > 0.0f ? buf3.p : NULL;
        if (run_ok("sgd [0, k)", mk_sgd_f32(k, p3.p, g.p, b3, &h, first, NULL)) &&
            run_ok("sgd [k, count)", mk_sgd_f32(count - k, p3.p + k, g.p + k, b3 ? b3 + k : NULL, &h, first, NULL))) {
            compare_bitwise_region("params, split call", &p3, &p);
            if (b3 != NULL) compare_bitwise_region("momentum, split call", &buf3, &buf);
        }
    }
    if (index % 8 <= 1) {  // documented errors (plain and momentum), nothing written
        tensor_free(&p2);
        tensor_clone(&p2, &p, 1);
        tensor_free(&buf2);
        tensor_clone(&buf2, &buf, 1);
        mk_sgd_params bad = h;
        bad.learning_rate = -1.0f;
        check_status_in_case("negative learning rate", mk_sgd_f32(count, p2.p, g.p, buf2.p, &bad, first, NULL), MK_STATUS_INVALID_ARGUMENT);
        bad = h;
        bad.momentum = NAN;
        check_status_in_case("NaN momentum", mk_sgd_f32(count, p2.p, g.p, buf2.p, &bad, first, NULL), MK_STATUS_INVALID_ARGUMENT);
        bad = h;
        bad.nesterov = true;
        bad.momentum = 0.0f;
        check_status_in_case("Nesterov without momentum", mk_sgd_f32(count, p2.p, g.p, buf2.p, &bad, first, NULL), MK_STATUS_INVALID_ARGUMENT);
        bad = h;
        bad.dampening = 1.5f;
        check_status_in_case("dampening 1.5", mk_sgd_f32(count, p2.p, g.p, buf2.p, &bad, first, NULL), MK_STATUS_INVALID_ARGUMENT);
        check_status_in_case("count 0", mk_sgd_f32(0, p2.p, g.p, buf2.p, &h, first, NULL), MK_STATUS_INVALID_ARGUMENT);
        check_status_in_case("grads == params", mk_sgd_f32(count, p2.p, p2.p, buf2.p, &h, first, NULL), MK_STATUS_INVALID_ARGUMENT);
        if (h.momentum > 0.0f) {
            check_status_in_case("momentum buffer NULL", mk_sgd_f32(count, p2.p, g.p, NULL, &h, first, NULL), MK_STATUS_NULL_POINTER);
            check_status_in_case("momentum buffer == grads", mk_sgd_f32(count, p2.p, g.p, g.p, &h, first, NULL), MK_STATUS_INVALID_ARGUMENT);
        }
        compare_bitwise_region("params after refused calls", &p2, &p);
        compare_bitwise_region("momentum buffer after refused calls", &buf2, &buf);
    }
    tensor* all[] = {&p, &g, &buf, &p2, &buf2, &p3, &buf3, &want_p, &want_buf};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
    case_end();
}

// ---------------------------------------------------------------------------------------------
// Family: softmax cross-entropy (mk_softmax_cross_entropy_f32): the loss and the logits'
// gradient against the float64 definition (loss within 1e-6 * (1 + |loss|) plus the float32
// sum's bound over the batch, (batch - 1) 2^-24 |loss|; each gradient within (2^-22 + p classes
// 2^-24) / batch, p the probability: a few roundings plus the float32 sum of the row's exps); in
// place bitwise equal; NaN rows; errors (nothing written).

static void ce_case(unsigned index) {
    case_begin(FAM_CE, index);
    rng_for_case(FAM_CE, index);
    const size_t batch = chance(70) ? rnd_range(1, 8) : rnd_range(9, 300);
    const size_t classes = chance(70) ? rnd_range(1, 20) : rnd_range(21, 1000);
    const float scale = chance(20) ? 40.0f : chance(50) ? 1.0f : 8.0f;
    const int with_nan = chance(10);
    describe("batch %zu classes %zu logit scale %g nan %d", batch, classes, (double)scale, with_nan);
    tensor z = {0}, z_copy = {0}, dz = {0}, dz_ip = {0};
    tensor_alloc(&z, batch, classes, classes, 1);
    tensor_fill(&z, scale);
    intptr_t* labels = malloc(batch * sizeof *labels);
    if (labels == NULL) {
        printf("FATAL: malloc of %zu labels failed\n", batch);
        exit(2);
    }
    for (size_t b = 0; b < batch; b++) labels[b] = (intptr_t)rnd_range(0, classes - 1);
    const size_t nan_row = with_nan ? rnd_range(0, batch - 1) : batch;
    if (with_nan) *at(&z, nan_row, rnd_range(0, classes - 1)) = NAN;
    tensor_clone(&z_copy, &z, 1);
    tensor_alloc(&dz, batch, classes, classes, 0);
    float loss = 0.0f;
    if (!run_ok("loss", mk_softmax_cross_entropy_f32(batch, classes, z.p, labels, dz.p, &loss))) goto done;
    if (tensor_check_layout("gradient", &dz, 1, NULL) || tensor_check_layout("logits", &z, 0, &z_copy)) goto done;
    {
        double total = 0.0, worst = 0.0;
        size_t bad = 0, first_b = 0, first_j = 0;
        for (size_t b = 0; b < batch; b++) {
            const float* zr = at(&z, b, 0);
            double top = zr[0];
            for (size_t j = 1; j < classes; j++) top = zr[j] > top ? zr[j] : top;
            double sum = 0.0;
            for (size_t j = 0; j < classes; j++) sum += exp((double)zr[j] - top);
            const double lse = top + log(sum);
            total += lse - (double)zr[labels[b]];
            for (size_t j = 0; j < classes; j++) {
                const double want = (exp((double)zr[j] - lse) - (j == (size_t)labels[b])) / (double)batch;
                const float got = *at(&dz, b, j);
                int ok;
                if (b == nan_row) {
                    ok = isnan(got);
                } else {
                    // A few roundings of each term, plus the float32 sum of the row's exps
                    // (relative (classes - 1) 2^-24 in every probability).
                    const double p_j = exp((double)zr[j] - lse);
                    const double tol = (0x1p-22 + p_j * (double)classes * 0x1p-24) / (double)batch;
                    const double diff = fabs((double)got - want);
                    ok = diff <= tol;
                    if (diff / tol > worst) worst = diff / tol;
                }
                if (!ok && bad++ == 0) {
                    first_b = b;
                    first_j = j;
                }
            }
        }
        if (bad) {
            fail("%zu gradients off the definition; first image %zu class %zu: %.9g", bad, first_b,
                 first_j, (double)*at(&dz, first_b, first_j));
        }
        if (worst > g_stats[FAM_CE].worst_ratio) g_stats[FAM_CE].worst_ratio = worst;
        const double want_loss = total / (double)batch;
        // Each row's few roundings, plus the float32 sum over the batch (rows are >= 0).
        const double loss_tol = 1e-6 * (1.0 + fabs(want_loss)) + 0x1p-24 * (double)(batch - 1) * fabs(want_loss);
        if (with_nan) {
            if (!isnan(loss)) fail("loss %.9g with a NaN logit, want NaN", (double)loss);
        } else if (!(fabs((double)loss - want_loss) <= loss_tol)) {
            fail("loss %.9g, definition %.17g, tolerance %.3g", (double)loss, want_loss, loss_tol);
        }
    }
    // In place: the same bits.
    tensor_clone(&dz_ip, &z_copy, 1);
    float loss_ip = 0.0f;
    if (run_ok("loss in place", mk_softmax_cross_entropy_f32(batch, classes, dz_ip.p, labels, dz_ip.p, &loss_ip))) {
        compare("in place vs out of place", CMP_EXACT, &dz_ip, &dz, 0.0);
        if (bits_of(loss_ip) != bits_of(loss)) fail("in place loss %.9g vs %.9g", (double)loss_ip, (double)loss);
    }
    if (index % 4 == 0) {  // errors: nothing written
        tensor_free(&dz_ip);
        tensor_clone(&dz_ip, &dz, 0);
        float untouched = 12345.0f;
        const intptr_t saved = labels[batch - 1];
        labels[batch - 1] = (intptr_t)classes;
        check_status_in_case("label == classes", mk_softmax_cross_entropy_f32(batch, classes, z.p, labels, dz_ip.p, &untouched), MK_STATUS_INVALID_ARGUMENT);
        labels[batch - 1] = -1;
        check_status_in_case("label -1", mk_softmax_cross_entropy_f32(batch, classes, z.p, labels, dz_ip.p, &untouched), MK_STATUS_INVALID_ARGUMENT);
        labels[batch - 1] = saved;
        check_status_in_case("batch 0", mk_softmax_cross_entropy_f32(0, classes, z.p, labels, dz_ip.p, &untouched), MK_STATUS_INVALID_ARGUMENT);
        check_status_in_case("classes 0", mk_softmax_cross_entropy_f32(batch, 0, z.p, labels, dz_ip.p, &untouched), MK_STATUS_INVALID_ARGUMENT);
        if (batch * classes >= 2) {
            check_status_in_case("gradient overlapping the logits", mk_softmax_cross_entropy_f32(batch, classes, z.p, labels, z.p + 1, &untouched), MK_STATUS_INVALID_ARGUMENT);
        }
        check_status_in_case("loss inside the gradient", mk_softmax_cross_entropy_f32(batch, classes, z.p, labels, dz_ip.p, dz_ip.p), MK_STATUS_INVALID_ARGUMENT);
        check_status_in_case("NULL labels", mk_softmax_cross_entropy_f32(batch, classes, z.p, NULL, dz_ip.p, &untouched), MK_STATUS_NULL_POINTER);
        if (untouched != 12345.0f) fail("a refused call wrote the loss");
        compare_bitwise_region("gradient after refused calls", &dz_ip, &dz);
        if (tensor_check_layout("logits after refused calls", &z, 0, &z_copy)) goto done;
    }
done:;
    tensor* all[] = {&z, &z_copy, &dz, &dz_ip};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
    free(labels);
    case_end();
}

// ---------------------------------------------------------------------------------------------

static void usage(void) {
    printf("usage: driver [--seed N] [--only FAMILY] [--case N] [--verbose]\n  families:");
    for (int f = 0; f < FAM_COUNT; f++) printf(" %s", g_family_names[f]);
    printf("\n");
}

// ---------------------------------------------------------------------------------------------
// Family: the transpose with bias and activation (mk_transpose_f32, transpose.c): bitwise equal
// to the bias + activation operator (scalar variant) run on a plainly transposed copy, which is
// what it promises (a Linear layer's training forward has the inference layer's bits); strided
// source and destination with their gaps and guards untouched; 2 threads bitwise; errors.

static void transpose_case(unsigned index) {
    case_begin(FAM_TRANSPOSE, index);
    rng_for_case(FAM_TRANSPOSE, index);
    const mk_activation act = random_activation((mk_activation_kind)(index % 6));
    // The 2-thread cases have more than 8 tiles of 32x32 (a task takes 8), so the threads split.
    const int pooled = want_pool(index, 2);
    const size_t rows = pooled ? rnd_range(97, 200) : chance(30) ? rnd_range(1, 5) : rnd_range(1, 100);
    const size_t cols = pooled ? rnd_range(97, 200) : chance(30) ? rnd_range(1, 5) : rnd_range(1, 100);
    size_t src_stride = cols, dst_stride = rows;
    if (chance(40)) src_stride += rnd_range(1, 7);
    if (chance(40)) dst_stride += rnd_range(1, 7);
    const int with_bias = chance(70);
    tensor bias_t;  // behind guards: a read past the rows' bias faults
    tensor_alloc(&bias_t, 1, rows, rows, 1);
    tensor_fill(&bias_t, 4.0f);
    if (chance(30)) bias_t.p[rnd_range(0, rows - 1)] = -0.0f;
    const float* bias = with_bias ? bias_t.p : NULL;
    char act_text[64];
    format_activation(act_text, sizeof act_text, act);
    describe("rows %zu cols %zu src_stride %zu dst_stride %zu bias:%s %s", rows, cols, src_stride,
             dst_stride, with_bias ? "yes" : "NULL", act_text);
    tensor src, src_copy, plain, want, got, got2;
    tensor_alloc(&src, rows, src_stride, cols, 1);
    tensor_fill(&src, 8.0f);
    for (size_t r = 0; r < rows; r++) {  // special values: zeros, infinities, NaN, thresholds
        for (size_t c = 0; c < cols; c++) {
            if (chance(8)) *at(&src, r, c) = g_special[rnd_range(0, sizeof g_special / sizeof g_special[0] - 1)];
        }
    }
    tensor_clone(&src_copy, &src, 1);
    tensor_alloc(&plain, cols, rows, rows, 1);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) *at(&plain, c, r) = *at(&src, r, c);
    }
    tensor_alloc(&want, cols, dst_stride, rows, 1);
    tensor_alloc(&got, cols, dst_stride, rows, 1);
    tensor_alloc(&got2, cols, dst_stride, rows, 1);
    mk_bias_activation_f32_op* op = NULL;
    if (run_ok("bias_activation create(scalar)", mk_bias_activation_f32_create(rows, bias, act, MK_VARIANT_SCALAR, &op)) &&
        run_ok("bias_activation run", bias_activation_run(op, cols, plain.p, rows, want.p, dst_stride, NULL)) &&
        run_ok("transpose", mk_transpose_f32(rows, cols, src.p, src_stride, bias, act, got.p, dst_stride, NULL))) {
        if (!tensor_check_layout("transpose output", &got, 1, NULL) &&
            !tensor_check_layout("transpose source", &src, 0, &src_copy)) {
            compare_bitwise_region("transpose vs bias_activation on the transposed copy", &got, &want);
        }
        if (pooled &&
            run_ok("transpose, 2 threads", mk_transpose_f32(rows, cols, src.p, src_stride, bias, act, got2.p, dst_stride, g_pool2))) {
            g_stats[FAM_TRANSPOSE].pool_checks++;
            compare_bitwise_region("transpose, 2 threads", &got2, &got);
        }
    }
    if (index % 20 == 0) {  // errors: nothing written
        tensor_free(&got2);
        tensor_alloc(&got2, cols, dst_stride, rows, 1);
        const struct {
            const char* what;
            mk_status status, want;
        } errors[] = {
            {"rows 0", mk_transpose_f32(0, cols, src.p, src_stride, bias, act, got2.p, dst_stride, NULL), MK_STATUS_INVALID_ARGUMENT},
            {"src stride < cols", mk_transpose_f32(rows, cols, src.p, cols - 1, bias, act, got2.p, dst_stride, NULL), MK_STATUS_INVALID_ARGUMENT},
            {"dst stride < rows", mk_transpose_f32(rows, cols, src.p, src_stride, bias, act, got2.p, rows - 1, NULL), MK_STATUS_INVALID_ARGUMENT},
            {"NULL dst", mk_transpose_f32(rows, cols, src.p, src_stride, bias, act, NULL, dst_stride, NULL), MK_STATUS_NULL_POINTER},
            {"dst == src", mk_transpose_f32(rows, cols, src.p, src_stride, bias, act, src.p, dst_stride, NULL), MK_STATUS_INVALID_ARGUMENT},
            {"NULL src", mk_transpose_f32(rows, cols, NULL, src_stride, bias, act, got2.p, dst_stride, NULL), MK_STATUS_NULL_POINTER},
            {"bias in dst", mk_transpose_f32(rows, cols, src.p, src_stride, got2.p, act, got2.p, dst_stride, NULL), MK_STATUS_INVALID_ARGUMENT},
            {"unknown activation", mk_transpose_f32(rows, cols, src.p, src_stride, bias, (mk_activation){(mk_activation_kind)99, 0.0f, 0.0f},
                                                    got2.p, dst_stride, NULL), MK_STATUS_INVALID_ARGUMENT},
            {"clamp min > max", mk_transpose_f32(rows, cols, src.p, src_stride, bias, (mk_activation){MK_ACTIVATION_CLAMP, 1.0f, -1.0f},
                                                 got2.p, dst_stride, NULL), MK_STATUS_INVALID_ARGUMENT},
        };
        for (size_t e = 0; e < sizeof errors / sizeof errors[0]; e++) {
            if (errors[e].status != errors[e].want) {
                fail("%s: %s (want %s)", errors[e].what, status_name(errors[e].status), status_name(errors[e].want));
            }
        }
        tensor_check_layout("after the errors", &got2, 0, NULL);
        tensor_check_layout("source after the errors", &src, 0, &src_copy);
    }
    mk_bias_activation_f32_destroy(op);
    tensor_free(&bias_t);
    tensor_free(&src);
    tensor_free(&src_copy);
    tensor_free(&plain);
    tensor_free(&want);
    tensor_free(&got);
    tensor_free(&got2);
    case_end();
}

// ---------------------------------------------------------------------------------------------
// conv2d_qs8: NEON and NEON dot against scalar, bitwise (the Swift tests check scalar against
// the int8 reference on x86), with pixel gaps, residuals (in place too), padding on every side,
// strides, groups, channel counts around the tiles and K groups of 4, 1 and 2 threads; the
// float output (output_f32) of the cases without an activation.

static int8_t rnd_i8(int lo, int hi) { return (int8_t)rnd_range((size_t)(lo + 128), (size_t)(hi + 128)) - 128; }

static int qs8_run(const mk_conv2d_qs8_params* p, const int8_t* w, const float* ws, const int32_t* b,
                   mk_variant variant, size_t batch, size_t h, size_t wd, const int8_t* x, size_t xs,
                   int8_t* y, size_t ys, const int8_t* r, size_t rs, mk_threadpool* pool) {
    mk_conv2d_qs8_op* op = NULL;
    mk_status st = mk_conv2d_qs8_create(p, w, ws, b, variant, &op);
    if (st != MK_STATUS_OK) {
        fail("create(%s) = %s", mk_variant_name(variant), status_name(st));
        return 0;
    }
    if (mk_conv2d_qs8_variant(op) != variant) fail("op reports %s", mk_variant_name(mk_conv2d_qs8_variant(op)));
    mk_conv2d_qs8_plan plan;
    st = mk_conv2d_qs8_reshape(op, batch, h, wd, xs, ys, rs, pool, &plan);
    if (st == MK_STATUS_OK) st = mk_conv2d_qs8_run(op, &plan, x, y, r, pool);
    mk_conv2d_qs8_destroy(op);
    if (st != MK_STATUS_OK) fail("run(%s) = %s", mk_variant_name(variant), status_name(st));
    return st == MK_STATUS_OK;
}

static void qs8_conv_case(unsigned index) {
    case_begin(FAM_QS8_CONV, index);
    rng_for_case(FAM_QS8_CONV, index);
    static const size_t cins[] = {1, 2, 3, 4, 5, 7, 8, 13, 16, 33, 64};
    static const size_t couts[] = {1, 3, 4, 7, 8, 9, 15, 16, 17, 24, 31, 33, 40, 65};
    const size_t groups = chance(70) ? 1 : rnd_range(2, 3);
    const size_t cin = groups * cins[rnd_range(0, 10)], cout = groups * couts[rnd_range(0, 13)];
    const size_t k = chance(40) ? 1 : chance(70) ? 3 : 5;
    const size_t kh = k, kw = chance(85) ? k : (k == 1 ? 3 : 1);
    const size_t sh = rnd_range(1, 2), sw = chance(70) ? sh : rnd_range(1, 2);
    const size_t dil = chance(15) ? 2 : 1;
    const size_t eh = dil * (kh - 1) + 1, ew = dil * (kw - 1) + 1;
    const size_t batch = rnd_range(1, 3);
    size_t h = rnd_range(1, 9), wd = rnd_range(1, 11);
    const int padded = chance(50);
    const size_t pt = padded ? rnd_range(0, eh - 1) : 0, pb = padded ? rnd_range(0, eh - 1) : 0;
    const size_t pl = padded ? rnd_range(0, ew - 1) : 0, pr = padded ? rnd_range(0, ew - 1) : 0;
    if (h + pt + pb < eh) h = eh;
    if (wd + pl + pr < ew) wd = ew;
    const mk_activation_kind kinds[4] = {MK_ACTIVATION_NONE, MK_ACTIVATION_RELU, MK_ACTIVATION_RELU6, MK_ACTIVATION_CLAMP};
    const mk_activation act = {kinds[index % 4], -0.5f, 0.75f};
    const size_t cin_g = cin / groups, K = cin_g * kh * kw;
    mk_conv2d_qs8_params p = {
        .conv = {.input_channels = cin, .output_channels = cout, .groups = groups, .kernel_h = kh,
                 .kernel_w = kw, .stride_h = sh, .stride_w = sw, .dilation_h = dil, .dilation_w = dil,
                 .pad_top = pt, .pad_left = pl, .pad_bottom = pb, .pad_right = pr, .activation = act},
        .input = {0.005f + 0.045f * fabsf(rnd_unit()), rnd_i8(-128, 127)},
        .residual = {0.0f, rnd_i8(-128, 127)}};
    p.output = (mk_quantization){p.input.scale * 0.011f * 74 * 74 * sqrtf((float)K) / 40, rnd_i8(-60, 60)};
    p.residual.scale = p.output.scale * (0.5f + 1.5f * fabsf(rnd_unit()));
    const size_t oh = (h + pt + pb - eh) / sh + 1, ow = (wd + pl + pr - ew) / sw + 1;
    const size_t in_px = batch * h * wd, out_px = batch * oh * ow;
    const size_t xs = cin + (chance(30) ? rnd_range(1, 5) : 0), ys = cout + (chance(30) ? rnd_range(1, 5) : 0);
    const int with_res = chance(35), in_place = with_res && chance(50), with_bias = chance(80);
    const int pooled = want_pool(index, 4);
    describe("n%zu %zux%zu %zu->%zu g%zu k%zux%zu s%zux%zu d%zu pad(t%zu l%zu b%zu r%zu) act %s "
             "xs %zu ys %zu%s%s%s", batch, h, wd, cin, cout, groups, kh, kw, sh, sw, dil, pt, pl, pb,
             pr, activation_name(act.kind), xs, ys, with_res ? " residual" : "",
             in_place ? " (in place)" : "", with_bias ? " bias" : "");
    int8_t* w = malloc(cout * K);
    float* ws = malloc(cout * sizeof(float));
    int32_t* b = malloc(cout * sizeof(int32_t));
    int8_t* x = malloc(in_px * xs);
    int8_t* r = malloc(out_px * ys);
    int8_t* ys_[4];
    for (size_t i = 0; i < cout * K; i++) w[i] = rnd_i8(-127, 127);
    for (size_t o = 0; o < cout; o++) {
        ws[o] = 0.002f + 0.018f * fabsf(rnd_unit());
        b[o] = (int32_t)(20000.0f * rnd_unit());
    }
    for (size_t i = 0; i < in_px * xs; i++) x[i] = rnd_i8(-128, 127);
    for (size_t i = 0; i < out_px * ys; i++) r[i] = rnd_i8(-128, 127);
    const mk_variant variants[4] = {MK_VARIANT_SCALAR, MK_VARIANT_NEON, MK_VARIANT_NEONDOT, MK_VARIANT_NEONDOT};
    const char* names[4] = {"scalar", "neon", "neondot", "neondot 2 threads"};
    const size_t runs = pooled ? 4 : 3;
    int ok = 1;
    for (size_t v = 0; v < runs; v++) {
        ys_[v] = malloc(out_px * ys + 16);
        for (size_t i = 0; i < out_px * ys + 16; i++) ys_[v][i] = 0x5A;
        if (in_place) {
            for (size_t px = 0; px < out_px; px++) memcpy(ys_[v] + px * ys, r + px * ys, cout);
        }
        const int8_t* res = with_res ? (in_place ? ys_[v] : r) : NULL;
        ok = ok && qs8_run(&p, w, ws, with_bias ? b : NULL, variants[v], batch, h, wd, x, xs, ys_[v], ys, res,
                           ys, v == 3 ? g_pool2 : NULL);
    }
    if (ok) {
        for (size_t v = 1; v < runs; v++) {
            size_t diffs = 0, first = 0;
            for (size_t i = 0; i < out_px * ys + 16; i++) {
                if (ys_[v][i] != ys_[0][i] && diffs++ == 0) first = i;
            }
            if (diffs) fail("%s: %zu bytes differ from scalar (first at %zu: %d against %d)", names[v], diffs,
                            first, ys_[v][first], ys_[0][first]);
        }
        for (size_t px = 0; px < out_px; px++) {  // gaps and the tail untouched (scalar's)
            for (size_t c = cout; c < ys && !in_place; c++) {
                if (ys_[0][px * ys + c] != 0x5A) fail("scalar wrote the gap of pixel %zu", px);
            }
        }
        for (size_t i = 0; i < 16; i++) {
            if (ys_[0][out_px * ys + i] != 0x5A) fail("scalar wrote past the output");
        }
    }
    // Float output (the logits' layer: no activation, no residual): each variant's floats
    // against scalar's, bitwise, with the same pixel gaps.
    if (act.kind == MK_ACTIVATION_NONE) {
        mk_conv2d_qs8_params pf = p;
        pf.output_f32 = true;
        float* fy[4];
        for (size_t v = 0; v < runs; v++) {
            fy[v] = malloc((out_px * ys + 4) * sizeof(float));
            for (size_t i = 0; i < out_px * ys + 4; i++) fy[v][i] = -7.0f;
            mk_conv2d_qs8_op* op = NULL;
            mk_status st = mk_conv2d_qs8_create(&pf, w, ws, with_bias ? b : NULL, variants[v], &op);
            mk_conv2d_qs8_plan plan;
            if (st == MK_STATUS_OK) st = mk_conv2d_qs8_reshape(op, batch, h, wd, xs, ys, 0, v == 3 ? g_pool2 : NULL, &plan);
            if (st == MK_STATUS_OK) st = mk_conv2d_qs8_run_f32(op, &plan, x, fy[v], v == 3 ? g_pool2 : NULL);
            mk_conv2d_qs8_destroy(op);
            if (st != MK_STATUS_OK) fail("float output %s: %s", names[v], status_name(st));
        }
        for (size_t v = 1; v < runs; v++) {
            if (memcmp(fy[v], fy[0], (out_px * ys + 4) * sizeof(float)) != 0) fail("float output %s differs from scalar", names[v]);
        }
        for (size_t px = 0; px < out_px; px++) {
            for (size_t c = cout; c < ys; c++) {
                if (fy[0][px * ys + c] != -7.0f) fail("float output: scalar wrote the gap of pixel %zu", px);
            }
        }
        for (size_t v = 0; v < runs; v++) free(fy[v]);
    }
    if (pooled) g_stats[FAM_QS8_CONV].pool_checks++;
    for (size_t v = 0; v < runs; v++) free(ys_[v]);
    free(w);
    free(ws);
    free(b);
    free(x);
    free(r);
    case_end();
}

// dwconv2d_qs8: NEON (which NEON dot also runs) against scalar, bitwise.
static void qs8_dw_case(unsigned index) {
    case_begin(FAM_QS8_DW, index);
    rng_for_case(FAM_QS8_DW, index);
    static const size_t channels[] = {1, 3, 4, 7, 8, 9, 15, 16, 17, 24, 33, 72, 96};
    static const size_t kernels[] = {3, 3, 5, 5, 1, 7, 2, 4};
    const size_t C = channels[rnd_range(0, 12)];
    const size_t kh = kernels[rnd_range(0, 7)], kw = chance(85) ? kh : (kh == 3 ? 1 : kh == 1 ? 2 : 3);
    const size_t sh = rnd_range(1, 2), sw = chance(75) ? sh : 3 - sh;
    const size_t dil = chance(15) ? 2 : 1;
    const size_t eh = dil * (kh - 1) + 1, ew = dil * (kw - 1) + 1;
    const size_t batch = rnd_range(1, 3);
    size_t h = rnd_range(1, 12), wd = rnd_range(1, 12);
    const size_t pt = rnd_range(0, eh - 1), pb = rnd_range(0, eh - 1);
    const size_t pl = rnd_range(0, ew - 1), pr = rnd_range(0, ew - 1);
    if (h + pt + pb < eh) h = eh;
    if (wd + pl + pr < ew) wd = ew;
    const mk_activation_kind kinds[4] = {MK_ACTIVATION_NONE, MK_ACTIVATION_RELU, MK_ACTIVATION_RELU6, MK_ACTIVATION_CLAMP};
    mk_dwconv2d_qs8_params p = {
        .dw = {C, kh, kw, sh, sw, dil, dil, pt, pl, pb, pr, {kinds[index % 4], -0.5f, 0.75f}},
        .input = {0.005f + 0.045f * fabsf(rnd_unit()), rnd_i8(-128, 127)}};
    p.output = (mk_quantization){p.input.scale * 0.011f * 74 * 74 * sqrtf((float)(kh * kw)) / 40, rnd_i8(-60, 60)};
    const size_t oh = (h + pt + pb - eh) / sh + 1, ow = (wd + pl + pr - ew) / sw + 1;
    const size_t in_px = batch * h * wd, out_px = batch * oh * ow;
    const size_t xs = C + (chance(30) ? rnd_range(1, 5) : 0), ys = C + (chance(30) ? rnd_range(1, 5) : 0);
    const int pooled = want_pool(index, 4), with_bias = chance(80);
    describe("n%zu %zux%zu C%zu k%zux%zu s%zux%zu d%zu pad(t%zu l%zu b%zu r%zu) act %s xs %zu ys %zu%s",
             batch, h, wd, C, kh, kw, sh, sw, dil, pt, pl, pb, pr, activation_name(p.dw.activation.kind), xs, ys,
             with_bias ? " bias" : "");
    int8_t* w = malloc(C * kh * kw);
    float* ws = malloc(C * sizeof(float));
    int32_t* b = malloc(C * sizeof(int32_t));
    int8_t* x = malloc(in_px * xs);
    int8_t* out[3];
    for (size_t i = 0; i < C * kh * kw; i++) w[i] = rnd_i8(-127, 127);
    for (size_t c = 0; c < C; c++) {
        ws[c] = 0.002f + 0.018f * fabsf(rnd_unit());
        b[c] = (int32_t)(20000.0f * rnd_unit());
    }
    for (size_t i = 0; i < in_px * xs; i++) x[i] = rnd_i8(-128, 127);
    const mk_variant variants[3] = {MK_VARIANT_SCALAR, MK_VARIANT_NEON, MK_VARIANT_NEONDOT};
    const char* names[3] = {"scalar", "neon", "neondot (2 threads when pooled)"};
    int ok = 1;
    for (size_t v = 0; v < 3; v++) {
        out[v] = malloc(out_px * ys + 16);
        memset(out[v], 0x5A, out_px * ys + 16);
        mk_dwconv2d_qs8_op* op = NULL;
        mk_status st = mk_dwconv2d_qs8_create(&p, w, ws, with_bias ? b : NULL, variants[v], &op);
        mk_dwconv2d_qs8_plan plan;
        mk_threadpool* pool = v == 2 && pooled ? g_pool2 : NULL;
        if (st == MK_STATUS_OK) st = mk_dwconv2d_qs8_reshape(op, batch, h, wd, xs, ys, pool, &plan);
        if (st == MK_STATUS_OK) st = mk_dwconv2d_qs8_run(op, &plan, x, out[v], pool);
        if (st == MK_STATUS_OK && mk_dwconv2d_qs8_variant(op) != variants[v]) fail("op reports %s", mk_variant_name(mk_dwconv2d_qs8_variant(op)));
        mk_dwconv2d_qs8_destroy(op);
        if (st != MK_STATUS_OK) {
            fail("%s: %s", names[v], status_name(st));
            ok = 0;
        }
    }
    for (size_t v = 1; ok && v < 3; v++) {
        size_t diffs = 0;
        for (size_t i = 0; i < out_px * ys + 16; i++) diffs += out[v][i] != out[0][i];
        if (diffs) fail("%s: %zu bytes differ from scalar", names[v], diffs);
    }
    for (size_t px = 0; ok && px < out_px; px++) {
        for (size_t c = C; c < ys; c++) {
            if (out[0][px * ys + c] != 0x5A) fail("scalar wrote the gap of pixel %zu", px);
        }
    }
    if (pooled) g_stats[FAM_QS8_DW].pool_checks++;
    for (size_t v = 0; v < 3; v++) free(out[v]);
    free(w);
    free(ws);
    free(b);
    free(x);
    case_end();
}

// squeeze_excitation_qs8: the float layers on NEON against scalar (the same gates, so the same
// bytes), in place and out of place, on 1 and 2 threads.
static void qs8_se_case(unsigned index) {
    case_begin(FAM_QS8_SE, index);
    rng_for_case(FAM_QS8_SE, index);
    static const size_t channels[] = {1, 7, 16, 17, 40, 72, 96, 120};
    const size_t C = channels[rnd_range(0, 7)], S = rnd_range(1, 12);
    const size_t batch = rnd_range(1, 3), h = rnd_range(1, 9), wd = rnd_range(1, 9);
    const size_t xs = C + (chance(30) ? rnd_range(1, 5) : 0);
    const mk_quantization qi = {0.005f + 0.045f * fabsf(rnd_unit()), rnd_i8(-128, 127)};
    const mk_quantization qo = chance(50) ? qi : (mk_quantization){0.005f + 0.045f * fabsf(rnd_unit()), rnd_i8(-128, 127)};
    const int pooled = want_pool(index, 4), in_place = chance(50);
    describe("n%zu %zux%zu C%zu S%zu xs %zu%s", batch, h, wd, C, S, xs, in_place ? " in place" : "");
    float* w1 = malloc(S * C * sizeof(float));
    float* w2 = malloc(C * S * sizeof(float));
    float* b1 = malloc(S * sizeof(float));
    float* b2 = malloc(C * sizeof(float));
    for (size_t i = 0; i < S * C; i++) { w1[i] = rnd_unit(); w2[i] = rnd_unit(); }
    for (size_t i = 0; i < S; i++) b1[i] = 0.5f * rnd_unit();
    for (size_t i = 0; i < C; i++) b2[i] = 3.0f * rnd_unit();
    const size_t px = batch * h * wd;
    int8_t* x = malloc(px * xs);
    for (size_t i = 0; i < px * xs; i++) x[i] = rnd_i8(-128, 127);
    const mk_variant variants[2] = {MK_VARIANT_SCALAR, MK_VARIANT_NEON};
    int8_t* out[2];
    int ok = 1;
    for (size_t v = 0; v < 2; v++) {
        out[v] = malloc(px * xs);
        if (in_place) memcpy(out[v], x, px * xs);
        else memset(out[v], 0x5A, px * xs);
        mk_squeeze_excitation_qs8_op* op = NULL;
        mk_status st = mk_squeeze_excitation_qs8_create(C, S, w1, b1, w2, b2, qi, qo, variants[v], &op);
        mk_squeeze_excitation_qs8_plan plan;
        mk_threadpool* pool = v == 1 && pooled ? g_pool2 : NULL;
        if (st == MK_STATUS_OK) st = mk_squeeze_excitation_qs8_reshape(op, batch, h, wd, xs, xs, pool, &plan);
        if (st == MK_STATUS_OK) st = mk_squeeze_excitation_qs8_run(op, &plan, in_place ? out[v] : x, out[v], pool);
        mk_squeeze_excitation_qs8_destroy(op);
        if (st != MK_STATUS_OK) {
            fail("%s: %s", v ? "neon" : "scalar", status_name(st));
            ok = 0;
        }
    }
    if (ok) {
        size_t diffs = 0;
        for (size_t i = 0; i < px * xs; i++) diffs += out[1][i] != out[0][i];
        if (diffs) fail("neon: %zu bytes differ from scalar", diffs);
        for (size_t p = 0; p < px; p++) {
            for (size_t c = C; c < xs; c++) {
                if (out[0][p * xs + c] != (in_place ? x[p * xs + c] : 0x5A)) fail("scalar wrote the gap of pixel %zu", p);
            }
        }
    }
    if (pooled) g_stats[FAM_QS8_SE].pool_checks++;
    for (size_t v = 0; v < 2; v++) free(out[v]);
    free(w1);
    free(w2);
    free(b1);
    free(b2);
    free(x);
    case_end();
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

    void (*const runners[FAM_COUNT])(unsigned) = {
        NULL, bias_case, shuffle_case, dw_case, conv_case, max_pool_case, avg_pool_case,
        global_pool_case, adaptive_pool_case, se_case, add_case, NULL, bn_train_case, act_bwd_case,
        dwb_case, pgb_case, wg_case, cwg_case, seb_case, dropout_case,
        set_weights_case, sgd_case, ce_case, transpose_case, qs8_conv_case, qs8_dw_case, qs8_se_case};
    for (int f = 0; f < FAM_COUNT; f++) {
        if (g_only >= 0 && f != g_only) continue;
        if (f == FAM_VARIANTS) {
            family_variants();
            continue;
        }
        if (f == FAM_POOL_ERRORS) {
            family_pool_errors();
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
        } else if (f == FAM_SE) {
            snprintf(extra, sizeof extra, "  (worst |diff|/tol %.3f; %u of %u bitwise equal; %u on 2 threads)",
                     s->worst_ratio, s->exact_cases, s->cases, s->pool_checks);
        } else if (f == FAM_BN_TRAIN) {
            snprintf(extra, sizeof extra, "  (worst |diff|/tol %.3f; %u of %u bitwise equal; %u on 2 threads)",
                     s->worst_ratio, s->exact_cases, s->cases, s->pool_checks);
        } else if (f == FAM_DW_BWD || f == FAM_WGRAD || f == FAM_CONV_WGRAD) {
            snprintf(extra, sizeof extra, "  (worst |diff|/tol %.3f; %u of %u bitwise equal; %u on 2 threads)",
                     s->worst_ratio, s->exact_cases, s->cases, s->pool_checks);
        } else if (f == FAM_SE_BWD) {
            snprintf(extra, sizeof extra, "  (worst |diff|/tol %.3f; %u of %u bitwise equal; %u on 2 threads)",
                     s->worst_ratio, s->exact_cases, s->cases, s->pool_checks);
        } else if (f == FAM_DROPOUT) {
            snprintf(extra, sizeof extra, "  (max %u ulp from x / (1 - p), %lu values; %u of %u cases exact; %u on 2 threads)",
                     s->max_ulp, g_dropout_ulp_values, s->exact_cases, s->cases, s->pool_checks);
        } else if (f == FAM_QS8_CONV || f == FAM_QS8_DW) {
            snprintf(extra, sizeof extra, "  (NEON and NEON dot bitwise against scalar; %u on 2 threads)",
                     s->pool_checks);
        } else if (f == FAM_SET_WEIGHTS) {
            snprintf(extra, sizeof extra, "  (bitwise against an op created with the new weights)");
        } else if (f == FAM_CE) {
            snprintf(extra, sizeof extra, "  (gradients' worst |diff|/tol %.3f against float64; in place bitwise)",
                     s->worst_ratio);
        } else if (f == FAM_ACT_BWD) {
            snprintf(extra, sizeof extra, "  (dx max %u ulp; dbias worst |diff|/tol %.3f; %u on 2 threads)",
                     s->max_ulp, s->worst_ratio, s->pool_checks);
        } else if (!is_fixed_family(f)) {
            snprintf(extra, sizeof extra, "  (bitwise, and the definition; %u on 2 threads)",
                     s->pool_checks);
        } else {
            snprintf(extra, sizeof extra, "  (fixed checks)");
        }
        printf("%-19s cases %4u  failures %u%s\n", g_family_names[f], s->cases, s->failures, extra);
        if (!is_fixed_family(f)) total_cases += s->cases;
        total_failures += s->failures;
    }
    const double seconds = (double)(end.tv_sec - start.tv_sec) + 1e-9 * (double)(end.tv_nsec - start.tv_nsec);
    printf("%s: %u randomized cases, %u failures (seed 0x%" PRIx64 ", %.1f s)\n",
           total_failures ? "FAILED" : "PASSED", total_cases, total_failures, g_seed, seconds);
    return total_failures ? 1 : 0;
}
