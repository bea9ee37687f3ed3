// Operators: int8 pooling, add, lookup tables and channel shuffle (mk_qs8.h). Portable C over
// the thread pool; the requantization is the microkernels' formula in scalar C (the same float
// operations, so the same bits as the reference).
#include "conv2d_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// The requantization of an int32 sum (qs8_gemm.h), one value.
static inline int8_t mk_qs8_requant1(int32_t acc, float m, float lo, float hi, int32_t zp) {
    float x = (float)acc * m;
    x = x < lo ? lo : x;
    x = x > hi ? hi : x;
    return (int8_t)((int32_t)nearbyintf(x) + zp);
}

// ---- pooling ----------------------------------------------------------------------------------

struct mk_pool2d_qs8_op {
    mk_pool2d_qs8_params p;
    float lo, hi;
};

mk_status mk_pool2d_qs8_create(const mk_pool2d_qs8_params* params, mk_pool2d_qs8_op** op_out) {
    if (params == NULL || op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    const mk_pool2d_params* w = &params->pool;
    if (params->kind > MK_POOL_QS8_ADAPTIVE_AVERAGE || params->channels == 0 ||
        !mk_qs8_quantization_valid(params->input) || !mk_qs8_quantization_valid(params->output)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (params->channels > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    if (params->kind == MK_POOL_QS8_ADAPTIVE_AVERAGE &&
        (params->adaptive_h == 0 || params->adaptive_w == 0 || params->adaptive_h > (1u << 20) ||
         params->adaptive_w > (1u << 20))) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (params->kind < MK_POOL_QS8_GLOBAL_AVERAGE &&
        (w->kernel_h == 0 || w->kernel_w == 0 || w->stride_h == 0 || w->stride_w == 0 ||
         w->pad_top >= w->kernel_h || w->pad_bottom >= w->kernel_h ||
         w->pad_left >= w->kernel_w || w->pad_right >= w->kernel_w || w->kernel_h > 1024 ||
         w->kernel_w > 1024 || w->stride_h > (1u << 20) || w->stride_w > (1u << 20))) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (params->kind == MK_POOL_QS8_MAX &&
        (params->input.scale != params->output.scale ||
         params->input.zero_point != params->output.zero_point)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const mk_status status = mk_activation_validate(w->activation);
    if (status != MK_STATUS_OK) return status;
    if (!mk_qs8_activation_supported(w->activation)) return MK_STATUS_UNSUPPORTED;
    mk_pool2d_qs8_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    op->p = *params;
    mk_qs8_clamp(w->activation, params->output, &op->lo, &op->hi);
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_pool2d_qs8_reshape(const mk_pool2d_qs8_op* op, size_t batch, size_t in_h, size_t in_w,
                                size_t input_pixel_stride, size_t output_pixel_stride,
                                mk_threadpool* pool, mk_pool2d_qs8_plan* plan) {
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const size_t C = op->p.channels;
    if (input_pixel_stride == 0) input_pixel_stride = C;
    if (output_pixel_stride == 0) output_pixel_stride = C;
    if (batch == 0 || input_pixel_stride < C || output_pixel_stride < C || in_h == 0 ||
        in_w == 0) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (in_h > MK_MAX_ELEMENTS || in_w > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    size_t out_h = 1, out_w = 1;
    const mk_pool2d_params* w = &op->p.pool;
    if (op->p.kind >= MK_POOL_QS8_GLOBAL_AVERAGE) {
        if (in_h > (1u << 23) / in_w) return MK_STATUS_SIZE_OVERFLOW;  // int32 sums of 255s
        if (op->p.kind == MK_POOL_QS8_ADAPTIVE_AVERAGE) {
            out_h = op->p.adaptive_h;
            out_w = op->p.adaptive_w;
        }
    } else if (!mk_window_out_size(in_h, w->pad_top, w->pad_bottom, w->kernel_h, 1, w->stride_h, &out_h) ||
               !mk_window_out_size(in_w, w->pad_left, w->pad_right, w->kernel_w, 1, w->stride_w, &out_w)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
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
    *plan = (mk_pool2d_qs8_plan){batch, in_h, in_w, out_h, out_w, input_pixel_stride,
                                 output_pixel_stride, op, rows, tile_rows, in_extent, out_extent};
    return MK_STATUS_OK;
}

typedef struct {
    const mk_pool2d_qs8_op* op;
    const mk_pool2d_qs8_plan* plan;
    const int8_t* input;
    int8_t* output;
} mk_pool_qs8_job;

// One output pixel of the pool on channels [0, C) (MAX and the averages in separate loops,
// int8 maxima and int32 sums over the channels, so the compiler vectorizes them).
MK_INLINE void mk_pool_qs8_pixel(const mk_pool2d_qs8_op* op, const int8_t* image, size_t in_w,
                                        size_t xs, size_t y0, size_t y1, size_t x0, size_t x1, size_t d,
                                        int8_t* out) {
    const size_t C = op->p.channels;
    const int32_t zi = op->p.input.zero_point, zo = op->p.output.zero_point;
    if (op->p.kind == MK_POOL_QS8_MAX) {
        // The clamp in int8 units: [lo + zo, hi + zo] (integral, within [-128, 127]).
        const int8_t lo = (int8_t)((int32_t)op->lo + zo), hi = (int8_t)((int32_t)op->hi + zo);
        int8_t best[256];
        for (size_t c0 = 0; c0 < C; c0 += 256) {
            const size_t nc = C - c0 < 256 ? C - c0 : 256;
            for (size_t c = 0; c < nc; c++) best[c] = -128;
            for (size_t y = y0; y < y1; y++) {
                for (size_t x = x0; x < x1; x++) {
                    const int8_t* px = image + (y * in_w + x) * xs + c0;
                    for (size_t c = 0; c < nc; c++) best[c] = px[c] > best[c] ? px[c] : best[c];
                }
            }
            for (size_t c = 0; c < nc; c++) {
                const int8_t v = best[c] < lo ? lo : best[c];
                out[c0 + c] = v > hi ? hi : v;
            }
        }
        return;
    }
    const float m = op->p.input.scale / (op->p.output.scale * (float)d);
    const int32_t offset = (int32_t)((y1 - y0) * (x1 - x0)) * zi;
    int32_t acc[256];
    for (size_t c0 = 0; c0 < C; c0 += 256) {
        const size_t nc = C - c0 < 256 ? C - c0 : 256;
        for (size_t c = 0; c < nc; c++) acc[c] = -offset;
        for (size_t y = y0; y < y1; y++) {
            for (size_t x = x0; x < x1; x++) {
                const int8_t* px = image + (y * in_w + x) * xs + c0;
                for (size_t c = 0; c < nc; c++) acc[c] += px[c];
            }
        }
        for (size_t c = 0; c < nc; c++) out[c0 + c] = mk_qs8_requant1(acc[c], m, op->lo, op->hi, zo);
    }
}

MK_INLINE void mk_pool_qs8_rows(const mk_pool_qs8_job* job, size_t row0, size_t rows) {
    const mk_pool2d_qs8_op* op = job->op;
    const mk_pool2d_qs8_plan* plan = job->plan;
    const mk_pool2d_params* w = &op->p.pool;
    const size_t xs = plan->input_pixel_stride;
    for (size_t row = row0; row < row0 + rows; row++) {
        const size_t n = row / plan->out_h, oy = row % plan->out_h;
        const int8_t* image = job->input + n * plan->in_h * plan->in_w * xs;
        for (size_t ox = 0; ox < plan->out_w; ox++) {
            int8_t* out = job->output + (row * plan->out_w + ox) * plan->output_pixel_stride;
            size_t y0 = 0, y1 = plan->in_h, x0 = 0, x1 = plan->in_w, d = plan->in_h * plan->in_w;
            if (op->p.kind == MK_POOL_QS8_ADAPTIVE_AVERAGE) {
                y0 = oy * plan->in_h / plan->out_h;
                y1 = ((oy + 1) * plan->in_h + plan->out_h - 1) / plan->out_h;
                x0 = ox * plan->in_w / plan->out_w;
                x1 = ((ox + 1) * plan->in_w + plan->out_w - 1) / plan->out_w;
                d = (y1 - y0) * (x1 - x0);
            } else if (op->p.kind != MK_POOL_QS8_GLOBAL_AVERAGE) {
                const size_t ys = oy * w->stride_h, xs0 = ox * w->stride_w;  // padded coordinates
                y0 = ys < w->pad_top ? 0 : ys - w->pad_top;
                x0 = xs0 < w->pad_left ? 0 : xs0 - w->pad_left;
                y1 = ys + w->kernel_h - w->pad_top;
                x1 = xs0 + w->kernel_w - w->pad_left;
                if (y1 > plan->in_h) y1 = plan->in_h;
                if (x1 > plan->in_w) x1 = plan->in_w;
                d = w->count_include_pad ? w->kernel_h * w->kernel_w : (y1 - y0) * (x1 - x0);
            }
            mk_pool_qs8_pixel(op, image, plan->in_w, xs, y0, y1, x0, x1, d, out);
        }
    }
}

// The baseline copy and, on x86-64, AVX2 and AVX-512 copies the compiler vectorizes (the same
// integer and float operations in every copy, so the same bits).
static void mk_pool_qs8_task(void* context, size_t thread, size_t row0, size_t rows) {
    (void)thread;
    mk_pool_qs8_rows(context, row0, rows);
}
#if defined(__x86_64__)
MK_TARGET_AVX2 static void mk_pool_qs8_task_avx2(void* context, size_t thread, size_t row0, size_t rows) {
    (void)thread;
    mk_pool_qs8_rows(context, row0, rows);
}
#include <immintrin.h>

// AVX-512 (BW) forms of one output pixel: max pooling 64 channels per vector (vpmaxsb, the clamp
// in int8), average pooling over windows of at most 255 pixels 32 channels per vector (int16
// sums, exact: |sum| <= 255 * 128), requantized as mk_qs8_requant1 on 16 lanes (the same float
// operations, so the same bits).
MK_TARGET_AVX512 static void mk_pool_qs8_max_avx512(const mk_pool2d_qs8_op* op, const int8_t* image, size_t in_w,
                                                    size_t xs, size_t y0, size_t y1, size_t x0, size_t x1,
                                                    int8_t* out) {
    const size_t C = op->p.channels;
    const int32_t zo = op->p.output.zero_point;
    const __m512i lo = _mm512_set1_epi8((char)((int32_t)op->lo + zo)), hi = _mm512_set1_epi8((char)((int32_t)op->hi + zo));
    for (size_t c0 = 0; c0 < C; c0 += 64) {
        const __mmask64 m = C - c0 >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (C - c0)) - 1);
        __m512i best = _mm512_set1_epi8((char)-128);
        for (size_t y = y0; y < y1; y++) {
            const int8_t* row = image + (y * in_w) * xs + c0;
            for (size_t x = x0; x < x1; x++) best = _mm512_max_epi8(best, _mm512_maskz_loadu_epi8(m, row + x * xs));
        }
        _mm512_mask_storeu_epi8(out + c0, m, _mm512_min_epi8(_mm512_max_epi8(best, lo), hi));
    }
}

MK_TARGET_AVX512 static void mk_pool_qs8_average_avx512(const mk_pool2d_qs8_op* op, const int8_t* image, size_t in_w,
                                                        size_t xs, size_t y0, size_t y1, size_t x0, size_t x1,
                                                        size_t d, int8_t* out) {
    const size_t C = op->p.channels;
    const int32_t zi = op->p.input.zero_point, zo = op->p.output.zero_point;
    const __m512 m = _mm512_set1_ps(op->p.input.scale / (op->p.output.scale * (float)d));
    const __m512 lo = _mm512_set1_ps(op->lo), hi = _mm512_set1_ps(op->hi);
    const __m512i offset = _mm512_set1_epi32((int32_t)((y1 - y0) * (x1 - x0)) * zi), zp = _mm512_set1_epi32(zo);
    for (size_t c0 = 0; c0 < C; c0 += 32) {
        const size_t n = C - c0 < 32 ? C - c0 : 32;
        const __mmask32 mask = n == 32 ? ~(__mmask32)0 : (((__mmask32)1 << n) - 1);
        __m512i sum = _mm512_setzero_si512();
        for (size_t y = y0; y < y1; y++) {
            const int8_t* row = image + (y * in_w) * xs + c0;
            for (size_t x = x0; x < x1; x++) {
                sum = _mm512_add_epi16(sum, _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, row + x * xs)));
            }
        }
        for (size_t half = 0; half < 2 && 16 * half < n; half++) {
            const __m256i part = half == 0 ? _mm512_castsi512_si256(sum) : _mm512_extracti64x4_epi64(sum, 1);
            const __m512i acc = _mm512_sub_epi32(_mm512_cvtepi16_epi32(part), offset);
            __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), m);
            x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
            const size_t k = n - 16 * half < 16 ? n - 16 * half : 16;
            _mm512_mask_cvtsepi32_storeu_epi8(out + c0 + 16 * half, (__mmask16)((1u << k) - 1),
                                              _mm512_add_epi32(_mm512_cvtps_epi32(x), zp));
        }
    }
}

MK_TARGET_AVX512 static void mk_pool_qs8_task_avx512(void* context, size_t thread, size_t row0, size_t rows) {
    (void)thread;
    const mk_pool_qs8_job* job = context;
    const mk_pool2d_qs8_op* op = job->op;
    const mk_pool2d_qs8_plan* plan = job->plan;
    if (op->p.kind != MK_POOL_QS8_MAX && op->p.kind != MK_POOL_QS8_AVERAGE) {
        mk_pool_qs8_rows(job, row0, rows);
        return;
    }
    const mk_pool2d_params* w = &op->p.pool;
    const size_t xs = plan->input_pixel_stride;
    for (size_t row = row0; row < row0 + rows; row++) {
        const size_t n = row / plan->out_h, oy = row % plan->out_h;
        const int8_t* image = job->input + n * plan->in_h * plan->in_w * xs;
        const size_t ys = oy * w->stride_h;  // padded coordinates
        const size_t y0 = ys < w->pad_top ? 0 : ys - w->pad_top;
        size_t y1 = ys + w->kernel_h - w->pad_top;
        if (y1 > plan->in_h) y1 = plan->in_h;
        for (size_t ox = 0; ox < plan->out_w; ox++) {
            int8_t* out = job->output + (row * plan->out_w + ox) * plan->output_pixel_stride;
            const size_t xs0 = ox * w->stride_w;
            const size_t x0 = xs0 < w->pad_left ? 0 : xs0 - w->pad_left;
            size_t x1 = xs0 + w->kernel_w - w->pad_left;
            if (x1 > plan->in_w) x1 = plan->in_w;
            const size_t d = w->count_include_pad ? w->kernel_h * w->kernel_w : (y1 - y0) * (x1 - x0);
            if (op->p.kind == MK_POOL_QS8_MAX) {
                mk_pool_qs8_max_avx512(op, image, plan->in_w, xs, y0, y1, x0, x1, out);
            } else if ((y1 - y0) * (x1 - x0) <= 255) {
                mk_pool_qs8_average_avx512(op, image, plan->in_w, xs, y0, y1, x0, x1, d, out);
            } else {
                mk_pool_qs8_pixel(op, image, plan->in_w, xs, y0, y1, x0, x1, d, out);
            }
        }
    }
}
#endif

mk_status mk_pool2d_qs8_run(const mk_pool2d_qs8_op* op, const mk_pool2d_qs8_plan* plan,
                            const int8_t* input, int8_t* output, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    if (mk_qs8_overlap(input, plan->in_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_pool_qs8_job job = {op, plan, input, output};
    void (*task)(void*, size_t, size_t, size_t) = mk_pool_qs8_task;
#if defined(__x86_64__)
    const mk_cpu_info* cpu = mk_cpu_info_get();
    if (cpu->avx512bw && cpu->avx512vl && cpu->avx512dq) {
        task = mk_pool_qs8_task_avx512;
    } else if (cpu->avx2 && cpu->fma) {
        task = mk_pool_qs8_task_avx2;
    }
#endif
    return mk_threadpool_parallelize_1d(pool, task, &job, plan->rows, plan->tile_rows);
}

void mk_pool2d_qs8_destroy(mk_pool2d_qs8_op* op) { free(op); }

// ---- add, lookup tables, shuffle: rows of pixels -----------------------------------------------

typedef struct {
    size_t channels;
    const int8_t* a;
    const int8_t* b;
    int8_t* out;
    size_t as, bs, os;
    int32_t za, zb, zo;
    float ma, mb, lo, hi;
    const int8_t* table;
    size_t groups;
} mk_rows_qs8_job;

static void mk_add_qs8_task(void* context, size_t thread, size_t p0, size_t count) {
    (void)thread;
    const mk_rows_qs8_job* j = context;
    for (size_t p = p0; p < p0 + count; p++) {
        const int8_t* a = j->a + p * j->as;
        const int8_t* b = j->b + p * j->bs;
        int8_t* out = j->out + p * j->os;
        for (size_t c = 0; c < j->channels; c++) {
            float x = (float)((int32_t)a[c] - j->za) * j->ma;
            x = fmaf((float)((int32_t)b[c] - j->zb), j->mb, x);
            x = x < j->lo ? j->lo : x;
            x = x > j->hi ? j->hi : x;
            out[c] = (int8_t)((int32_t)nearbyintf(x) + j->zo);
        }
    }
}

// Validates a rows operation: strides (0 = channels) and extents; whether `out` may alias.
static mk_status mk_rows_qs8_check(size_t pixels, size_t channels, size_t* stride, size_t* extent) {
    if (*stride == 0) *stride = channels;
    if (*stride < channels) return MK_STATUS_INVALID_ARGUMENT;
    if (pixels == 0) {
        *extent = 0;
        return MK_STATUS_OK;
    }
    return mk_strided_extent(pixels, *stride, channels, extent) ? MK_STATUS_OK
                                                                 : MK_STATUS_SIZE_OVERFLOW;
}

static size_t mk_rows_tile(size_t pixels, mk_threadpool* pool) {
    const size_t tile = pixels / (8 * mk_threadpool_threads(pool));
    return tile < 16 ? 16 : tile;
}

mk_status mk_add_qs8(size_t pixels, size_t channels, const int8_t* a, size_t a_stride,
                     mk_quantization a_quantization, const int8_t* b, size_t b_stride,
                     mk_quantization b_quantization, int8_t* out, size_t out_stride,
                     mk_quantization out_quantization, mk_activation activation,
                     mk_threadpool* pool) {
    if (a == NULL || b == NULL || out == NULL) return MK_STATUS_NULL_POINTER;
    if (channels == 0 || !mk_qs8_quantization_valid(a_quantization) ||
        !mk_qs8_quantization_valid(b_quantization) || !mk_qs8_quantization_valid(out_quantization)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_status status = mk_activation_validate(activation);
    if (status != MK_STATUS_OK) return status;
    if (!mk_qs8_activation_supported(activation)) return MK_STATUS_UNSUPPORTED;
    size_t ae, be, oe;
    if ((status = mk_rows_qs8_check(pixels, channels, &a_stride, &ae)) != MK_STATUS_OK ||
        (status = mk_rows_qs8_check(pixels, channels, &b_stride, &be)) != MK_STATUS_OK ||
        (status = mk_rows_qs8_check(pixels, channels, &out_stride, &oe)) != MK_STATUS_OK) {
        return status;
    }
    if ((!(a == out && a_stride == out_stride) && mk_qs8_overlap(a, ae, out, oe)) ||
        (!(b == out && b_stride == out_stride) && mk_qs8_overlap(b, be, out, oe))) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_rows_qs8_job job = {.channels = channels, .a = a, .b = b, .out = out, .as = a_stride,
                           .bs = b_stride, .os = out_stride, .za = a_quantization.zero_point,
                           .zb = b_quantization.zero_point, .zo = out_quantization.zero_point,
                           .ma = a_quantization.scale / out_quantization.scale,
                           .mb = b_quantization.scale / out_quantization.scale};
    mk_qs8_clamp(activation, out_quantization, &job.lo, &job.hi);
    return mk_threadpool_parallelize_1d(pool, mk_add_qs8_task, &job, pixels, mk_rows_tile(pixels, pool));
}

mk_status mk_lut_qs8_table(mk_activation activation, mk_quantization input,
                           mk_quantization output, int8_t table[256]) {
    if (table == NULL) return MK_STATUS_NULL_POINTER;
    if (!mk_qs8_quantization_valid(input) || !mk_qs8_quantization_valid(output)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const mk_status status = mk_activation_validate(activation);
    if (status != MK_STATUS_OK) return status;
    for (int q = -128; q < 128; q++) {
        const float v = (float)(q - input.zero_point) * input.scale;
        float y = v;
        const float r = fminf(fmaxf(v + 3.0f, 0.0f), 6.0f);
        switch (activation.kind) {
            case MK_ACTIVATION_NONE: break;
            case MK_ACTIVATION_RELU: y = fmaxf(v, 0.0f); break;
            case MK_ACTIVATION_RELU6: y = fminf(fmaxf(v, 0.0f), 6.0f); break;
            case MK_ACTIVATION_HARDSWISH: y = (v * r) / 6.0f; break;
            case MK_ACTIVATION_HARDSIGMOID: y = r / 6.0f; break;
            case MK_ACTIVATION_CLAMP: y = fminf(fmaxf(v, activation.min), activation.max); break;
        }
        float x = y / output.scale;
        if (!(x > -512.0f)) x = -512.0f;
        if (!(x < 512.0f)) x = 512.0f;
        const int32_t o = (int32_t)nearbyintf(x) + output.zero_point;
        table[q + 128] = (int8_t)(o < -128 ? -128 : o > 127 ? 127 : o);
    }
    return MK_STATUS_OK;
}

static void mk_lut_qs8_task(void* context, size_t thread, size_t p0, size_t count) {
    (void)thread;
    const mk_rows_qs8_job* j = context;
    for (size_t p = p0; p < p0 + count; p++) {
        const int8_t* a = j->a + p * j->as;
        int8_t* out = j->out + p * j->os;
        for (size_t c = 0; c < j->channels; c++) out[c] = j->table[(uint8_t)(a[c] + 128)];
    }
}

#if defined(__x86_64__)
#define MK_TARGET_VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi")))

// 64 bytes at a time with AVX-512 VBMI: the table in four vectors; an index (x + 128 as a byte)
// picks from entries 0..127 and from 128..255 with two two-source byte permutations (vpermt2b
// reads 7 bits), its top bit chooses between them. Dense rows (both strides the channel count)
// run as one row of pixels x channels bytes.
MK_TARGET_VBMI static void mk_lut_row_vbmi(const int8_t* a, int8_t* out, size_t n, const __m512i t[4]) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const __m512i idx = _mm512_xor_si512(_mm512_loadu_si512(a + i), flip);
        const __m512i low = _mm512_permutex2var_epi8(t[0], idx, t[1]);
        const __m512i high = _mm512_permutex2var_epi8(t[2], idx, t[3]);
        _mm512_storeu_si512(out + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high));
    }
    if (i < n) {
        const __mmask64 keep = ((__mmask64)1 << (n - i)) - 1;
        const __m512i idx = _mm512_xor_si512(_mm512_maskz_loadu_epi8(keep, a + i), flip);
        const __m512i low = _mm512_permutex2var_epi8(t[0], idx, t[1]);
        const __m512i high = _mm512_permutex2var_epi8(t[2], idx, t[3]);
        _mm512_mask_storeu_epi8(out + i, keep, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high));
    }
}

MK_TARGET_VBMI static void mk_lut_qs8_task_vbmi(void* context, size_t thread, size_t p0, size_t count) {
    (void)thread;
    const mk_rows_qs8_job* j = context;
    __m512i t[4];
    for (size_t k = 0; k < 4; k++) t[k] = _mm512_loadu_si512(j->table + 64 * k);
    if (j->as == j->channels && j->os == j->channels) {
        mk_lut_row_vbmi(j->a + p0 * j->as, j->out + p0 * j->os, count * j->channels, t);
        return;
    }
    for (size_t p = p0; p < p0 + count; p++) mk_lut_row_vbmi(j->a + p * j->as, j->out + p * j->os, j->channels, t);
}
#endif

mk_status mk_lut_qs8(size_t pixels, size_t channels, const int8_t table[256], const int8_t* input,
                     size_t input_stride, int8_t* output, size_t output_stride,
                     mk_threadpool* pool) {
    if (table == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (channels == 0) return MK_STATUS_INVALID_ARGUMENT;
    size_t ie, oe;
    mk_status status;
    if ((status = mk_rows_qs8_check(pixels, channels, &input_stride, &ie)) != MK_STATUS_OK ||
        (status = mk_rows_qs8_check(pixels, channels, &output_stride, &oe)) != MK_STATUS_OK) {
        return status;
    }
    if (!(input == output && input_stride == output_stride) && mk_qs8_overlap(input, ie, output, oe)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_rows_qs8_job job = {.channels = channels, .a = input, .out = output, .as = input_stride,
                           .os = output_stride, .table = table};
    void (*task)(void*, size_t, size_t, size_t) = mk_lut_qs8_task;
#if defined(__x86_64__)
    const mk_cpu_info* cpu = mk_cpu_info_get();
    if (cpu->avx512bw && cpu->avx512vl && cpu->avx512vbmi) task = mk_lut_qs8_task_vbmi;
#endif
    return mk_threadpool_parallelize_1d(pool, task, &job, pixels, mk_rows_tile(pixels, pool));
}

static void mk_shuffle_qs8_task(void* context, size_t thread, size_t p0, size_t count) {
    (void)thread;
    const mk_rows_qs8_job* j = context;
    const size_t G = j->groups, per = j->channels / G;
    for (size_t p = p0; p < p0 + count; p++) {
        const int8_t* a = j->a + p * j->as;
        int8_t* out = j->out + p * j->os;
        for (size_t g = 0; g < G; g++) {
            for (size_t i = 0; i < per; i++) out[i * G + g] = a[g * per + i];
        }
    }
}

#if defined(__x86_64__)
// Channels up to 256 with AVX-512 VBMI: a pixel's bytes in up to four vectors, each 64-byte
// chunk of the output two two-source byte permutations (vpermt2b) and a blend.
MK_TARGET_VBMI static void mk_shuffle_qs8_task_vbmi(void* context, size_t thread, size_t p0, size_t count) {
    (void)thread;
    const mk_rows_qs8_job* j = context;
    const size_t C = j->channels, G = j->groups, per = C / G;
    const size_t chunks = (C + 63) / 64;
    uint8_t index[256] = {0};
    for (size_t o = 0; o < C; o++) index[o] = (uint8_t)((o % G) * per + o / G);  // out[o] = a[index[o]]
    __m512i idx[4];
    __mmask64 high[4], keep[4];
    for (size_t k = 0; k < 4; k++) {
        idx[k] = _mm512_loadu_si512(index + 64 * k);
        high[k] = _mm512_cmpge_epu8_mask(idx[k], _mm512_set1_epi8((char)128));
        const size_t n = C > 64 * k ? (C - 64 * k < 64 ? C - 64 * k : 64) : 0;
        keep[k] = n == 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
    }
    for (size_t p = p0; p < p0 + count; p++) {
        const int8_t* a = j->a + p * j->as;
        int8_t* out = j->out + p * j->os;
        __m512i src[4];
        for (size_t k = 0; k < 4; k++) src[k] = k < chunks ? _mm512_maskz_loadu_epi8(keep[k], a + 64 * k) : _mm512_setzero_si512();
        for (size_t k = 0; k < chunks; k++) {
            const __m512i low = _mm512_permutex2var_epi8(src[0], idx[k], src[1]);
            const __m512i top = chunks > 2 ? _mm512_permutex2var_epi8(src[2], idx[k], src[3]) : low;
            _mm512_mask_storeu_epi8(out + 64 * k, keep[k], _mm512_mask_blend_epi8(high[k], low, top));
        }
    }
}
#endif

mk_status mk_channel_shuffle_qs8(size_t groups, size_t channels, size_t pixels,
                                 const int8_t* input, size_t input_stride, int8_t* output,
                                 size_t output_stride, mk_threadpool* pool) {
    if (input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (groups == 0 || channels == 0 || channels % groups != 0) return MK_STATUS_INVALID_ARGUMENT;
    size_t ie, oe;
    mk_status status;
    if ((status = mk_rows_qs8_check(pixels, channels, &input_stride, &ie)) != MK_STATUS_OK ||
        (status = mk_rows_qs8_check(pixels, channels, &output_stride, &oe)) != MK_STATUS_OK) {
        return status;
    }
    if (mk_qs8_overlap(input, ie, output, oe)) return MK_STATUS_INVALID_ARGUMENT;
    mk_rows_qs8_job job = {.channels = channels, .a = input, .out = output, .as = input_stride,
                           .os = output_stride, .groups = groups};
    void (*task)(void*, size_t, size_t, size_t) = mk_shuffle_qs8_task;
#if defined(__x86_64__)
    const mk_cpu_info* cpu = mk_cpu_info_get();
    if (channels <= 256 && cpu->avx512bw && cpu->avx512vl && cpu->avx512vbmi) task = mk_shuffle_qs8_task_vbmi;
#endif
    return mk_threadpool_parallelize_1d(pool, task, &job, pixels, mk_rows_tile(pixels, pool));
}

// ---- quantize / dequantize --------------------------------------------------------------------

typedef struct {
    size_t channels, is, os;
    const void* in;
    void* out;
    mk_quantization q;
} mk_convert_qs8_job;

static void mk_quantize_task(void* context, size_t thread, size_t p0, size_t count) {
    (void)thread;
    const mk_convert_qs8_job* j = context;
    for (size_t p = p0; p < p0 + count; p++) {
        const float* x = (const float*)j->in + p * j->is;
        int8_t* y = (int8_t*)j->out + p * j->os;
        for (size_t c = 0; c < j->channels; c++) {
            float v = x[c] / j->q.scale;
            if (v != v) v = 0.0f;
            v = v < -512.0f ? -512.0f : v > 512.0f ? 512.0f : v;
            const int32_t o = (int32_t)nearbyintf(v) + j->q.zero_point;
            y[c] = (int8_t)(o < -128 ? -128 : o > 127 ? 127 : o);
        }
    }
}

#if defined(__x86_64__)
// Three channels of dense float pixels into pixels 4 bytes apart (an image into the int8
// network's padded input), 16 pixels per step with AVX-512 (VBMI spreads 48 bytes to 64; the
// fourth byte of each pixel is not written): the scalar loop's operations on 16 lanes (division,
// NaN to 0, clamp to +-512, round to nearest even, the zero point, saturation to int8).
MK_TARGET_VBMI static void mk_quantize3_task_vbmi(void* context, size_t thread, size_t p0, size_t count) {
    const mk_convert_qs8_job* j = context;
    const __m512 scale = _mm512_set1_ps(j->q.scale), limit = _mm512_set1_ps(512.0f);
    const __m512i zp = _mm512_set1_epi32(j->q.zero_point);
    uint8_t spread[64];
    for (size_t k = 0; k < 64; k++) spread[k] = (uint8_t)(k / 4 * 3 + (k % 4 < 3 ? k % 4 : 0));
    const __m512i index = _mm512_loadu_si512(spread);
    const __mmask64 three = 0x7777777777777777ull;
    size_t p = p0;
    for (; p + 16 <= p0 + count; p += 16) {
        const float* x = (const float*)j->in + p * 3;
        __m128i bytes[3];
        for (int k = 0; k < 3; k++) {
            __m512 v = _mm512_div_ps(_mm512_loadu_ps(x + 16 * k), scale);
            v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v, _mm512_setzero_ps());
            v = _mm512_min_ps(_mm512_max_ps(v, _mm512_sub_ps(_mm512_setzero_ps(), limit)), limit);
            bytes[k] = _mm512_cvtsepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), zp));
        }
        __m512i all = _mm512_castsi128_si512(bytes[0]);
        all = _mm512_inserti32x4(all, bytes[1], 1);
        all = _mm512_inserti32x4(all, bytes[2], 2);
        _mm512_mask_storeu_epi8((int8_t*)j->out + p * 4, three, _mm512_permutexvar_epi8(index, all));
    }
    if (p < p0 + count) mk_quantize_task(context, thread, p, p0 + count - p);
}
#endif

