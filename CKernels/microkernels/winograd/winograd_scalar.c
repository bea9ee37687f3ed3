// Winograd F(4x4, 3x3) transforms, scalar (the channel vectors of rows_scalar.h).
#include "winograd.h"

#include "../rows_scalar.h"
#include "winograd_template.h"
