// Operator: channel shuffle (NHWC), out of place or in place, split over pixels.
#include "../common/internal.h"
#include "../configs/configs.h"

#include <string.h>

#define MK_SHUFFLE_MAX_IN_PLACE 8192

typedef struct {
    mk_f32_shuffle_ukernel_fn fn;
    size_t groups, channels;
    const float* input;
    size_t in_stride;
    float* output;
    size_t out_stride;
    bool in_place;
} mk_shuffle_job;

static void mk_shuffle_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_shuffle_job* job = context;
    const size_t cg = job->channels / job->groups;
    float row[MK_SHUFFLE_MAX_IN_PLACE];
    for (size_t i = start; i < start + count; i++) {
        const float* src = job->input + i * job->in_stride;
        float* dst = job->output + i * job->out_stride;
        if (job->in_place) {
            memcpy(row, src, job->channels * sizeof(float));
            src = row;
        }
        job->fn(job->groups, cg, src, cg, dst);
    }
}

mk_status mk_channel_shuffle(size_t groups, size_t channels, size_t pixels, const float* input,
                             size_t input_pixel_stride, float* output, size_t output_pixel_stride,
                             mk_variant variant, mk_threadpool* pool) {
    if (input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (input_pixel_stride == 0) input_pixel_stride = channels;
    if (output_pixel_stride == 0) output_pixel_stride = channels;
    if (groups == 0 || channels == 0 || pixels == 0 || channels % groups != 0 ||
        input_pixel_stride < channels || output_pixel_stride < channels) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_variant resolved;
    mk_status status = mk_family_resolve(MK_FAMILY_F32_SHUFFLE, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    size_t in_extent, out_extent;
    if (!mk_strided_extent(pixels, input_pixel_stride, channels, &in_extent) ||
        !mk_strided_extent(pixels, output_pixel_stride, channels, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    const bool in_place = input == output && input_pixel_stride == output_pixel_stride;
    if (in_place) {
        if (channels > MK_SHUFFLE_MAX_IN_PLACE) return MK_STATUS_INVALID_ARGUMENT;
    } else if (mk_buffers_overlap(input, in_extent, output, out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const mk_shuffle_job job = {mk_shuffle_kernel(mk_f32_shuffle_config_get(resolved), groups),
                                groups, channels, input, input_pixel_stride, output,
                                output_pixel_stride, in_place};
    // Tiles of about 64 KB, so a task amortizes its dispatch.
    size_t tile = (16384 + channels - 1) / channels;
    if (tile < 1) tile = 1;
    return mk_threadpool_parallelize_1d(pool, mk_shuffle_task, (void*)&job, pixels, tile);
}
