// Operator: a matrix transposed, with a bias per source row and an activation on the way
// (mk_transpose_f32, mk_training.h). A Linear layer's training step runs its forward as the
// transposed product, y^T = W x^T (the weights read where the optimizer keeps them, the batch's
// inputs packed instead), and its input gradient on dy^T: this lays out the first as the
// layer's output and makes the second.
//
// Square tiles of MK_TRANSPOSE_TILE: a tile's source rows and destination rows both stay in L1.
// One loop for every ISA: moves, one add and the epilogue (epilogue_scalar.h: the GEMM
// epilogue's operations in its order, so the same bits as a fused store).
#include "../include/mk_training.h"
#include "../common/internal.h"
#include "../microkernels/epilogue_scalar.h"

#define MK_TRANSPOSE_TILE 32

typedef struct {
    size_t rows, cols, col_tiles;
    const float* src;
    size_t src_stride;
    const float* bias;
    mk_epilogue epilogue;
    float* dst;
    size_t dst_stride;
} mk_transpose_job;

static void mk_transpose_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_transpose_job* job = context;
    const mk_epilogue_kind kind = job->epilogue.kind;
    const float lo = job->epilogue.min, hi = job->epilogue.max;
    for (size_t t = start; t < start + count; t++) {
        const size_t r0 = t / job->col_tiles * MK_TRANSPOSE_TILE;
        const size_t c0 = t % job->col_tiles * MK_TRANSPOSE_TILE;
        const size_t r1 = r0 + MK_TRANSPOSE_TILE < job->rows ? r0 + MK_TRANSPOSE_TILE : job->rows;
        const size_t c1 = c0 + MK_TRANSPOSE_TILE < job->cols ? c0 + MK_TRANSPOSE_TILE : job->cols;
        for (size_t r = r0; r < r1; r++) {
            const float* s = job->src + r * job->src_stride;
            float* d = job->dst + r;
            if (job->bias != NULL) {
                const float b = job->bias[r];
                for (size_t c = c0; c < c1; c++) d[c * job->dst_stride] = mk_epilogue_f32(s[c] + b, kind, lo, hi);
            } else {
                for (size_t c = c0; c < c1; c++) d[c * job->dst_stride] = mk_epilogue_f32(s[c], kind, lo, hi);
            }
        }
    }
}

mk_status mk_transpose_f32(size_t rows, size_t cols, const float* src, size_t src_stride, const float* bias,
                           mk_activation activation, float* dst, size_t dst_stride, mk_threadpool* pool) {
    if (src == NULL || dst == NULL) return MK_STATUS_NULL_POINTER;
    mk_status status = mk_activation_validate(activation);
    if (status != MK_STATUS_OK) return status;
    if (rows == 0 || cols == 0 || src_stride < cols || dst_stride < rows) return MK_STATUS_INVALID_ARGUMENT;
    size_t src_floats, dst_floats;
    if (!mk_strided_extent(rows, src_stride, cols, &src_floats) ||
        !mk_strided_extent(cols, dst_stride, rows, &dst_floats)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    if (mk_buffers_overlap(src, src_floats, dst, dst_floats) ||
        (bias != NULL && mk_buffers_overlap(bias, rows, dst, dst_floats))) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const size_t row_tiles = (rows + MK_TRANSPOSE_TILE - 1) / MK_TRANSPOSE_TILE;
    const size_t col_tiles = (cols + MK_TRANSPOSE_TILE - 1) / MK_TRANSPOSE_TILE;
    mk_transpose_job job = {rows, cols, col_tiles, src, src_stride, bias, mk_epilogue_from_activation(activation),
                            dst, dst_stride};
    return mk_threadpool_parallelize_1d(pool, mk_transpose_task, &job, row_tiles * col_tiles, 8);
}
