// Operator: max, average, adaptive average and global average pooling (NHWC), one operator
// type and one window driver for all four (create / reshape / run / destroy). Each output pixel's
// window is a rectangle of input pixels, clipped to the image: fixed windows (kernel, stride,
// padding) for max / avg pooling, PyTorch's adaptive windows for the adaptive pool, and the whole
// image for the global pool (the adaptive pool to 1 x 1). Work split: 2D tiles over (batch x
// output rows) x (channel tiles); a window microkernel computes one output pixel over one
// channel tile.
#include "../configs/configs.h"

#include <stdlib.h>

typedef enum { MK_WINDOW_FIXED, MK_WINDOW_ADAPTIVE } mk_window_mode;

struct mk_pool2d_f32_op {
    mk_f32_pool_ukernel_fn fn;
    mk_variant variant;
    mk_window_mode mode;
    bool average, count_include_pad;
    mk_pool2d_params params;  // fixed windows
    size_t out_h, out_w;      // adaptive windows
    size_t channels;
    mk_epilogue epilogue;
};

typedef struct {
    mk_f32_pool_ukernel_fn fn;
    mk_window_mode mode;
    bool average, count_include_pad;
    size_t kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left;
    size_t in_h, in_w, out_h, out_w, channels, channel_tile;
    const float* input;
    size_t in_stride;
    float* output;
    size_t out_stride;
    mk_epilogue epilogue;
} mk_pool_job;

// Input rows [*lo, *hi) of output row `o` along one axis.
static void mk_window(const mk_pool_job* job, size_t o, size_t in, size_t out, size_t kernel,
                      size_t stride, size_t pad, size_t* lo, size_t* hi) {
    if (job->mode == MK_WINDOW_ADAPTIVE) {
        *lo = o * in / out;                      // floor(o * in / out)
        *hi = ((o + 1) * in + out - 1) / out;    // ceil((o + 1) * in / out)
        return;
    }
    // Start o * stride - pad, clipped at 0; the end stays inside the padded image (floor mode)
    // and pad < kernel keeps it past 0, so the clipped window is never empty.
    const size_t start = o * stride;
    *lo = start > pad ? start - pad : 0;
    const size_t end = start + kernel - pad;
    *hi = end < in ? end : in;
}

static void mk_pool_task(void* context, size_t thread, size_t i, size_t j, size_t count_i,
                         size_t count_j) {
    (void)thread;
    const mk_pool_job* job = context;
    const size_t C = job->channels, in_w = job->in_w;
    for (size_t row = i; row < i + count_i; row++) {
        const size_t n = row / job->out_h, oy = row % job->out_h;
        size_t y0, y1;
        mk_window(job, oy, job->in_h, job->out_h, job->kernel_h, job->stride_h, job->pad_top, &y0,
                  &y1);
        const float* image = job->input + n * job->in_h * in_w * job->in_stride;
        float* out_row = job->output + row * job->out_w * job->out_stride;
        for (size_t t = j; t < j + count_j; t++) {
            const size_t c0 = t * job->channel_tile;
            const size_t nc = C - c0 < job->channel_tile ? C - c0 : job->channel_tile;
            for (size_t ox = 0; ox < job->out_w; ox++) {
                size_t x0, x1;
                mk_window(job, ox, in_w, job->out_w, job->kernel_w, job->stride_w, job->pad_left,
                          &x0, &x1);
                float divisor = 1.0f;
                if (job->average) {
                    divisor = job->count_include_pad && job->mode == MK_WINDOW_FIXED
                                  ? (float)(job->kernel_h * job->kernel_w)
                                  : (float)((y1 - y0) * (x1 - x0));
                }
                job->fn(y1 - y0, x1 - x0, image + (y0 * in_w + x0) * job->in_stride + c0,
                        in_w * job->in_stride, job->in_stride, nc,
                        out_row + ox * job->out_stride + c0, divisor, &job->epilogue);
            }
        }
    }
}

static mk_status mk_pool2d_check(const mk_pool2d_params* p) {
    if (p->kernel_h == 0 || p->kernel_w == 0 || p->stride_h == 0 || p->stride_w == 0 ||
        p->pad_top >= p->kernel_h || p->pad_bottom >= p->kernel_h ||
        p->pad_left >= p->kernel_w || p->pad_right >= p->kernel_w) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    return mk_activation_validate(p->activation);
}

