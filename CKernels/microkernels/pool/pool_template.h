// The pooling and elementwise loops, instantiated per ISA (see pool.h). Define before including:
//   MK_PL_TARGET  the function target attribute (or nothing),
//   MK_PL_SUFFIX  the ISA suffix of the names (scalar, avx2, avx512, neon),
//   MK_PL_VEC     floats per vector register (a literal),
//   MK_PL_BLOCK   channels accumulated in registers per step, 4 vectors (a literal),
//   MK_PL_FC_BLOCK outputs of the fully connected kernel accumulated per pass over the weights
//                 (as many vectors as the registers hold: a weight row is read in one long run,
//                 not in 4-vector pieces, which matters when the weights come from memory),
//   MK_PL_TAIL    a loop pragma for the last < MK_PL_VEC channels (predication), or nothing.
// The loops are portable C with the block widths compile-time constants, so the compiler keeps
// a block's accumulators in vector registers and never reorders the per-channel arithmetic.
#include "../epilogue_scalar.h"

#include <math.h>

#define MK_PL_CAT2(a, b) a##b
#define MK_PL_CAT(a, b) MK_PL_CAT2(a, b)
#define MK_PL_NAME3(op, block, isa) mk_f32_##op##_ukernel_##block##c__##isa
#define MK_PL_NAME2(op, block, isa) MK_PL_NAME3(op, block, isa)
#define MK_PL_NAME(op) MK_PL_NAME2(op, MK_PL_BLOCK, MK_PL_SUFFIX)

// Calls CALL(KIND) with the epilogue kind as a compile-time constant.
#define MK_PL_SPECIALIZE(kind, CALL)                             \
    switch (kind) {                                              \
        case MK_EPILOGUE_IDENTITY: CALL(MK_EPILOGUE_IDENTITY); break;       \
        case MK_EPILOGUE_MINMAX: CALL(MK_EPILOGUE_MINMAX); break;           \
        case MK_EPILOGUE_HARDSWISH: CALL(MK_EPILOGUE_HARDSWISH); break;     \
        case MK_EPILOGUE_HARDSIGMOID: CALL(MK_EPILOGUE_HARDSIGMOID); break; \
    }

// Runs STMT for every channel index `i` in [0, n): blocks of MK_PL_BLOCK, then of MK_PL_VEC
// (constant trip counts: whole vectors), then the predicated tail.
#define MK_PL_CHANNELS(n, STMT)                                                        \
    do {                                                                               \
        size_t mk_pl_c = 0;                                                            \
        for (; mk_pl_c + MK_PL_BLOCK <= (n); mk_pl_c += MK_PL_BLOCK) {                 \
            for (size_t mk_pl_k = 0; mk_pl_k < MK_PL_BLOCK; mk_pl_k++) {               \
                const size_t i = mk_pl_c + mk_pl_k;                                    \
                STMT;                                                                  \
            }                                                                          \
        }                                                                              \
        for (; mk_pl_c + MK_PL_VEC <= (n); mk_pl_c += MK_PL_VEC) {                     \
            for (size_t mk_pl_k = 0; mk_pl_k < MK_PL_VEC; mk_pl_k++) {                 \
                const size_t i = mk_pl_c + mk_pl_k;                                    \
                STMT;                                                                  \
            }                                                                          \
        }                                                                              \
        MK_PL_TAIL for (size_t i = mk_pl_c; i < (n); i++) { STMT; }                    \
    } while (0)

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

// ---- Channel scaling (squeeze-and-excitation) -------------------------------------------------
// Rows go through always-inline helpers with restrict parameters: the compiler keeps those
// no-alias facts after inlining (it ignores restrict on local pointers).

MK_PL_TARGET MK_INLINE void mk_pl_vmul_row(size_t channels, const float* restrict x,
                                           const float* restrict s, float* restrict y) {
    MK_PL_CHANNELS(channels, y[i] = x[i] * s[i]);
}

MK_PL_TARGET MK_INLINE void mk_pl_vmul_inplace_row(size_t channels, float* restrict y,
                                                   const float* restrict s) {
    MK_PL_CHANNELS(channels, y[i] = y[i] * s[i]);
}

MK_PL_TARGET static void MK_PL_NAME(vmul)(size_t rows, size_t channels, const float* x,
                                          size_t x_stride, const float* scale, float* y,
                                          size_t y_stride) {
    for (size_t r = 0; r < rows; r++) {
        mk_pl_vmul_row(channels, x + r * x_stride, scale, y + r * y_stride);
    }
}

