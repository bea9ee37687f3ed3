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
#endif

#define MK_INLINE static inline __attribute__((always_inline))

// Checked size arithmetic: false on overflow.
static inline bool mk_mul(size_t a, size_t b, size_t* out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool mk_add(size_t a, size_t b, size_t* out) {
    return !__builtin_add_overflow(a, b, out);
}
// Largest element count we accept for one buffer: its byte size must fit in a ptrdiff_t.
#define MK_MAX_ELEMENTS ((size_t)PTRDIFF_MAX / sizeof(float))

// Resolves `requested` for an operator whose microkernels exist for the variants in `mask`
// (bit 1 << variant). AUTO picks the first available of avx512, avx2, neon, scalar.
mk_status mk_resolve_variant(mk_variant requested, unsigned mask, mk_variant* resolved);

#define MK_MASK(v) (1u << (unsigned)(v))
#define MK_MASK_SIMD \
    (MK_MASK(MK_VARIANT_SCALAR) | MK_MASK(MK_VARIANT_AVX2) | MK_MASK(MK_VARIANT_AVX512) | \
     MK_MASK(MK_VARIANT_NEON))

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

#endif
