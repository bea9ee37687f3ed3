// The channel-row vocabulary of scalar (see rows_template.h).
#ifndef MK_ROWS_SCALAR_H
#define MK_ROWS_SCALAR_H

#define MK_PL_TARGET
#define MK_PL_SUFFIX scalar
#define MK_PL_VEC 4
#define MK_PL_BLOCK 16
#define MK_PL_FC_BLOCK 16
#define MK_PL_TAIL

#endif
