// qs8 depthwise microkernel, AVX-512 (F/BW): 32 channels per block. Each tap's 32 bytes are
// widened to int16 once (vpmovsxbw zmm), a pair of taps interleaved in 16-bit words within each
// 128-bit lane (vpunpck{l,h}wd) and multiplied by weight pairs packed as int16 in that same order
// (vpmaddwd, two accumulators): per pair of taps 4 shuffle-port operations for 32 channels (the
// byte-interleaving form took 5 for 16). One qword permutation per block and pixel restores the
// channel order before the requantization; masked loads and stores for the last block.
#include "qs8_dwconv.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MK_QG_TARGET MK_TARGET_AVX512

#include "../qs8_gemm/qs8_requant_avx512.h"
#include "../qs8_gemm/qs8_requant_template.h"

#define MK_QD_DOT(acc, pairs, w) _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, w))
#include "qs8_dwconv_avx512_body.h"

const mk_qs8_dwconv_kernel mk_qs8_dwconv_ukernel_up32__avx512 = {32, mk_qs8_dwconv_up32_fn,
                                                                 mk_qd_wide_index,
                                                                 mk_qs8_dwconv_up32_row_fn};

#endif
