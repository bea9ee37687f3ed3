// qs8 depthwise microkernel, NEON: 8 channels per block; a pair of taps multiplied into int16
// (vmull_s8, vmlal_s8: two products fit) and widened into two int32x4 (vaddw_s16).
#include "qs8_dwconv.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#define MK_QG_TARGET
#include "../qs8_gemm/qs8_requant_neon.h"

#define MK_QD_T 8
typedef struct {
    int32x4_t lo, hi;
} mk_qd_acc;

MK_INLINE int8x8_t mk_qd_load8(const int8_t* p, size_t n) {
    if (n == 8) return vld1_s8(p);
    int8_t bytes[8] = {0};
    memcpy(bytes, p, n);
    return vld1_s8(bytes);
}
MK_INLINE mk_qd_acc mk_qd_zero(void) { return (mk_qd_acc){vdupq_n_s32(0), vdupq_n_s32(0)}; }
MK_INLINE mk_qd_acc mk_qd_pair(mk_qd_acc acc, const int8_t* x0, const int8_t* x1, const int8_t* w,
                               size_t n) {
    const int8x8x2_t wv = vld2_s8(w);  // taps t and t + 1 of 8 channels
    int16x8_t p = vmull_s8(mk_qd_load8(x0, n), wv.val[0]);
    p = vmlal_s8(p, mk_qd_load8(x1, n), wv.val[1]);
    return (mk_qd_acc){vaddw_s16(acc.lo, vget_low_s16(p)), vaddw_high_s16(acc.hi, p)};
}

#include "../qs8_gemm/qs8_requant_template.h"

MK_INLINE void mk_qd_store(mk_qd_acc acc, int8_t* out, size_t c0, size_t n,
                           const mk_qs8_requant* rq) {
    mk_qg_requant(acc.lo, out, NULL, c0, n < 4 ? n : 4, rq);
    if (n > 4) mk_qg_requant(acc.hi, out, NULL, c0 + 4, n - 4, rq);
}

#include "qs8_dwconv_template.h"

MK_QD_DEFINE(mk_qs8_dwconv_ukernel_up8__neon)

#endif
