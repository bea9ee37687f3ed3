// Operator: the residual add with a fused activation (NHWC rows, own pixel strides for a, b and
// the output), out of place or accumulating into a or b, split over pixels.
#include "../common/internal.h"
#include "../configs/configs.h"

typedef struct {
    const mk_vbinary_kernels* kernels;
    size_t channels;
    const float* a;  // in place: the operand that is not the output
    size_t a_stride;
    const float* b;
    size_t b_stride;
    float* output;
    size_t out_stride;
    bool in_place;  // output += a
    mk_epilogue epilogue;
} mk_add_job;

static void mk_add_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_add_job* job = context;
    float* y = job->output + start * job->out_stride;
    if (job->in_place) {
        job->kernels->vadd_inplace(count, job->channels, y, job->out_stride,
                                   job->a + start * job->a_stride, job->a_stride, &job->epilogue);
    } else {
        job->kernels->vadd(count, job->channels, job->a + start * job->a_stride, job->a_stride,
                           job->b + start * job->b_stride, job->b_stride, y, job->out_stride,
                           &job->epilogue);
    }
}

mk_status mk_elementwise_add(size_t pixels, size_t channels, const float* a, size_t a_stride,
                             const float* b, size_t b_stride, float* output,
                             size_t output_stride, mk_activation activation, mk_variant variant,
                             mk_threadpool* pool) {
    if (a == NULL || b == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (a_stride == 0) a_stride = channels;
    if (b_stride == 0) b_stride = channels;
    if (output_stride == 0) output_stride = channels;
    if (pixels == 0 || channels == 0 || a_stride < channels || b_stride < channels ||
        output_stride < channels) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_status status = mk_activation_validate(activation);
    if (status != MK_STATUS_OK) return status;
    mk_variant resolved;
    status = mk_family_resolve(MK_FAMILY_F32_VBINARY, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    size_t a_extent, b_extent, out_extent;
    if (!mk_strided_extent(pixels, a_stride, channels, &a_extent) ||
        !mk_strided_extent(pixels, b_stride, channels, &b_extent) ||
        !mk_strided_extent(pixels, output_stride, channels, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    // The output may be a or b exactly (same rows); any other overlap would read values already
    // overwritten. a and b are only read, so they may overlap each other in any way.
    const bool into_a = output == a && output_stride == a_stride;
    const bool into_b = output == b && output_stride == b_stride;
    if ((!into_a && mk_buffers_overlap(a, a_extent, output, out_extent)) ||
        (!into_b && mk_buffers_overlap(b, b_extent, output, out_extent))) {
        return MK_STATUS_INVALID_ARGUMENT;
    }

    mk_add_job job = {mk_f32_vbinary_config_get(resolved), channels, a, a_stride, b, b_stride,
                      output, output_stride, into_a || into_b,
                      mk_epilogue_from_activation(activation)};
    // In place the kernel computes output = output + other; with output == a, other is b (and
    // a + b == b + a exactly: float addition is commutative).
    if (into_a) {
        job.a = b;
        job.a_stride = b_stride;
    }
    // About 16K floats per tile: large enough to amortize a tile, small enough to balance.
    const size_t rows_per_tile = channels >= 16384 ? 1 : 16384 / channels;
    return mk_threadpool_parallelize_1d(pool, mk_add_task, &job, pixels, rows_per_tile);
}
