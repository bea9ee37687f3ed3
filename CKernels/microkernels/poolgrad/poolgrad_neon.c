// Pooling backward microkernels, neon (the channel blocks of rows_neon.h).
#include "poolgrad.h"

#if defined(__aarch64__)
#include "../rows_neon.h"
#include "poolgrad_template.h"
#endif
