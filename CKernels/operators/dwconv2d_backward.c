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
// Weight-gradient tasks split the channels too (a multiple of every vector width), so layers
// with few pixels still spread over threads; channels are independent, so this changes no bit.
#define MK_DWGRAD_CHANNEL_TILE 256

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
    // zeros [C] | per-thread indirection [threads][chunk_rows * out_w * taps] | chunk sums [chunks][taps + 1][C]
    // | float64 totals [taps + 1][C]. Bounded: the chunk sums are at most (taps + 1) / 1024 of
    // the output's pixels times C, the indirection taps pointers per output column.
    const size_t T = op->taps;
    if (out_w > MK_MAX_ELEMENTS / T / threads / chunk_rows || chunks > MK_MAX_ELEMENTS / (T + 1) / C) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    const size_t bytes = mk_round64(C * sizeof(float)) +
                         mk_round64(threads * chunk_rows * out_w * T * sizeof(const float*)) +
                         mk_round64(chunks * (T + 1) * C * sizeof(float)) +
                         mk_round64((T + 1) * C * sizeof(double));
    *plan = (mk_dwconv2d_backward_f32_plan){batch, in_h, in_w, out_h, out_w, input_pixel_stride,
                                            output_pixel_stride, bytes, NULL, op, threads,
                                            chunk_rows, chunks, in_extent, out_extent};
    return MK_STATUS_OK;
}

typedef struct {
    float* zeros;
    const float** indirection;  // [threads][chunk_rows * out_w * taps]
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
    m += mk_round64(plan->threads * plan->chunk_rows * plan->out_w * T * sizeof(const float*));
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
        // Strides 1 and 2 (every network's) without a division: this runs per input pixel.
        size_t o;
        if (stride == 1) {
            o = t;
        } else if (stride == 2) {
            if (t & 1) continue;
            o = t >> 1;
        } else {
            if (t % stride != 0) continue;
            o = t / stride;
        }
        if (o >= out) continue;
        k_out[n] = k;
        o_out[n] = o;
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
    const size_t in_h = plan->in_h, in_w = plan->in_w, out_h = plan->out_h, out_w = plan->out_w;
    const size_t xs = plan->input_pixel_stride, ys = plan->output_pixel_stride;
    const float* const dy = job->dy;
    const float* const packed = job->op->packed;
    float* const dx = job->dx;
    const mk_f32_dwgrad_dx_ukernel_fn ukernel = job->op->kernels->dx;
    const float* dy_ptrs[MK_DWGRAD_MAX_TAPS];
    const float* w_ptrs[MK_DWGRAD_MAX_TAPS];
    size_t ky[11], oy[11], kx[11], ox[11];
    for (size_t row = start; row < start + count; row++) {
        const size_t n = row / in_h, iy = row % in_h;
        const size_t rows = mk_dwgrad_axis(iy, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top,
                                           out_h, ky, oy);
        const float* dy_rows[11];
        for (size_t a = 0; a < rows; a++) dy_rows[a] = dy + (n * out_h + oy[a]) * out_w * ys;
        for (size_t ix = 0; ix < in_w; ix++) {
            const size_t cols = mk_dwgrad_axis(ix, kw, p->stride_w, p->dilation_w, p->pad_left,
                                               out_w, kx, ox);
            size_t taps = 0;
            for (size_t a = 0; a < rows; a++) {
                for (size_t b = 0; b < cols; b++) {
                    dy_ptrs[taps] = dy_rows[a] + ox[b] * ys;
                    w_ptrs[taps] = packed + (ky[a] * kw + kx[b]) * C;
                    taps++;
                }
            }
            ukernel(C, taps, dy_ptrs, w_ptrs, dx + (row * in_w + ix) * xs);
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

// A task: chunk `k` (output rows [k * chunk_rows, ...)) for channels [c0, c0 + ct): the
// chunk's indirection (every pixel's taps; a chunk's output pixels are consecutive in dy), then
// one microkernel call over all of its pixels.
static void mk_dwgrad_dw_task(void* context, size_t thread, size_t chunk, size_t c0,
                              size_t chunk_count, size_t ct) {
    const mk_dwgrad_dw_job* job = context;
    const mk_dwconv2d_backward_f32_plan* plan = job->plan;
    const mk_dwconv2d_params* p = &job->op->p;
    // Everything in locals: the indirection stores would otherwise make the compiler reload
    // the job's pointers after each one.
    const size_t C = p->channels, T = job->op->taps, kh = p->kernel_h, kw = p->kernel_w;
    const size_t out_w = plan->out_w, out_h = plan->out_h, in_h = plan->in_h, in_w = plan->in_w;
    const size_t xs = plan->input_pixel_stride, ys = plan->output_pixel_stride;
    const size_t sh = p->stride_h, sw = p->stride_w, dh = p->dilation_h, dw = p->dilation_w;
    const size_t pt = p->pad_top, pl = p->pad_left;
    const float* const x = job->x;
    const float* const dy = job->dy;
    const float* const zeros = job->w.zeros;
    const mk_f32_dwgrad_dw_ukernel_fn ukernel = job->op->kernels->dw;
    const float** const ind = job->w.indirection + thread * plan->chunk_rows * out_w * T;
    const size_t rows = plan->batch * out_h;
    const float* row_ptr[11];
    for (size_t k = chunk; k < chunk + chunk_count; k++) {
        float* acc = job->w.parts + k * (T + 1) * C;
        for (size_t t = 0; t <= T; t++) memset(acc + t * C + c0, 0, ct * sizeof(float));
        const size_t first = k * plan->chunk_rows;
        const size_t last = first + plan->chunk_rows < rows ? first + plan->chunk_rows : rows;
        const float** tap = ind;
        for (size_t row = first; row < last; row++) {
            const size_t n = row / out_h, oy = row % out_h;
            // The input row of each kernel row (iy = oy * stride - pad + ky * dilation), or NULL
            // for padding.
            for (size_t ky = 0; ky < kh; ky++) {
                const size_t iy = oy * sh + ky * dh;
                row_ptr[ky] = iy >= pt && iy - pt < in_h ? x + (n * in_h + iy - pt) * in_w * xs : NULL;
            }
            for (size_t ox = 0; ox < out_w; ox++, tap += T) {
                for (size_t kx = 0; kx < kw; kx++) {
                    const size_t ix = ox * sw + kx * dw;
                    const bool col_ok = ix >= pl && ix - pl < in_w;
                    const size_t offset = col_ok ? (ix - pl) * xs : 0;
                    for (size_t ky = 0; ky < kh; ky++) {
                        tap[ky * kw + kx] = col_ok && row_ptr[ky] != NULL ? row_ptr[ky] + offset : zeros;
                    }
                }
            }
        }
        ukernel((last - first) * out_w, ct, T, ind, c0, dy + first * out_w * ys + c0, ys, acc + c0, C,
                job->bias ? acc + T * C + c0 : NULL);
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
    status = mk_threadpool_parallelize_2d(pool, mk_dwgrad_dw_task, &job, plan->chunks, C, 1,
                                          MK_DWGRAD_CHANNEL_TILE);
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