static void mk_dequantize_task(void* context, size_t thread, size_t p0, size_t count) {
    (void)thread;
    const mk_convert_qs8_job* j = context;
    for (size_t p = p0; p < p0 + count; p++) {
        const int8_t* x = (const int8_t*)j->in + p * j->is;
        float* y = (float*)j->out + p * j->os;
        for (size_t c = 0; c < j->channels; c++) y[c] = j->q.scale * (float)((int32_t)x[c] - j->q.zero_point);
    }
}

// Checks a conversion's strides (0 = channels) and that the byte ranges do not overlap.
static mk_status mk_convert_qs8_check(size_t pixels, size_t channels, const void* in,
                                      size_t* is, size_t in_size, const void* out, size_t* os,
                                      size_t out_size, mk_quantization q) {
    if (in == NULL || out == NULL) return MK_STATUS_NULL_POINTER;
    if (channels == 0 || !mk_qs8_quantization_valid(q)) return MK_STATUS_INVALID_ARGUMENT;
    size_t ie, oe;
    mk_status status;
    if ((status = mk_rows_qs8_check(pixels, channels, is, &ie)) != MK_STATUS_OK ||
        (status = mk_rows_qs8_check(pixels, channels, os, &oe)) != MK_STATUS_OK) {
        return status;
    }
    if (ie > MK_MAX_ELEMENTS / in_size || oe > MK_MAX_ELEMENTS / out_size) return MK_STATUS_SIZE_OVERFLOW;
    return mk_qs8_overlap(in, ie * in_size, out, oe * out_size) ? MK_STATUS_INVALID_ARGUMENT
                                                               : MK_STATUS_OK;
}

