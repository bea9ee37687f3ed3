// The fused epilogue (see mk_epilogue in common/internal.h), one float at a time. Every ISA's
// version computes the same operations in the same order, so all variants agree bit for bit.
#ifndef MK_EPILOGUE_SCALAR_H
#define MK_EPILOGUE_SCALAR_H

#include "../common/internal.h"

// max/min in the order of the SIMD code (a NaN input stays NaN).
MK_INLINE float mk_max_f32(float x, float lo) { return x < lo ? lo : x; }
MK_INLINE float mk_min_f32(float x, float hi) { return x > hi ? hi : x; }

MK_INLINE float mk_epilogue_f32(float x, mk_epilogue_kind kind, float lo, float hi) {
    switch (kind) {
        case MK_EPILOGUE_IDENTITY:
            return x;
        case MK_EPILOGUE_MINMAX:
            return mk_min_f32(mk_max_f32(x, lo), hi);
        case MK_EPILOGUE_HARDSWISH:
            return (x * mk_min_f32(mk_max_f32(x + 3.0f, 0.0f), 6.0f)) * MK_ONE_SIXTH;
        case MK_EPILOGUE_HARDSIGMOID:
            return mk_min_f32(mk_max_f32(x + 3.0f, 0.0f), 6.0f) * MK_ONE_SIXTH;
    }
    return x;
}

#endif
