// Pooling backward microkernels, scalar (the channel blocks of rows_scalar.h).
#include "poolgrad.h"

#include "../rows_scalar.h"
#include "poolgrad_template.h"
