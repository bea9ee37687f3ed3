// Small fully connected microkernels, scalar (the channel blocks of rows_scalar.h).
#include "fc.h"

#include "../rows_scalar.h"
#include "fc_template.h"
