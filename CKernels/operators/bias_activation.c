// Operator: bias + activation over NHWC rows (create / reshape / run / destroy).
#include "../configs/configs.h"

#include <stdlib.h>
#include <string.h>

struct mk_bias_activation_f32_op {
    size_t channels;
    float* bias;  // 64-byte aligned copy, or NULL
    mk_epilogue epilogue;
    mk_variant variant;
    mk_f32_vbiasact_ukernel_fn ukernel;
};

mk_status mk_bias_activation_f32_create(size_t channels, const float* bias,
                                        mk_activation activation, mk_variant variant,
                                        mk_bias_activation_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (channels == 0) return MK_STATUS_INVALID_ARGUMENT;
    if (channels > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    mk_status status = mk_activation_validate(activation);
    if (status != MK_STATUS_OK) return status;
    mk_variant resolved;
    status = mk_family_resolve(MK_FAMILY_F32_VUNARY, variant, &resolved);
    if (status != MK_STATUS_OK) return status;

    mk_bias_activation_f32_op* op = calloc(1, sizeof *op);
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

mk_status mk_bias_activation_f32_reshape(const mk_bias_activation_f32_op* op, size_t pixels,
                                         size_t input_stride, size_t output_stride,
                                         mk_threadpool* pool, mk_bias_activation_f32_plan* plan) {
    (void)pool;
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const size_t channels = op->channels;
    if (input_stride == 0) input_stride = channels;
    if (output_stride == 0) output_stride = channels;
    if (input_stride < channels || output_stride < channels) return MK_STATUS_INVALID_ARGUMENT;
    // Extent of each buffer: (pixels - 1) * stride + channels elements.
    size_t in_extent = 0, out_extent = 0;
    if (pixels > 0 && (!mk_strided_extent(pixels, input_stride, channels, &in_extent) ||
                       !mk_strided_extent(pixels, output_stride, channels, &out_extent))) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    // About 16K floats per tile: large enough to amortize a tile, small enough to balance.
    const size_t tile = channels >= 16384 ? 1 : 16384 / channels;
    *plan = (mk_bias_activation_f32_plan){pixels, input_stride, output_stride, op,
                                          in_extent, out_extent, tile};
    return MK_STATUS_OK;
}

typedef struct {
    const mk_bias_activation_f32_op* op;
    const mk_bias_activation_f32_plan* plan;
    const float* input;
    float* output;
} mk_bias_activation_job;

static void mk_bias_activation_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_bias_activation_job* job = context;
    const size_t is = job->plan->input_stride, os = job->plan->output_stride;
    job->op->ukernel(count, job->op->channels, job->input + start * is, is, job->op->bias,
                     job->output + start * os, os, &job->op->epilogue);
}

mk_status mk_bias_activation_f32_run(const mk_bias_activation_f32_op* op,
                                     const mk_bias_activation_f32_plan* plan, const float* input,
                                     float* output, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    if (plan->pixels == 0) return MK_STATUS_OK;
    // In place needs the same rows; any other overlap would read already-written values.
    if (mk_buffers_overlap(input, plan->in_extent, output, plan->out_extent) &&
        !(input == output && plan->input_stride == plan->output_stride)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_bias_activation_job job = {op, plan, input, output};
    return mk_threadpool_parallelize_1d(pool, mk_bias_activation_task, &job, plan->pixels,
                                        plan->tile);
}

mk_variant mk_bias_activation_f32_variant(const mk_bias_activation_f32_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

void mk_bias_activation_f32_destroy(mk_bias_activation_f32_op* op) {
    if (op == NULL) return;
    mk_aligned_free(op->bias);
    free(op);
}
