// Depthwise convolution backward microkernels, scalar (the channel blocks of rows_scalar.h).
#include "dwgrad.h"

#include "../rows_scalar.h"
#include "dwgrad_template.h"
