// Weight-gradient GEMM microkernels, avx512 (the channel blocks of rows_avx512.h).
#include "wgrad.h"

#if defined(__x86_64__)
#include "../rows_avx512.h"
#include "wgrad_template.h"
#endif
