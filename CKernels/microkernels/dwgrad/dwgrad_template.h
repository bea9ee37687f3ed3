// The depthwise backward loops, instantiated per ISA (see dwgrad.h): include rows_<isa>.h, then this.
#include "../rows_template.h"

// ---- Input gradient -----------------------------------------------------------------------------

MK_PL_TARGET MK_INLINE void mk_pl_dwdx_block(const size_t W, size_t taps,
                                             const float* const* dy, const float* const* w,
                                             size_t c, float* restrict dx) {
    float acc[MK_PL_BLOCK];
    for (size_t k = 0; k < W; k++) acc[k] = 0.0f;
    for (size_t t = 0; t < taps; t++) {
        const float* restrict d = dy[t] + c;
        const float* restrict f = w[t] + c;
        for (size_t k = 0; k < W; k++) acc[k] += d[k] * f[k];
    }
    for (size_t k = 0; k < W; k++) dx[c + k] = acc[k];
}

MK_PL_TARGET MK_INLINE void mk_pl_dwdx_tail(size_t n, size_t taps, const float* const* dy,
                                            const float* const* w, size_t c,
                                            float* restrict dx) {
    MK_PL_TAIL for (size_t k = 0; k < n; k++) dx[c + k] = 0.0f;
    for (size_t t = 0; t < taps; t++) {
        const float* restrict d = dy[t] + c;
        const float* restrict f = w[t] + c;
        MK_PL_TAIL for (size_t k = 0; k < n; k++) dx[c + k] += d[k] * f[k];
    }
}

MK_PL_TARGET static void MK_PL_NAME(dwgrad_dx)(size_t channels, size_t taps,
                                               const float* const* dy, const float* const* w,
                                               float* dx) {
#define MK_PL_B(W, c) mk_pl_dwdx_block(W, taps, dy, w, c, dx)
#define MK_PL_T(n, c) mk_pl_dwdx_tail(n, taps, dy, w, c, dx)
    MK_PL_REDUCTION_BLOCKS(channels, MK_PL_B, MK_PL_T);
#undef MK_PL_B
#undef MK_PL_T
}

// ---- Weight gradient ----------------------------------------------------------------------------

// One vector of channels at c; T taps (a compile-time constant for 3x3 and 5x5, so the
// accumulators stay in registers) over all pixels, then stored back.
MK_PL_TARGET MK_INLINE void mk_pl_dwdw_vec(const size_t T, size_t pixels, size_t taps,
                                           const float* const* x, size_t xo,
                                           const float* restrict dy, size_t dy_stride, size_t c,
                                           float* restrict acc, size_t as,
                                           float* restrict bias) {
    float a[25 * MK_PL_VEC];
    float b[MK_PL_VEC];
    for (size_t t = 0; t < T; t++) {
        for (size_t k = 0; k < MK_PL_VEC; k++) a[t * MK_PL_VEC + k] = acc[t * as + c + k];
    }
    for (size_t k = 0; k < MK_PL_VEC; k++) b[k] = bias ? bias[c + k] : 0.0f;
    for (size_t p = 0; p < pixels; p++) {
        const float* restrict d = dy + p * dy_stride + c;
        const float* const* xp = x + p * taps;
        for (size_t t = 0; t < T; t++) {
            const float* restrict v = xp[t] + xo + c;
            for (size_t k = 0; k < MK_PL_VEC; k++) a[t * MK_PL_VEC + k] += d[k] * v[k];
        }
        for (size_t k = 0; k < MK_PL_VEC; k++) b[k] += d[k];
    }
    for (size_t t = 0; t < T; t++) {
        for (size_t k = 0; k < MK_PL_VEC; k++) acc[t * as + c + k] = a[t * MK_PL_VEC + k];
    }
    if (bias) {
        for (size_t k = 0; k < MK_PL_VEC; k++) bias[c + k] = b[k];
    }
}

// Any tap count, n <= MK_PL_VEC channels at c, accumulated in acc itself (pixel order kept).
MK_PL_TARGET MK_INLINE void mk_pl_dwdw_memory(size_t n, size_t pixels, size_t taps,
                                              const float* const* x, size_t xo,
                                              const float* restrict dy, size_t dy_stride,
                                              size_t c, float* restrict acc, size_t as,
                                              float* restrict bias) {
    for (size_t p = 0; p < pixels; p++) {
        const float* restrict d = dy + p * dy_stride + c;
        const float* const* xp = x + p * taps;
        for (size_t t = 0; t < taps; t++) {
            const float* restrict v = xp[t] + xo + c;
            float* restrict a = acc + t * as + c;
            MK_PL_TAIL for (size_t k = 0; k < n; k++) a[k] += d[k] * v[k];
        }
        if (bias) {
            float* restrict b = bias + c;
            MK_PL_TAIL for (size_t k = 0; k < n; k++) b[k] += d[k];
        }
    }
}

MK_PL_TARGET static void MK_PL_NAME(dwgrad_dw)(size_t pixels, size_t channels, size_t taps,
                                               const float* const* x, size_t x_offset,
                                               const float* dy, size_t dy_stride, float* acc,
                                               size_t acc_stride, float* bias) {
    // Whole vectors; the last 1..VEC-1 channels accumulate in memory (an overlapping vector
    // would add its channels twice).
    size_t c = 0;
    for (; c + MK_PL_VEC <= channels; c += MK_PL_VEC) {
        if (taps == 9) {
            mk_pl_dwdw_vec(9, pixels, taps, x, x_offset, dy, dy_stride, c, acc, acc_stride, bias);
        } else if (taps == 25) {
            mk_pl_dwdw_vec(25, pixels, taps, x, x_offset, dy, dy_stride, c, acc, acc_stride, bias);
        } else {
            mk_pl_dwdw_memory(MK_PL_VEC, pixels, taps, x, x_offset, dy, dy_stride, c, acc,
                              acc_stride, bias);
        }
    }
    if (c < channels) {
        mk_pl_dwdw_memory(channels - c, pixels, taps, x, x_offset, dy, dy_stride, c, acc,
                          acc_stride, bias);
    }
}

const mk_dwgrad_kernels MK_PL_CAT(mk_f32_dwgrad_ukernels__, MK_PL_SUFFIX) = {
    MK_PL_NAME(dwgrad_dx),
    MK_PL_NAME(dwgrad_dw),
};
