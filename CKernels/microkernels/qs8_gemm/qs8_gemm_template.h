// The qs8 igemm microkernel body (see qs8_gemm.h), written once over a vocabulary that each ISA
// file defines before including this header:
//   accumulation: mk_qg_acc (the int32 sums of MK_QG_OW columns, in whatever lanes the ISA's
//     dot product leaves them), mk_qg_a (four A bytes prepared for it), mk_qg_b (four k of
//     MK_QG_OW packed columns), mk_qg_a_of(u32) (A bytes k..k+3, little-endian),
//     mk_qg_b_load(p) (MK_QG_OW * 4 bytes), mk_qg_dot(acc, a, b); without MK_QG_ROW_OFFSET also
//     mk_qg_zero() and mk_qg_sum(acc) (-> mk_qg_i32, column n in lane n);
//   requantization on MK_QG_OW lanes: mk_qg_i32, mk_qg_f32, mk_qg_load_i32(p), mk_qg_load_f32(p)
//     (MK_QG_OW values), mk_qg_load_res(p, n) (n <= MK_QG_OW int8, sign-extended; nothing else
//     read), mk_qg_store(p, v, n) (the low byte of the first n lanes; nothing else written),
//     mk_qg_add_i32, mk_qg_splat_i32, mk_qg_splat_f32, mk_qg_cvt (int32 -> float, nearest),
//     mk_qg_mul, mk_qg_fma(a, b, c) = a * b + c (one rounding), mk_qg_max, mk_qg_min,
//     mk_qg_round (float -> int32, nearest even);
//   MK_QG_TARGET (target attribute or empty); MK_QG_ROW_OFFSET 1 where the weights are packed
//   with their sign bit flipped (rq->row_offset[m] is added to row m's sums), else undefined;
//   the accumulators then hold the sums themselves (column n in lane n), and start from the bias
//   plus the row's offset; such ISAs also give mk_qg_b_splat128() (bytes of 128),
//   mk_qg_lane0(i32), mk_qg_sub_i32, and mk_qg_dot_ua(acc, a, b) (A the unsigned operand: the
//   `fn_ua` form, whose A the driver flipped and whose weights are packed as they are);
//   optionally MK_QG_PAIR_STORE with mk_qg_pair (constants prepared once per call by
//   mk_qg_pair_prepare(rq), pair.form the store's form: MK_QG_SATURATE where the clamp is all
//   of int8, MK_QG_RELU where bounded sums have the zero point as their lower bound, else
//   MK_QG_CLAMP) and mk_qg_pair_store(r0v0, r0v1, r1v0, r1v1, row0, row1, &pair, bounded,
//   form): the requantization of two rows of 2 * MK_QG_OW columns' biased sums (no residual),
//   row1 NULL for one row, `bounded` (rq->bounded) and `form` (pair.form, or MK_QG_CLAMP for
//   unbounded sums) as constants.

#include <string.h>

#ifndef MK_QG_ROW_OFFSET
#define MK_QG_ROW_OFFSET 0
#endif

#define MK_QG_MAX_MR 8
#define MK_QG_MAX_NV 4

MK_QG_TARGET MK_INLINE mk_qg_a mk_qg_a_load(const int8_t* p) {
    uint32_t u;
    memcpy(&u, p, 4);
    return mk_qg_a_of(u);
}

MK_QG_TARGET MK_INLINE mk_qg_a mk_qg_a_load_tail(const int8_t* p, size_t n) {
    uint32_t u = 0;
    for (size_t i = 0; i < n; i++) u |= (uint32_t)(uint8_t)p[i] << (8 * i);
    return mk_qg_a_of(u);
}

#include "qs8_requant_template.h"

#if MK_QG_ROW_OFFSET
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_dot_either(const bool ua, mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return ua ? mk_qg_dot_ua(acc, a, b) : mk_qg_dot(acc, a, b);
}
#else
#define mk_qg_dot_either(ua, acc, a, b) mk_qg_dot(acc, a, b)
#endif

