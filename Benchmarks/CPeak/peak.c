// Peak FMA throughput and memory bandwidth loops (see mk_peak.h).
#include "../../CKernels/common/internal.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

// Independent accumulators: enough to cover FMA latency x throughput on every core we know
// (Zen 2 and later: 2 pipes x 5 cycles = 10), and few enough to stay in registers with the two
// constants: 24 with 32 vector registers (AVX-512, NEON), 12 with 16 (AVX2, SSE). 24 chains on
// AVX2 spilled, and measured its peak at 62 GFLOP/s on a Zen 2 whose GEMM ran at 84.
#define MK_PEAK_CHAINS_32REGS 24
#define MK_PEAK_CHAINS_16REGS 12

#define MK_PEAK_BODY(CHAINS, VEC, SPLAT, FMA, ADD, REDUCE, LANES)               \
    VEC acc[CHAINS];                                                             \
    for (int i = 0; i < (CHAINS); i++) acc[i] = SPLAT(0.001f * (float)i);       \
    const VEC a = SPLAT(0.999999f), b = SPLAT(0.000001f);                        \
    for (uint64_t it = 0; it < iterations; it++) {                               \
        for (int i = 0; i < (CHAINS); i++) acc[i] = FMA(acc[i], a, b);           \
        __asm__ volatile("" ::: "memory");                                       \
    }                                                                            \
    VEC sum = acc[0];                                                            \
    for (int i = 1; i < (CHAINS); i++) sum = ADD(sum, acc[i]);                   \
    mk_peak_sink = REDUCE(sum);                                                  \
    return iterations * (CHAINS) * 2u * (LANES);

static volatile float mk_peak_sink;

#if defined(__x86_64__)
#define MK_FMA512(x, a, b) _mm512_fmadd_ps(x, a, b)
#define MK_FMA256(x, a, b) _mm256_fmadd_ps(x, a, b)
#define MK_FMA128(x, a, b) _mm_fmadd_ss(x, a, b)
MK_TARGET_AVX512 static uint64_t mk_peak_avx512(uint64_t iterations) {
    MK_PEAK_BODY(MK_PEAK_CHAINS_32REGS, __m512, _mm512_set1_ps, MK_FMA512, _mm512_add_ps, _mm512_reduce_add_ps, 16)
}
MK_TARGET_AVX2 static float mk_reduce256(__m256 v) {
    float lanes[8];
    _mm256_storeu_ps(lanes, v);
    float s = 0;
    for (int i = 0; i < 8; i++) s += lanes[i];
    return s;
}
MK_TARGET_AVX2 static uint64_t mk_peak_avx2(uint64_t iterations) {
    MK_PEAK_BODY(MK_PEAK_CHAINS_16REGS, __m256, _mm256_set1_ps, MK_FMA256, _mm256_add_ps, mk_reduce256, 8)
}
MK_TARGET_AVX2 static uint64_t mk_peak_scalar_fma(uint64_t iterations) {
    MK_PEAK_BODY(MK_PEAK_CHAINS_16REGS, __m128, _mm_set_ss, MK_FMA128, _mm_add_ss, _mm_cvtss_f32, 1)
}
#endif

#if defined(__aarch64__)
static float mk_reduce_neon(float32x4_t v) { return vaddvq_f32(v); }
#define MK_FMANEON(x, a, b) vfmaq_f32(b, x, a)
static uint64_t mk_peak_neon(uint64_t iterations) {
    MK_PEAK_BODY(MK_PEAK_CHAINS_32REGS, float32x4_t, vdupq_n_f32, MK_FMANEON, vaddq_f32, mk_reduce_neon, 4)
}
#endif

#define MK_SCALAR_MULADD(x, a, b) ((x) * (a) + (b))
#define MK_SCALAR_ADD(x, y) ((x) + (y))
#define MK_SCALAR_ID(x) (x)
#define MK_SCALAR_SPLAT(x) (x)
static uint64_t mk_peak_scalar(uint64_t iterations) {
    MK_PEAK_BODY(MK_PEAK_CHAINS_16REGS, float, MK_SCALAR_SPLAT, MK_SCALAR_MULADD, MK_SCALAR_ADD, MK_SCALAR_ID, 1)
}

