// The weight-gradient GEMM microkernel, instantiated per ISA (see wgrad.h): include
// rows_<isa>.h, then this. NR = 2 vectors of MK_PL_VEC floats; the MR x NR accumulators stay in
// registers, both panels are read sequentially.
#include "../rows_template.h"

#define MK_WG_NR (2 * MK_PL_VEC)

// C (+)= A^T B: `overwrite` (a compile-time constant after inlining) starts the sums from 0
// instead of C's values, so C is only written (the first block of pixels of a gradient that is
// not accumulated: no clearing pass, no reading of C); 0 + x is x, the same bits as clearing C.
MK_PL_TARGET MK_INLINE void MK_PL_CAT(mk_pl_wgrad_tile_, MK_PL_SUFFIX)(bool overwrite, size_t k, const float* restrict a,
                                                                    const float* restrict b, float* restrict c,
                                                                    size_t ldc) {
    float acc[MK_WG_MR][MK_WG_NR];
    for (size_t m = 0; m < MK_WG_MR; m++) {
        for (size_t n = 0; n < MK_WG_NR; n++) acc[m][n] = overwrite ? 0.0f : c[m * ldc + n];
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

MK_PL_TARGET static void MK_PL_NAME(wgrad_tile)(size_t k, const float* restrict a, const float* restrict b,
                                                float* restrict c, size_t ldc) {
    MK_PL_CAT(mk_pl_wgrad_tile_, MK_PL_SUFFIX)(false, k, a, b, c, ldc);
}

MK_PL_TARGET static void MK_PL_NAME(wgrad_tile_overwrite)(size_t k, const float* restrict a, const float* restrict b,
                                                          float* restrict c, size_t ldc) {
    MK_PL_CAT(mk_pl_wgrad_tile_, MK_PL_SUFFIX)(true, k, a, b, c, ldc);
}

const mk_wgrad_kernels MK_PL_CAT(mk_f32_wgrad_ukernels__, MK_PL_SUFFIX) = {
    MK_WG_MR,
    MK_WG_NR,
    MK_PL_NAME(wgrad_tile),
    MK_PL_NAME(wgrad_tile_overwrite),
};

#undef MK_WG_NR
