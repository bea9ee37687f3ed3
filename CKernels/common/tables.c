#include "internal.h"

// AVX2 tail masks (see microkernels/epilogue_avx2.h): 8 enabled lanes, then 8 disabled.
const int32_t mk_avx2_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
