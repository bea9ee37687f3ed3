// Test-only: the Winograd planning override and a read of the packed weights (see
// ckernels_testing.h).
#include "include/ckernels_testing.h"

#include "../../CKernels/operators/conv2d_internal.h"
#include "../../CKernels/microkernels/winograd/winograd.h"

void mk_testing_winograd_workspace(size_t bytes) {
    atomic_store_explicit(&mk_conv2d_winograd_workspace_override, bytes, memory_order_relaxed);
}

mk_status mk_testing_winograd_packed(const mk_conv2d_f32_op* op, size_t point, size_t o, size_t c,
                                     float* value) {
    if (op == NULL || value == NULL) return MK_STATUS_NULL_POINTER;
    const mk_igemm_geometry* geo = &op->geometry;
    if (op->algorithm != MK_CONV2D_ALGORITHM_WINOGRAD || point >= MK_WINO_POINTS || c >= op->cin_g) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    for (size_t tile = 0; tile < geo->ntiles; tile++) {
        const size_t n0 = mk_igemm_tile_n0(geo, tile), width = mk_igemm_tile_width(geo, tile);
        if (o >= n0 && o < n0 + width) {
            *value = op->packed[tile * geo->tile_floats + point * geo->packed_floats + c * width + (o - n0)];
            return MK_STATUS_OK;
        }
    }
    return MK_STATUS_INVALID_ARGUMENT;
}
