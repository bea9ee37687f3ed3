// The training-mode BatchNorm and activation-gradient loops, instantiated per ISA (see
// bntrain.h): include rows_<isa>.h, then this.
#include "../rows_template.h"

// ---- Shared arithmetic ------------------------------------------------------------------------

// act'(u) * dy with PyTorch's kink rules (bntrain.h). The divisions are the reference's.
MK_PL_TARGET MK_INLINE float mk_pl_dact(const mk_dact_kind kind, float u, float dy, float lo,
                                        float hi) {
    switch (kind) {
        case MK_DACT_IDENTITY: return dy;
        case MK_DACT_RELU: return u > 0.0f ? dy : 0.0f;
        case MK_DACT_RELU6: return ((u > 0.0f) & (u < 6.0f)) ? dy : 0.0f;
        case MK_DACT_CLAMP: return ((u >= lo) & (u <= hi)) ? dy : 0.0f;
        case MK_DACT_HARDSWISH:
            return u < -3.0f ? 0.0f : (u <= 3.0f ? dy * (u / 3.0f + 0.5f) : dy);
        case MK_DACT_HARDSIGMOID: return ((u > -3.0f) & (u < 3.0f)) ? dy / 6.0f : 0.0f;
    }
    return dy;
}

// Calls CALL(KIND) with the activation-gradient kind as a compile-time constant.
#define MK_PL_SPECIALIZE_DACT(kind, CALL)                            \
    switch (kind) {                                                  \
        case MK_DACT_IDENTITY: CALL(MK_DACT_IDENTITY); break;        \
        case MK_DACT_RELU: CALL(MK_DACT_RELU); break;                \
        case MK_DACT_RELU6: CALL(MK_DACT_RELU6); break;              \
        case MK_DACT_CLAMP: CALL(MK_DACT_CLAMP); break;              \
        case MK_DACT_HARDSWISH: CALL(MK_DACT_HARDSWISH); break;      \
        case MK_DACT_HARDSIGMOID: CALL(MK_DACT_HARDSIGMOID); break;  \
    }

// The normalized value and the BatchNorm output, in the reference's order of operations.
MK_PL_TARGET MK_INLINE float mk_pl_xhat(float x, float mean, float inv_std) {
    return (x - mean) * inv_std;
}

MK_PL_TARGET MK_INLINE float mk_pl_affine(float xhat, float gamma, float beta) {
    return xhat * gamma + beta;
}

// ---- Batch statistics of a chunk --------------------------------------------------------------

MK_PL_TARGET MK_INLINE void mk_pl_stats_block(const size_t W, size_t rows,
                                              const float* restrict x, size_t xs,
                                              float* restrict sum, float* restrict m2) {
    float s[MK_PL_BLOCK], mean[MK_PL_BLOCK], q[MK_PL_BLOCK];
    for (size_t k = 0; k < W; k++) s[k] = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const float* p = x + r * xs;
        for (size_t k = 0; k < W; k++) s[k] += p[k];
    }
    for (size_t k = 0; k < W; k++) {
        mean[k] = s[k] / (float)rows;
        q[k] = 0.0f;
    }
    for (size_t r = 0; r < rows; r++) {
        const float* p = x + r * xs;
        for (size_t k = 0; k < W; k++) {
            const float d = p[k] - mean[k];
            q[k] += d * d;
        }
    }
    for (size_t k = 0; k < W; k++) {
        sum[k] = s[k];
        m2[k] = q[k];
    }
}

// Fewer channels than a vector: accumulated in the output rows.
MK_PL_TARGET MK_INLINE void mk_pl_stats_tail(size_t n, size_t rows, const float* restrict x,
                                             size_t xs, float* restrict sum,
                                             float* restrict m2) {
    MK_PL_TAIL for (size_t k = 0; k < n; k++) sum[k] = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const float* p = x + r * xs;
        MK_PL_TAIL for (size_t k = 0; k < n; k++) sum[k] += p[k];
    }
    MK_PL_TAIL for (size_t k = 0; k < n; k++) m2[k] = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const float* p = x + r * xs;
        MK_PL_TAIL for (size_t k = 0; k < n; k++) {
            const float d = p[k] - sum[k] / (float)rows;
            m2[k] += d * d;
        }
    }
}

