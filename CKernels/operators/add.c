// Operator: the residual add with a fused activation (NHWC rows, own pixel strides for a, b and
// the output), out of place or accumulating into a or b, split over pixels
// (create / reshape / run / destroy).
#include "../configs/configs.h"

#include <stdlib.h>

struct mk_add_f32_op {
    size_t channels;
    mk_epilogue epilogue;
    mk_variant variant;
    const mk_vbinary_kernels* kernels;
};

mk_status mk_add_f32_create(size_t channels, mk_activation activation, mk_variant variant,
                            mk_add_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (channels == 0) return MK_STATUS_INVALID_ARGUMENT;
    if (channels > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    mk_status status = mk_activation_validate(activation);
    if (status != MK_STATUS_OK) return status;
    mk_variant resolved;
    status = mk_family_resolve(MK_FAMILY_F32_VBINARY, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    mk_add_f32_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    *op = (mk_add_f32_op){channels, mk_epilogue_from_activation(activation), resolved,
                          mk_f32_vbinary_config_get(resolved)};
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_add_f32_reshape(const mk_add_f32_op* op, size_t pixels, size_t a_stride,
                             size_t b_stride, size_t output_stride, mk_threadpool* pool,
                             mk_add_f32_plan* plan) {
    (void)pool;
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const size_t channels = op->channels;
    if (a_stride == 0) a_stride = channels;
    if (b_stride == 0) b_stride = channels;
    if (output_stride == 0) output_stride = channels;
    if (pixels == 0 || a_stride < channels || b_stride < channels || output_stride < channels) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t a_extent, b_extent, out_extent;
    if (!mk_strided_extent(pixels, a_stride, channels, &a_extent) ||
        !mk_strided_extent(pixels, b_stride, channels, &b_extent) ||
        !mk_strided_extent(pixels, output_stride, channels, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    // About 16K floats per tile: large enough to amortize a tile, small enough to balance.
    const size_t tile = channels >= 16384 ? 1 : 16384 / channels;
    *plan = (mk_add_f32_plan){pixels, a_stride, b_stride, output_stride, op,
                              a_extent, b_extent, out_extent, tile};
    return MK_STATUS_OK;
}

typedef struct {
    const mk_add_f32_op* op;
    const float* a;  // in place: the operand that is not the output
    size_t a_stride;
    const float* b;
    size_t b_stride;
    float* output;
    size_t out_stride;
    bool in_place;  // output += a
} mk_add_job;

static void mk_add_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_add_job* job = context;
    const mk_vbinary_kernels* k = job->op->kernels;
    float* y = job->output + start * job->out_stride;
    if (job->in_place) {
        k->vadd_inplace(count, job->op->channels, y, job->out_stride,
                        job->a + start * job->a_stride, job->a_stride, &job->op->epilogue);
    } else {
        k->vadd(count, job->op->channels, job->a + start * job->a_stride, job->a_stride,
                job->b + start * job->b_stride, job->b_stride, y, job->out_stride,
                &job->op->epilogue);
    }
}

mk_status mk_add_f32_run(const mk_add_f32_op* op, const mk_add_f32_plan* plan, const float* a,
                         const float* b, float* output, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || a == NULL || b == NULL || output == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    // The output may be a or b exactly (same rows); any other overlap would read values already
    // overwritten. a and b are only read, so they may overlap each other in any way.
    const bool into_a = output == a && plan->output_stride == plan->a_stride;
    const bool into_b = output == b && plan->output_stride == plan->b_stride;
    if ((!into_a && mk_buffers_overlap(a, plan->a_extent, output, plan->out_extent)) ||
        (!into_b && mk_buffers_overlap(b, plan->b_extent, output, plan->out_extent))) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_add_job job = {op, a, plan->a_stride, b, plan->b_stride, output, plan->output_stride,
                      into_a || into_b};
    // In place the kernel computes output = output + other; with output == a, other is b (and
    // a + b == b + a exactly: float addition is commutative).
    if (into_a) {
        job.a = b;
        job.a_stride = plan->b_stride;
    }
    return mk_threadpool_parallelize_1d(pool, mk_add_task, &job, plan->pixels, plan->tile);
}

mk_variant mk_add_f32_variant(const mk_add_f32_op* op) { return op ? op->variant : MK_VARIANT_AUTO; }

void mk_add_f32_destroy(mk_add_f32_op* op) { free(op); }
