// Weight-gradient GEMM microkernels, avx2 (the channel blocks of rows_avx2.h).
#include "wgrad.h"

#if defined(__x86_64__)
#include "../rows_avx2.h"
#include "wgrad_template.h"
#endif
