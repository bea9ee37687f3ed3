// Weight-gradient GEMM microkernels, neon (the channel blocks of rows_neon.h).
#include "wgrad.h"

#if defined(__aarch64__)
#include "../rows_neon.h"
#include "wgrad_template.h"
#endif