// `sums` (flipped weights only): the kernel computes its rows' offsets itself, one more dot
// product per row and group of 4 k on the broadcast it already holds (against bytes of 128),
// stores them to rq->row_offset for the row tile's other column tiles, and subtracts them.
// `ua` (flipped-weight ISAs only): A holds a ^ 0x80 (the unsigned operand), the weights are
// packed as they are (signed) and the bias holds the 128 * sum_k w correction: no row offsets.
MK_QG_TARGET MK_INLINE void mk_qg_body(const int MR, const int NV, const bool sums, const bool ua,
                                       MK_QS8_IGEMM_ARGS) {
    mk_qg_acc acc[MK_QG_MAX_MR][MK_QG_MAX_NV];
#if MK_QG_ROW_OFFSET
    mk_qg_acc rs[MK_QG_MAX_MR];
    const mk_qg_b c128 = mk_qg_b_splat128();
    {
        mk_qg_i32 bias[MK_QG_MAX_NV];
        MK_UNROLL for (int v = 0; v < NV; v++) bias[v] = mk_qg_load_i32(rq->bias + v * MK_QG_OW);
        MK_UNROLL for (int m = 0; m < MR; m++) {
            rs[m] = mk_qg_splat_i32(0);
            if (ua) {
                MK_UNROLL for (int v = 0; v < NV; v++) acc[m][v] = bias[v];
            } else {
                const mk_qg_i32 offset = mk_qg_splat_i32(sums ? 0 : rq->row_offset[m]);
                MK_UNROLL for (int v = 0; v < NV; v++) acc[m][v] = mk_qg_add_i32(bias[v], offset);
            }
        }
    }
#else
    (void)sums;
    (void)ua;
    MK_UNROLL for (int m = 0; m < MR; m++) {
        MK_UNROLL for (int v = 0; v < NV; v++) acc[m][v] = mk_qg_zero();
    }
#endif
    const size_t kfull = kc & ~(size_t)3, ktail = kc & 3;
    const size_t step = (size_t)(NV * MK_QG_OW * 4);
    for (size_t t = 0; t < ks; t++) {
        const int8_t* ap[MK_QG_MAX_MR];
        MK_UNROLL for (int m = 0; m < MR; m++) ap[m] = a[t * (size_t)MR + (size_t)m];
        for (size_t k = 0; k < kfull; k += 4) {
            mk_qg_b b[MK_QG_MAX_NV];
            MK_UNROLL for (int v = 0; v < NV; v++) b[v] = mk_qg_b_load(w + v * MK_QG_OW * 4);
            w += step;
            MK_UNROLL for (int m = 0; m < MR; m++) {
                const mk_qg_a x = mk_qg_a_load(ap[m] + k);
                MK_UNROLL for (int v = 0; v < NV; v++) acc[m][v] = mk_qg_dot_either(ua, acc[m][v], x, b[v]);
#if MK_QG_ROW_OFFSET
                if (sums) rs[m] = mk_qg_dot(rs[m], x, c128);
#endif
            }
        }
        if (ktail != 0) {
            mk_qg_b b[MK_QG_MAX_NV];
            MK_UNROLL for (int v = 0; v < NV; v++) b[v] = mk_qg_b_load(w + v * MK_QG_OW * 4);
            w += step;
            MK_UNROLL for (int m = 0; m < MR; m++) {
                const mk_qg_a x = mk_qg_a_load_tail(ap[m] + kfull, ktail);
                MK_UNROLL for (int v = 0; v < NV; v++) acc[m][v] = mk_qg_dot_either(ua, acc[m][v], x, b[v]);
#if MK_QG_ROW_OFFSET
                if (sums) rs[m] = mk_qg_dot(rs[m], x, c128);
#endif
            }
        }
    }
#if MK_QG_ROW_OFFSET
    if (sums) {
        // Every lane of rs[m] holds 128 * sum_k a (wrapping): the offset is its negation.
        MK_UNROLL for (int m = 0; m < MR; m++) {
            rq->row_offset[m] = (int32_t)(0u - (uint32_t)mk_qg_lane0(rs[m]));
            MK_UNROLL for (int v = 0; v < NV; v++) acc[m][v] = mk_qg_sub_i32(acc[m][v], rs[m]);
        }
    }
#endif
#if defined(MK_QG_PAIR_STORE)
    // Whole 2-vector tiles without a residual: two rows' four vectors requantized and stored
    // together (the ISA's mk_qg_pair_store; the same bits).
    if (NV == 2 && nc == 2 * MK_QG_OW && rq->residual == NULL && !rq->output_f32) {
        const mk_qg_pair pair = mk_qg_pair_prepare(rq);  // before any store (c may alias rq)
        // One branch per call, the stores specialized on it: bounded sums without a clamp (all
        // of int8: saturation clamps), with a ReLU's or another clamp, or unbounded sums (the
        // float clamped before rounding).
#define MK_QG_PAIR_ROWS(bounded, form)                                                                     \
    MK_UNROLL for (int m = 0; m < MR; m += 2) {                                                              \
        if ((size_t)m >= mr) break;                                                                          \
        if (m + 1 < MR && (size_t)(m + 1) < mr) {                                                            \
            mk_qg_pair_store(acc[m][0], acc[m][1], acc[m + 1][0], acc[m + 1][1], c + (size_t)m * c_stride,   \
                             c + (size_t)(m + 1) * c_stride, &pair, bounded, form);                          \
        } else {                                                                                             \
            mk_qg_pair_store(acc[m][0], acc[m][1], acc[m][0], acc[m][1], c + (size_t)m * c_stride, NULL,     \
                             &pair, bounded, form);                                                          \
        }                                                                                                    \
    }
        if (rq->bounded && pair.form == MK_QG_SATURATE) {
            MK_QG_PAIR_ROWS(true, MK_QG_SATURATE)
        } else if (rq->bounded && pair.form == MK_QG_RELU) {
            MK_QG_PAIR_ROWS(true, MK_QG_RELU)
        } else if (rq->bounded) {
            MK_QG_PAIR_ROWS(true, MK_QG_CLAMP)
        } else {
            MK_QG_PAIR_ROWS(false, MK_QG_CLAMP)
        }
#undef MK_QG_PAIR_ROWS
        return;
    }
#endif
    MK_UNROLL for (int m = 0; m < MR; m++) {
        if ((size_t)m >= mr) break;
        int8_t* row = c + (size_t)m * c_stride;
        const int8_t* res =
            rq->residual != NULL ? rq->residual + (size_t)m * rq->residual_stride : NULL;
        MK_UNROLL for (int v = 0; v < NV; v++) {
            const size_t n0 = (size_t)v * MK_QG_OW;
            if (nc <= n0) break;
            const size_t n = nc - n0 < (size_t)MK_QG_OW ? nc - n0 : (size_t)MK_QG_OW;
#if MK_QG_ROW_OFFSET
            const mk_qg_i32 sum = acc[m][v];
#else
            const mk_qg_i32 sum = mk_qg_add_i32(mk_qg_sum(acc[m][v]), mk_qg_load_i32(rq->bias + n0));
#endif
            if (rq->output_f32) {  // float output: (acc + bias) * scale, no clamp (row: floats)
                mk_qg_store_f32((float*)(void*)row + n0, mk_qg_mul(mk_qg_cvt(sum), mk_qg_load_f32(rq->scale + n0)), n);
            } else {
                mk_qg_requant_biased(sum, row, res, n0, n, rq);
            }
        }
    }
}

