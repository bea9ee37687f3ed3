// The small fully connected loop, instantiated per ISA (see fc.h): include rows_<isa>.h, then this.
#include "../rows_template.h"

// ---- Fully connected, weights [inputs][outputs] -------------------------------------------------

// One step of a dot product: a fused multiply-add (one rounding), explicitly, so every variant
// rounds alike: vfmadd on AVX2 and AVX-512, fmla on NEON, fmaf on the x86 scalar variant. (A
// product then a sum had been the rule; the FMA halves the floating-point instructions, and the
// squeeze-and-excitation layers of a training step at batch 128 are throughput-bound on them.)
MK_PL_TARGET MK_INLINE float mk_pl_mac(float acc, float x, float w) {
    return __builtin_fmaf(x, w, acc);
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
                                            size_t ld, const float* restrict x,
                                            const float* restrict w, const float* restrict bias,
                                            float* restrict y, float lo, float hi) {
    MK_PL_CHANNELS(outputs, y[i] = 0.0f);
    for (size_t r = 0; r < inputs; r++) {
        const float xr = x[r];
        const float* restrict wr = w + r * ld;
        MK_PL_CHANNELS(outputs, y[i] = mk_pl_mac(y[i], xr, wr[i]));
    }
    MK_PL_CHANNELS(outputs, y[i] = mk_epilogue_f32(y[i] + bias[i], kind, lo, hi));
}

MK_PL_TARGET MK_INLINE void mk_pl_fc(mk_epilogue_kind kind, size_t inputs, size_t outputs,
                                     size_t ld, const float* x, const float* w,
                                     const float* bias, float* y, float lo, float hi) {
    if (inputs * ld >= MK_PL_FC_STREAM_WEIGHTS) {  // the whole matrix: whether it is in cache
        mk_pl_fc_stream(kind, inputs, outputs, ld, x, w, bias, y, lo, hi);
        return;
    }
    size_t o = 0;
    for (; o + MK_PL_FC_BLOCK <= outputs; o += MK_PL_FC_BLOCK) {
        mk_pl_fc_block(MK_PL_FC_BLOCK, kind, inputs, ld, x, w + o, bias + o, y + o, lo, hi);
    }
    for (; o + MK_PL_BLOCK <= outputs; o += MK_PL_BLOCK) {
        mk_pl_fc_block(MK_PL_BLOCK, kind, inputs, ld, x, w + o, bias + o, y + o, lo, hi);
    }
    for (; o + MK_PL_VEC <= outputs; o += MK_PL_VEC) {
        mk_pl_fc_block(MK_PL_VEC, kind, inputs, ld, x, w + o, bias + o, y + o, lo, hi);
    }
    if (o < outputs && outputs >= MK_PL_VEC) {  // overlapping last vector, as mk_pl_window
        o = outputs - MK_PL_VEC;
        mk_pl_fc_block(MK_PL_VEC, kind, inputs, ld, x, w + o, bias + o, y + o, lo, hi);
    } else if (o < outputs) {
        mk_pl_fc_tail(outputs - o, kind, inputs, ld, x, w + o, bias + o, y + o, lo, hi);
    }
}

// ---- Several vectors through the same weights ------------------------------------------------
//
// MK_PL_FC_ROWS vectors at a time (a batch's squeeze-and-excitation layers, and their weight
// gradients): each weight vector is loaded once for all of them, MK_PL_FC_ROWS products per load
// instead of one, and the weights stay in cache across the groups. Every output is the chain
// mk_pl_fc computes, so the same bits; the last rows (and everything when there are fewer outputs
// than a vector) go through mk_pl_fc one by one.
#define MK_PL_FC_ROWS 4
#ifndef MK_PL_FC_ROWS_BLOCK
#define MK_PL_FC_ROWS_BLOCK (4 * MK_PL_VEC)  // x MK_PL_FC_ROWS accumulators
#endif

