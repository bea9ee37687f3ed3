// The convolution's BLIS backend (1x1, no padding, no fused shuffle; mk_conv2d_f32_supports says
// so): bli_sgemm per group on the strided NHWC matrices (per output row when the stride is > 1),
// then one pass of bias + residual + activation on our pool with the f32_vunary kernel AUTO
// resolves to.
#include "conv2d_internal.h"

#include <string.h>

#if !defined(MK_NO_BLIS)
#include <cblas.h>
void bli_sgemm(trans_t transa, trans_t transb, dim_t m, dim_t n, dim_t k, const float* alpha,
               const float* a, inc_t rsa, inc_t csa, const float* b, inc_t rsb, inc_t csb,
               const float* beta, float* c, inc_t rsc, inc_t csc);
void bli_thread_set_num_threads(dim_t n_threads);
#endif

mk_status mk_conv2d_blis_create(mk_conv2d_f32_op* op, const float* weights, const float* bias) {
#if defined(MK_NO_BLIS)
    (void)op, (void)weights, (void)bias;
    return MK_STATUS_UNSUPPORTED;
#else
    const size_t count = op->p.output_channels * op->cin_g * op->taps;
    op->blis_weights = mk_aligned_alloc(count * sizeof(float));
    op->blis_bias = mk_aligned_alloc(op->p.output_channels * sizeof(float));
    if (op->blis_weights == NULL || op->blis_bias == NULL) return MK_STATUS_OUT_OF_MEMORY;
    mk_conv2d_blis_pack(op, weights, bias);
    return MK_STATUS_OK;
#endif
}

void mk_conv2d_blis_pack(mk_conv2d_f32_op* op, const float* weights, const float* bias) {
    const size_t count = op->p.output_channels * op->cin_g * op->taps;
    memcpy(op->blis_weights, weights, count * sizeof(float));
    for (size_t o = 0; o < op->p.output_channels; o++) {
        op->blis_bias[o] = bias != NULL ? bias[o] : 0.0f;
    }
}

#if !defined(MK_NO_BLIS)
typedef struct {
    const mk_conv2d_f32_op* op;
    const mk_conv2d_f32_plan* plan;
    float* output;
    const float* residual;
    mk_f32_vbiasact_ukernel_fn biasact;
} mk_conv_blis_job;

// out = act(out + bias (+ residual)) over pixel rows [start, start + count).
static void mk_conv_blis_epilogue_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_conv_blis_job* job = context;
    const size_t C = job->op->p.output_channels, out_stride = job->plan->output_pixel_stride;
    float* out = job->output + start * out_stride;
    if (job->residual != NULL && job->residual != job->output) {
        const size_t res_stride = job->plan->residual_pixel_stride;
        const float* res = job->residual + start * res_stride;
        for (size_t r = 0; r < count; r++) {
            for (size_t c = 0; c < C; c++) out[r * out_stride + c] += res[r * res_stride + c];
        }
    }
    job->biasact(count, C, out, out_stride, job->op->blis_bias, out, out_stride,
                 &job->op->epilogue);
}
#endif

mk_status mk_conv2d_blis_run(const mk_conv2d_f32_op* op, const mk_conv2d_f32_plan* plan,
                             const float* input, float* output, const float* residual,
                             mk_threadpool* pool) {
#if defined(MK_NO_BLIS)
    (void)op, (void)plan, (void)input, (void)output, (void)residual, (void)pool;
    return MK_STATUS_UNSUPPORTED;
#else
    const mk_conv2d_params* p = &op->p;
    const size_t in_stride = plan->input_pixel_stride, out_stride = plan->output_pixel_stride;
    // With the residual in the output itself (out += conv) BLIS accumulates into it (beta 1);
    // otherwise it overwrites the output and the epilogue pass adds the residual.
    const float one = 1.0f;
    const float beta = residual == output ? 1.0f : 0.0f;
    bli_thread_set_num_threads((dim_t)mk_threadpool_threads(pool));
    const bool dense_rows = p->stride_h == 1 && p->stride_w == 1;
    for (size_t g = 0; g < p->groups; g++) {
        const float* b = op->blis_weights + g * op->cout_g * op->cin_g;
        if (dense_rows) {
            // All pixels of the batch form one matrix: rows in_stride apart.
            bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)plan->pixels,
                      (dim_t)op->cout_g, (dim_t)op->cin_g, &one, input + g * op->cin_g,
                      (inc_t)in_stride, 1, b, 1, (inc_t)op->cin_g, &beta,
                      output + g * op->cout_g, (inc_t)out_stride, 1);
            continue;
        }
        for (size_t n = 0; n < plan->batch; n++) {
            for (size_t oy = 0; oy < plan->out_h; oy++) {
                const float* a = input +
                                 ((n * plan->in_h + oy * p->stride_h) * plan->in_w) * in_stride +
                                 g * op->cin_g;
                float* c = output + ((n * plan->out_h + oy) * plan->out_w) * out_stride +
                           g * op->cout_g;
                bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)plan->out_w,
                          (dim_t)op->cout_g, (dim_t)op->cin_g, &one, a,
                          (inc_t)(in_stride * p->stride_w), 1, b, 1, (inc_t)op->cin_g, &beta, c,
                          (inc_t)out_stride, 1);
            }
        }
    }
    mk_variant best;
    const mk_status status = mk_family_resolve(MK_FAMILY_F32_VUNARY, MK_VARIANT_AUTO, &best);
    if (status != MK_STATUS_OK) return status;
    mk_conv_blis_job job = {op, plan, output, residual, mk_f32_vunary_config_get(best)->biasact};
    return mk_threadpool_parallelize_1d(pool, mk_conv_blis_epilogue_task, &job, plan->pixels, 64);
#endif
}