MK_PL_TARGET static void MK_PL_NAME(vmul_inplace)(size_t rows, size_t channels, float* y,
                                                  size_t y_stride, const float* scale) {
    for (size_t r = 0; r < rows; r++) mk_pl_vmul_inplace_row(channels, y + r * y_stride, scale);
}

// ---- Add + activation -------------------------------------------------------------------------

// a may equal b (both are only read).
MK_PL_TARGET MK_INLINE void mk_pl_vadd_row(mk_epilogue_kind kind, size_t channels,
                                           const float* restrict a, const float* restrict b,
                                           float* restrict y, float lo, float hi) {
    MK_PL_CHANNELS(channels, y[i] = mk_epilogue_f32(a[i] + b[i], kind, lo, hi));
}

// b may be y itself (y + y), so no restrict here: the compiler checks the two rows for overlap
// and runs its vector loop when they are apart (always, except in that case).
MK_PL_TARGET MK_INLINE void mk_pl_vadd_inplace_row(mk_epilogue_kind kind, size_t channels,
                                                   float* y, const float* b, float lo,
                                                   float hi) {
    MK_PL_CHANNELS(channels, y[i] = mk_epilogue_f32(y[i] + b[i], kind, lo, hi));
}

MK_PL_TARGET MK_INLINE void mk_pl_vadd(mk_epilogue_kind kind, size_t rows, size_t channels,
                                       const float* a, size_t a_stride, const float* b,
                                       size_t b_stride, float* y, size_t y_stride, float lo,
                                       float hi) {
    for (size_t r = 0; r < rows; r++) {
        mk_pl_vadd_row(kind, channels, a + r * a_stride, b + r * b_stride, y + r * y_stride, lo,
                       hi);
    }
}

MK_PL_TARGET MK_INLINE void mk_pl_vadd_inplace(mk_epilogue_kind kind, size_t rows,
                                               size_t channels, float* y, size_t y_stride,
                                               const float* b, size_t b_stride, float lo,
                                               float hi) {
    for (size_t r = 0; r < rows; r++) {
        mk_pl_vadd_inplace_row(kind, channels, y + r * y_stride, b + r * b_stride, lo, hi);
    }
}

MK_PL_TARGET static void MK_PL_NAME(vadd)(size_t rows, size_t channels, const float* a,
                                          size_t a_stride, const float* b, size_t b_stride,
                                          float* y, size_t y_stride, const mk_epilogue* epilogue) {
    const float lo = epilogue->min, hi = epilogue->max;
#define MK_PL_CALL(KIND) \
    mk_pl_vadd(KIND, rows, channels, a, a_stride, b, b_stride, y, y_stride, lo, hi)
    MK_PL_SPECIALIZE(epilogue->kind, MK_PL_CALL)
#undef MK_PL_CALL
}

MK_PL_TARGET static void MK_PL_NAME(vadd_inplace)(size_t rows, size_t channels, float* y,
                                                  size_t y_stride, const float* b,
                                                  size_t b_stride, const mk_epilogue* epilogue) {
    const float lo = epilogue->min, hi = epilogue->max;
#define MK_PL_CALL(KIND) \
    mk_pl_vadd_inplace(KIND, rows, channels, y, y_stride, b, b_stride, lo, hi)
    MK_PL_SPECIALIZE(epilogue->kind, MK_PL_CALL)
#undef MK_PL_CALL
}

// ---- Fully connected, weights [inputs][outputs] -------------------------------------------------

// One step of a dot product: a product, then a sum (two statements, so the compiler does not
// contract them into an FMA and every variant rounds as the reference does).
MK_PL_TARGET MK_INLINE float mk_pl_mac(float acc, float x, float w) {
    const float p = x * w;
    return acc + p;
}

// W outputs (a compile-time constant) accumulated in registers over all inputs.
MK_PL_TARGET MK_INLINE void mk_pl_fc_block(const size_t W, mk_epilogue_kind kind, size_t inputs,
                                           size_t ld, const float* restrict x,
                                           const float* restrict w, const float* restrict bias,
                                           float* restrict y, float lo, float hi) {
    float acc[MK_PL_FC_BLOCK];
    for (size_t k = 0; k < W; k++) acc[k] = 0.0f;
    for (size_t i = 0; i < inputs; i++) {
        const float xi = x[i];
        const float* wr = w + i * ld;
        for (size_t k = 0; k < W; k++) acc[k] = mk_pl_mac(acc[k], xi, wr[k]);
    }
    for (size_t k = 0; k < W; k++) y[k] = mk_epilogue_f32(acc[k] + bias[k], kind, lo, hi);
}

