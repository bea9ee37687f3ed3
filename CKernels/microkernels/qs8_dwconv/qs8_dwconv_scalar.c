// qs8 depthwise microkernel, portable C: blocks of 4 channels, one lane at a time.
#include "qs8_dwconv.h"

#define MK_QG_TARGET
#include "../qs8_gemm/qs8_requant_scalar.h"

#define MK_QD_T 4
typedef struct {
    int32_t v[MK_QD_T];
} mk_qd_acc;

MK_INLINE mk_qd_acc mk_qd_zero(void) { return (mk_qd_acc){{0}}; }
MK_INLINE mk_qd_acc mk_qd_pair(mk_qd_acc acc, const int8_t* x0, const int8_t* x1, const int8_t* w,
                               size_t n) {
    for (size_t c = 0; c < n; c++) {
        acc.v[c] += (int32_t)x0[c] * w[2 * c] + (int32_t)x1[c] * w[2 * c + 1];
    }
    return acc;
}

#include "../qs8_gemm/qs8_requant_template.h"

MK_INLINE void mk_qd_store(mk_qd_acc acc, int8_t* out, size_t c0, size_t n,
                           const mk_qs8_requant* rq) {
    for (size_t c = 0; c < n; c++) mk_qg_requant(acc.v[c], out, NULL, c0 + c, 1, rq);
}

#include "qs8_dwconv_template.h"

MK_QD_DEFINE(mk_qs8_dwconv_ukernel_up4__scalar)
