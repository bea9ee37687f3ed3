// Training-mode BatchNorm and activation-gradient microkernels, scalar (the channel blocks of rows_scalar.h).
#include "bntrain.h"

#include "../rows_scalar.h"
#include "bntrain_template.h"
