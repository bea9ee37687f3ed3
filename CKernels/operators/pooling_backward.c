// Operator: pooling backward (mk_training.h). Max pooling's training forward saves the index of
// each maximum; every input gradient is a gather over the outputs whose window holds the pixel,
// in ascending output order, so there are no scattered writes (no races between threads, which
// split input rows) and the sums are the reference's, bit for bit.
#include "../configs/configs.h"
#include "../include/mk_training.h"

#include <stdlib.h>

// Windows holding one input coordinate, per axis.
#define MK_POOLGRAD_MAX_AXIS 32

typedef enum { MK_PG_MAX, MK_PG_AVG, MK_PG_ADAPTIVE } mk_pg_mode;

struct mk_pool2d_backward_f32_op {
    mk_pg_mode mode;
    mk_pool2d_params p;  // fixed windows (max, average)
    size_t channels;
    size_t adaptive_h, adaptive_w;
    mk_variant variant;
    const mk_poolgrad_kernels* kernels;
};

static mk_status mk_pg_create(mk_pg_mode mode, const mk_pool2d_params* params, size_t channels,
                              size_t out_h, size_t out_w, mk_variant variant,
                              mk_pool2d_backward_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (channels == 0) return MK_STATUS_INVALID_ARGUMENT;
    if (channels > MK_MAX_ELEMENTS / 64) return MK_STATUS_SIZE_OVERFLOW;
    if (mode != MK_PG_ADAPTIVE) {
        if (params == NULL) return MK_STATUS_NULL_POINTER;
        const mk_pool2d_params* p = params;
        if (p->kernel_h == 0 || p->kernel_w == 0 || p->stride_h == 0 || p->stride_w == 0 ||
            p->pad_top >= p->kernel_h || p->pad_bottom >= p->kernel_h ||
            p->pad_left >= p->kernel_w || p->pad_right >= p->kernel_w ||
            p->activation.kind != MK_ACTIVATION_NONE) {
            return MK_STATUS_INVALID_ARGUMENT;
        }
        if ((p->kernel_h + p->stride_h - 1) / p->stride_h > MK_POOLGRAD_MAX_AXIS ||
            (p->kernel_w + p->stride_w - 1) / p->stride_w > MK_POOLGRAD_MAX_AXIS) {
            return MK_STATUS_INVALID_ARGUMENT;
        }
    } else if (out_h == 0 || out_w == 0) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_variant resolved;
    mk_status status = mk_family_resolve(MK_FAMILY_F32_POOLGRAD, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    mk_pool2d_backward_f32_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    op->mode = mode;
    if (params != NULL) op->p = *params;
    op->channels = channels;
    op->adaptive_h = out_h;
    op->adaptive_w = out_w;
    op->variant = resolved;
    op->kernels = mk_f32_poolgrad_config_get(resolved);
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_max_pool2d_backward_f32_create(const mk_pool2d_params* params, size_t channels,
                                            mk_variant variant,
                                            mk_pool2d_backward_f32_op** op_out) {
    return mk_pg_create(MK_PG_MAX, params, channels, 0, 0, variant, op_out);
}

mk_status mk_avg_pool2d_backward_f32_create(const mk_pool2d_params* params, size_t channels,
                                            mk_variant variant,
                                            mk_pool2d_backward_f32_op** op_out) {
    return mk_pg_create(MK_PG_AVG, params, channels, 0, 0, variant, op_out);
}

mk_status mk_adaptive_avg_pool2d_backward_f32_create(size_t channels, size_t out_h, size_t out_w,
                                                     mk_variant variant,
                                                     mk_pool2d_backward_f32_op** op_out) {
    return mk_pg_create(MK_PG_ADAPTIVE, NULL, channels, out_h, out_w, variant, op_out);
}

mk_status mk_pool2d_backward_f32_reshape(const mk_pool2d_backward_f32_op* op, size_t batch,
                                         size_t in_h, size_t in_w, size_t input_pixel_stride,
                                         size_t output_pixel_stride, mk_threadpool* pool,
                                         mk_pool2d_backward_f32_plan* plan) {
    (void)pool;
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const size_t C = op->channels;
    if (input_pixel_stride == 0) input_pixel_stride = C;
    if (output_pixel_stride == 0) output_pixel_stride = C;
    if (batch == 0 || input_pixel_stride < C || output_pixel_stride < C) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t out_h, out_w;
    if (op->mode == MK_PG_ADAPTIVE) {
        if (in_h == 0 || in_w == 0) return MK_STATUS_INVALID_ARGUMENT;
        out_h = op->adaptive_h;
        out_w = op->adaptive_w;
        // A coordinate lies in at most ceil(out / in) + 1 adaptive windows.
        if ((out_h + in_h - 1) / in_h + 1 > MK_POOLGRAD_MAX_AXIS ||
            (out_w + in_w - 1) / in_w + 1 > MK_POOLGRAD_MAX_AXIS) {
            return MK_STATUS_INVALID_ARGUMENT;
        }
    } else {
        mk_status status = mk_pool2d_output_size(&op->p, in_h, in_w, &out_h, &out_w);
        if (status != MK_STATUS_OK) return status;
    }
    size_t in_pixels, out_pixels, in_extent, out_extent;
    if (!mk_size_mul(batch, in_h, &in_pixels) || !mk_size_mul(in_pixels, in_w, &in_pixels) ||
        !mk_size_mul(batch, out_h, &out_pixels) || !mk_size_mul(out_pixels, out_w, &out_pixels) ||
        !mk_strided_extent(in_pixels, input_pixel_stride, C, &in_extent) ||
        !mk_strided_extent(out_pixels, output_pixel_stride, C, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    *plan = (mk_pool2d_backward_f32_plan){batch, in_h, in_w, out_h, out_w, input_pixel_stride,
                                          output_pixel_stride, op, in_extent, out_extent};
    return MK_STATUS_OK;
}

// Output o's window along one axis: [lo, hi) (as the forward pooling computes it).
static void mk_pg_window(const mk_pool2d_backward_f32_op* op, bool vertical, size_t o, size_t in,
                         size_t out, size_t* lo, size_t* hi) {
    if (op->mode == MK_PG_ADAPTIVE) {
        *lo = o * in / out;
        *hi = ((o + 1) * in + out - 1) / out;
        return;
    }
    const size_t kernel = vertical ? op->p.kernel_h : op->p.kernel_w;
    const size_t stride = vertical ? op->p.stride_h : op->p.stride_w;
    const size_t pad = vertical ? op->p.pad_top : op->p.pad_left;
    const size_t start = o * stride;
    *lo = start > pad ? start - pad : 0;
    const size_t end = start + kernel - pad;
    *hi = end < in ? end : in;
}

// The outputs whose window holds input coordinate i, ascending, with their window sizes.
static size_t mk_pg_axis(const mk_pool2d_backward_f32_op* op, bool vertical, size_t i, size_t in,
                         size_t out, size_t* outs, size_t* sizes) {
    size_t first = 0, last = out;  // candidates [first, last)
    if (op->mode != MK_PG_ADAPTIVE) {
        const size_t kernel = vertical ? op->p.kernel_h : op->p.kernel_w;
        const size_t stride = vertical ? op->p.stride_h : op->p.stride_w;
        const size_t pad = vertical ? op->p.pad_top : op->p.pad_left;
        // o * stride - pad <= i < o * stride - pad + kernel
        const size_t shifted = i + pad;
        first = shifted + 1 > kernel ? (shifted + 1 - kernel + stride - 1) / stride : 0;
        last = shifted / stride + 1 < out ? shifted / stride + 1 : out;
    } else {
        // Window o starts at floor(o * in / out) <= i: o <= i * out / in (about); search near it.
        first = i * out / in;
        first = first > 1 ? first - 1 : 0;
        size_t stop = (i + 1) * out / in + 2;
        last = stop < out ? stop : out;
    }
    size_t n = 0;
    for (size_t o = first; o < last; o++) {
        size_t lo, hi;
        mk_pg_window(op, vertical, o, in, out, &lo, &hi);
        if (lo <= i && i < hi && n < MK_POOLGRAD_MAX_AXIS) {
            outs[n] = o;
            sizes[n] = hi - lo;
            n++;
        }
    }
    return n;
}

typedef struct {
    const mk_pool2d_backward_f32_op* op;
    const mk_pool2d_backward_f32_plan* plan;
    const float* x;
    float* y;
    int32_t* indices;
    const float* dy;
    const int32_t* cindices;
    float* dx;
} mk_pg_job;

static void mk_pg_argmax_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_pg_job* job = context;
    const mk_pool2d_backward_f32_plan* plan = job->plan;
    const size_t C = job->op->channels, in_w = plan->in_w, xs = plan->input_pixel_stride;
    for (size_t row = start; row < start + count; row++) {
        const size_t n = row / plan->out_h, oy = row % plan->out_h;
        size_t y0, y1;
        mk_pg_window(job->op, true, oy, plan->in_h, plan->out_h, &y0, &y1);
        const float* image = job->x + n * plan->in_h * in_w * xs;
        for (size_t ox = 0; ox < plan->out_w; ox++) {
            size_t x0, x1;
            mk_pg_window(job->op, false, ox, in_w, plan->out_w, &x0, &x1);
            const size_t o = row * plan->out_w + ox;
            job->op->kernels->argmax(y1 - y0, x1 - x0, image + (y0 * in_w + x0) * xs, in_w * xs, xs, C,
                                     job->y + o * plan->output_pixel_stride, job->indices + o * C,
                                     (int32_t)(y0 * in_w + x0), (int32_t)in_w);
        }
    }
}

mk_status mk_max_pool2d_f32_forward_indices(const mk_pool2d_backward_f32_op* op,
                                            const mk_pool2d_backward_f32_plan* plan,
                                            const float* x, float* y, int32_t* indices,
                                            mk_threadpool* pool) {
    if (op == NULL || plan == NULL || x == NULL || y == NULL || indices == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    if (plan->op != op || op->mode != MK_PG_MAX) return MK_STATUS_INVALID_ARGUMENT;
    if (plan->in_h > INT32_MAX / plan->in_w) return MK_STATUS_INVALID_ARGUMENT;
    if (mk_buffers_overlap(x, plan->in_extent, y, plan->out_extent)) return MK_STATUS_INVALID_ARGUMENT;
    mk_pg_job job = {op, plan, x, y, indices, NULL, NULL, NULL};
    return mk_threadpool_parallelize_1d(pool, mk_pg_argmax_task, &job, plan->batch * plan->out_h, 1);
}

// Columns whose window lists are computed once per task (the windows holding a coordinate are
// consecutive outputs, so a list is its first output and count); wider images recompute them
// per pixel.
#define MK_POOLGRAD_COLUMN_CACHE 1024

static void mk_pg_gather_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_pg_job* job = context;
    const mk_pool2d_backward_f32_op* op = job->op;
    const mk_pool2d_backward_f32_plan* plan = job->plan;
    const size_t C = op->channels, in_h = plan->in_h, in_w = plan->in_w;
    const size_t out_h = plan->out_h, out_w = plan->out_w, ys = plan->output_pixel_stride;
    const size_t xs = plan->input_pixel_stride;
    const bool max = op->mode == MK_PG_MAX;
    const bool fixed_divisor = op->mode == MK_PG_AVG && op->p.count_include_pad;
    const float kernel_area = (float)(op->p.kernel_h * op->p.kernel_w);
    const float* const dy = job->dy;
    const int32_t* const indices = job->cindices;
    float* const dx = job->dx;
    size_t oy[MK_POOLGRAD_MAX_AXIS], hy[MK_POOLGRAD_MAX_AXIS];
    size_t ox[MK_POOLGRAD_MAX_AXIS], wx[MK_POOLGRAD_MAX_AXIS];
    const float* dys[MK_POOLGRAD_MAX_AXIS * MK_POOLGRAD_MAX_AXIS];
    const int32_t* idx[MK_POOLGRAD_MAX_AXIS * MK_POOLGRAD_MAX_AXIS];
    float divisors[MK_POOLGRAD_MAX_AXIS * MK_POOLGRAD_MAX_AXIS];
    uint32_t col_first[MK_POOLGRAD_COLUMN_CACHE];
    uint8_t col_count[MK_POOLGRAD_COLUMN_CACHE];
    uint32_t col_size[MK_POOLGRAD_COLUMN_CACHE];
    const bool cached = in_w <= MK_POOLGRAD_COLUMN_CACHE && out_w <= MK_POOLGRAD_COLUMN_CACHE;
    if (cached) {
        for (size_t ix = 0; ix < in_w; ix++) {
            const size_t cols = mk_pg_axis(op, false, ix, in_w, out_w, ox, wx);
            col_first[ix] = cols > 0 ? (uint32_t)ox[0] : 0;
            col_count[ix] = (uint8_t)cols;
            for (size_t b = 0; b < cols; b++) col_size[ox[b]] = (uint32_t)wx[b];
        }
    }
    for (size_t row = start; row < start + count; row++) {
        const size_t n = row / in_h, iy = row % in_h;
        const size_t rows = mk_pg_axis(op, true, iy, in_h, out_h, oy, hy);
        for (size_t ix = 0; ix < in_w; ix++) {
            size_t cols;
            if (cached) {
                cols = col_count[ix];
                for (size_t b = 0; b < cols; b++) {
                    ox[b] = col_first[ix] + b;
                    wx[b] = col_size[ox[b]];
                }
            } else {
                cols = mk_pg_axis(op, false, ix, in_w, out_w, ox, wx);
            }
            size_t w = 0;
            for (size_t a = 0; a < rows; a++) {
                const size_t o_row = (n * out_h + oy[a]) * out_w;
                for (size_t b = 0; b < cols; b++, w++) {
                    const size_t o = o_row + ox[b];
                    dys[w] = dy + o * ys;
                    if (max) {
                        idx[w] = indices + o * C;
                    } else {
                        divisors[w] = fixed_divisor ? kernel_area : (float)(hy[a] * wx[b]);
                    }
                }
            }
            float* out = dx + (row * in_w + ix) * xs;
            if (max) {
                op->kernels->gather_max(C, w, dys, idx, (int32_t)(iy * in_w + ix), out);
            } else {
                op->kernels->gather_avg(C, w, dys, divisors, out);
            }
        }
    }
}

mk_status mk_pool2d_backward_f32_run(const mk_pool2d_backward_f32_op* op,
                                     const mk_pool2d_backward_f32_plan* plan, const float* dy,
                                     const int32_t* indices, float* dx, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || dy == NULL || dx == NULL) return MK_STATUS_NULL_POINTER;
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    if (op->mode == MK_PG_MAX && indices == NULL) return MK_STATUS_NULL_POINTER;
    if (mk_buffers_overlap(dy, plan->out_extent, dx, plan->in_extent)) return MK_STATUS_INVALID_ARGUMENT;
    mk_pg_job job = {op, plan, NULL, NULL, NULL, dy, indices, dx};
    // Tiles of 8 input rows amortize each task's column lists.
    return mk_threadpool_parallelize_1d(pool, mk_pg_gather_task, &job, plan->batch * plan->in_h, 8);
}

mk_variant mk_pool2d_backward_f32_variant(const mk_pool2d_backward_f32_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

void mk_pool2d_backward_f32_destroy(mk_pool2d_backward_f32_op* op) { free(op); }
