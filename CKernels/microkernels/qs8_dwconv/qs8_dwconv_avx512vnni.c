// qs8 depthwise microkernel, AVX-512 VNNI: the AVX-512 kernel (qs8_dwconv_avx512.c, the same
// packing and bits) with vpdpwssd, which adds a lane's two int16 products to its int32 sum in
// one instruction where the AVX-512 form needs vpmaddwd then vpaddd.
#include "qs8_dwconv.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MK_QG_TARGET MK_TARGET_AVX512VNNI

#include "../qs8_gemm/qs8_requant_avx512.h"
#include "../qs8_gemm/qs8_requant_template.h"

#define MK_QD_DOT(acc, pairs, w) _mm512_dpwssd_epi32(acc, pairs, w)
#include "qs8_dwconv_avx512_body.h"

const mk_qs8_dwconv_kernel mk_qs8_dwconv_ukernel_up32__avx512vnni = {32, mk_qs8_dwconv_up32_fn,
                                                                     mk_qd_wide_index,
                                                                     mk_qs8_dwconv_up32_row_fn};

#endif
