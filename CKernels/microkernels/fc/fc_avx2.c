// Small fully connected microkernels, avx2 (the channel blocks of rows_avx2.h).
#include "fc.h"

#if defined(__x86_64__)
#include "../rows_avx2.h"
#include "fc_template.h"
#endif
