// The Winograd F(4x4, 3x3) transforms, instantiated per ISA (see winograd.h): include
// rows_<isa>.h, then this. A step transforms MK_PL_VEC channels (the compile-time width keeps
// the 6x6 tile of a step in vector registers); the last channels go through the same code with a
// shorter width.
#include "../rows_template.h"

#define MK_WT_NAME3(op, vec, isa) mk_f32_wino4x3_##op##_ukernel_##vec##c__##isa
#define MK_WT_NAME2(op, vec, isa) MK_WT_NAME3(op, vec, isa)
#define MK_WT_NAME(op) MK_WT_NAME2(op, MK_PL_VEC, MK_PL_SUFFIX)

// B^T applied to one column of 6 values.
#define MK_WT_IN1D(d0, d1, d2, d3, d4, d5, t0, t1, t2, t3, t4, t5) \
    do {                                                             \
        t0 = 4.0f * d0 - 5.0f * d2 + d4;                             \
        t1 = -4.0f * (d1 + d2) + (d3 + d4);                          \
        t2 = 4.0f * (d1 - d2) + (d4 - d3);                           \
        t3 = -2.0f * (d1 - d3) + (d4 - d2);                          \
        t4 = 2.0f * (d1 - d3) + (d4 - d2);                           \
        t5 = 4.0f * d1 - 5.0f * d3 + d5;                             \
    } while (0)

// A^T applied to one column of 6 values.
#define MK_WT_OUT1D(m0, m1, m2, m3, m4, m5, y0, y1, y2, y3) \
    do {                                                      \
        const float mk_a = m1 + m2, mk_b = m1 - m2;           \
        const float mk_c = m3 + m4, mk_d = m3 - m4;           \
        y0 = m0 + mk_a + mk_c;                                \
        y1 = mk_b + 2.0f * mk_d;                              \
        y2 = mk_a + 4.0f * mk_c;                              \
        y3 = mk_b + 8.0f * mk_d + m5;                         \
    } while (0)

// G applied to 3 values (a column of g G^T): 6 values, in 12 operations.
#define MK_WT_W1D(x0, x1, x2, y0, y1, y2, y3, y4, y5)          \
    do {                                                         \
        const float mk_s = x0 + x2;                              \
        const float mk_q = x0 * (1.0f / 24) + x2 * (1.0f / 6);   \
        const float mk_h = x1 * (1.0f / 12);                     \
        y0 = x0 * 0.25f;                                         \
        y1 = (mk_s + x1) * (-1.0f / 6);                          \
        y2 = (mk_s - x1) * (-1.0f / 6);                          \
        y3 = mk_q + mk_h;                                        \
        y4 = mk_q - mk_h;                                        \
        y5 = x2;                                                 \
    } while (0)

MK_PL_TARGET MK_INLINE void mk_wt_input_step(size_t width, size_t c, const float* const* d,
                                             float* restrict v, size_t v_stride) {
    float t[MK_WINO_IN][MK_WINO_IN][MK_PL_VEC];  // [row][transformed column][lane]
    for (size_t i = 0; i < MK_WINO_IN; i++) {
        const float* r0 = d[i * 6 + 0] + c;
        const float* r1 = d[i * 6 + 1] + c;
        const float* r2 = d[i * 6 + 2] + c;
        const float* r3 = d[i * 6 + 3] + c;
        const float* r4 = d[i * 6 + 4] + c;
        const float* r5 = d[i * 6 + 5] + c;
        for (size_t l = 0; l < width; l++) {
            MK_WT_IN1D(r0[l], r1[l], r2[l], r3[l], r4[l], r5[l], t[i][0][l], t[i][1][l],
                       t[i][2][l], t[i][3][l], t[i][4][l], t[i][5][l]);
        }
    }
    for (size_t k = 0; k < MK_WINO_IN; k++) {
        float* o = v + k * v_stride + c;
        const size_t s = 6 * v_stride;
        for (size_t l = 0; l < width; l++) {
            MK_WT_IN1D(t[0][k][l], t[1][k][l], t[2][k][l], t[3][k][l], t[4][k][l], t[5][k][l],
                       o[l], o[s + l], o[2 * s + l], o[3 * s + l], o[4 * s + l], o[5 * s + l]);
        }
    }
}

MK_PL_TARGET static void MK_WT_NAME(input)(size_t channels, const float* const* d, float* v,
                                           size_t v_stride) {
    size_t c = 0;
    for (; c + MK_PL_VEC <= channels; c += MK_PL_VEC) mk_wt_input_step(MK_PL_VEC, c, d, v, v_stride);
    if (c < channels) mk_wt_input_step(channels - c, c, d, v, v_stride);
}

// Column k of T = g G^T for one kernel row (x0, x1, x2): the same operations as MK_WT_W1D's y_k.
MK_PL_TARGET MK_INLINE float mk_wt_row_column(size_t k, float x0, float x1, float x2) {
    switch (k) {
        case 0: return x0 * 0.25f;
        case 1: {
            const float s = x0 + x2;
            return (s + x1) * (-1.0f / 6);
        }
        case 2: {
            const float s = x0 + x2;
            return (s - x1) * (-1.0f / 6);
        }
        case 3: {
            const float q = x0 * (1.0f / 24) + x2 * (1.0f / 6);
            const float h = x1 * (1.0f / 12);
            return q + h;
        }
        case 4: {
            const float q = x0 * (1.0f / 24) + x2 * (1.0f / 6);
            const float h = x1 * (1.0f / 12);
            return q - h;
        }
        default: return x2;
    }
}

