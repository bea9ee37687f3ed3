// The channel-row vocabulary of neon (see rows_template.h).
#ifndef MK_ROWS_NEON_H
#define MK_ROWS_NEON_H

#define MK_PL_TARGET
#define MK_PL_SUFFIX neon
#define MK_PL_VEC 4
#define MK_PL_BLOCK 32
#define MK_PL_FC_BLOCK 64
#define MK_PL_TAIL

#endif
