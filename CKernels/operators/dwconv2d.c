// Operator: depthwise 2D convolution (create / output_size / run / destroy).
//
// Work split: 2D tiles over (batch x output rows) x (channel tiles). For 3x3 and 5x5 kernels each
// (output row, channel tile) is one call of a row microkernel, which handles the left and right
// border pixels itself; padding rows point that kernel row at a zero buffer with step 0, so no
// pixel branches on padding. Other kernels (and inputs narrower than the kernel) go to the generic
// microkernel, one pixel at a time, with one input pointer per tap (the zero buffer for padding).
#include "conv2d_internal.h"

#include <stdlib.h>
#include <string.h>

#define MK_DW_MAX_KERNEL 11

struct mk_dwconv2d_f32_op {
    mk_dwconv2d_params p;
    mk_variant variant;
    size_t tile;          // channels per packed tile (T)
    size_t tiles;         // ceil(channels / T)
    size_t tile_floats;   // (1 + taps) * T
    float* packed;        // tiles x tile_floats, 64-byte aligned
    float* zeros;         // tiles * T zeros: the input of padding taps
    mk_epilogue epilogue;
    mk_f32_dwconv_row_ukernel_fn row;  // NULL when no row microkernel fits
    mk_f32_dwconv_pixel_ukernel_fn pixel;
};

mk_status mk_dwconv2d_validate_params(const mk_dwconv2d_params* p) {
    if (p->channels == 0 || p->kernel_h == 0 || p->kernel_w == 0 || p->stride_h == 0 ||
        p->stride_w == 0 || p->dilation_h == 0 || p->dilation_w == 0) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (p->kernel_h > MK_DW_MAX_KERNEL || p->kernel_w > MK_DW_MAX_KERNEL) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (p->channels > MK_MAX_ELEMENTS / 128 || p->dilation_h > 1u << 20 ||
        p->dilation_w > 1u << 20 || p->stride_h > 1u << 20 || p->stride_w > 1u << 20) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    // Padding must leave every output pixel at least one real tap: pad < dilated kernel extent.
    size_t extent_h = p->dilation_h * (p->kernel_h - 1) + 1;
    size_t extent_w = p->dilation_w * (p->kernel_w - 1) + 1;
    if (p->pad_top >= extent_h || p->pad_bottom >= extent_h || p->pad_left >= extent_w ||
        p->pad_right >= extent_w) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    return mk_activation_validate(p->activation);
}

// The one place that says which depthwise convolutions a variant runs: valid parameters, and a
// variant with f32_dwconv microkernels that the CPU runs.
static mk_status mk_dwconv2d_resolve(const mk_dwconv2d_params* params, mk_variant variant,
                                     mk_variant* resolved) {
    const mk_status status = mk_dwconv2d_validate_params(params);
    if (status != MK_STATUS_OK) return status;
    return mk_family_resolve(MK_FAMILY_F32_DWCONV, variant, resolved);
}

mk_status mk_dwconv2d_f32_supports(const mk_dwconv2d_params* params, mk_variant variant) {
    if (params == NULL) return MK_STATUS_NULL_POINTER;
    mk_variant resolved;
    return mk_dwconv2d_resolve(params, variant, &resolved);
}