// Column k of U = G g G^T (points i * 6 + k) for `lanes` output channels of one input channel:
// column k of T = g G^T (one value per kernel row), then G applied to it.
MK_PL_TARGET MK_INLINE void mk_wt_weights_step(size_t k, size_t lanes, const float* restrict g,
                                               size_t width, float* restrict u, size_t u_stride) {
    const float* r0 = g;
    const float* r1 = g + 3 * width;
    const float* r2 = g + 6 * width;
    for (size_t l = 0; l < lanes; l++) {
        const float t0 = mk_wt_row_column(k, r0[l], r0[width + l], r0[2 * width + l]);
        const float t1 = mk_wt_row_column(k, r1[l], r1[width + l], r1[2 * width + l]);
        const float t2 = mk_wt_row_column(k, r2[l], r2[width + l], r2[2 * width + l]);
        MK_WT_W1D(t0, t1, t2, u[l], u[u_stride + l], u[2 * u_stride + l], u[3 * u_stride + l],
                  u[4 * u_stride + l], u[5 * u_stride + l]);
    }
}

MK_PL_TARGET MK_INLINE void mk_wt_weights(size_t k, size_t cin, size_t width, const float* g,
                                          float* u, size_t u_stride) {
    for (size_t c = 0; c < cin; c++) {
        const float* gc = g + c * 9 * width;
        float* uc = u + c * width;
        size_t l = 0;
        for (; l + MK_PL_VEC <= width; l += MK_PL_VEC) {
            mk_wt_weights_step(k, MK_PL_VEC, gc + l, width, uc + l, u_stride);
        }
        if (l < width) mk_wt_weights_step(k, width - l, gc + l, width, uc + l, u_stride);
    }
}

MK_PL_TARGET static void MK_WT_NAME(weights)(size_t cin, size_t width, size_t column, const float* g,
                                             float* u, size_t u_stride) {
    switch (column) {  // a constant column for each copy of the loop
        case 0: mk_wt_weights(0, cin, width, g, u, u_stride); break;
        case 1: mk_wt_weights(1, cin, width, g, u, u_stride); break;
        case 2: mk_wt_weights(2, cin, width, g, u, u_stride); break;
        case 3: mk_wt_weights(3, cin, width, g, u, u_stride); break;
        case 4: mk_wt_weights(4, cin, width, g, u, u_stride); break;
        default: mk_wt_weights(5, cin, width, g, u, u_stride); break;
    }
}

MK_PL_TARGET MK_INLINE void mk_wt_output_step(mk_epilogue_kind kind, size_t width, size_t c,
                                              const float* restrict m, size_t m_stride,
                                              const float* restrict bias, float* const* y,
                                              const float* const* residual, float lo, float hi) {
    float t[MK_WINO_OUT][MK_WINO_IN][MK_PL_VEC];  // [output row][column of M][lane]
    for (size_t k = 0; k < MK_WINO_IN; k++) {
        const float* col = m + k * m_stride + c;
        const size_t s = 6 * m_stride;
        for (size_t l = 0; l < width; l++) {
            MK_WT_OUT1D(col[l], col[s + l], col[2 * s + l], col[3 * s + l], col[4 * s + l],
                        col[5 * s + l], t[0][k][l], t[1][k][l], t[2][k][l], t[3][k][l]);
        }
    }
    for (size_t r = 0; r < MK_WINO_OUT; r++) {
        float out[MK_WINO_OUT][MK_PL_VEC];
        for (size_t l = 0; l < width; l++) {
            MK_WT_OUT1D(t[r][0][l], t[r][1][l], t[r][2][l], t[r][3][l], t[r][4][l], t[r][5][l],
                        out[0][l], out[1][l], out[2][l], out[3][l]);
        }
        for (size_t q = 0; q < MK_WINO_OUT; q++) {
            float* dst = y[r * 4 + q];
            if (dst == NULL) continue;
            dst += c;
            if (residual != NULL) {
                const float* res = residual[r * 4 + q] + c;
                for (size_t l = 0; l < width; l++) {
                    dst[l] = mk_epilogue_f32(out[q][l] + res[l] + bias[c + l], kind, lo, hi);
                }
            } else {
                for (size_t l = 0; l < width; l++) {
                    dst[l] = mk_epilogue_f32(out[q][l] + bias[c + l], kind, lo, hi);
                }
            }
        }
    }
}

MK_PL_TARGET MK_INLINE void mk_wt_output(mk_epilogue_kind kind, size_t channels, const float* m,
                                         size_t m_stride, const float* bias, float* const* y,
                                         const float* const* residual, float lo, float hi) {
    size_t c = 0;
    for (; c + MK_PL_VEC <= channels; c += MK_PL_VEC) {
        mk_wt_output_step(kind, MK_PL_VEC, c, m, m_stride, bias, y, residual, lo, hi);
    }
    if (c < channels) mk_wt_output_step(kind, channels - c, c, m, m_stride, bias, y, residual, lo, hi);
}

MK_PL_TARGET static void MK_WT_NAME(output)(size_t channels, const float* m, size_t m_stride,
                                            const float* bias, float* const* y,
                                            const float* const* residual,
                                            const mk_epilogue* epilogue) {
    const float lo = epilogue->min, hi = epilogue->max;
#define MK_PL_CALL(KIND) mk_wt_output(KIND, channels, m, m_stride, bias, y, residual, lo, hi)
    MK_PL_SPECIALIZE(epilogue->kind, MK_PL_CALL)
#undef MK_PL_CALL
}

const mk_wino_kernels MK_PL_CAT(mk_f32_wino4x3_ukernels__, MK_PL_SUFFIX) = {
    MK_WT_NAME(input), MK_WT_NAME(output), MK_WT_NAME(weights),
};
