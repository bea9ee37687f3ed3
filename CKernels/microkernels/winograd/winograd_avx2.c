// Winograd F(4x4, 3x3) transforms, avx2 (the channel vectors of rows_avx2.h).
#include "winograd.h"

#if defined(__x86_64__)
#include "../rows_avx2.h"
#include "winograd_template.h"
#endif
