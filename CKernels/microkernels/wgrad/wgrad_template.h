// The weight-gradient GEMM microkernel, instantiated per ISA (see wgrad.h): include
// rows_<isa>.h, then this. NR = 2 vectors of MK_PL_VEC floats; the MR x NR accumulators stay in
// registers, both panels are read sequentially.
#include "../rows_template.h"

#define MK_WG_NR (2 * MK_PL_VEC)

MK_PL_TARGET static void MK_PL_NAME(wgrad_tile)(size_t k, const float* restrict a,
                                                const float* restrict b, float* restrict c,
                                                size_t ldc) {
    float acc[MK_WG_MR][MK_WG_NR];
    for (size_t m = 0; m < MK_WG_MR; m++) {
        for (size_t n = 0; n < MK_WG_NR; n++) acc[m][n] = c[m * ldc + n];
    }
    for (size_t r = 0; r < k; r++) {
        const float* restrict ar = a + r * MK_WG_MR;
        const float* restrict br = b + r * MK_WG_NR;
        for (size_t m = 0; m < MK_WG_MR; m++) {
            const float av = ar[m];
            for (size_t n = 0; n < MK_WG_NR; n++) acc[m][n] += av * br[n];
        }
    }
    for (size_t m = 0; m < MK_WG_MR; m++) {
        for (size_t n = 0; n < MK_WG_NR; n++) c[m * ldc + n] = acc[m][n];
    }
}

const mk_wgrad_kernels MK_PL_CAT(mk_f32_wgrad_ukernels__, MK_PL_SUFFIX) = {
    MK_WG_MR,
    MK_WG_NR,
    MK_PL_NAME(wgrad_tile),
};

#undef MK_WG_NR