mk_status mk_quantize_f32_qs8(size_t pixels, size_t channels, const float* input,
                              size_t input_stride, int8_t* output, size_t output_stride,
                              mk_quantization quantization, mk_threadpool* pool) {
    const mk_status status = mk_convert_qs8_check(pixels, channels, input, &input_stride, sizeof(float),
                                                  output, &output_stride, 1, quantization);
    if (status != MK_STATUS_OK) return status;
    mk_convert_qs8_job job = {channels, input_stride, output_stride, input, output, quantization};
    void (*task)(void*, size_t, size_t, size_t) = mk_quantize_task;
#if defined(__x86_64__)
    const mk_cpu_info* cpu = mk_cpu_info_get();
    if (channels == 3 && input_stride == 3 && output_stride == 4 && cpu->avx512bw && cpu->avx512vl &&
        cpu->avx512vbmi) {
        task = mk_quantize3_task_vbmi;
    }
#endif
    return mk_threadpool_parallelize_1d(pool, task, &job, pixels, mk_rows_tile(pixels, pool));
}

mk_status mk_dequantize_qs8_f32(size_t pixels, size_t channels, const int8_t* input,
                                size_t input_stride, float* output, size_t output_stride,
                                mk_quantization quantization, mk_threadpool* pool) {
    const mk_status status = mk_convert_qs8_check(pixels, channels, input, &input_stride, 1, output,
                                                  &output_stride, sizeof(float), quantization);
    if (status != MK_STATUS_OK) return status;
    mk_convert_qs8_job job = {channels, input_stride, output_stride, input, output, quantization};
    return mk_threadpool_parallelize_1d(pool, mk_dequantize_task, &job, pixels, mk_rows_tile(pixels, pool));
}

