// qs8 igemm microkernels, NEON with the dot-product extension: sdot multiplies four signed A
// bytes by four signed weights per int32 lane (no sign flip). 6x16 (24 accumulators), 6x8 for
// column remainders, 1x16.
#include "qs8_gemm.h"

#if defined(__aarch64__)
#include <arm_neon.h>

typedef int32x4_t mk_qg_acc;
typedef int8x16_t mk_qg_a;
typedef int8x16_t mk_qg_b;
#define MK_QG_TARGET MK_TARGET_NEONDOT

MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_zero(void) { return vdupq_n_s32(0); }
MK_QG_TARGET MK_INLINE mk_qg_a mk_qg_a_of(uint32_t u) { return vreinterpretq_s8_u32(vdupq_n_u32(u)); }
MK_QG_TARGET MK_INLINE mk_qg_b mk_qg_b_load(const int8_t* p) { return vld1q_s8(p); }
MK_QG_TARGET MK_INLINE mk_qg_acc mk_qg_dot(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    return vdotq_s32(acc, b, a);
}
MK_QG_TARGET MK_INLINE int32x4_t mk_qg_sum(mk_qg_acc acc) { return acc; }

#include "qs8_requant_neon.h"
#include "qs8_gemm_template.h"

MK_QG_DEFINE(mk_qs8_igemm_ukernel_6x16c4__neondot, 6, 4)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_6x8c4__neondot, 6, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x16c4__neondot, 1, 4)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x8c4__neondot, 1, 2)

#endif