// Floor-mode windows along one axis (INVALID_ARGUMENT when none fits).
static mk_status mk_pool_axis(size_t in, size_t pad_a, size_t pad_b, size_t kernel,
                              size_t stride, size_t* out) {
    size_t padded;
    if (!mk_size_add(in, pad_a, &padded) || !mk_size_add(padded, pad_b, &padded)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    if (in == 0 || padded < kernel) return MK_STATUS_INVALID_ARGUMENT;
    *out = (padded - kernel) / stride + 1;
    return MK_STATUS_OK;
}

mk_status mk_pool2d_output_size(const mk_pool2d_params* params, size_t in_h, size_t in_w,
                                size_t* out_h, size_t* out_w) {
    if (params == NULL || out_h == NULL || out_w == NULL) return MK_STATUS_NULL_POINTER;
    mk_status status = mk_pool2d_check(params);
    if (status != MK_STATUS_OK) return status;
    status = mk_pool_axis(in_h, params->pad_top, params->pad_bottom, params->kernel_h,
                          params->stride_h, out_h);
    if (status != MK_STATUS_OK) return status;
    return mk_pool_axis(in_w, params->pad_left, params->pad_right, params->kernel_w,
                        params->stride_w, out_w);
}

static mk_status mk_pool_create(mk_pool2d_f32_op* proto, mk_variant variant,
                                 mk_pool2d_f32_op** op_out) {
    if (proto->channels == 0) return MK_STATUS_INVALID_ARGUMENT;
    if (proto->channels > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    const mk_status status = mk_family_resolve(MK_FAMILY_F32_POOL, variant, &proto->variant);
    if (status != MK_STATUS_OK) return status;
    const mk_pool_kernels* kernels = mk_f32_pool_config_get(proto->variant);
    proto->fn = proto->average ? kernels->avgpool : kernels->maxpool;
    mk_pool2d_f32_op* op = malloc(sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    *op = *proto;
    *op_out = op;
    return MK_STATUS_OK;
}

static mk_status mk_fixed_pool_create(const mk_pool2d_params* params, bool average,
                                      size_t channels, mk_variant variant,
                                      mk_pool2d_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (params == NULL) return MK_STATUS_NULL_POINTER;
    const mk_status status = mk_pool2d_check(params);
    if (status != MK_STATUS_OK) return status;
    mk_pool2d_f32_op proto = {.mode = MK_WINDOW_FIXED, .average = average,
                              .count_include_pad = params->count_include_pad, .params = *params,
                              .channels = channels,
                              .epilogue = mk_epilogue_from_activation(params->activation)};
    return mk_pool_create(&proto, variant, op_out);
}

mk_status mk_max_pool2d_f32_create(const mk_pool2d_params* params, size_t channels,
                                   mk_variant variant, mk_pool2d_f32_op** op_out) {
    return mk_fixed_pool_create(params, false, channels, variant, op_out);
}

mk_status mk_avg_pool2d_f32_create(const mk_pool2d_params* params, size_t channels,
                                   mk_variant variant, mk_pool2d_f32_op** op_out) {
    return mk_fixed_pool_create(params, true, channels, variant, op_out);
}

mk_status mk_adaptive_avg_pool2d_f32_create(size_t channels, size_t out_h, size_t out_w,
                                            mk_variant variant, mk_pool2d_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (out_h == 0 || out_w == 0) return MK_STATUS_INVALID_ARGUMENT;
    if (out_h > MK_MAX_ELEMENTS || out_w > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    mk_pool2d_f32_op proto = {.mode = MK_WINDOW_ADAPTIVE, .average = true, .out_h = out_h,
                              .out_w = out_w, .channels = channels,
                              .epilogue = {MK_EPILOGUE_IDENTITY, 0.0f, 0.0f}};
    return mk_pool_create(&proto, variant, op_out);
}

mk_status mk_global_avg_pool_f32_create(size_t channels, mk_variant variant,
                                        mk_pool2d_f32_op** op_out) {
    // The adaptive pool to 1 x 1: one window, the whole image, summed row by row.
    return mk_adaptive_avg_pool2d_f32_create(channels, 1, 1, variant, op_out);
}

mk_status mk_pool2d_f32_reshape(const mk_pool2d_f32_op* op, size_t batch, size_t in_h,
                                size_t in_w, size_t input_pixel_stride,
                                size_t output_pixel_stride, mk_threadpool* pool,
                                mk_pool2d_f32_plan* plan) {
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const size_t C = op->channels;
    size_t out_h = op->out_h, out_w = op->out_w;
    if (op->mode == MK_WINDOW_FIXED) {
        const mk_status status = mk_pool2d_output_size(&op->params, in_h, in_w, &out_h, &out_w);
        if (status != MK_STATUS_OK) return status;
    } else {
        // The window bounds compute (o + 1) * in + out - 1 <= out * in + out.
        size_t bound;
        if (!mk_size_mul(out_h, in_h, &bound) || !mk_size_add(bound, out_h, &bound) ||
            !mk_size_mul(out_w, in_w, &bound) || !mk_size_add(bound, out_w, &bound)) {
            return MK_STATUS_SIZE_OVERFLOW;
        }
    }
    if (input_pixel_stride == 0) input_pixel_stride = C;
    if (output_pixel_stride == 0) output_pixel_stride = C;
    if (batch == 0 || in_h == 0 || in_w == 0 || input_pixel_stride < C ||
        output_pixel_stride < C) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t in_pixels, out_rows, out_pixels, in_extent, out_extent;
    if (!mk_size_mul(batch, in_h, &in_pixels) || !mk_size_mul(in_pixels, in_w, &in_pixels) ||
        !mk_size_mul(batch, out_h, &out_rows) || !mk_size_mul(out_rows, out_w, &out_pixels) ||
        !mk_strided_extent(in_pixels, input_pixel_stride, C, &in_extent) ||
        !mk_strided_extent(out_pixels, output_pixel_stride, C, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    // Channel tiles of 256 (a multiple of every ISA's block), 64 when there are too few rows to
    // give each thread a few tasks (global pooling of one image). Any split gives the same
    // results: each output is computed whole, in the same order, by one task.
    const size_t threads = mk_threadpool_threads(pool);
    size_t tile = 256;
    if (threads > 1 && out_rows * ((C + tile - 1) / tile) < 4 * threads) tile = 64;
    const size_t channel_tile = C < tile ? C : tile;
    const size_t tiles = (C + channel_tile - 1) / channel_tile;
    size_t tile_i = out_rows * tiles / (8 * threads);
    *plan = (mk_pool2d_f32_plan){batch, in_h, in_w, out_h, out_w, input_pixel_stride,
                                 output_pixel_stride, op, in_extent, out_extent, channel_tile,
                                 tile_i < 1 ? 1 : tile_i > 16 ? 16 : tile_i};
    return MK_STATUS_OK;
}

mk_status mk_pool2d_f32_run(const mk_pool2d_f32_op* op, const mk_pool2d_f32_plan* plan,
                            const float* input, float* output, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    if (mk_buffers_overlap(input, plan->in_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const mk_pool2d_params* p = &op->params;
    mk_pool_job job = {
        .fn = op->fn, .mode = op->mode, .average = op->average,
        .count_include_pad = op->count_include_pad, .kernel_h = p->kernel_h,
        .kernel_w = p->kernel_w, .stride_h = p->stride_h, .stride_w = p->stride_w,
        .pad_top = p->pad_top, .pad_left = p->pad_left, .in_h = plan->in_h, .in_w = plan->in_w,
        .out_h = plan->out_h, .out_w = plan->out_w, .channels = op->channels,
        .channel_tile = plan->channel_tile, .input = input,
        .in_stride = plan->input_pixel_stride, .output = output,
        .out_stride = plan->output_pixel_stride, .epilogue = op->epilogue};
    const size_t tiles = (op->channels + plan->channel_tile - 1) / plan->channel_tile;
    return mk_threadpool_parallelize_2d(pool, mk_pool_task, &job, plan->batch * plan->out_h,
                                        tiles, plan->tile_i, 1);
}

mk_variant mk_pool2d_f32_variant(const mk_pool2d_f32_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

void mk_pool2d_f32_destroy(mk_pool2d_f32_op* op) { free(op); }
