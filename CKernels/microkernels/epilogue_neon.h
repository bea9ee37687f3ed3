// The fused epilogue on 4 floats (NEON). Same operations and order as epilogue_scalar.h.
#ifndef MK_EPILOGUE_NEON_H
#define MK_EPILOGUE_NEON_H

#if defined(__aarch64__)
#include <arm_neon.h>

#include "../common/internal.h"

// fmax/fmin (vmaxq_f32/vminq_f32) return NaN when either operand is NaN.
MK_INLINE float32x4_t mk_epilogue_f32x4(float32x4_t x, mk_epilogue_kind kind, float32x4_t lo,
                                        float32x4_t hi) {
    switch (kind) {
        case MK_EPILOGUE_IDENTITY:
            return x;
        case MK_EPILOGUE_MINMAX:
            return vminq_f32(vmaxq_f32(x, lo), hi);
        case MK_EPILOGUE_HARDSWISH: {
            float32x4_t t = vaddq_f32(x, vdupq_n_f32(3.0f));
            t = vminq_f32(vmaxq_f32(t, vdupq_n_f32(0.0f)), vdupq_n_f32(6.0f));
            return vmulq_f32(vmulq_f32(x, t), vdupq_n_f32(MK_ONE_SIXTH));
        }
        case MK_EPILOGUE_HARDSIGMOID: {
            float32x4_t t = vaddq_f32(x, vdupq_n_f32(3.0f));
            t = vminq_f32(vmaxq_f32(t, vdupq_n_f32(0.0f)), vdupq_n_f32(6.0f));
            return vmulq_f32(t, vdupq_n_f32(MK_ONE_SIXTH));
        }
    }
    return x;
}

#endif
#endif