// Columns [0, nc) in tiles of MR x NV * MK_QG_OW (the last may be narrower), one panel after
// the other, bias and scale (and residual, output) advancing with the columns: the driver calls
// once per row tile and block. With `sums`, the first tile computes the row offsets the others use.
MK_QG_TARGET MK_INLINE void mk_qg_tiles(const int MR, const int NV, const bool sums, const bool ua,
                                        MK_QS8_IGEMM_ARGS) {
    const size_t NR = (size_t)NV * MK_QG_OW;
    const size_t panel = ks * ((kc + 3) / 4) * 4 * NR;
    const size_t c_step = rq->output_f32 ? NR * sizeof(float) : NR;
    mk_qs8_requant r = *rq;
    for (size_t n0 = 0; n0 < nc; n0 += NR) {
        const size_t n = nc - n0 < NR ? nc - n0 : NR;
        if (sums && n0 == 0) {
            mk_qg_body(MR, NV, true, ua, mr, n, kc, ks, a, w, c, c_stride, &r);
        } else {
            mk_qg_body(MR, NV, false, ua, mr, n, kc, ks, a, w, c, c_stride, &r);
        }
        w += panel;
        c += c_step;
        r.bias += NR;
        r.scale += NR;
        if (r.residual != NULL) r.residual += NR;
    }
}

// A tile shape: `name`, MR rows, NV accumulator vectors of MK_QG_OW columns (with flipped
// weights also the forms that compute their row offsets, `fn_sums`, and that take flipped A,
// `fn_ua`).
#if MK_QG_ROW_OFFSET
#define MK_QG_DEFINE(name, MR, NV)                                                          \
    MK_QG_TARGET static void name##_fn(MK_QS8_IGEMM_ARGS) {                                 \
        mk_qg_tiles(MR, NV, false, false, mr, nc, kc, ks, a, w, c, c_stride, rq);           \
    }                                                                                       \
    MK_QG_TARGET static void name##_sums_fn(MK_QS8_IGEMM_ARGS) {                            \
        mk_qg_tiles(MR, NV, true, false, mr, nc, kc, ks, a, w, c, c_stride, rq);            \
    }                                                                                       \
    MK_QG_TARGET static void name##_ua_fn(MK_QS8_IGEMM_ARGS) {                              \
        mk_qg_tiles(MR, NV, false, true, mr, nc, kc, ks, a, w, c, c_stride, rq);            \
    }                                                                                       \
    const mk_qs8_igemm_kernel name = {MR, (size_t)(NV) * MK_QG_OW, name##_fn, name##_sums_fn, \
                                      name##_ua_fn};
#else
#define MK_QG_DEFINE(name, MR, NV)                                                          \
    MK_QG_TARGET static void name##_fn(MK_QS8_IGEMM_ARGS) {                                 \
        mk_qg_tiles(MR, NV, false, false, mr, nc, kc, ks, a, w, c, c_stride, rq);           \
    }                                                                                       \
    const mk_qs8_igemm_kernel name = {MR, (size_t)(NV) * MK_QG_OW, name##_fn, NULL, NULL};
#endif
