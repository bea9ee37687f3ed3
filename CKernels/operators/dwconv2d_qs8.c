// Operator: int8 depthwise 2D convolution (create / reshape / run / destroy). One microkernel
// call per output pixel covers all its channels (qs8_dwconv family), with one input pointer per
// tap: interior windows are a base pointer plus the plan's tap offsets, taps in the padding point
// at a row of the input's zero point. Threads split output rows; every output is computed whole
// by one call, so the result does not depend on the split.
#include "conv2d_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MK_QS8_DW_MAX_TAPS 121

struct mk_dwconv2d_qs8_op {
    mk_dwconv2d_qs8_params p;
    mk_variant variant;
    const mk_qs8_dwconv_kernel* kernel;
    size_t taps, blocks, block_bytes;
    int8_t* packed;  // blocks x [ceil(taps / 2)][T][2] (int16 where the kernel has wide_index)
    int32_t* bias;   // blocks * T: bias - input_zero_point * sum_t w
    float* scale;    // blocks * T
    int8_t* zeros;   // channels bytes of the input zero point
    float lo, hi;
};

static mk_status mk_dwq_resolve(const mk_dwconv2d_qs8_params* params, mk_variant variant,
                                mk_variant* resolved) {
    if (params == NULL) return MK_STATUS_NULL_POINTER;
    mk_status status = mk_dwconv2d_validate_params(&params->dw);
    if (status != MK_STATUS_OK) return status;
    if (!mk_qs8_quantization_valid(params->input) || !mk_qs8_quantization_valid(params->output)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (!mk_qs8_activation_supported(params->dw.activation)) return MK_STATUS_UNSUPPORTED;
    status = mk_family_resolve(MK_FAMILY_QS8_DWCONV, variant, resolved);
    if (status != MK_STATUS_OK) return status;
    return mk_qs8_dwconv_config_get(*resolved) != NULL ? MK_STATUS_OK : MK_STATUS_UNSUPPORTED;
}

mk_status mk_dwconv2d_qs8_supports(const mk_dwconv2d_qs8_params* params, mk_variant variant) {
    mk_variant resolved;
    return mk_dwq_resolve(params, variant, &resolved);
}

mk_status mk_dwconv2d_qs8_create(const mk_dwconv2d_qs8_params* params, const int8_t* weights,
                                 const float* weight_scales, const int32_t* bias,
                                 mk_variant variant, mk_dwconv2d_qs8_op** op_out) {
    if (params == NULL || weights == NULL || weight_scales == NULL || op_out == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    *op_out = NULL;
    mk_variant resolved;
    const mk_status status = mk_dwq_resolve(params, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    const size_t C = params->dw.channels, taps = params->dw.kernel_h * params->dw.kernel_w;
    for (size_t i = 0; i < C * taps; i++) {
        if (weights[i] == -128) return MK_STATUS_INVALID_ARGUMENT;
    }
    for (size_t c = 0; c < C; c++) {
        if (!isfinite(weight_scales[c]) || !(weight_scales[c] > 0.0f)) return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_dwconv2d_qs8_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    op->p = *params;
    op->variant = resolved;
    op->kernel = mk_qs8_dwconv_config_get(resolved);
    const size_t T = op->kernel->tile, pairs = (taps + 1) / 2;
    op->taps = taps;
    op->blocks = (C + T - 1) / T;
    op->block_bytes = pairs * T * 2 * (op->kernel->wide_index != NULL ? sizeof(int16_t) : 1);
    op->packed = mk_aligned_alloc(op->blocks * op->block_bytes);
    op->bias = mk_aligned_alloc(op->blocks * T * sizeof(int32_t));
    op->scale = mk_aligned_alloc(op->blocks * T * sizeof(float));
    op->zeros = mk_aligned_alloc(C);
    if (op->packed == NULL || op->bias == NULL || op->scale == NULL || op->zeros == NULL) {
        mk_dwconv2d_qs8_destroy(op);
        return MK_STATUS_OUT_OF_MEMORY;
    }
    memset(op->zeros, params->input.zero_point, C);
    memset(op->packed, 0, op->blocks * op->block_bytes);
    const int32_t zp = params->input.zero_point;
    for (size_t c = 0; c < op->blocks * T; c++) {
        op->bias[c] = 0;
        op->scale[c] = 0.0f;
        if (c >= C) continue;
        int8_t* block = op->packed + (c / T) * op->block_bytes;
        int32_t sum = 0;
        for (size_t t = 0; t < taps; t++) {
            const int8_t v = weights[c * taps + t];
            if (op->kernel->wide_index != NULL) {
                ((int16_t*)block)[op->kernel->wide_index(t / 2, t % 2, c % T)] = v;
            } else {
                block[((t / 2) * T + c % T) * 2 + t % 2] = v;
            }
            sum += v;
        }
        const uint32_t b = bias != NULL ? (uint32_t)bias[c] : 0u;
        op->bias[c] = (int32_t)(b - (uint32_t)zp * (uint32_t)sum);
        op->scale[c] = params->input.scale * weight_scales[c] / params->output.scale;
    }
    mk_qs8_clamp(params->dw.activation, params->output, &op->lo, &op->hi);
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_dwconv2d_qs8_output_size(const mk_dwconv2d_qs8_op* op, size_t in_h, size_t in_w,
                                      size_t* out_h, size_t* out_w) {
    if (op == NULL || out_h == NULL || out_w == NULL) return MK_STATUS_NULL_POINTER;
    if (in_h > MK_MAX_ELEMENTS || in_w > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    const mk_dwconv2d_params* p = &op->p.dw;
    if (!mk_window_out_size(in_h, p->pad_top, p->pad_bottom, p->kernel_h, p->dilation_h,
                            p->stride_h, out_h) ||
        !mk_window_out_size(in_w, p->pad_left, p->pad_right, p->kernel_w, p->dilation_w,
                            p->stride_w, out_w)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    return MK_STATUS_OK;
}

mk_status mk_dwconv2d_qs8_reshape(const mk_dwconv2d_qs8_op* op, size_t batch, size_t in_h,
                                  size_t in_w, size_t input_pixel_stride,
                                  size_t output_pixel_stride, mk_threadpool* pool,
                                  mk_dwconv2d_qs8_plan* plan) {
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const size_t C = op->p.dw.channels;
    if (input_pixel_stride == 0) input_pixel_stride = C;
    if (output_pixel_stride == 0) output_pixel_stride = C;
    if (batch == 0 || input_pixel_stride < C || output_pixel_stride < C) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t out_h, out_w;
    const mk_status status = mk_dwconv2d_qs8_output_size(op, in_h, in_w, &out_h, &out_w);
    if (status != MK_STATUS_OK) return status;
    size_t in_pixels, out_pixels, in_extent, out_extent, rows;
    if (!mk_size_mul(batch, in_h, &in_pixels) || !mk_size_mul(in_pixels, in_w, &in_pixels) ||
        !mk_size_mul(batch, out_h, &rows) || !mk_size_mul(rows, out_w, &out_pixels) ||
        !mk_strided_extent(in_pixels, input_pixel_stride, C, &in_extent) ||
        !mk_strided_extent(out_pixels, output_pixel_stride, C, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    const size_t threads = mk_threadpool_threads(pool);
    size_t tile_rows = rows / (8 * threads);
    tile_rows = tile_rows < 1 ? 1 : tile_rows > 16 ? 16 : tile_rows;
    *plan = (mk_dwconv2d_qs8_plan){batch, in_h, in_w, out_h, out_w, input_pixel_stride,
                                   output_pixel_stride, op, rows, tile_rows, in_extent,
                                   out_extent};
    return MK_STATUS_OK;
}

typedef struct {
    const mk_dwconv2d_qs8_op* op;
    const mk_dwconv2d_qs8_plan* plan;
    const int8_t* input;
    int8_t* output;
} mk_dwq_job;

// The per-pixel kernel on output pixels [ox0, ox1) of output row (image n, row oy).
static void mk_dwq_pixels(const mk_dwconv2d_qs8_op* op, const mk_dwconv2d_qs8_plan* plan,
                          const int8_t* image, size_t oy, size_t ox0, size_t ox1, int8_t* out,
                          const mk_qs8_requant* rq) {
    const mk_dwconv2d_params* p = &op->p.dw;
    const size_t in_h = plan->in_h, in_w = plan->in_w, xs = plan->input_pixel_stride;
    const int8_t* ptrs[MK_QS8_DW_MAX_TAPS];
    for (size_t ox = ox0; ox < ox1; ox++, out += plan->output_pixel_stride) {
        for (size_t ky = 0, t = 0; ky < p->kernel_h; ky++) {
            const size_t iy = oy * p->stride_h + ky * p->dilation_h - p->pad_top;  // wraps < 0
            for (size_t kx = 0; kx < p->kernel_w; kx++, t++) {
                const size_t ix = ox * p->stride_w + kx * p->dilation_w - p->pad_left;
                ptrs[t] = iy < in_h && ix < in_w ? image + (iy * in_w + ix) * xs : op->zeros;
            }
        }
        op->kernel->fn(p->channels, op->taps, ptrs, op->packed, out, rq);
    }
}

static void mk_dwq_task(void* context, size_t thread, size_t row0, size_t rows) {
    (void)thread;
    const mk_dwq_job* job = context;
    const mk_dwconv2d_qs8_op* op = job->op;
    const mk_dwconv2d_qs8_plan* plan = job->plan;
    const mk_dwconv2d_params* p = &op->p.dw;
    const size_t in_h = plan->in_h, in_w = plan->in_w, xs = plan->input_pixel_stride;
    const size_t out_w = plan->out_w, os = plan->output_pixel_stride;
    const mk_qs8_requant rq = {.bias = op->bias, .scale = op->scale, .lo = op->lo, .hi = op->hi,
                               .zero_point = op->p.output.zero_point};
    // The output columns whose taps all lie inside the row: [interior0, interior1).
    const size_t span = (p->kernel_w - 1) * p->dilation_w;
    const size_t interior0 = (p->pad_left + p->stride_w - 1) / p->stride_w;
    size_t interior1 = 0;
    if (in_w + p->pad_left >= span + 1) interior1 = (in_w + p->pad_left - span - 1) / p->stride_w + 1;
    if (interior1 > out_w) interior1 = out_w;
    for (size_t row = row0; row < row0 + rows; row++) {
        const size_t n = row / plan->out_h, oy = row % plan->out_h;
        const int8_t* image = job->input + n * in_h * in_w * xs;
        int8_t* out = job->output + row * out_w * os;
        const size_t top = oy * p->stride_h, bottom = top + (p->kernel_h - 1) * p->dilation_h;
        const bool rows_inside = top >= p->pad_top && bottom - p->pad_top < in_h;
        if (op->kernel->row == NULL || !rows_inside || interior0 >= interior1) {
            mk_dwq_pixels(op, plan, image, oy, 0, out_w, out, &rq);
            continue;
        }
        mk_dwq_pixels(op, plan, image, oy, 0, interior0, out, &rq);
        const int8_t* ptrs[MK_QS8_DW_MAX_TAPS];
        for (size_t ky = 0, t = 0; ky < p->kernel_h; ky++) {
            const size_t iy = top + ky * p->dilation_h - p->pad_top;
            for (size_t kx = 0; kx < p->kernel_w; kx++, t++) {
                const size_t ix = interior0 * p->stride_w + kx * p->dilation_w - p->pad_left;
                ptrs[t] = image + (iy * in_w + ix) * xs;
            }
        }
        op->kernel->row(interior1 - interior0, p->channels, op->taps, ptrs, p->stride_w * xs, op->packed,
                        out + interior0 * os, os, &rq);
        mk_dwq_pixels(op, plan, image, oy, interior1, out_w, out + interior1 * os, &rq);
    }
}

mk_status mk_dwconv2d_qs8_run(const mk_dwconv2d_qs8_op* op, const mk_dwconv2d_qs8_plan* plan,
                              const int8_t* input, int8_t* output, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    if (mk_qs8_overlap(input, plan->in_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_dwq_job job = {op, plan, input, output};
    return mk_threadpool_parallelize_1d(pool, mk_dwq_task, &job, plan->rows, plan->tile_rows);
}

mk_variant mk_dwconv2d_qs8_variant(const mk_dwconv2d_qs8_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

size_t mk_dwconv2d_qs8_weight_bytes(const mk_dwconv2d_qs8_op* op) {
    if (op == NULL) return 0;
    const size_t T = op->kernel->tile;
    return op->blocks * (op->block_bytes + T * (sizeof(int32_t) + sizeof(float))) +
           op->p.dw.channels;
}

void mk_dwconv2d_qs8_destroy(mk_dwconv2d_qs8_op* op) {
    if (op == NULL) return;
    mk_aligned_free(op->packed);
    mk_aligned_free(op->bias);
    mk_aligned_free(op->scale);
    mk_aligned_free(op->zeros);
    free(op);
}
