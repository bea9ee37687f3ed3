// qs8 igemm microkernels, portable C: 4x4 and 4x2 tiles (one column per "vector") and 1x4.
#include "qs8_gemm.h"

typedef int32_t mk_qg_acc;
typedef uint32_t mk_qg_a;
typedef const int8_t* mk_qg_b;
#define MK_QG_TARGET

MK_INLINE mk_qg_acc mk_qg_zero(void) { return 0; }
MK_INLINE mk_qg_a mk_qg_a_of(uint32_t u) { return u; }
MK_INLINE mk_qg_b mk_qg_b_load(const int8_t* p) { return p; }
MK_INLINE mk_qg_acc mk_qg_dot(mk_qg_acc acc, mk_qg_a a, mk_qg_b b) {
    for (int i = 0; i < 4; i++) acc += (int32_t)(int8_t)(uint8_t)(a >> (8 * i)) * (int32_t)b[i];
    return acc;
}
MK_INLINE int32_t mk_qg_sum(mk_qg_acc acc) { return acc; }
#include "qs8_requant_scalar.h"
#include "qs8_gemm_template.h"

MK_QG_DEFINE(mk_qs8_igemm_ukernel_4x4c4__scalar, 4, 4)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_4x2c4__scalar, 4, 2)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x4c4__scalar, 1, 4)
MK_QG_DEFINE(mk_qs8_igemm_ukernel_1x2c4__scalar, 1, 2)
