// The qs8 requantization of one vector of int32 sums (see qs8_gemm.h for the definition), over
// the requantization vocabulary of the including ISA file (qs8_gemm_template.h lists it). Shared
// by the GEMM and depthwise microkernels, so both give the same bits for the same sums.
#ifndef MK_QS8_REQUANT_TEMPLATE_H
#define MK_QS8_REQUANT_TEMPLATE_H

// Requantizes one vector of sums that already hold the bias (columns from n0, n <= MK_QG_OW of
// them) into row `out`.
MK_QG_TARGET MK_INLINE void mk_qg_requant_biased(mk_qg_i32 acc, int8_t* out, const int8_t* res, size_t n0,
                                                 size_t n, const mk_qs8_requant* rq) {
    mk_qg_f32 x = mk_qg_mul(mk_qg_cvt(acc), mk_qg_load_f32(rq->scale + n0));
    if (res != NULL) {
        const mk_qg_i32 r =
            mk_qg_add_i32(mk_qg_load_res(res + n0, n), mk_qg_splat_i32(-rq->residual_zero_point));
        x = mk_qg_fma(mk_qg_cvt(r), mk_qg_splat_f32(rq->residual_scale), x);
    }
    x = mk_qg_min(mk_qg_max(x, mk_qg_splat_f32(rq->lo)), mk_qg_splat_f32(rq->hi));
    mk_qg_store(out + n0, mk_qg_add_i32(mk_qg_round(x), mk_qg_splat_i32(rq->zero_point)), n);
}

// Requantizes the sums of one vector of columns (from n0, n <= MK_QG_OW of them) of row `out`.
MK_QG_TARGET MK_INLINE void mk_qg_requant(mk_qg_i32 acc, int8_t* out, const int8_t* res, size_t n0,
                                          size_t n, const mk_qs8_requant* rq) {
    mk_qg_requant_biased(mk_qg_add_i32(acc, mk_qg_load_i32(rq->bias + n0)), out, res, n0, n, rq);
}

#endif