// ---- squeeze-and-excitation ---------------------------------------------------------------------
//
// Per image: the channel means (int32 sums, split over channel tiles), the float layers on them
// (the float op's), then the scaling of every pixel by its channel's multiplier (split over
// pixels). The means (then multipliers) and the hidden vector live on the stack of run.

struct mk_squeeze_excitation_qs8_op {
    mk_squeeze_excitation_f32_op* layers;
    size_t channels, squeeze;
    mk_quantization input, output;
    float ratio;  // input scale / output scale
    bool avx512;  // the int8 loops' AVX-512 forms (the variant resolves to AVX-512)
};

// The float variant of an int8 one (the layers are float).
static mk_variant mk_se_qs8_float_variant(mk_variant v) {
    switch (v) {
        case MK_VARIANT_AVX512VNNI: return MK_VARIANT_AVX512;
        case MK_VARIANT_AVXVNNI: return MK_VARIANT_AVX2;
        case MK_VARIANT_NEONDOT: return MK_VARIANT_NEON;
        default: return v;
    }
}

static bool mk_se_qs8_finite(const float* v, size_t n) {
    if (v == NULL) return true;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) return false;
    }
    return true;
}

mk_status mk_squeeze_excitation_qs8_create(size_t channels, size_t squeeze_channels,
                                           const float* fc1_weight, const float* fc1_bias,
                                           const float* fc2_weight, const float* fc2_bias,
                                           mk_quantization input, mk_quantization output,
                                           mk_variant variant, mk_squeeze_excitation_qs8_op** op_out) {
    if (op_out == NULL || fc1_weight == NULL || fc2_weight == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    const float ratio = input.scale / output.scale;
    if (!mk_qs8_quantization_valid(input) || !mk_qs8_quantization_valid(output) || !isfinite(ratio)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_status status = mk_squeeze_excitation_f32_supports(channels, squeeze_channels, mk_se_qs8_float_variant(variant));
    if (status != MK_STATUS_OK) return status;
    // Non-finite weights would make NaN multipliers (whose conversion to int is undefined).
    if (!mk_se_qs8_finite(fc1_weight, channels * squeeze_channels) || !mk_se_qs8_finite(fc1_bias, squeeze_channels) ||
        !mk_se_qs8_finite(fc2_weight, channels * squeeze_channels) || !mk_se_qs8_finite(fc2_bias, channels)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_squeeze_excitation_qs8_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    status = mk_squeeze_excitation_f32_create_inference(channels, squeeze_channels, fc1_weight, fc1_bias,
                                                        fc2_weight, fc2_bias, mk_se_qs8_float_variant(variant),
                                                        &op->layers);
    if (status != MK_STATUS_OK) {
        free(op);
        return status;
    }
    op->channels = channels;
    op->squeeze = squeeze_channels;
    op->input = input;
    op->output = output;
    op->ratio = ratio;
#if defined(__x86_64__)
    const mk_cpu_info* cpu = mk_cpu_info_get();
    op->avx512 = mk_squeeze_excitation_f32_variant(op->layers) == MK_VARIANT_AVX512 && cpu->avx512bw &&
                 cpu->avx512vl && cpu->avx512dq;
#endif
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_squeeze_excitation_qs8_reshape(const mk_squeeze_excitation_qs8_op* op, size_t batch,
                                            size_t h, size_t w, size_t input_pixel_stride,
                                            size_t output_pixel_stride, mk_threadpool* pool,
                                            mk_squeeze_excitation_qs8_plan* plan) {
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    mk_squeeze_excitation_f32_plan f;
    const mk_status status = mk_squeeze_excitation_f32_reshape(op->layers, batch, h, w, input_pixel_stride,
                                                               output_pixel_stride, pool, &f);
    if (status != MK_STATUS_OK) return status;
    // The float plan's extents count floats; the same counts are bytes here.
    if (f.image > ((size_t)1 << 23)) return MK_STATUS_SIZE_OVERFLOW;  // int32 sums
    *plan = (mk_squeeze_excitation_qs8_plan){f.batch, f.h, f.w, f.input_pixel_stride, f.output_pixel_stride,
                                             op, f.image, f.in_extent, f.out_extent, f.channel_tile,
                                             f.rows_per_tile};
    return MK_STATUS_OK;
}

typedef struct {
    const int8_t* input;  // this image
    int8_t* output;
    size_t is, os, pixels, channels, channel_tile;
    int32_t zi, zo;
    float lo, hi, count, scale;  // count: pixels as a float; scale: the input's
    float* mean;                 // [channels]: written by the sums
    const float* m;              // [channels]: the multipliers
} mk_se_qs8_job;

// mean[c] = ((float)(sum of x - pixels * zi) / count) * scale, channels [c0, c1).
static void mk_se_qs8_means(const mk_se_qs8_job* j, size_t c0, size_t c1) {
    const int32_t offset = (int32_t)j->pixels * j->zi;
    for (size_t c = c0; c < c1; c++) {
        int32_t sum = 0;
        for (size_t p = 0; p < j->pixels; p++) sum += j->input[p * j->is + c];
        j->mean[c] = ((float)(sum - offset) / j->count) * j->scale;
    }
}

static void mk_se_qs8_scale(const mk_se_qs8_job* j, size_t p0, size_t count) {
    for (size_t p = p0; p < p0 + count; p++) {
        const int8_t* x = j->input + p * j->is;
        int8_t* y = j->output + p * j->os;
        for (size_t c = 0; c < j->channels; c++) {
            y[c] = mk_qs8_requant1((int32_t)x[c] - j->zi, j->m[c], j->lo, j->hi, j->zo);
        }
    }
}

#if defined(__x86_64__)
// AVX-512: the sums 64 channels per step (four int32 vectors), then the means in the scalar
// form's operations; the scaling 16 channels per step (the requantization's operations in the
// same order; vcvtps2dq rounds half to even as nearbyintf does in the default rounding mode).
MK_TARGET_AVX512 static void mk_se_qs8_means_avx512(const mk_se_qs8_job* j, size_t c0, size_t c1) {
    const __m512i offset = _mm512_set1_epi32((int32_t)j->pixels * j->zi);
    const __m512 count = _mm512_set1_ps(j->count), scale = _mm512_set1_ps(j->scale);
    for (size_t c = c0; c < c1; c += 64) {
        const size_t n = c1 - c < 64 ? c1 - c : 64;
        const __mmask64 keep = n == 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
        __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                          _mm512_setzero_si512()};
        for (size_t p = 0; p < j->pixels; p++) {
            const __m512i x = _mm512_maskz_loadu_epi8(keep, j->input + p * j->is + c);
            acc[0] = _mm512_add_epi32(acc[0], _mm512_cvtepi8_epi32(_mm512_castsi512_si128(x)));
            acc[1] = _mm512_add_epi32(acc[1], _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(x, 1)));
            acc[2] = _mm512_add_epi32(acc[2], _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(x, 2)));
            acc[3] = _mm512_add_epi32(acc[3], _mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(x, 3)));
        }
        for (size_t k = 0; k < 4 && 16 * k < n; k++) {
            const size_t m = n - 16 * k < 16 ? n - 16 * k : 16;
            const __m512 mean = _mm512_mul_ps(
                _mm512_div_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[k], offset)), count), scale);
            _mm512_mask_storeu_ps(j->mean + c + 16 * k, (__mmask16)((1u << m) - 1), mean);
        }
    }
}

