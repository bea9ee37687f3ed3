// Row add / multiply microkernels, avx2 (the channel blocks of rows_avx2.h).
#include "vbinary.h"

#if defined(__x86_64__)
#include "../rows_avx2.h"
#include "vbinary_template.h"
#endif
