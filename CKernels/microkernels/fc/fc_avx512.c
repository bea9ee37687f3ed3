// Small fully connected microkernels, avx512 (the channel blocks of rows_avx512.h).
#include "fc.h"

#if defined(__x86_64__)
#include "../rows_avx512.h"
#include "fc_template.h"
#endif
