// The qs8 depthwise body (see qs8_dwconv.h) over a vocabulary each ISA file defines first:
//   MK_QD_T (channels per block), mk_qd_acc, mk_qd_zero(), mk_qd_pair(acc, x0, x1, w, n)
//   (adds x0[c] w[c][0] + x1[c] w[c][1] for c < n <= T; reads n bytes of x0 and x1 and 2T of
//   w), mk_qd_store(acc, out, c0, n, rq) (requantizes channels c0..c0+n-1 into out + c0);
//   plus the requantization vocabulary (qs8_requant_template.h, for mk_qd_store) and MK_QG_TARGET.

MK_QG_TARGET MK_INLINE void mk_qd_body(MK_QS8_DW_ARGS) {
    const size_t pairs = (taps + 1) / 2;
    for (size_t c = 0; c < channels; c += MK_QD_T) {
        const size_t n = channels - c < (size_t)MK_QD_T ? channels - c : (size_t)MK_QD_T;
        mk_qd_acc acc = mk_qd_zero();
        for (size_t p = 0; p < pairs; p++) {
            const int8_t* x0 = x[2 * p] + c;
            const int8_t* x1 = 2 * p + 1 < taps ? x[2 * p + 1] + c : x0;  // weight 0
            acc = mk_qd_pair(acc, x0, x1, w, n);
            w += 2 * MK_QD_T;
        }
        mk_qd_store(acc, out, c, n, rq);
    }
}

#define MK_QD_DEFINE(name)                                                              \
    MK_QG_TARGET static void name##_fn(MK_QS8_DW_ARGS) {                                \
        mk_qd_body(channels, taps, x, w, out, rq);                                      \
    }                                                                                   \
    const mk_qs8_dwconv_kernel name = {MK_QD_T, name##_fn, NULL, NULL};