uint64_t mk_peak_fma(mk_variant variant, uint64_t iterations) {
    if (!mk_variant_available(variant)) return 0;
    switch (variant) {
#if defined(__x86_64__)
        case MK_VARIANT_AVX512: return mk_peak_avx512(iterations);
        case MK_VARIANT_AVX2: return mk_peak_avx2(iterations);
        case MK_VARIANT_SCALAR:
            return mk_variant_available(MK_VARIANT_AVX2) ? mk_peak_scalar_fma(iterations)
                                                         : mk_peak_scalar(iterations);
#else
        case MK_VARIANT_SCALAR: return mk_peak_scalar(iterations);
#endif
#if defined(__aarch64__)
        case MK_VARIANT_NEON: return mk_peak_neon(iterations);
#endif
        default: return 0;
    }
}

// ---- int8 ----------------------------------------------------------------------------------

// The operands pass through an empty asm each iteration, so a product of two constants (AVX2's
// vpmaddwd, NEON's vmull_s8, which the accumulator does not feed) cannot be hoisted out of the
// loop and the timed loop runs the multiplies it counts.
#if defined(__x86_64__)
#define MK_PEAK_OPAQUE(v) __asm__ volatile("" : "+v"(v))
#elif defined(__aarch64__)
#define MK_PEAK_OPAQUE(v) __asm__ volatile("" : "+w"(v))
#else
#define MK_PEAK_OPAQUE(v) __asm__ volatile("" : "+r"(v))
#endif
#define MK_PEAK_I8_BODY(CHAINS, VEC, ZERO, SPLAT, STEP, REDUCE, MACS)             \
    VEC acc[CHAINS];                                                             \
    for (int i = 0; i < (CHAINS); i++) acc[i] = ZERO;                            \
    VEC a = SPLAT(0x01020304), b = SPLAT(0x05060708);                            \
    for (uint64_t it = 0; it < iterations; it++) {                               \
        MK_PEAK_OPAQUE(a);                                                       \
        MK_PEAK_OPAQUE(b);                                                       \
        for (int i = 0; i < (CHAINS); i++) acc[i] = STEP(acc[i], a, b);          \
        __asm__ volatile("" ::: "memory");                                       \
    }                                                                            \
    int32_t sum = 0;                                                             \
    for (int i = 0; i < (CHAINS); i++) sum += REDUCE(acc[i]);                    \
    mk_peak_isink = sum;                                                         \
    return iterations * (CHAINS) * 2u * (MACS);

static volatile int32_t mk_peak_isink;

#if defined(__x86_64__)
#define MK_VNNI512(x, a, b) _mm512_dpbusd_epi32(x, a, b)
#define MK_VNNI256(x, a, b) _mm256_dpbusd_avx_epi32(x, a, b)
// The product reads the accumulator (a chain of vpmaddwd + vpaddd per accumulator: 12 chains
// cover its latency), so the compiler cannot compute it once for every chain.
#define MK_MADD256(x, a, b) _mm256_add_epi32(x, _mm256_madd_epi16(x, b))
MK_TARGET_AVX512VNNI static int32_t mk_reduce_i512(__m512i v) { return _mm512_reduce_add_epi32(v); }
MK_TARGET_AVX2 static int32_t mk_reduce_i256(__m256i v) {
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i*)lanes, v);
    int32_t s = 0;
    for (int i = 0; i < 8; i++) s += lanes[i];
    return s;
}
MK_TARGET_AVX512VNNI static uint64_t mk_peak_i8_avx512vnni(uint64_t iterations) {
    MK_PEAK_I8_BODY(MK_PEAK_CHAINS_32REGS, __m512i, _mm512_setzero_si512(), _mm512_set1_epi32, MK_VNNI512, mk_reduce_i512, 64)
}
MK_TARGET_AVXVNNI static int32_t mk_reduce_i256v(__m256i v) { return mk_reduce_i256(v); }
MK_TARGET_AVXVNNI static uint64_t mk_peak_i8_avxvnni(uint64_t iterations) {
    MK_PEAK_I8_BODY(MK_PEAK_CHAINS_16REGS, __m256i, _mm256_setzero_si256(), _mm256_set1_epi32, MK_VNNI256, mk_reduce_i256v, 32)
}
MK_TARGET_AVX2 static uint64_t mk_peak_i8_avx2(uint64_t iterations) {
    MK_PEAK_I8_BODY(MK_PEAK_CHAINS_16REGS, __m256i, _mm256_setzero_si256(), _mm256_set1_epi32, MK_MADD256, mk_reduce_i256, 16)
}
#endif

