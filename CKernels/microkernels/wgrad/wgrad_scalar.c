// Weight-gradient GEMM microkernels, scalar (the channel blocks of rows_scalar.h).
#include "wgrad.h"

#include "../rows_scalar.h"
#include "wgrad_template.h"
