// Channel-shuffle microkernels, AVX-512 (vpermt2ps on zmm, masked tails by the compiler).
#include "shuffle.h"

#if defined(__x86_64__)
#define MK_SH_TARGET MK_TARGET_AVX512
#define MK_SH_SUFFIX avx512
#include "shuffle_template.h"
#endif
