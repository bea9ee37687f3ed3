// Channel-shuffle microkernels, AVX2 (permutes on ymm).
#include "shuffle.h"

#if defined(__x86_64__)
#define MK_SH_TARGET MK_TARGET_AVX2
#define MK_SH_SUFFIX avx2
#include "shuffle_template.h"
#endif