#if defined(__aarch64__)
#define MK_SDOT(x, a, b) vdotq_s32(x, vreinterpretq_s8_s32(a), vreinterpretq_s8_s32(b))
#define MK_MULL(x, a, b) vpadalq_s16(x, vmull_s8(vget_low_s8(vreinterpretq_s8_s32(x)), vget_low_s8(vreinterpretq_s8_s32(b))))
MK_TARGET_NEONDOT static int32_t mk_reduce_i128d(int32x4_t v) { return vaddvq_s32(v); }
static int32_t mk_reduce_i128(int32x4_t v) { return vaddvq_s32(v); }
MK_TARGET_NEONDOT static uint64_t mk_peak_i8_neondot(uint64_t iterations) {
    MK_PEAK_I8_BODY(MK_PEAK_CHAINS_32REGS, int32x4_t, vdupq_n_s32(0), vdupq_n_s32, MK_SDOT, mk_reduce_i128d, 16)
}
static uint64_t mk_peak_i8_neon(uint64_t iterations) {
    MK_PEAK_I8_BODY(MK_PEAK_CHAINS_32REGS, int32x4_t, vdupq_n_s32(0), vdupq_n_s32, MK_MULL, mk_reduce_i128, 8)
}
#endif

// Scalar: int32 multiply-adds on operands the compiler cannot fold (read from volatiles).
static volatile uint32_t mk_peak_i8_operands[2] = {3, 5};
static uint64_t mk_peak_i8_scalar(uint64_t iterations) {
    uint32_t acc[MK_PEAK_CHAINS_16REGS] = {0};
    const uint32_t a = mk_peak_i8_operands[0], b = mk_peak_i8_operands[1];
    for (uint64_t it = 0; it < iterations; it++) {
        for (int i = 0; i < MK_PEAK_CHAINS_16REGS; i++) acc[i] = acc[i] * a + b;
        __asm__ volatile("" ::: "memory");
    }
    uint32_t sum = 0;
    for (int i = 0; i < MK_PEAK_CHAINS_16REGS; i++) sum += acc[i];
    mk_peak_isink = (int32_t)sum;
    return iterations * MK_PEAK_CHAINS_16REGS * 2u;
}

uint64_t mk_peak_int8(mk_variant variant, uint64_t iterations) {
    if (!mk_variant_available(variant)) return 0;
    switch (variant) {
#if defined(__x86_64__)
        case MK_VARIANT_AVX512VNNI: return mk_peak_i8_avx512vnni(iterations);
        case MK_VARIANT_AVXVNNI: return mk_peak_i8_avxvnni(iterations);
        case MK_VARIANT_AVX2: return mk_peak_i8_avx2(iterations);
#endif
#if defined(__aarch64__)
        case MK_VARIANT_NEONDOT: return mk_peak_i8_neondot(iterations);
        case MK_VARIANT_NEON: return mk_peak_i8_neon(iterations);
#endif
        case MK_VARIANT_SCALAR: return mk_peak_i8_scalar(iterations);
        default: return 0;
    }
}

