// Pooling backward microkernels, avx2 (the channel blocks of rows_avx2.h).
#include "poolgrad.h"

#if defined(__x86_64__)
#include "../rows_avx2.h"
#include "poolgrad_template.h"
#endif
