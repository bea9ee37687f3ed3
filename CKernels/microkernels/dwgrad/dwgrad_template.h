// The depthwise backward loops, instantiated per ISA (see dwgrad.h): include rows_<isa>.h, then this.
#include "../rows_template.h"
#include <string.h>

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

// One vector of channels at c; taps [t0, t0 + T) (T a compile-time constant, at most 13) over
// all pixels, then stored back; the bias with the first taps. Written with vector types: as
// float loops, the compiler spilled 25 taps' accumulators and vectorized across the taps or
// the pixels with gathers (a third of V3-Large's depthwise weight gradient time). `a += d * v`
// is one expression, contracted into an FMA as the loops were.
typedef float mk_pl_dwdw_v __attribute__((vector_size(MK_PL_VEC * sizeof(float))));

MK_PL_TARGET MK_INLINE mk_pl_dwdw_v mk_pl_dwdw_load(const float* p) {
    mk_pl_dwdw_v v;
    memcpy(&v, p, sizeof v);
    return v;
}

MK_PL_TARGET MK_INLINE void mk_pl_dwdw_vec(const size_t T, size_t t0, size_t pixels, size_t taps,
                                           const float* const* x, size_t xo,
                                           const float* restrict dy, size_t dy_stride, size_t c,
                                           float* restrict acc, size_t as,
                                           float* restrict bias) {
    mk_pl_dwdw_v a[13];
    for (size_t t = 0; t < T; t++) a[t] = mk_pl_dwdw_load(acc + (t0 + t) * as + c);
    mk_pl_dwdw_v b = {0};
    if (bias) b = mk_pl_dwdw_load(bias + c);
    for (size_t p = 0; p < pixels; p++) {
        const mk_pl_dwdw_v d = mk_pl_dwdw_load(dy + p * dy_stride + c);
        const float* const* xp = x + p * taps + t0;
        for (size_t t = 0; t < T; t++) a[t] += d * mk_pl_dwdw_load(xp[t] + xo + c);
        b += d;
    }
    for (size_t t = 0; t < T; t++) memcpy(acc + (t0 + t) * as + c, &a[t], sizeof a[t]);
    if (bias) memcpy(bias + c, &b, sizeof b);
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
            mk_pl_dwdw_vec(9, 0, pixels, taps, x, x_offset, dy, dy_stride, c, acc, acc_stride, bias);
        } else if (taps == 25) {
            // Two passes over the pixels (13 and 12 taps): each tap's sum is the same chain.
            mk_pl_dwdw_vec(13, 0, pixels, taps, x, x_offset, dy, dy_stride, c, acc, acc_stride, bias);
            mk_pl_dwdw_vec(12, 13, pixels, taps, x, x_offset, dy, dy_stride, c, acc, acc_stride, NULL);
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