#if defined(__x86_64__)
MK_TARGET_AVX512 static float mk_read_avx512(const float* p, size_t count, size_t repeats) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t r = 0; r < repeats; r++) {
        size_t i = 0;
        for (; i + 64 <= count; i += 64) {
            s0 = _mm512_add_ps(s0, _mm512_loadu_ps(p + i));
            s1 = _mm512_add_ps(s1, _mm512_loadu_ps(p + i + 16));
            s2 = _mm512_add_ps(s2, _mm512_loadu_ps(p + i + 32));
            s3 = _mm512_add_ps(s3, _mm512_loadu_ps(p + i + 48));
        }
        for (; i < count; i++) s0 = _mm512_add_ps(s0, _mm512_set1_ps(p[i]));
        __asm__ volatile("" ::: "memory");
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}
MK_TARGET_AVX512 static void mk_copy_avx512(float* d, const float* s, size_t count, size_t repeats) {
    for (size_t r = 0; r < repeats; r++) {
        size_t i = 0;
        for (; i + 64 <= count; i += 64) {
            __m512 a = _mm512_loadu_ps(s + i), b = _mm512_loadu_ps(s + i + 16);
            __m512 c = _mm512_loadu_ps(s + i + 32), e = _mm512_loadu_ps(s + i + 48);
            _mm512_storeu_ps(d + i, a);
            _mm512_storeu_ps(d + i + 16, b);
            _mm512_storeu_ps(d + i + 32, c);
            _mm512_storeu_ps(d + i + 48, e);
        }
        for (; i < count; i++) d[i] = s[i];
        __asm__ volatile("" ::: "memory");
    }
}
// AVX2: 8 independent sums of 8 lanes (an add's latency times two loads per cycle), so the
// loop is bound by the loads, not by the adds (a scalar loop measured L1 at 16 GB/s on Zen 2).
MK_TARGET_AVX2 static float mk_read_avx2(const float* p, size_t count, size_t repeats) {
    __m256 s[8];
    for (int k = 0; k < 8; k++) s[k] = _mm256_setzero_ps();
    for (size_t r = 0; r < repeats; r++) {
        size_t i = 0;
        for (; i + 64 <= count; i += 64) {
            for (int k = 0; k < 8; k++) s[k] = _mm256_add_ps(s[k], _mm256_loadu_ps(p + i + 8 * k));
        }
        for (; i < count; i++) s[0] = _mm256_add_ps(s[0], _mm256_set1_ps(p[i]));
        __asm__ volatile("" ::: "memory");
    }
    for (int k = 1; k < 8; k++) s[0] = _mm256_add_ps(s[0], s[k]);
    return mk_reduce256(s[0]);
}
#endif

float mk_peak_read(const float* buffer, size_t count, size_t repeats) {
    if (buffer == NULL) return 0;
#if defined(__x86_64__)
    if (mk_variant_available(MK_VARIANT_AVX512)) return mk_read_avx512(buffer, count, repeats);
    if (mk_variant_available(MK_VARIANT_AVX2)) return mk_read_avx2(buffer, count, repeats);
#endif
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t r = 0; r < repeats; r++) {
        size_t i = 0;
        for (; i + 4 <= count; i += 4) {
            s0 += buffer[i];
            s1 += buffer[i + 1];
            s2 += buffer[i + 2];
            s3 += buffer[i + 3];
        }
        for (; i < count; i++) s0 += buffer[i];
        __asm__ volatile("" ::: "memory");
    }
    return s0 + s1 + s2 + s3;
}

void mk_peak_copy(float* destination, const float* source, size_t count, size_t repeats) {
    if (destination == NULL || source == NULL) return;
#if defined(__x86_64__)
    if (mk_variant_available(MK_VARIANT_AVX512)) {
        mk_copy_avx512(destination, source, count, repeats);
        return;
    }
#endif
    for (size_t r = 0; r < repeats; r++) {
        memcpy(destination, source, count * sizeof(float));
        __asm__ volatile("" ::: "memory");
    }
}
