// Channel-shuffle microkernels, NEON (st2/st3/st4 interleaving stores and tbl by the compiler).
#include "shuffle.h"

#if defined(__aarch64__)
#define MK_SH_TARGET
#define MK_SH_SUFFIX neon
#include "shuffle_template.h"
#endif