// The last n < MK_PL_VEC outputs, accumulated in y (predicated on x86).
MK_PL_TARGET MK_INLINE void mk_pl_fc_tail(size_t n, mk_epilogue_kind kind, size_t inputs,
                                          size_t ld, const float* restrict x,
                                          const float* restrict w, const float* restrict bias,
                                          float* restrict y, float lo, float hi) {
    MK_PL_TAIL for (size_t k = 0; k < n; k++) y[k] = 0.0f;
    for (size_t i = 0; i < inputs; i++) {
        const float xi = x[i];
        const float* wr = w + i * ld;
        MK_PL_TAIL for (size_t k = 0; k < n; k++) y[k] = mk_pl_mac(y[k], xi, wr[k]);
    }
    MK_PL_TAIL for (size_t k = 0; k < n; k++) {
        y[k] = mk_epilogue_f32(y[k] + bias[k], kind, lo, hi);
    }
}

// Large weight matrices (the SE layers of the last MobileNetV3 blocks: 0.9 MB each), which
// come from memory, are read in one sequential pass, row by row, with the sums kept in y: a
// pass per block of outputs reads each row in pieces, which the prefetchers serve at a third of
// the memory bandwidth. The same products and sums in the same order, so the same bits.
#define MK_PL_FC_STREAM_WEIGHTS (64 * 1024)

MK_PL_TARGET MK_INLINE void mk_pl_fc_stream(mk_epilogue_kind kind, size_t inputs, size_t outputs,
                                            const float* restrict x, const float* restrict w,
                                            const float* restrict bias, float* restrict y,
                                            float lo, float hi) {
    MK_PL_CHANNELS(outputs, y[i] = 0.0f);
    for (size_t r = 0; r < inputs; r++) {
        const float xr = x[r];
        const float* restrict wr = w + r * outputs;
        MK_PL_CHANNELS(outputs, y[i] = mk_pl_mac(y[i], xr, wr[i]));
    }
    MK_PL_CHANNELS(outputs, y[i] = mk_epilogue_f32(y[i] + bias[i], kind, lo, hi));
}

MK_PL_TARGET MK_INLINE void mk_pl_fc(mk_epilogue_kind kind, size_t inputs, size_t outputs,
                                     const float* x, const float* w, const float* bias, float* y,
                                     float lo, float hi) {
    if (inputs * outputs >= MK_PL_FC_STREAM_WEIGHTS) {
        mk_pl_fc_stream(kind, inputs, outputs, x, w, bias, y, lo, hi);
        return;
    }
    size_t o = 0;
    for (; o + MK_PL_FC_BLOCK <= outputs; o += MK_PL_FC_BLOCK) {
        mk_pl_fc_block(MK_PL_FC_BLOCK, kind, inputs, outputs, x, w + o, bias + o, y + o, lo, hi);
    }
    for (; o + MK_PL_BLOCK <= outputs; o += MK_PL_BLOCK) {
        mk_pl_fc_block(MK_PL_BLOCK, kind, inputs, outputs, x, w + o, bias + o, y + o, lo, hi);
    }
    for (; o + MK_PL_VEC <= outputs; o += MK_PL_VEC) {
        mk_pl_fc_block(MK_PL_VEC, kind, inputs, outputs, x, w + o, bias + o, y + o, lo, hi);
    }
    if (o < outputs && outputs >= MK_PL_VEC) {  // overlapping last vector, as mk_pl_window
        o = outputs - MK_PL_VEC;
        mk_pl_fc_block(MK_PL_VEC, kind, inputs, outputs, x, w + o, bias + o, y + o, lo, hi);
    } else if (o < outputs) {
        mk_pl_fc_tail(outputs - o, kind, inputs, outputs, x, w + o, bias + o, y + o, lo, hi);
    }
}

MK_PL_TARGET static void MK_PL_NAME(fc)(size_t inputs, size_t outputs, const float* x,
                                        const float* weights_t, const float* bias, float* y,
                                        const mk_epilogue* epilogue) {
    const float lo = epilogue->min, hi = epilogue->max;
#define MK_PL_CALL(KIND) mk_pl_fc(KIND, inputs, outputs, x, weights_t, bias, y, lo, hi)
    MK_PL_SPECIALIZE(epilogue->kind, MK_PL_CALL)
#undef MK_PL_CALL
}

const mk_pool_kernels MK_PL_CAT(mk_f32_pool_ukernels__, MK_PL_SUFFIX) = {
    MK_PL_NAME(maxpool), MK_PL_NAME(avgpool), MK_PL_NAME(vmul),
    MK_PL_NAME(vmul_inplace), MK_PL_NAME(vadd), MK_PL_NAME(vadd_inplace), MK_PL_NAME(fc),
};
