// The window pooling loops, instantiated per ISA (see pool.h): include rows_<isa>.h, then this.
#include "../rows_template.h"

// ---- Window pooling ---------------------------------------------------------------------------

// One step of the window reduction (max: PyTorch's NaN-propagating rule; avg: a plain sum).
MK_PL_TARGET MK_INLINE float mk_pl_reduce(const bool MAX, float acc, float v) {
    return MAX ? ((v > acc || v != v) ? v : acc) : acc + v;
}

// The start value: -inf leaves the first element's bits as they are under the max rule (a -inf
// first element stays -inf, a NaN replaces it); 0 is the sum's start (0 + -0 = +0, as the
// reference sums).
MK_PL_TARGET MK_INLINE float mk_pl_init(const bool MAX) { return MAX ? -INFINITY : 0.0f; }

MK_PL_TARGET MK_INLINE float mk_pl_finish(const bool MAX, float acc, float divisor,
                                          mk_epilogue_kind kind, float lo, float hi) {
    return mk_epilogue_f32(MAX ? acc : acc / divisor, kind, lo, hi);
}

// W channels (a compile-time constant) of one output pixel, accumulated in registers.
MK_PL_TARGET MK_INLINE void mk_pl_window_block(const bool MAX, const size_t W,
                                               mk_epilogue_kind kind, size_t rows, size_t cols,
                                               const float* restrict x, size_t row_step,
                                               size_t col_step, float* restrict y,
                                               float divisor, float lo, float hi) {
    float acc[MK_PL_BLOCK];
    for (size_t k = 0; k < W; k++) acc[k] = mk_pl_init(MAX);
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * row_step;
        for (size_t q = 0; q < cols; q++) {
            const float* p = xr + q * col_step;
            for (size_t k = 0; k < W; k++) acc[k] = mk_pl_reduce(MAX, acc[k], p[k]);
        }
    }
    for (size_t k = 0; k < W; k++) y[k] = mk_pl_finish(MAX, acc[k], divisor, kind, lo, hi);
}

// The last n < MK_PL_VEC channels, accumulated in the output row (predicated on x86).
MK_PL_TARGET MK_INLINE void mk_pl_window_tail(const bool MAX, size_t n, mk_epilogue_kind kind,
                                              size_t rows, size_t cols, const float* restrict x,
                                              size_t row_step, size_t col_step,
                                              float* restrict y, float divisor, float lo,
                                              float hi) {
    MK_PL_TAIL for (size_t k = 0; k < n; k++) y[k] = mk_pl_init(MAX);
    for (size_t r = 0; r < rows; r++) {
        const float* xr = x + r * row_step;
        for (size_t q = 0; q < cols; q++) {
            const float* p = xr + q * col_step;
            MK_PL_TAIL for (size_t k = 0; k < n; k++) y[k] = mk_pl_reduce(MAX, y[k], p[k]);
        }
    }
    MK_PL_TAIL for (size_t k = 0; k < n; k++) {
        y[k] = mk_pl_finish(MAX, y[k], divisor, kind, lo, hi);
    }
}

MK_PL_TARGET MK_INLINE void mk_pl_window(const bool MAX, mk_epilogue_kind kind, size_t rows,
                                         size_t cols, const float* restrict x, size_t row_step,
                                         size_t col_step, size_t channels, float* restrict y,
                                         float divisor, float lo, float hi) {
    size_t c = 0;
    for (; c + MK_PL_BLOCK <= channels; c += MK_PL_BLOCK) {
        mk_pl_window_block(MAX, MK_PL_BLOCK, kind, rows, cols, x + c, row_step, col_step, y + c,
                           divisor, lo, hi);
    }
    for (; c + MK_PL_VEC <= channels; c += MK_PL_VEC) {
        mk_pl_window_block(MAX, MK_PL_VEC, kind, rows, cols, x + c, row_step, col_step, y + c,
                           divisor, lo, hi);
    }
    if (c < channels && channels >= MK_PL_VEC) {
        // The last vector ends at the last channel, overlapping the one before: its overlapping
        // channels are computed again, in the same order, so they get the same bits. (The
        // predicated tail accumulates through memory: C = 24 ran at a fifth of this speed.)
        c = channels - MK_PL_VEC;
        mk_pl_window_block(MAX, MK_PL_VEC, kind, rows, cols, x + c, row_step, col_step, y + c,
                           divisor, lo, hi);
    } else if (c < channels) {
        mk_pl_window_tail(MAX, channels - c, kind, rows, cols, x + c, row_step, col_step, y + c,
                          divisor, lo, hi);
    }
}

MK_PL_TARGET static void MK_PL_NAME(maxpool)(size_t rows, size_t cols, const float* input,
                                             size_t row_step, size_t col_step, size_t channels,
                                             float* output, float divisor,
                                             const mk_epilogue* epilogue) {
    (void)divisor;
    const float lo = epilogue->min, hi = epilogue->max;
#define MK_PL_CALL(KIND) \
    mk_pl_window(true, KIND, rows, cols, input, row_step, col_step, channels, output, 1.0f, lo, hi)
    MK_PL_SPECIALIZE(epilogue->kind, MK_PL_CALL)
#undef MK_PL_CALL
}

MK_PL_TARGET static void MK_PL_NAME(avgpool)(size_t rows, size_t cols, const float* input,
                                             size_t row_step, size_t col_step, size_t channels,
                                             float* output, float divisor,
                                             const mk_epilogue* epilogue) {
    const float lo = epilogue->min, hi = epilogue->max;
#define MK_PL_CALL(KIND)                                                                    \
    mk_pl_window(false, KIND, rows, cols, input, row_step, col_step, channels, output, divisor, \
                 lo, hi)
    MK_PL_SPECIALIZE(epilogue->kind, MK_PL_CALL)
#undef MK_PL_CALL
}

const mk_pool_kernels MK_PL_CAT(mk_f32_pool_ukernels__, MK_PL_SUFFIX) = {
    MK_PL_NAME(maxpool), MK_PL_NAME(avgpool),
};