MK_PL_TARGET static void MK_PL_NAME(bn_stats)(size_t rows, size_t channels, const float* x,
                                              size_t x_stride, float* sum, float* m2) {
#define MK_PL_B(W, c) mk_pl_stats_block(W, rows, x + (c), x_stride, sum + (c), m2 + (c))
#define MK_PL_T(n, c) mk_pl_stats_tail(n, rows, x + (c), x_stride, sum + (c), m2 + (c))
    MK_PL_REDUCTION_BLOCKS(channels, MK_PL_B, MK_PL_T);
#undef MK_PL_B
#undef MK_PL_T
}

// ---- Normalize + activation -------------------------------------------------------------------

MK_PL_TARGET MK_INLINE void mk_pl_normalize_row(mk_epilogue_kind kind, size_t channels,
                                                const float* restrict x,
                                                const float* restrict mean,
                                                const float* restrict inv_std,
                                                const float* restrict gamma,
                                                const float* restrict beta, float* y, float lo,
                                                float hi) {
    MK_PL_CHANNELS(channels, y[i] = mk_epilogue_f32(
                                 mk_pl_affine(mk_pl_xhat(x[i], mean[i], inv_std[i]), gamma[i], beta[i]),
                                 kind, lo, hi));
}

MK_PL_TARGET static void MK_PL_NAME(bn_normalize)(size_t rows, size_t channels, const float* x,
                                                  size_t x_stride, const mk_bn_channels* p,
                                                  float* y, size_t y_stride,
                                                  const mk_epilogue* epilogue) {
    const float lo = epilogue->min, hi = epilogue->max;
#define MK_PL_CALL(KIND)                                                                      \
    for (size_t r = 0; r < rows; r++) {                                                       \
        mk_pl_normalize_row(KIND, channels, x + r * x_stride, p->mean, p->inv_std, p->gamma,  \
                            p->beta, y + r * y_stride, lo, hi);                               \
    }
    MK_PL_SPECIALIZE(epilogue->kind, MK_PL_CALL)
#undef MK_PL_CALL
}

// ---- BatchNorm backward: the chunk sums ---------------------------------------------------------

MK_PL_TARGET MK_INLINE void mk_pl_reduce_block(const mk_dact_kind kind, const size_t W,
                                               size_t rows, const float* restrict x, size_t xs,
                                               const float* restrict dy, size_t ds,
                                               const float* restrict mean,
                                               const float* restrict inv_std,
                                               const float* restrict gamma,
                                               const float* restrict beta, float lo, float hi,
                                               float* restrict sum_g, float* restrict sum_gx) {
    float sg[MK_PL_BLOCK], sx[MK_PL_BLOCK];
    for (size_t k = 0; k < W; k++) sg[k] = sx[k] = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const float* px = x + r * xs;
        const float* pd = dy + r * ds;
        for (size_t k = 0; k < W; k++) {
            const float xhat = mk_pl_xhat(px[k], mean[k], inv_std[k]);
            const float g = mk_pl_dact(kind, mk_pl_affine(xhat, gamma[k], beta[k]), pd[k], lo, hi);
            sg[k] += g;
            sx[k] += g * xhat;
        }
    }
    for (size_t k = 0; k < W; k++) {
        sum_g[k] = sg[k];
        sum_gx[k] = sx[k];
    }
}