MK_TARGET_AVX512 static void mk_se_qs8_scale_avx512(const mk_se_qs8_job* j, size_t p0, size_t count) {
    const __m512i zi = _mm512_set1_epi32(j->zi), zo = _mm512_set1_epi32(j->zo);
    const __m512 lo = _mm512_set1_ps(j->lo), hi = _mm512_set1_ps(j->hi);
    const size_t C = j->channels;
    for (size_t p = p0; p < p0 + count; p++) {
        const int8_t* x = j->input + p * j->is;
        int8_t* y = j->output + p * j->os;
        for (size_t c = 0; c < C; c += 16) {
            const size_t n = C - c < 16 ? C - c : 16;
            const __mmask16 keep = (__mmask16)((1u << n) - 1);
            const __m128i b = _mm_maskz_loadu_epi8(keep, x + c);
            __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepi8_epi32(b), zi));
            v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(keep, j->m + c));
            v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
            const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), zo);
            _mm512_mask_cvtepi32_storeu_epi8(y + c, keep, q);
        }
    }
}

MK_TARGET_AVX512 static void mk_se_qs8_means_task_avx512(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_se_qs8_job* j = context;
    const size_t c0 = start * j->channel_tile, c1 = (start + count) * j->channel_tile;
    mk_se_qs8_means_avx512(j, c0, c1 < j->channels ? c1 : j->channels);
}

