// Operators: max, average, adaptive average and global average pooling (NHWC), one window
// driver for all four. Each output pixel's window is a rectangle of input pixels, clipped to the
// image: fixed windows (kernel, stride, padding) for max / avg pooling, PyTorch's adaptive
// windows for the adaptive pool, and the whole image for the global pool (the adaptive pool to
// 1 x 1). Work split: 2D tiles over (batch x output rows) x (channel tiles); a window microkernel
// computes one output pixel over one channel tile.
#include "../common/internal.h"
#include "../configs/configs.h"

typedef enum { MK_WINDOW_FIXED, MK_WINDOW_ADAPTIVE } mk_window_mode;

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

// Validates the buffers (strides defaulted in place), resolves the variant and runs the job.
static mk_status mk_pool_run(mk_pool_job* job, size_t batch, mk_variant variant,
                             mk_threadpool* pool) {
    const size_t C = job->channels;
    if (job->in_stride == 0) job->in_stride = C;
    if (job->out_stride == 0) job->out_stride = C;
    if (batch == 0 || C == 0 || job->in_h == 0 || job->in_w == 0 || job->out_h == 0 ||
        job->out_w == 0 || job->in_stride < C || job->out_stride < C) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_variant resolved;
    mk_status status = mk_family_resolve(MK_FAMILY_F32_POOL, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    size_t in_pixels, out_rows, out_pixels, in_extent, out_extent;
    if (!mk_size_mul(batch, job->in_h, &in_pixels) || !mk_size_mul(in_pixels, job->in_w, &in_pixels) ||
        !mk_size_mul(batch, job->out_h, &out_rows) || !mk_size_mul(out_rows, job->out_w, &out_pixels) ||
        !mk_strided_extent(in_pixels, job->in_stride, C, &in_extent) ||
        !mk_strided_extent(out_pixels, job->out_stride, C, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    if (mk_buffers_overlap(job->input, in_extent, job->output, out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }

    const mk_pool_kernels* kernels = mk_f32_pool_config_get(resolved);
    job->fn = job->average ? kernels->avgpool : kernels->maxpool;
    // Channel tiles of 256 (a multiple of every ISA's block), 64 when there are too few rows to
    // give each thread a few tasks (global pooling of one image). Any split gives the same
    // results: each output is computed whole, in the same order, by one task.
    const size_t threads = mk_threadpool_threads(pool);
    size_t tile = 256;
    if (threads > 1 && out_rows * ((C + tile - 1) / tile) < 4 * threads) tile = 64;
    job->channel_tile = C < tile ? C : tile;
    const size_t tiles = (C + job->channel_tile - 1) / job->channel_tile;
    size_t tile_i = out_rows * tiles / (8 * threads);
    if (tile_i < 1) tile_i = 1;
    if (tile_i > 16) tile_i = 16;
    return mk_threadpool_parallelize_2d(pool, mk_pool_task, job, out_rows, tiles, tile_i, 1);
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

static mk_status mk_pool2d(const mk_pool2d_params* params, bool average, size_t batch,
                           size_t in_h, size_t in_w, size_t channels, const float* input,
                           size_t input_pixel_stride, float* output, size_t output_pixel_stride,
                           mk_variant variant, mk_threadpool* pool) {
    if (params == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    size_t out_h, out_w;
    mk_status status = mk_pool2d_output_size(params, in_h, in_w, &out_h, &out_w);
    if (status != MK_STATUS_OK) return status;
    mk_pool_job job = {
        .mode = MK_WINDOW_FIXED,
        .average = average,
        .count_include_pad = params->count_include_pad,
        .kernel_h = params->kernel_h,
        .kernel_w = params->kernel_w,
        .stride_h = params->stride_h,
        .stride_w = params->stride_w,
        .pad_top = params->pad_top,
        .pad_left = params->pad_left,
        .in_h = in_h,
        .in_w = in_w,
        .out_h = out_h,
        .out_w = out_w,
        .channels = channels,
        .input = input,
        .in_stride = input_pixel_stride,
        .output = output,
        .out_stride = output_pixel_stride,
        .epilogue = mk_epilogue_from_activation(params->activation),
    };
    return mk_pool_run(&job, batch, variant, pool);
}

mk_status mk_max_pool2d(const mk_pool2d_params* params, size_t batch, size_t in_h, size_t in_w,
                        size_t channels, const float* input, size_t input_pixel_stride,
                        float* output, size_t output_pixel_stride, mk_variant variant,
                        mk_threadpool* pool) {
    return mk_pool2d(params, false, batch, in_h, in_w, channels, input, input_pixel_stride,
                     output, output_pixel_stride, variant, pool);
}

mk_status mk_avg_pool2d(const mk_pool2d_params* params, size_t batch, size_t in_h, size_t in_w,
                        size_t channels, const float* input, size_t input_pixel_stride,
                        float* output, size_t output_pixel_stride, mk_variant variant,
                        mk_threadpool* pool) {
    return mk_pool2d(params, true, batch, in_h, in_w, channels, input, input_pixel_stride,
                     output, output_pixel_stride, variant, pool);
}

mk_status mk_adaptive_avg_pool2d(size_t batch, size_t in_h, size_t in_w, size_t channels,
                                 size_t out_h, size_t out_w, const float* input,
                                 size_t input_pixel_stride, float* output,
                                 size_t output_pixel_stride, mk_variant variant,
                                 mk_threadpool* pool) {
    if (input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    // The window bounds compute (o + 1) * in + out - 1 <= out * in + out.
    size_t bound;
    if (!mk_size_mul(out_h, in_h, &bound) || !mk_size_add(bound, out_h, &bound) ||
        !mk_size_mul(out_w, in_w, &bound) || !mk_size_add(bound, out_w, &bound)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    mk_pool_job job = {
        .mode = MK_WINDOW_ADAPTIVE,
        .average = true,
        .in_h = in_h,
        .in_w = in_w,
        .out_h = out_h,
        .out_w = out_w,
        .channels = channels,
        .input = input,
        .in_stride = input_pixel_stride,
        .output = output,
        .out_stride = output_pixel_stride,
        .epilogue = {MK_EPILOGUE_IDENTITY, 0.0f, 0.0f},
    };
    return mk_pool_run(&job, batch, variant, pool);
}

mk_status mk_global_avg_pool(size_t batch, size_t in_h, size_t in_w, size_t channels,
                             const float* input, size_t input_pixel_stride, float* output,
                             size_t output_stride, mk_variant variant, mk_threadpool* pool) {
    // The adaptive pool to 1 x 1: one window, the whole image, summed row by row.
    return mk_adaptive_avg_pool2d(batch, in_h, in_w, channels, 1, 1, input, input_pixel_stride,
                                  output, output_stride, variant, pool);
}