MK_PL_TARGET MK_INLINE void mk_pl_reduce_tail(const mk_dact_kind kind, size_t n, size_t rows,
                                              const float* restrict x, size_t xs,
                                              const float* restrict dy, size_t ds,
                                              const float* restrict mean,
                                              const float* restrict inv_std,
                                              const float* restrict gamma,
                                              const float* restrict beta, float lo, float hi,
                                              float* restrict sum_g, float* restrict sum_gx) {
    MK_PL_TAIL for (size_t k = 0; k < n; k++) sum_g[k] = sum_gx[k] = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const float* px = x + r * xs;
        const float* pd = dy + r * ds;
        MK_PL_TAIL for (size_t k = 0; k < n; k++) {
            const float xhat = mk_pl_xhat(px[k], mean[k], inv_std[k]);
            const float g = mk_pl_dact(kind, mk_pl_affine(xhat, gamma[k], beta[k]), pd[k], lo, hi);
            sum_g[k] += g;
            sum_gx[k] += g * xhat;
        }
    }
}

MK_PL_TARGET static void MK_PL_NAME(bn_reduce)(size_t rows, size_t channels, const float* x,
                                               size_t x_stride, const float* dy,
                                               size_t dy_stride, const mk_bn_channels* p,
                                               const mk_dact* dact, float* sum_g,
                                               float* sum_gx) {
    const float lo = dact->min, hi = dact->max;
#define MK_PL_ARGS(c)                                                                           \
    rows, x + (c), x_stride, dy + (c), dy_stride, p->mean + (c), p->inv_std + (c),               \
        p->gamma + (c), p->beta + (c), lo, hi, sum_g + (c), sum_gx + (c)
    switch (dact->kind) {
#define MK_PL_CASE(KIND)                                                       \
    case KIND: {                                                               \
        size_t c = 0;                                                          \
        for (; c + MK_PL_BLOCK <= channels; c += MK_PL_BLOCK) {                \
            mk_pl_reduce_block(KIND, MK_PL_BLOCK, MK_PL_ARGS(c));              \
        }                                                                      \
        for (; c + MK_PL_VEC <= channels; c += MK_PL_VEC) {                    \
            mk_pl_reduce_block(KIND, MK_PL_VEC, MK_PL_ARGS(c));                \
        }                                                                      \
        if (c < channels && channels >= MK_PL_VEC) {                           \
            mk_pl_reduce_block(KIND, MK_PL_VEC, MK_PL_ARGS(channels - MK_PL_VEC)); \
        } else if (c < channels) {                                             \
            mk_pl_reduce_tail(KIND, channels - c, MK_PL_ARGS(c));              \
        }                                                                      \
        break;                                                                 \
    }
        MK_PL_CASE(MK_DACT_IDENTITY)
        MK_PL_CASE(MK_DACT_RELU)
        MK_PL_CASE(MK_DACT_RELU6)
        MK_PL_CASE(MK_DACT_CLAMP)
        MK_PL_CASE(MK_DACT_HARDSWISH)
        MK_PL_CASE(MK_DACT_HARDSIGMOID)
#undef MK_PL_CASE
    }
#undef MK_PL_ARGS
}

// ---- BatchNorm backward: the input gradient -----------------------------------------------------

// dx may be dy (same row): each element is read before it is written, and no restrict on them.
MK_PL_TARGET MK_INLINE void mk_pl_dx_row(const mk_dact_kind kind, size_t channels,
                                         const float* restrict x, const float* dy,
                                         const mk_bn_channels* restrict p, float lo, float hi,
                                         float* dx) {
    const float* restrict mean = p->mean;
    const float* restrict inv_std = p->inv_std;
    const float* restrict gamma = p->gamma;
    const float* restrict beta = p->beta;
    const float* restrict ka = p->ka;
    const float* restrict kb = p->kb;
    const float* restrict kc = p->kc;
    MK_PL_CHANNELS(channels, {
        const float xhat = mk_pl_xhat(x[i], mean[i], inv_std[i]);
        const float g = mk_pl_dact(kind, mk_pl_affine(xhat, gamma[i], beta[i]), dy[i], lo, hi);
        dx[i] = ka[i] * ((g - kb[i]) - xhat * kc[i]);
    });
}

