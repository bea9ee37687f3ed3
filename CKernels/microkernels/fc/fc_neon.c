// Small fully connected microkernels, neon (the channel blocks of rows_neon.h).
#include "fc.h"

#if defined(__aarch64__)
#include "../rows_neon.h"
#include "fc_template.h"
#endif
