// The pooling backward loops, instantiated per ISA (see poolgrad.h): include rows_<isa>.h, then this.
#include "../rows_template.h"

// ---- Max pooling with the index of each maximum -------------------------------------------------

MK_PL_TARGET MK_INLINE void mk_pl_argmax_block(const size_t W, size_t rows, size_t cols,
                                               const float* restrict x, size_t row_step,
                                               size_t col_step, float* restrict y,
                                               int32_t* restrict idx, int32_t first,
                                               int32_t row_index) {
    float best[MK_PL_BLOCK];
    int32_t at[MK_PL_BLOCK];
    for (size_t k = 0; k < W; k++) {
        best[k] = -INFINITY;
        at[k] = first;
    }
    for (size_t r = 0; r < rows; r++) {
        for (size_t q = 0; q < cols; q++) {
            const float* p = x + r * row_step + q * col_step;
            const int32_t cell = first + (int32_t)r * row_index + (int32_t)q;
            for (size_t k = 0; k < W; k++) {
                const bool take = p[k] > best[k] || p[k] != p[k];
                best[k] = take ? p[k] : best[k];
                at[k] = take ? cell : at[k];
            }
        }
    }
    for (size_t k = 0; k < W; k++) {
        y[k] = best[k];
        idx[k] = at[k];
    }
}

MK_PL_TARGET MK_INLINE void mk_pl_argmax_tail(size_t n, size_t rows, size_t cols,
                                              const float* restrict x, size_t row_step,
                                              size_t col_step, float* restrict y,
                                              int32_t* restrict idx, int32_t first,
                                              int32_t row_index) {
    MK_PL_TAIL for (size_t k = 0; k < n; k++) {
        y[k] = -INFINITY;
        idx[k] = first;
    }
    for (size_t r = 0; r < rows; r++) {
        for (size_t q = 0; q < cols; q++) {
            const float* p = x + r * row_step + q * col_step;
            const int32_t cell = first + (int32_t)r * row_index + (int32_t)q;
            MK_PL_TAIL for (size_t k = 0; k < n; k++) {
                const bool take = p[k] > y[k] || p[k] != p[k];
                y[k] = take ? p[k] : y[k];
                idx[k] = take ? cell : idx[k];
            }
        }
    }
}

MK_PL_TARGET static void MK_PL_NAME(argmax)(size_t rows, size_t cols, const float* x,
                                            size_t row_step, size_t col_step, size_t channels,
                                            float* y, int32_t* idx, int32_t first,
                                            int32_t row_index) {
#define MK_PL_B(W, c) \
    mk_pl_argmax_block(W, rows, cols, x + (c), row_step, col_step, y + (c), idx + (c), first, row_index)
#define MK_PL_T(n, c) \
    mk_pl_argmax_tail(n, rows, cols, x + (c), row_step, col_step, y + (c), idx + (c), first, row_index)
    MK_PL_REDUCTION_BLOCKS(channels, MK_PL_B, MK_PL_T);
#undef MK_PL_B
#undef MK_PL_T
}

// ---- Gathers ----------------------------------------------------------------------------------

MK_PL_TARGET MK_INLINE void mk_pl_gmax_block(const size_t W, size_t windows,
                                             const float* const* dy, const int32_t* const* idx,
                                             int32_t target, size_t c, float* restrict dx) {
    float acc[MK_PL_BLOCK];
    for (size_t k = 0; k < W; k++) acc[k] = 0.0f;
    for (size_t w = 0; w < windows; w++) {
        const float* restrict d = dy[w] + c;
        const int32_t* restrict i = idx[w] + c;
        for (size_t k = 0; k < W; k++) acc[k] += i[k] == target ? d[k] : 0.0f;
    }
    for (size_t k = 0; k < W; k++) dx[c + k] = acc[k];
}

MK_PL_TARGET MK_INLINE void mk_pl_gmax_tail(size_t n, size_t windows, const float* const* dy,
                                            const int32_t* const* idx, int32_t target, size_t c,
                                            float* restrict dx) {
    MK_PL_TAIL for (size_t k = 0; k < n; k++) dx[c + k] = 0.0f;
    for (size_t w = 0; w < windows; w++) {
        const float* restrict d = dy[w] + c;
        const int32_t* restrict i = idx[w] + c;
        MK_PL_TAIL for (size_t k = 0; k < n; k++) dx[c + k] += i[k] == target ? d[k] : 0.0f;
    }
}

MK_PL_TARGET static void MK_PL_NAME(gather_max)(size_t channels, size_t windows,
                                                const float* const* dy,
                                                const int32_t* const* idx, int32_t target,
                                                float* dx) {
#define MK_PL_B(W, c) mk_pl_gmax_block(W, windows, dy, idx, target, c, dx)
#define MK_PL_T(n, c) mk_pl_gmax_tail(n, windows, dy, idx, target, c, dx)
    MK_PL_REDUCTION_BLOCKS(channels, MK_PL_B, MK_PL_T);
#undef MK_PL_B
#undef MK_PL_T
}

MK_PL_TARGET MK_INLINE void mk_pl_gavg_block(const size_t W, size_t windows,
                                             const float* const* dy,
                                             const float* restrict divisors, size_t c,
                                             float* restrict dx) {
    float acc[MK_PL_BLOCK];
    for (size_t k = 0; k < W; k++) acc[k] = 0.0f;
    for (size_t w = 0; w < windows; w++) {
        const float* restrict d = dy[w] + c;
        const float v = divisors[w];
        for (size_t k = 0; k < W; k++) acc[k] += d[k] / v;
    }
    for (size_t k = 0; k < W; k++) dx[c + k] = acc[k];
}

MK_PL_TARGET MK_INLINE void mk_pl_gavg_tail(size_t n, size_t windows, const float* const* dy,
                                            const float* restrict divisors, size_t c,
                                            float* restrict dx) {
    MK_PL_TAIL for (size_t k = 0; k < n; k++) dx[c + k] = 0.0f;
    for (size_t w = 0; w < windows; w++) {
        const float* restrict d = dy[w] + c;
        const float v = divisors[w];
        MK_PL_TAIL for (size_t k = 0; k < n; k++) dx[c + k] += d[k] / v;
    }
}

MK_PL_TARGET static void MK_PL_NAME(gather_avg)(size_t channels, size_t windows,
                                                const float* const* dy, const float* divisors,
                                                float* dx) {
#define MK_PL_B(W, c) mk_pl_gavg_block(W, windows, dy, divisors, c, dx)
#define MK_PL_T(n, c) mk_pl_gavg_tail(n, windows, dy, divisors, c, dx)
    MK_PL_REDUCTION_BLOCKS(channels, MK_PL_B, MK_PL_T);
#undef MK_PL_B
#undef MK_PL_T
}

const mk_poolgrad_kernels MK_PL_CAT(mk_f32_poolgrad_ukernels__, MK_PL_SUFFIX) = {
    MK_PL_NAME(argmax),
    MK_PL_NAME(gather_max),
    MK_PL_NAME(gather_avg),
};
