// Small fully connected microkernels, neon (the channel blocks of rows_neon.h).
#include "fc.h"

#if defined(__aarch64__)
#include "../rows_neon.h"
#define MK_PL_FC_ROWS_BLOCK 16  // 4 vectors x 4 rows: 16 of the 32 registers
#include "fc_template.h"
#endif
