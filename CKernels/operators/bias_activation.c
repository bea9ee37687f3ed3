// Operator: bias + activation over NHWC rows (create / run / destroy).
#include "../common/internal.h"
#include "../configs/configs.h"

#include <stdlib.h>
#include <string.h>

struct mk_bias_activation_op {
    size_t channels;
    float* bias;  // 64-byte aligned copy, or NULL
    mk_epilogue epilogue;
    mk_variant variant;
    mk_f32_vbiasact_ukernel_fn ukernel;
};

mk_status mk_bias_activation_create(size_t channels, const float* bias, mk_activation activation,
                                    mk_variant variant, mk_bias_activation_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (channels == 0) return MK_STATUS_INVALID_ARGUMENT;
    if (channels > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    mk_status status = mk_activation_validate(activation);
    if (status != MK_STATUS_OK) return status;
    mk_variant resolved;
    status = mk_family_resolve(MK_FAMILY_F32_VUNARY, variant, &resolved);
    if (status != MK_STATUS_OK) return status;

    mk_bias_activation_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    if (bias != NULL) {
        op->bias = mk_aligned_alloc(channels * sizeof(float));
        if (op->bias == NULL) {
            free(op);
            return MK_STATUS_OUT_OF_MEMORY;
        }
        memcpy(op->bias, bias, channels * sizeof(float));
    }
    op->channels = channels;
    op->epilogue = mk_epilogue_from_activation(activation);
    op->variant = resolved;
    op->ukernel = mk_f32_vunary_config_get(resolved)->biasact;
    *op_out = op;
    return MK_STATUS_OK;
}

typedef struct {
    const mk_bias_activation_op* op;
    const float* input;
    float* output;
    size_t input_stride, output_stride;
} mk_bias_activation_job;

static void mk_bias_activation_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_bias_activation_job* job = context;
    job->op->ukernel(count, job->op->channels, job->input + start * job->input_stride,
                     job->input_stride, job->op->bias, job->output + start * job->output_stride,
                     job->output_stride, &job->op->epilogue);
}

mk_status mk_bias_activation_run(const mk_bias_activation_op* op, size_t pixels,
                                 const float* input, size_t input_stride, float* output,
                                 size_t output_stride, mk_threadpool* pool) {
    if (op == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    const size_t channels = op->channels;
    if (input_stride == 0) input_stride = channels;
    if (output_stride == 0) output_stride = channels;
    if (input_stride < channels || output_stride < channels) return MK_STATUS_INVALID_ARGUMENT;
    if (pixels == 0) return MK_STATUS_OK;

    // Extent of each buffer: (pixels - 1) * stride + channels elements.
    size_t in_extent, out_extent;
    if (!mk_strided_extent(pixels, input_stride, channels, &in_extent) ||
        !mk_strided_extent(pixels, output_stride, channels, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    // In place needs the same rows; any other overlap would read already-written values.
    if (mk_buffers_overlap(input, in_extent, output, out_extent) &&
        !(input == output && input_stride == output_stride)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }

    mk_bias_activation_job job = {op, input, output, input_stride, output_stride};
    // About 16K floats per tile: large enough to amortize a tile, small enough to balance.
    size_t rows_per_tile = channels >= 16384 ? 1 : 16384 / channels;
    return mk_threadpool_parallelize_1d(pool, mk_bias_activation_task, &job, pixels,
                                        rows_per_tile);
}

mk_variant mk_bias_activation_variant(const mk_bias_activation_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

void mk_bias_activation_destroy(mk_bias_activation_op* op) {
    if (op == NULL) return;
    mk_aligned_free(op->bias);
    free(op);
}