MK_PL_TARGET MK_INLINE void mk_pl_fc_rows_block(const size_t W, mk_epilogue_kind kind, size_t inputs,
                                                size_t ld, const float* restrict x, size_t ldx,
                                                const float* restrict w, const float* restrict bias,
                                                float* restrict y, size_t ldy, float lo, float hi) {
    float a0[MK_PL_FC_ROWS_BLOCK], a1[MK_PL_FC_ROWS_BLOCK], a2[MK_PL_FC_ROWS_BLOCK], a3[MK_PL_FC_ROWS_BLOCK];
    for (size_t k = 0; k < W; k++) a0[k] = a1[k] = a2[k] = a3[k] = 0.0f;
    for (size_t i = 0; i < inputs; i++) {
        const float x0 = x[i], x1 = x[ldx + i], x2 = x[2 * ldx + i], x3 = x[3 * ldx + i];
        const float* wr = w + i * ld;
        for (size_t k = 0; k < W; k++) {
            const float wk = wr[k];
            a0[k] = mk_pl_mac(a0[k], x0, wk);
            a1[k] = mk_pl_mac(a1[k], x1, wk);
            a2[k] = mk_pl_mac(a2[k], x2, wk);
            a3[k] = mk_pl_mac(a3[k], x3, wk);
        }
    }
    for (size_t k = 0; k < W; k++) {
        y[k] = mk_epilogue_f32(a0[k] + bias[k], kind, lo, hi);
        y[ldy + k] = mk_epilogue_f32(a1[k] + bias[k], kind, lo, hi);
        y[2 * ldy + k] = mk_epilogue_f32(a2[k] + bias[k], kind, lo, hi);
        y[3 * ldy + k] = mk_epilogue_f32(a3[k] + bias[k], kind, lo, hi);
    }
}

MK_PL_TARGET MK_INLINE void mk_pl_fc_rows(mk_epilogue_kind kind, size_t rows, size_t inputs, size_t outputs,
                                          const float* x, size_t ldx, const float* w, size_t ld,
                                          const float* bias, float* y, size_t ldy, float lo, float hi) {
    size_t r = 0;
    if (outputs >= MK_PL_VEC) {
        for (; r + MK_PL_FC_ROWS <= rows; r += MK_PL_FC_ROWS) {
            const float* xr = x + r * ldx;
            float* yr = y + r * ldy;
            size_t o = 0;
            for (; o + MK_PL_FC_ROWS_BLOCK <= outputs; o += MK_PL_FC_ROWS_BLOCK) {
                mk_pl_fc_rows_block(MK_PL_FC_ROWS_BLOCK, kind, inputs, ld, xr, ldx, w + o, bias + o, yr + o, ldy, lo, hi);
            }
            for (; o + MK_PL_VEC <= outputs; o += MK_PL_VEC) {
                mk_pl_fc_rows_block(MK_PL_VEC, kind, inputs, ld, xr, ldx, w + o, bias + o, yr + o, ldy, lo, hi);
            }
            if (o < outputs) {  // overlapping last vector: the same values written again
                o = outputs - MK_PL_VEC;
                mk_pl_fc_rows_block(MK_PL_VEC, kind, inputs, ld, xr, ldx, w + o, bias + o, yr + o, ldy, lo, hi);
            }
        }
    }
    for (; r < rows; r++) mk_pl_fc(kind, inputs, outputs, ld, x + r * ldx, w, bias, y + r * ldy, lo, hi);
}

MK_PL_TARGET void MK_PL_NAME2(fc, MK_PL_FC_BLOCK, MK_PL_SUFFIX)(size_t rows, size_t inputs, size_t outputs,
                                                                const float* x, size_t ldx,
                                                                const float* weights_t, size_t ld,
                                                                const float* bias, float* y, size_t ldy,
                                                                const mk_epilogue* epilogue) {
    const float lo = epilogue->min, hi = epilogue->max;
#define MK_PL_CALL(KIND) mk_pl_fc_rows(KIND, rows, inputs, outputs, x, ldx, weights_t, ld, bias, y, ldy, lo, hi)
    MK_PL_SPECIALIZE(epilogue->kind, MK_PL_CALL)
#undef MK_PL_CALL
}

