// Training-mode BatchNorm and activation-gradient microkernels, avx512 (the channel blocks of rows_avx512.h).
#include "bntrain.h"

#if defined(__x86_64__)
#include "../rows_avx512.h"
#include "bntrain_template.h"
#endif