MK_TARGET_AVX512 static void mk_se_qs8_scale_task_avx512(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    mk_se_qs8_scale_avx512(context, start, count);
}
#endif

static void mk_se_qs8_means_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_se_qs8_job* j = context;
    const size_t c0 = start * j->channel_tile, c1 = (start + count) * j->channel_tile;
    mk_se_qs8_means(j, c0, c1 < j->channels ? c1 : j->channels);
}

static void mk_se_qs8_scale_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    mk_se_qs8_scale(context, start, count);
}

mk_status mk_squeeze_excitation_qs8_run(const mk_squeeze_excitation_qs8_op* op,
                                        const mk_squeeze_excitation_qs8_plan* plan,
                                        const int8_t* input, int8_t* output, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    const bool in_place = input == output && plan->input_pixel_stride == plan->output_pixel_stride;
    if (!in_place && mk_qs8_overlap(input, plan->in_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const size_t C = op->channels;
    // The means, then (in place) the gates, then the multipliers; the hidden vector.
    _Alignas(64) float m[MK_SQUEEZE_EXCITATION_MAX_CHANNELS];
    _Alignas(64) float hidden[MK_SQUEEZE_EXCITATION_MAX_CHANNELS];
    mk_se_qs8_job job = {.is = plan->input_pixel_stride, .os = plan->output_pixel_stride,
                         .pixels = plan->image, .channels = C, .channel_tile = plan->channel_tile,
                         .zi = op->input.zero_point, .zo = op->output.zero_point,
                         .count = (float)plan->image, .scale = op->input.scale, .mean = m, .m = m};
    mk_qs8_clamp((mk_activation){MK_ACTIVATION_NONE, 0.0f, 0.0f}, op->output, &job.lo, &job.hi);
    void (*means)(void*, size_t, size_t, size_t) = mk_se_qs8_means_task;
    void (*scale)(void*, size_t, size_t, size_t) = mk_se_qs8_scale_task;
#if defined(__x86_64__)
    if (op->avx512) {
        means = mk_se_qs8_means_task_avx512;
        scale = mk_se_qs8_scale_task_avx512;
    }
#endif
    for (size_t n = 0; n < plan->batch; n++) {
        job.input = input + n * plan->image * plan->input_pixel_stride;
        job.output = output + n * plan->image * plan->output_pixel_stride;
        mk_status status = mk_threadpool_parallelize_1d(pool, means, &job, (C + job.channel_tile - 1) / job.channel_tile, 1);
        if (status != MK_STATUS_OK) return status;
        status = mk_squeeze_excitation_f32_gates(op->layers, m, hidden, m, pool);
        if (status != MK_STATUS_OK) return status;
        for (size_t c = 0; c < C; c++) m[c] = m[c] * op->ratio;
        status = mk_threadpool_parallelize_1d(pool, scale, &job, plan->image, plan->rows_per_tile);
        if (status != MK_STATUS_OK) return status;
    }
    return MK_STATUS_OK;
}

mk_variant mk_squeeze_excitation_qs8_variant(const mk_squeeze_excitation_qs8_op* op) {
    return op == NULL ? MK_VARIANT_AUTO : mk_squeeze_excitation_f32_variant(op->layers);
}

void mk_squeeze_excitation_qs8_destroy(mk_squeeze_excitation_qs8_op* op) {
    if (op == NULL) return;
    mk_squeeze_excitation_f32_destroy(op->layers);
    free(op);
}
