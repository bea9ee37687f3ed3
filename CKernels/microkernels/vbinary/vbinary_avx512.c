// Row add / multiply microkernels, avx512 (the channel blocks of rows_avx512.h).
#include "vbinary.h"

#if defined(__x86_64__)
#include "../rows_avx512.h"
#include "vbinary_template.h"
#endif
