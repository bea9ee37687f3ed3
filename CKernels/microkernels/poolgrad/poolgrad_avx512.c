// Pooling backward microkernels, avx512 (the channel blocks of rows_avx512.h).
#include "poolgrad.h"

#if defined(__x86_64__)
#include "../rows_avx512.h"
#include "poolgrad_template.h"
#endif
