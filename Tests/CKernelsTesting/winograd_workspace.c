// Test-only: the Winograd planning overrides and a read of the packed weights (see
// ckernels_testing.h).
#include "include/ckernels_testing.h"

#include <stdlib.h>

#include "../../CKernels/operators/conv2d_internal.h"
#include "../../CKernels/microkernels/winograd/winograd.h"

void mk_testing_winograd_workspace(size_t bytes) {
    mk_conv2d_winograd_workspace_override = bytes;
}

void mk_testing_winograd_lazy(int mode) {
    mk_conv2d_winograd_lazy_override = mode;
}

bool mk_testing_winograd_is_lazy(const mk_conv2d_f32_op* op) {
    return op != NULL && op->algorithm == MK_CONV2D_ALGORITHM_WINOGRAD && op->wino_lazy;
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
            if (op->wino_lazy) {  // the run's call: the tile's column of points, all channels
                const size_t stride = op->cin_g * width;
                float* u = malloc(MK_WINO_IN * stride * sizeof(float));
                if (u == NULL) return MK_STATUS_OUT_OF_MEMORY;
                op->wino->weights(op->cin_g, width, point % MK_WINO_IN,
                                  op->packed + tile * 9 * geo->tile_floats, u, stride);
                *value = u[point / MK_WINO_IN * stride + c * width + (o - n0)];
                free(u);
            } else {
                *value = op->packed[tile * geo->tile_floats + point * geo->packed_floats + c * width + (o - n0)];
            }
            return MK_STATUS_OK;
        }
    }
    return MK_STATUS_INVALID_ARGUMENT;
}
