// Winograd F(4x4, 3x3) transforms, neon (the channel vectors of rows_neon.h).
#include "winograd.h"

#if defined(__aarch64__)
#include "../rows_neon.h"
#include "winograd_template.h"
#endif
