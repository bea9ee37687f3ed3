// Row add / multiply microkernels, neon (the channel blocks of rows_neon.h).
#include "vbinary.h"

#if defined(__aarch64__)
#include "../rows_neon.h"
#include "vbinary_template.h"
#endif
