// Operator: depthwise convolution backward (mk_training.h): the input gradient as a gather (each
// input pixel sums the (output pixel, tap) pairs that read it, so stride 2 costs what stride 1
// does and nothing is scattered or zero-inserted), and the weight gradient as per-tap sums over
// output pixels through an indirection buffer (padding taps read a row of zeros).
//
// Work split: input gradient, over input rows; weight gradient, over chunks of output rows (a
// chunk holds at least 1024 pixels, fixed by the shape), each chunk's sums in the workspace,
// combined in chunk order in float64: the same bits for any thread count.
#include "../configs/configs.h"
#include "../include/mk_training.h"

#include <stdlib.h>
#include <string.h>

#define MK_DWGRAD_MAX_TAPS 121  // 11 x 11

struct mk_dwconv2d_backward_f32_op {
    mk_dwconv2d_params p;
    mk_variant variant;
    const mk_dwgrad_kernels* kernels;
    size_t taps;
    float* packed;  // [taps][channels], NULL until weights are set
};

static size_t mk_round64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

mk_status mk_dwconv2d_backward_f32_create(const mk_dwconv2d_params* params, const float* weights,
                                          mk_variant variant,
                                          mk_dwconv2d_backward_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (params == NULL) return MK_STATUS_NULL_POINTER;
    // The forward's parameter rules (the scalar variant is always there to ask).
    mk_status status = mk_dwconv2d_f32_supports(params, MK_VARIANT_SCALAR);
    if (status != MK_STATUS_OK) return status;
    if (params->activation.kind != MK_ACTIVATION_NONE) return MK_STATUS_INVALID_ARGUMENT;
    mk_variant resolved;
    status = mk_family_resolve(MK_FAMILY_F32_DWGRAD, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    mk_dwconv2d_backward_f32_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    op->p = *params;
    op->variant = resolved;
    op->kernels = mk_f32_dwgrad_config_get(resolved);
    op->taps = params->kernel_h * params->kernel_w;
    if (weights != NULL) {
        status = mk_dwconv2d_backward_f32_set_weights(op, weights);
        if (status != MK_STATUS_OK) {
            mk_dwconv2d_backward_f32_destroy(op);
            return status;
        }
    }
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_dwconv2d_backward_f32_set_weights(mk_dwconv2d_backward_f32_op* op,
                                               const float* weights) {
    if (op == NULL || weights == NULL) return MK_STATUS_NULL_POINTER;
    const size_t C = op->p.channels, T = op->taps;
    if (op->packed == NULL) {
        op->packed = mk_aligned_alloc(T * C * sizeof(float));
        if (op->packed == NULL) return MK_STATUS_OUT_OF_MEMORY;
    }
    for (size_t c = 0; c < C; c++) {
        for (size_t t = 0; t < T; t++) op->packed[t * C + c] = weights[c * T + t];
    }
    return MK_STATUS_OK;
}

mk_status mk_dwconv2d_backward_f32_reshape(const mk_dwconv2d_backward_f32_op* op, size_t batch,
                                           size_t in_h, size_t in_w, size_t input_pixel_stride,
                                           size_t output_pixel_stride, mk_threadpool* pool,
                                           mk_dwconv2d_backward_f32_plan* plan) {
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const mk_dwconv2d_params* p = &op->p;
    const size_t C = p->channels;
    if (input_pixel_stride == 0) input_pixel_stride = C;
    if (output_pixel_stride == 0) output_pixel_stride = C;
    if (batch == 0 || in_h == 0 || in_w == 0 || input_pixel_stride < C || output_pixel_stride < C) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (in_h > MK_MAX_ELEMENTS || in_w > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    const size_t extent_h = p->dilation_h * (p->kernel_h - 1) + 1;
    const size_t extent_w = p->dilation_w * (p->kernel_w - 1) + 1;
    const size_t padded_h = in_h + p->pad_top + p->pad_bottom;
    const size_t padded_w = in_w + p->pad_left + p->pad_right;
    if (padded_h < extent_h || padded_w < extent_w) return MK_STATUS_INVALID_ARGUMENT;
    const size_t out_h = (padded_h - extent_h) / p->stride_h + 1;
    const size_t out_w = (padded_w - extent_w) / p->stride_w + 1;
    size_t in_pixels, out_pixels, in_extent, out_extent;
    if (!mk_size_mul(batch, in_h, &in_pixels) || !mk_size_mul(in_pixels, in_w, &in_pixels) ||
        !mk_size_mul(batch, out_h, &out_pixels) || !mk_size_mul(out_pixels, out_w, &out_pixels) ||
        !mk_strided_extent(in_pixels, input_pixel_stride, C, &in_extent) ||
        !mk_strided_extent(out_pixels, output_pixel_stride, C, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    const size_t threads = mk_threadpool_threads(pool);
    const size_t chunk_rows = out_w >= 1024 ? 1 : (1024 + out_w - 1) / out_w;
    const size_t rows = batch * out_h;
    const size_t chunks = (rows + chunk_rows - 1) / chunk_rows;
    // zeros [C] | per-thread indirection [threads][out_w * taps] | chunk sums [chunks][taps + 1][C]
    // | float64 totals [taps + 1][C]. Bounded: the chunk sums are at most (taps + 1) / 1024 of
    // the output's pixels times C, the indirection taps pointers per output column.
    const size_t T = op->taps;
    if (out_w > MK_MAX_ELEMENTS / T / threads || chunks > MK_MAX_ELEMENTS / (T + 1) / C) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    const size_t bytes = mk_round64(C * sizeof(float)) +
                         mk_round64(threads * out_w * T * sizeof(const float*)) +
                         mk_round64(chunks * (T + 1) * C * sizeof(float)) +
                         mk_round64((T + 1) * C * sizeof(double));
    *plan = (mk_dwconv2d_backward_f32_plan){batch, in_h, in_w, out_h, out_w, input_pixel_stride,
                                            output_pixel_stride, bytes, NULL, op, threads,
                                            chunk_rows, chunks, in_extent, out_extent};
    return MK_STATUS_OK;
}

typedef struct {
    float* zeros;
    const float** indirection;  // [threads][out_w * taps]
    float* parts;               // [chunks][taps + 1][C]
    double* totals;             // [taps + 1][C]
} mk_dwgrad_workspace;

static mk_dwgrad_workspace mk_dwgrad_split(const mk_dwconv2d_backward_f32_plan* plan) {
    const size_t C = plan->op->p.channels, T = plan->op->taps;
    char* m = plan->workspace;
    mk_dwgrad_workspace w;
    w.zeros = (float*)m;
    m += mk_round64(C * sizeof(float));
    w.indirection = (const float**)m;
    m += mk_round64(plan->threads * plan->out_w * T * sizeof(const float*));
    w.parts = (float*)m;
    m += mk_round64(plan->chunks * (T + 1) * C * sizeof(float));
    w.totals = (double*)m;
    return w;
}

static mk_status mk_dwgrad_check(const mk_dwconv2d_backward_f32_op* op,
                                 const mk_dwconv2d_backward_f32_plan* plan, mk_threadpool* pool,
                                 bool needs_workspace) {
    if (plan->op != op || mk_threadpool_threads(pool) > plan->threads) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (needs_workspace && (plan->workspace == NULL || ((uintptr_t)plan->workspace & 63) != 0)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    return MK_STATUS_OK;
}

// ---- Input gradient ---------------------------------------------------------------------------

typedef struct {
    const mk_dwconv2d_backward_f32_op* op;
    const mk_dwconv2d_backward_f32_plan* plan;
    const float* dy;
    float* dx;
} mk_dwgrad_dx_job;

// The (tap index, output index) pairs that read input coordinate i along one axis: i = o *
// stride - pad + k * dilation for o in [0, out), in tap order; returns their count.
static size_t mk_dwgrad_axis(size_t i, size_t kernel, size_t stride, size_t dilation, size_t pad,
                             size_t out, size_t* k_out, size_t* o_out) {
    size_t n = 0;
    for (size_t k = 0; k < kernel; k++) {
        const size_t shifted = i + pad;  // o * stride + k * dilation
        if (shifted < k * dilation) break;
        const size_t t = shifted - k * dilation;
        if (t % stride != 0 || t / stride >= out) continue;
        k_out[n] = k;
        o_out[n] = t / stride;
        n++;
    }
    return n;
}

static void mk_dwgrad_dx_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_dwgrad_dx_job* job = context;
    const mk_dwconv2d_backward_f32_plan* plan = job->plan;
    const mk_dwconv2d_params* p = &job->op->p;
    const size_t C = p->channels, kw = p->kernel_w;
    const float* dy_ptrs[MK_DWGRAD_MAX_TAPS];
    const float* w_ptrs[MK_DWGRAD_MAX_TAPS];
    size_t ky[11], oy[11], kx[11], ox[11];
    for (size_t row = start; row < start + count; row++) {
        const size_t n = row / plan->in_h, iy = row % plan->in_h;
        const size_t rows = mk_dwgrad_axis(iy, p->kernel_h, p->stride_h, p->dilation_h,
                                           p->pad_top, plan->out_h, ky, oy);
        for (size_t ix = 0; ix < plan->in_w; ix++) {
            const size_t cols = mk_dwgrad_axis(ix, kw, p->stride_w, p->dilation_w, p->pad_left,
                                               plan->out_w, kx, ox);
            size_t taps = 0;
            for (size_t a = 0; a < rows; a++) {
                const float* dy_row = job->dy + ((n * plan->out_h + oy[a]) * plan->out_w) * plan->output_pixel_stride;
                for (size_t b = 0; b < cols; b++) {
                    dy_ptrs[taps] = dy_row + ox[b] * plan->output_pixel_stride;
                    w_ptrs[taps] = job->op->packed + (ky[a] * kw + kx[b]) * C;
                    taps++;
                }
            }
            job->op->kernels->dx(C, taps, dy_ptrs, w_ptrs,
                                 job->dx + (row * plan->in_w + ix) * plan->input_pixel_stride);
        }
    }
}

mk_status mk_dwconv2d_backward_f32_input_gradient(const mk_dwconv2d_backward_f32_op* op,
                                                  const mk_dwconv2d_backward_f32_plan* plan,
                                                  const float* dy, float* dx,
                                                  mk_threadpool* pool) {
    if (op == NULL || plan == NULL || dy == NULL || dx == NULL) return MK_STATUS_NULL_POINTER;
    mk_status status = mk_dwgrad_check(op, plan, pool, false);
    if (status != MK_STATUS_OK) return status;
    if (op->packed == NULL) return MK_STATUS_INVALID_ARGUMENT;
    if (mk_buffers_overlap(dy, plan->out_extent, dx, plan->in_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_dwgrad_dx_job job = {op, plan, dy, dx};
    return mk_threadpool_parallelize_1d(pool, mk_dwgrad_dx_task, &job, plan->batch * plan->in_h, 1);
}

// ---- Weight gradient --------------------------------------------------------------------------

typedef struct {
    const mk_dwconv2d_backward_f32_op* op;
    const mk_dwconv2d_backward_f32_plan* plan;
    const float* x;
    const float* dy;
    bool bias;
    mk_dwgrad_workspace w;
} mk_dwgrad_dw_job;

static void mk_dwgrad_dw_task(void* context, size_t thread, size_t start, size_t count) {
    const mk_dwgrad_dw_job* job = context;
    const mk_dwconv2d_backward_f32_plan* plan = job->plan;
    const mk_dwconv2d_params* p = &job->op->p;
    const size_t C = p->channels, T = job->op->taps, out_w = plan->out_w;
    const float** ind = job->w.indirection + thread * out_w * T;
    const size_t rows = plan->batch * plan->out_h;
    for (size_t k = start; k < start + count; k++) {
        float* acc = job->w.parts + k * (T + 1) * C;
        memset(acc, 0, (T + 1) * C * sizeof(float));
        const size_t first = k * plan->chunk_rows;
        const size_t last = first + plan->chunk_rows < rows ? first + plan->chunk_rows : rows;
        for (size_t row = first; row < last; row++) {
            const size_t n = row / plan->out_h, oy = row % plan->out_h;
            for (size_t ox = 0; ox < out_w; ox++) {
                for (size_t ky = 0; ky < p->kernel_h; ky++) {
                    // iy = oy * stride - pad + ky * dilation, in range or padding.
                    const size_t iy_pad = oy * p->stride_h + ky * p->dilation_h;
                    const bool row_ok = iy_pad >= p->pad_top && iy_pad - p->pad_top < plan->in_h;
                    for (size_t kx = 0; kx < p->kernel_w; kx++) {
                        const size_t ix_pad = ox * p->stride_w + kx * p->dilation_w;
                        const bool ok = row_ok && ix_pad >= p->pad_left && ix_pad - p->pad_left < plan->in_w;
                        ind[ox * T + ky * p->kernel_w + kx] =
                            ok ? job->x + ((n * plan->in_h + iy_pad - p->pad_top) * plan->in_w +
                                           ix_pad - p->pad_left) * plan->input_pixel_stride
                               : job->w.zeros;
                    }
                }
            }
            job->op->kernels->dw(out_w, C, T, ind,
                                 job->dy + row * out_w * plan->output_pixel_stride,
                                 plan->output_pixel_stride, acc, job->bias ? acc + T * C : NULL);
        }
    }
}

mk_status mk_dwconv2d_backward_f32_weight_gradient(const mk_dwconv2d_backward_f32_op* op,
                                                   const mk_dwconv2d_backward_f32_plan* plan,
                                                   const float* x, const float* dy,
                                                   float* dweight, float* dbias,
                                                   mk_threadpool* pool) {
    if (op == NULL || plan == NULL || x == NULL || dy == NULL || dweight == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    mk_status status = mk_dwgrad_check(op, plan, pool, true);
    if (status != MK_STATUS_OK) return status;
    const size_t C = op->p.channels, T = op->taps;
    mk_dwgrad_dw_job job = {op, plan, x, dy, dbias != NULL, mk_dwgrad_split(plan)};
    memset(job.w.zeros, 0, C * sizeof(float));
    status = mk_threadpool_parallelize_1d(pool, mk_dwgrad_dw_task, &job, plan->chunks, 1);
    if (status != MK_STATUS_OK) return status;
    double* total = job.w.totals;
    const size_t rows = dbias != NULL ? T + 1 : T;
    for (size_t i = 0; i < rows * C; i++) total[i] = 0.0;
    for (size_t k = 0; k < plan->chunks; k++) {
        const float* part = job.w.parts + k * (T + 1) * C;
        for (size_t i = 0; i < rows * C; i++) total[i] += (double)part[i];
    }
    for (size_t c = 0; c < C; c++) {
        for (size_t t = 0; t < T; t++) dweight[c * T + t] = (float)total[t * C + c];
        if (dbias != NULL) dbias[c] = (float)total[T * C + c];
    }
    return MK_STATUS_OK;
}

mk_variant mk_dwconv2d_backward_f32_variant(const mk_dwconv2d_backward_f32_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

void mk_dwconv2d_backward_f32_destroy(mk_dwconv2d_backward_f32_op* op) {
    if (op == NULL) return;
    mk_aligned_free(op->packed);
    free(op);
}
