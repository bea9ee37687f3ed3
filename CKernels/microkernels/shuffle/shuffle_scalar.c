// Channel-shuffle microkernels, portable C (SSE2 at most on x86-64, whatever the compiler finds).
#include "shuffle.h"

#define MK_SH_TARGET
#define MK_SH_SUFFIX scalar
#include "shuffle_template.h"
