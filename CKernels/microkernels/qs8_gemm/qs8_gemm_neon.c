// qs8 igemm microkernels, NEON without the dot product: four k of two columns multiplied into
// int16 (vmull_s8: |a w| <= 128 * 127 fits) and added pairwise into int32 (vpadalq_s16); an
// accumulator of 4 columns is two int32x4 of (column, k pair) sums, added pairwise at the end.
// 6x8 (24 accumulator registers), 6x4 for column remainders, 1x8.
#include "qs8_gemm.h"

#if defined(__aarch64__)
#include <arm_neon.h>

typedef struct {
    int32x4_t lo, hi;  // columns 0-1 and 2-3, two partial sums each
} mk_qg_acc;
typedef int8x16_t mk_qg_a;
typedef int8x16_t mk_qg_b;
#define MK_QG_TARGET

MK_INLINE mk_qg_acc mk_qg_zero(void) { return (mk_qg_acc){vdupq_n_s32(0), vdupq_n_s32(0)}; }
MK_INLINE mk_qg_a mk_qg_a_of(uint32_t u) { return vreinterpretq_s8_u32(vdupq_n_u32(u)); }
MK_INLINE mk_qg_b mk_qg_b_load(const int8_t* p) { return vld1q_s8(p); }
MK_INLINE mk_qg_acc mk_qg_dot(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return (mk_qg_acc){vpadalq_s16(acc.lo, vmull_s8(vget_low_s8(b), vget_low_s8(a))),
                       vpadalq_s16(acc.hi, vmull_high_s8(b, a))};
}
MK_INLINE int32x4_t mk_qg_sum(mk_qg_acc acc) { return vpaddq_s32(acc.lo, acc.hi); }

#include "qs8_requant_neon.h"
#include "qs8_gemm_template.h"

MK_QG_DEFINE(mk_qs8_igemm_ukernel_6x8c4__neon, 6, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_6x4c4__neon, 6, 1)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x8c4__neon, 1, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x4c4__neon, 1, 1)

#endif
