// The row add and multiply loops, instantiated per ISA (see vbinary.h): include rows_<isa>.h, then this.
#include "../rows_template.h"

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

const mk_vbinary_kernels MK_PL_CAT(mk_f32_vbinary_ukernels__, MK_PL_SUFFIX) = {
    MK_PL_NAME(vmul), MK_PL_NAME(vmul_inplace), MK_PL_NAME(vadd), MK_PL_NAME(vadd_inplace),
};
