// Row add / multiply microkernels, scalar (the channel blocks of rows_scalar.h).
#include "vbinary.h"

#include "../rows_scalar.h"
#include "vbinary_template.h"
