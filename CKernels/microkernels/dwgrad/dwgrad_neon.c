// Depthwise convolution backward microkernels, neon (the channel blocks of rows_neon.h).
#include "dwgrad.h"

#if defined(__aarch64__)
#include "../rows_neon.h"
#include "dwgrad_template.h"
#endif