mk_status mk_dwconv2d_f32_create(const mk_dwconv2d_params* params, const float* weights,
                             const float* bias, mk_variant variant, mk_dwconv2d_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (params == NULL || weights == NULL) return MK_STATUS_NULL_POINTER;
    mk_variant resolved;
    mk_status status = mk_dwconv2d_resolve(params, variant, &resolved);
    if (status != MK_STATUS_OK) return status;

    const mk_f32_dwconv_config* config = mk_f32_dwconv_config_get(resolved);
    const size_t C = params->channels, T = config->tile;
    const size_t taps = params->kernel_h * params->kernel_w;
    mk_dwconv2d_f32_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    op->p = *params;
    op->variant = resolved;
    op->tile = T;
    op->tiles = (C + T - 1) / T;
    op->tile_floats = (1 + taps) * T;
    op->epilogue = mk_epilogue_from_activation(params->activation);
    op->pixel = config->pixel;
    if (params->kernel_h == params->kernel_w && params->dilation_h == 1 &&
        params->dilation_w == 1 && (params->kernel_h == 3 || params->kernel_h == 5) &&
        params->stride_w <= 2) {
        op->row = config->row[params->kernel_h == 5][params->stride_w - 1];
    }
    op->packed = mk_aligned_alloc(op->tiles * op->tile_floats * sizeof(float));
    op->zeros = mk_aligned_alloc(op->tiles * T * sizeof(float));
    if (op->packed == NULL || op->zeros == NULL) {
        mk_dwconv2d_f32_destroy(op);
        return MK_STATUS_OUT_OF_MEMORY;
    }
    memset(op->packed, 0, op->tiles * op->tile_floats * sizeof(float));
    memset(op->zeros, 0, op->tiles * T * sizeof(float));
    mk_dwconv2d_f32_set_weights(op, weights, bias);
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_dwconv2d_f32_set_weights(mk_dwconv2d_f32_op* op, const float* weights, const float* bias) {
    if (op == NULL || weights == NULL) return MK_STATUS_NULL_POINTER;
    const size_t C = op->p.channels, T = op->tile, taps = op->p.kernel_h * op->p.kernel_w;
    for (size_t c = 0; c < C; c++) {
        float* tile = op->packed + (c / T) * op->tile_floats;
        const size_t lane = c % T;
        tile[lane] = bias ? bias[c] : 0.0f;
        for (size_t t = 0; t < taps; t++) tile[(1 + t) * T + lane] = weights[c * taps + t];
    }
    return MK_STATUS_OK;
}

mk_status mk_dwconv2d_f32_output_size(const mk_dwconv2d_f32_op* op, size_t in_h, size_t in_w,
                                  size_t* out_h, size_t* out_w) {
    if (op == NULL || out_h == NULL || out_w == NULL) return MK_STATUS_NULL_POINTER;
    if (in_h > MK_MAX_ELEMENTS || in_w > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    const mk_dwconv2d_params* p = &op->p;
    if (!mk_window_out_size(in_h, p->pad_top, p->pad_bottom, p->kernel_h, p->dilation_h, p->stride_h,
                        out_h) ||
        !mk_window_out_size(in_w, p->pad_left, p->pad_right, p->kernel_w, p->dilation_w, p->stride_w,
                        out_w)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    return MK_STATUS_OK;
}

typedef struct {
    const mk_dwconv2d_f32_op* op;
    size_t in_h, in_w, out_h, out_w;
    const float* input;
    size_t in_stride;  // floats between input pixels
    float* output;
    size_t out_stride;
    bool use_row;  // row microkernel for every row
    size_t in_row_first;   // image row of `input`'s first row (a band; 0 for whole images)
    size_t out_row_first;  // image row of `output`'s first row and of task row 0
} mk_dwconv_job;

// Pixel 0 of input row iy of image n (a row inside the job's band).
static inline const float* mk_dw_input_row(const mk_dwconv_job* job, size_t n, size_t iy) {
    return job->input + (n * job->in_h + iy - job->in_row_first) * job->in_w * job->in_stride;
}

// Output pixels [ox0, ox1) of one row through the generic microkernel, channel tiles [t0, t1).
static void mk_dw_pixels(const mk_dwconv_job* job, size_t n, size_t oy, size_t ox0, size_t ox1,
                         size_t t0, size_t t1) {
    const mk_dwconv2d_f32_op* op = job->op;
    const mk_dwconv2d_params* p = &op->p;
    const float* inputs[MK_DW_MAX_KERNEL * MK_DW_MAX_KERNEL];
    const size_t c0 = t0 * op->tile;
    const size_t c1 = t1 * op->tile < p->channels ? t1 * op->tile : p->channels;
    for (size_t ox = ox0; ox < ox1; ox++) {
        size_t t = 0;
        for (size_t ky = 0; ky < p->kernel_h; ky++) {
            // iy = oy * stride - pad + ky * dilation, in size_t: "negative" wraps above in_h.
            const size_t iy = oy * p->stride_h + ky * p->dilation_h - p->pad_top;
            for (size_t kx = 0; kx < p->kernel_w; kx++, t++) {
                const size_t ix = ox * p->stride_w + kx * p->dilation_w - p->pad_left;
                inputs[t] = (iy < job->in_h && ix < job->in_w)
                                ? mk_dw_input_row(job, n, iy) + ix * job->in_stride + c0
                                : op->zeros;
            }
        }
        float* out = job->output +
                     ((n * job->out_h + oy - job->out_row_first) * job->out_w + ox) * job->out_stride + c0;
        op->pixel(c1 - c0, t, inputs, op->packed + t0 * op->tile_floats, out, &op->epilogue);
    }
}

static void mk_dwconv_task(void* context, size_t thread, size_t i0, size_t t0, size_t rows,
                           size_t tiles) {
    (void)thread;
    const mk_dwconv_job* job = context;
    const mk_dwconv2d_f32_op* op = job->op;
    const mk_dwconv2d_params* p = &op->p;
    const size_t T = op->tile;
    // Task row i is output row out_row_first + i of the batch's (n * out_h + oy) rows.
    if (!job->use_row) {
        for (size_t i = i0 + job->out_row_first; i < i0 + job->out_row_first + rows; i++) {
            mk_dw_pixels(job, i / job->out_h, i % job->out_h, 0, job->out_w, t0, t0 + tiles);
        }
        return;
    }
    const size_t K = p->kernel_h;
    // Tile-outer, rows-inner, so a tile's input rows stay in L1 from one output row to the next.
    for (size_t t = t0; t < t0 + tiles; t++) {
        const size_t c = t * T;
        const size_t nc = p->channels - c < T ? p->channels - c : T;
        const float* weights = op->packed + t * op->tile_floats;
        for (size_t i = i0 + job->out_row_first; i < i0 + job->out_row_first + rows; i++) {
            const size_t n = i / job->out_h, oy = i % job->out_h;

            const float* row_ptr[5];
            size_t row_step[5];
            for (size_t ky = 0; ky < K; ky++) {
                const size_t iy = oy * p->stride_h + ky - p->pad_top;  // wraps when negative
                if (iy < job->in_h) {
                    row_ptr[ky] = mk_dw_input_row(job, n, iy) + c;
                    row_step[ky] = job->in_stride;
                } else {
                    row_ptr[ky] = op->zeros;
                    row_step[ky] = 0;
                }
            }
            float* out = job->output +
                         (n * job->out_h + oy - job->out_row_first) * job->out_w * job->out_stride + c;
            op->row(job->out_w, nc, row_ptr, row_step, job->in_w, p->pad_left, weights, out,
                    job->out_stride, &op->epilogue);
        }
    }
}

// Runs a job's `rows` output rows (from job->out_row_first) over the pool.
static mk_status mk_dwconv_dispatch(mk_dwconv_job* job_in, size_t rows, mk_threadpool* pool) {
    mk_dwconv_job job = *job_in;
    const mk_dwconv2d_f32_op* op = job.op;
    const mk_dwconv2d_params* p = &op->p;
    // The row microkernels need in_w >= K, so that no pixel is clipped on both sides.
    job.use_row = op->row != NULL && job.in_w >= p->kernel_w;
    // Tiles: up to 4 channel tiles (64 channels for AVX-512) by enough rows for ~16 tasks per
    // thread. Any split gives the same result: each output is computed whole by one task.
    const size_t threads = mk_threadpool_threads(pool);
    const size_t tile_j = op->tiles < 4 ? op->tiles : 4;
    const size_t tasks_j = (op->tiles + tile_j - 1) / tile_j;
    size_t tile_i = rows * tasks_j / (16 * threads);
    if (tile_i < 1) tile_i = 1;
    if (tile_i > 8) tile_i = 8;
    return mk_threadpool_parallelize_2d(pool, mk_dwconv_task, &job, rows, op->tiles, tile_i,
                                        tile_j);
}

mk_status mk_dwconv2d_f32_reshape(const mk_dwconv2d_f32_op* op, size_t batch, size_t in_h, size_t in_w,
                              size_t input_pixel_stride, size_t output_pixel_stride,
                              mk_threadpool* pool, mk_dwconv2d_f32_plan* plan) {
    (void)pool;
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const size_t C = op->p.channels;
    if (input_pixel_stride == 0) input_pixel_stride = C;
    if (output_pixel_stride == 0) output_pixel_stride = C;
    if (batch == 0 || input_pixel_stride < C || output_pixel_stride < C) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t out_h, out_w;
    mk_status status = mk_dwconv2d_f32_output_size(op, in_h, in_w, &out_h, &out_w);
    if (status != MK_STATUS_OK) return status;
    // Extents: (pixels - 1) * stride + C floats, each addressable.
    size_t in_pixels, out_pixels, in_extent, out_extent, rows;
    if (!mk_size_mul(batch, in_h, &in_pixels) || !mk_size_mul(in_pixels, in_w, &in_pixels) ||
        !mk_size_mul(batch, out_h, &rows) || !mk_size_mul(rows, out_w, &out_pixels) ||
        !mk_strided_extent(in_pixels, input_pixel_stride, C, &in_extent) ||
        !mk_strided_extent(out_pixels, output_pixel_stride, C, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    *plan = (mk_dwconv2d_f32_plan){batch, in_h, in_w, out_h, out_w, input_pixel_stride,
                               output_pixel_stride, op, rows, in_extent, out_extent};
    return MK_STATUS_OK;
}

mk_status mk_dwconv2d_f32_run(const mk_dwconv2d_f32_op* op, const mk_dwconv2d_f32_plan* plan,
                          const float* input, float* output, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    if (mk_buffers_overlap(input, plan->in_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_dwconv_job job = {op,     plan->in_h, plan->in_w, plan->out_h, plan->out_w, input,
                         plan->input_pixel_stride, output, plan->output_pixel_stride, false, 0, 0};
    return mk_dwconv_dispatch(&job, plan->rows, pool);
}

mk_status mk_dwconv2d_f32_input_rows(const mk_dwconv2d_f32_op* op, size_t in_h, size_t out_row_begin,
                                 size_t out_row_end, size_t* first_row, size_t* rows) {
    if (op == NULL || first_row == NULL || rows == NULL) return MK_STATUS_NULL_POINTER;
    const mk_dwconv2d_params* p = &op->p;
    size_t out_h;
    if (in_h > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    if (!mk_window_out_size(in_h, p->pad_top, p->pad_bottom, p->kernel_h, p->dilation_h, p->stride_h,
                            &out_h) ||
        out_row_begin >= out_row_end || out_row_end > out_h) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    // From the first output's top tap to the last one's bottom tap, clipped to the image (the
    // rest is padding); pad_top is subtracted last, so nothing goes below zero.
    const size_t top = out_row_begin * p->stride_h;
    const size_t bottom = (out_row_end - 1) * p->stride_h + (p->kernel_h - 1) * p->dilation_h;
    const size_t first = top > p->pad_top ? top - p->pad_top : 0;
    size_t last = bottom >= p->pad_top ? bottom - p->pad_top : 0;  // inclusive
    if (last >= in_h) last = in_h - 1;
    *first_row = first;
    *rows = last - first + 1;
    return MK_STATUS_OK;
}

mk_status mk_dwconv2d_f32_run_rows(const mk_dwconv2d_f32_op* op, size_t in_h, size_t in_w,
                               size_t in_row_first, size_t in_rows, const float* input,
                               size_t input_pixel_stride, size_t out_row_begin,
                               size_t out_row_end, float* output, size_t output_pixel_stride,
                               mk_threadpool* pool) {
    if (op == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    const mk_dwconv2d_params* p = &op->p;
    const size_t C = p->channels;
    if (input_pixel_stride == 0) input_pixel_stride = C;
    if (output_pixel_stride == 0) output_pixel_stride = C;
    if (input_pixel_stride < C || output_pixel_stride < C) return MK_STATUS_INVALID_ARGUMENT;
    size_t out_h, out_w, need_first, need_rows;
    mk_status status = mk_dwconv2d_f32_output_size(op, in_h, in_w, &out_h, &out_w);
    if (status != MK_STATUS_OK) return status;
    status = mk_dwconv2d_f32_input_rows(op, in_h, out_row_begin, out_row_end, &need_first, &need_rows);
    if (status != MK_STATUS_OK) return status;
    if (in_rows == 0 || in_row_first >= in_h || in_rows > in_h - in_row_first ||
        need_first < in_row_first || need_first + need_rows > in_row_first + in_rows) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t in_pixels, out_pixels, in_extent, out_extent;
    if (!mk_size_mul(in_rows, in_w, &in_pixels) || !mk_size_mul(out_row_end - out_row_begin, out_w, &out_pixels) ||
        !mk_strided_extent(in_pixels, input_pixel_stride, C, &in_extent) ||
        !mk_strided_extent(out_pixels, output_pixel_stride, C, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    if (mk_buffers_overlap(input, in_extent, output, out_extent)) return MK_STATUS_INVALID_ARGUMENT;
    mk_dwconv_job job = {op,     in_h,   in_w, out_h, out_w, input, input_pixel_stride,
                         output, output_pixel_stride, false, in_row_first, out_row_begin};
    return mk_dwconv_dispatch(&job, out_row_end - out_row_begin, pool);
}

mk_variant mk_dwconv2d_f32_variant(const mk_dwconv2d_f32_op* op) { return op ? op->variant : MK_VARIANT_AUTO; }

size_t mk_dwconv2d_f32_weight_bytes(const mk_dwconv2d_f32_op* op) {
    return op ? (op->tiles * op->tile_floats + op->tiles * op->tile) * sizeof(float) : 0;
}

bool mk_dwconv2d_f32_is_specialized(const mk_dwconv2d_f32_op* op) { return op && op->row != NULL; }

void mk_dwconv2d_f32_destroy(mk_dwconv2d_f32_op* op) {
    if (op == NULL) return;
    mk_aligned_free(op->packed);
    mk_aligned_free(op->zeros);
    free(op);
}