MK_PL_TARGET static void MK_PL_NAME(bn_dx)(size_t rows, size_t channels, const float* x,
                                           size_t x_stride, const float* dy, size_t dy_stride,
                                           const mk_bn_channels* p, const mk_dact* dact,
                                           float* dx, size_t dx_stride) {
    const float lo = dact->min, hi = dact->max;
#define MK_PL_CALL(KIND)                                                                 \
    for (size_t r = 0; r < rows; r++) {                                                  \
        mk_pl_dx_row(KIND, channels, x + r * x_stride, dy + r * dy_stride, p, lo, hi,    \
                     dx + r * dx_stride);                                                \
    }
    MK_PL_SPECIALIZE_DACT(dact->kind, MK_PL_CALL)
#undef MK_PL_CALL
}

// ---- Activation gradient (+ the bias gradient of a chunk) ---------------------------------------

MK_PL_TARGET MK_INLINE void mk_pl_act_grad_row(const mk_dact_kind kind, size_t channels,
                                               const float* restrict u, const float* dy,
                                               float lo, float hi, float* dx) {
    MK_PL_CHANNELS(channels, dx[i] = mk_pl_dact(kind, u[i], dy[i], lo, hi));
}

// The column sums of `rows` rows (row order), a block of W channels in registers.
MK_PL_TARGET MK_INLINE void mk_pl_colsum_block(const size_t W, size_t rows,
                                               const float* restrict x, size_t xs,
                                               float* restrict sum) {
    float s[MK_PL_BLOCK];
    for (size_t k = 0; k < W; k++) s[k] = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const float* p = x + r * xs;
        for (size_t k = 0; k < W; k++) s[k] += p[k];
    }
    for (size_t k = 0; k < W; k++) sum[k] = s[k];
}

MK_PL_TARGET MK_INLINE void mk_pl_colsum_tail(size_t n, size_t rows, const float* restrict x,
                                              size_t xs, float* restrict sum) {
    MK_PL_TAIL for (size_t k = 0; k < n; k++) sum[k] = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const float* p = x + r * xs;
        MK_PL_TAIL for (size_t k = 0; k < n; k++) sum[k] += p[k];
    }
}

MK_PL_TARGET static void MK_PL_NAME(act_grad)(size_t rows, size_t channels, const float* u,
                                              size_t u_stride, const float* dy,
                                              size_t dy_stride, const mk_dact* dact, float* dx,
                                              size_t dx_stride, float* sum_g) {
    const float lo = dact->min, hi = dact->max;
#define MK_PL_CALL(KIND)                                                                  \
    for (size_t r = 0; r < rows; r++) {                                                   \
        mk_pl_act_grad_row(KIND, channels, u + r * u_stride, dy + r * dy_stride, lo, hi,  \
                           dx + r * dx_stride);                                           \
    }
    MK_PL_SPECIALIZE_DACT(dact->kind, MK_PL_CALL)
#undef MK_PL_CALL
    if (sum_g == NULL) return;
    // The chunk's rows are in cache now: sum what was written, block by block.
#define MK_PL_B(W, c) mk_pl_colsum_block(W, rows, dx + (c), dx_stride, sum_g + (c))
#define MK_PL_T(n, c) mk_pl_colsum_tail(n, rows, dx + (c), dx_stride, sum_g + (c))
    MK_PL_REDUCTION_BLOCKS(channels, MK_PL_B, MK_PL_T);
#undef MK_PL_B
#undef MK_PL_T
}

const mk_bntrain_kernels MK_PL_CAT(mk_f32_bntrain_ukernels__, MK_PL_SUFFIX) = {
    MK_PL_NAME(bn_stats), MK_PL_NAME(bn_normalize), MK_PL_NAME(bn_reduce), MK_PL_NAME(bn_dx),
    MK_PL_NAME(act_grad),
};
