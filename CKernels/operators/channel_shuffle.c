// Operator: channel shuffle (NHWC), out of place or in place, split over pixels
// (create / reshape / run / destroy).
#include "../configs/configs.h"

#include <stdlib.h>
#include <string.h>

#define MK_SHUFFLE_MAX_IN_PLACE 8192

struct mk_channel_shuffle_f32_op {
    size_t groups, channels;
    mk_variant variant;
    mk_f32_shuffle_ukernel_fn fn;
};

mk_status mk_channel_shuffle_f32_create(size_t groups, size_t channels, mk_variant variant,
                                        mk_channel_shuffle_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (groups == 0 || channels == 0 || channels % groups != 0) return MK_STATUS_INVALID_ARGUMENT;
    if (channels > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    mk_variant resolved;
    const mk_status status = mk_family_resolve(MK_FAMILY_F32_SHUFFLE, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    mk_channel_shuffle_f32_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    *op = (mk_channel_shuffle_f32_op){groups, channels, resolved,
                                      mk_shuffle_kernel(mk_f32_shuffle_config_get(resolved), groups)};
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_channel_shuffle_f32_reshape(const mk_channel_shuffle_f32_op* op, size_t pixels,
                                         size_t input_pixel_stride, size_t output_pixel_stride,
                                         mk_threadpool* pool, mk_channel_shuffle_f32_plan* plan) {
    (void)pool;
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const size_t channels = op->channels;
    if (input_pixel_stride == 0) input_pixel_stride = channels;
    if (output_pixel_stride == 0) output_pixel_stride = channels;
    if (pixels == 0 || input_pixel_stride < channels || output_pixel_stride < channels) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t in_extent, out_extent;
    if (!mk_strided_extent(pixels, input_pixel_stride, channels, &in_extent) ||
        !mk_strided_extent(pixels, output_pixel_stride, channels, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    // Tiles of about 64 KB, so a task amortizes its dispatch.
    const size_t tile = (16384 + channels - 1) / channels;
    *plan = (mk_channel_shuffle_f32_plan){pixels, input_pixel_stride, output_pixel_stride, op,
                                          in_extent, out_extent, tile < 1 ? 1 : tile};
    return MK_STATUS_OK;
}

typedef struct {
    const mk_channel_shuffle_f32_op* op;
    const mk_channel_shuffle_f32_plan* plan;
    const float* input;
    float* output;
    bool in_place;
} mk_shuffle_job;

static void mk_shuffle_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_shuffle_job* job = context;
    const size_t channels = job->op->channels, cg = channels / job->op->groups;
    float row[MK_SHUFFLE_MAX_IN_PLACE];
    for (size_t i = start; i < start + count; i++) {
        const float* src = job->input + i * job->plan->input_pixel_stride;
        float* dst = job->output + i * job->plan->output_pixel_stride;
        if (job->in_place) {
            memcpy(row, src, channels * sizeof(float));
            src = row;
        }
        job->op->fn(job->op->groups, cg, src, cg, dst);
    }
}

mk_status mk_channel_shuffle_f32_run(const mk_channel_shuffle_f32_op* op,
                                     const mk_channel_shuffle_f32_plan* plan, const float* input,
                                     float* output, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    const bool in_place =
        input == output && plan->input_pixel_stride == plan->output_pixel_stride;
    if (in_place) {
        if (op->channels > MK_SHUFFLE_MAX_IN_PLACE) return MK_STATUS_INVALID_ARGUMENT;
    } else if (mk_buffers_overlap(input, plan->in_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const mk_shuffle_job job = {op, plan, input, output, in_place};
    return mk_threadpool_parallelize_1d(pool, mk_shuffle_task, (void*)&job, plan->pixels,
                                        plan->tile);
}

mk_variant mk_channel_shuffle_f32_variant(const mk_channel_shuffle_f32_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

void mk_channel_shuffle_f32_destroy(mk_channel_shuffle_f32_op* op) { free(op); }
