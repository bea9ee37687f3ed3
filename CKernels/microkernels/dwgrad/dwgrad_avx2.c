// Depthwise convolution backward microkernels, avx2 (the channel blocks of rows_avx2.h).
#include "dwgrad.h"

#if defined(__x86_64__)
#include "../rows_avx2.h"
#include "dwgrad_template.h"
#endif
