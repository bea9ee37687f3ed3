// Small fully connected microkernels, avx2 (the channel blocks of rows_avx2.h).
#include "fc.h"

#if defined(__x86_64__)
#include "../rows_avx2.h"
#define MK_PL_FC_ROWS_BLOCK 16  // 2 vectors x 4 rows: 8 of the 16 registers
#include "fc_template.h"
#endif
