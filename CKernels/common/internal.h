// Internal helpers shared by operators and microkernels (not part of the ABI).
#ifndef MK_INTERNAL_H
#define MK_INTERNAL_H

#include "../include/ckernels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Per-function ISA targets: SwiftPM packages may not pass -m flags, so every function (helpers
// included) that uses an ISA's intrinsics carries its target attribute, and is called only after
// the CPU feature check (mk_variant_available).
#if defined(__x86_64__)
#define MK_TARGET_AVX2 __attribute__((target("avx2,fma,f16c,bmi,bmi2")))
#define MK_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi,bmi2")))
#define MK_TARGET_AVX512VNNI                                                                \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c,bmi," \
                          "bmi2")))
#define MK_TARGET_AVXVNNI __attribute__((target("avxvnni,avx2,fma,f16c,bmi,bmi2")))
#endif
#if defined(__aarch64__)
#if defined(__clang__)
#define MK_TARGET_NEONDOT __attribute__((target("dotprod")))
#else
#define MK_TARGET_NEONDOT __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#endif

#define MK_INLINE static inline __attribute__((always_inline))

// Checked size arithmetic: false on overflow.
static inline bool mk_size_mul(size_t a, size_t b, size_t* out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool mk_size_add(size_t a, size_t b, size_t* out) {
    return !__builtin_add_overflow(a, b, out);
}
// Largest element count we accept for one buffer: its byte size must fit in a ptrdiff_t.
#define MK_MAX_ELEMENTS ((size_t)PTRDIFF_MAX / sizeof(float))

// The floats a buffer of `pixels` (>= 1) pixels of `channels` floats, `stride` apart, spans:
// (pixels - 1) * stride + channels; false on overflow or beyond MK_MAX_ELEMENTS.
static inline bool mk_strided_extent(size_t pixels, size_t stride, size_t channels,
                                     size_t* extent) {
    return mk_size_mul(pixels - 1, stride, extent) && mk_size_add(*extent, channels, extent) &&
           *extent <= MK_MAX_ELEMENTS;
}

// Whether the float ranges [a, a + a_floats) and [b, b + b_floats) share any byte.
static inline bool mk_buffers_overlap(const float* a, size_t a_floats, const float* b,
                                      size_t b_floats) {
    const uintptr_t a0 = (uintptr_t)a, a1 = a0 + a_floats * sizeof(float);
    const uintptr_t b0 = (uintptr_t)b, b1 = b0 + b_floats * sizeof(float);
    return a0 < b1 && b0 < a1;
}

// A sliding window's output size along one axis (floor mode):
// (in + pad_a + pad_b - dilation * (kernel - 1) - 1) / stride + 1; false when in is 0 or the
// padded input is shorter than the dilated kernel.
static inline bool mk_window_out_size(size_t in, size_t pad_a, size_t pad_b, size_t kernel,
                                      size_t dilation, size_t stride, size_t* out) {
    const size_t extent = dilation * (kernel - 1) + 1;
    const size_t padded = in + pad_a + pad_b;
    if (in == 0 || padded < extent) return false;
    *out = (padded - extent) / stride + 1;
    return true;
}

// Full unrolling of a loop with a compile-time trip count (microkernel templates).
#if defined(__clang__)
#define MK_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define MK_UNROLL _Pragma("GCC unroll 32")
#else
#define MK_UNROLL
#endif

// Resolves `requested` for an operator whose microkernels exist for the variants in `mask`
// (bit 1 << variant; operators pass their families' masks from the catalogue, configs/). AUTO picks the first available of avx512, avx2, neon, scalar.
mk_status mk_resolve_variant(mk_variant requested, unsigned mask, mk_variant* resolved);

#define MK_MASK(v) (1u << (unsigned)(v))

// The epilogue every output-writing microkernel applies, reduced from mk_activation at create:
// relu, relu6, clamp and none all become a min/max clamp (none skips it).
typedef enum mk_epilogue_kind {
    MK_EPILOGUE_IDENTITY = 0,
    MK_EPILOGUE_MINMAX = 1,
    MK_EPILOGUE_HARDSWISH = 2,
    MK_EPILOGUE_HARDSIGMOID = 3,
} mk_epilogue_kind;

typedef struct mk_epilogue {
    mk_epilogue_kind kind;
    float min;
    float max;
} mk_epilogue;

// Requires a validated activation.
mk_epilogue mk_epilogue_from_activation(mk_activation activation);

// Calls CALL(KIND, FLAG) with the epilogue kind and a boolean flag (e.g. "has bias") as
// compile-time constants, so an always-inline body specializes its inner loop for each pair.
#define MK_SPECIALIZE_EPILOGUE(kind, flag, CALL)                                    \
    switch (kind) {                                                                 \
        case MK_EPILOGUE_IDENTITY:                                                  \
            if (flag) { CALL(MK_EPILOGUE_IDENTITY, true); }                         \
            else { CALL(MK_EPILOGUE_IDENTITY, false); }                             \
            break;                                                                  \
        case MK_EPILOGUE_MINMAX:                                                    \
            if (flag) { CALL(MK_EPILOGUE_MINMAX, true); }                           \
            else { CALL(MK_EPILOGUE_MINMAX, false); }                               \
            break;                                                                  \
        case MK_EPILOGUE_HARDSWISH:                                                 \
            if (flag) { CALL(MK_EPILOGUE_HARDSWISH, true); }                        \
            else { CALL(MK_EPILOGUE_HARDSWISH, false); }                            \
            break;                                                                  \
        case MK_EPILOGUE_HARDSIGMOID:                                               \
            if (flag) { CALL(MK_EPILOGUE_HARDSIGMOID, true); }                      \
            else { CALL(MK_EPILOGUE_HARDSIGMOID, false); }                          \
            break;                                                                  \
    }

#define MK_ONE_SIXTH 0x1.555556p-3f  // the float nearest 1/6

// The gates of one image from its channel means (`mean` [channels]): the float
// squeeze-and-excitation's two layers and activations (operators/squeeze_excitation.c, which
// its own run uses); `hidden` [squeeze_channels] is scratch, `gates` [channels] may be `mean`.
mk_status mk_squeeze_excitation_f32_gates(const mk_squeeze_excitation_f32_op* op, const float* mean,
                                          float* hidden, float* gates, mk_threadpool* pool);

#endif
