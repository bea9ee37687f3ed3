// The fused epilogue on 4 floats (NEON). Same operations and order as epilogue_scalar.h.
#ifndef MK_EPILOGUE_NEON_H
#define MK_EPILOGUE_NEON_H

#if defined(__aarch64__)
#include <arm_neon.h>

#include "../common/internal.h"

// x < lo ? lo : x and x > hi ? hi : x, exactly as epilogue_scalar.h (and x86's vmaxps/vminps
// with x second): a NaN x stays NaN and -0.0 stays -0.0 (vmaxq_f32 would make it +0.0).
MK_INLINE float32x4_t mk_neon_max(float32x4_t x, float32x4_t lo) {
    return vbslq_f32(vcltq_f32(x, lo), lo, x);
}
MK_INLINE float32x4_t mk_neon_min(float32x4_t x, float32x4_t hi) {
    return vbslq_f32(vcgtq_f32(x, hi), hi, x);
}

MK_INLINE float32x4_t mk_epilogue_f32x4(float32x4_t x, mk_epilogue_kind kind, float32x4_t lo,
                                        float32x4_t hi) {
    switch (kind) {
        case MK_EPILOGUE_IDENTITY:
            return x;
        case MK_EPILOGUE_MINMAX:
            return mk_neon_min(mk_neon_max(x, lo), hi);
        case MK_EPILOGUE_HARDSWISH: {
            float32x4_t t = vaddq_f32(x, vdupq_n_f32(3.0f));
            t = mk_neon_min(mk_neon_max(t, vdupq_n_f32(0.0f)), vdupq_n_f32(6.0f));
            return vmulq_f32(vmulq_f32(x, t), vdupq_n_f32(MK_ONE_SIXTH));
        }
        case MK_EPILOGUE_HARDSIGMOID: {
            float32x4_t t = vaddq_f32(x, vdupq_n_f32(3.0f));
            t = mk_neon_min(mk_neon_max(t, vdupq_n_f32(0.0f)), vdupq_n_f32(6.0f));
            return vmulq_f32(t, vdupq_n_f32(MK_ONE_SIXTH));
        }
    }
    return x;
}

#endif
#endif
