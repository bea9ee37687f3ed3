// Operator: int8 dense / grouped / pointwise 2D convolution (create / reshape / run / destroy),
// the qs8 twin of conv2d.c: the same validation of shapes, the same A pointers (igemm.h's
// MK_IGEMM_POINTERS_DEFINE over int8), the qs8_gemm microkernels of the catalogue with the
// requantization fused into their store. No K blocking: int32 sums are exact, so a tile's whole
// K (taps x channels, at most MK_QS8_MAX_K) runs in one call and is requantized at once.
#include "conv2d_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// The layout of the packed weights: per group, full NR-wide column tiles and at most one
// narrower remainder tile; per tile [taps][ceil(cin_g / 4)][width][4] int8.
typedef struct mk_qs8_geometry {
    const mk_qs8_gemm_config* config;
    size_t groups, cin_g, cout_g, taps;
    size_t mr, nr;
    size_t full_tiles, ntiles;
    size_t rem_width;   // the remainder tile's kernel width (0: none)
    size_t kgroups;     // groups of 4 channels per tap
    size_t tile_bytes;  // bytes per packed tile (taps * kgroups * 4 * nr)
} mk_qs8_geometry;

struct mk_conv2d_qs8_op {
    mk_conv2d_qs8_params p;
    mk_variant variant;
    mk_qs8_geometry geometry;
    mk_igemm_window window;
    int8_t* packed;
    int32_t* bias;  // [groups][ntiles][nr]
    float* scale;   // [groups][ntiles][nr]
    int8_t* zeros;  // cin_g bytes of the input's zero point: the A row of padding taps
    float lo, hi;   // the output clamp minus the output zero point
    float residual_scale;
    bool flip_a;    // the kernels' `fn_ua` form: A flipped per row tile, weights packed as they are
    bool bounded;   // see mk_qs8_requant.bounded
};

// The flipped copy of a row tile's A (fn_ua) lives on the task's stack: taps x MR x cin_g bytes
// at most this many. Below 16 channels per tap the copy's per-pointer work outweighs what it saves.
#define MK_QS8_FLIP_BYTES 16384
#define MK_QS8_FLIP_MIN_CIN 16
#define MK_QS8_FLIP_CHUNK 4096

typedef struct mk_qs8_job {
    const mk_qs8_geometry* geometry;
    const mk_conv2d_qs8_op* op;
    const mk_igemm_window* window;
    const int8_t* zeros;
    size_t in_h, in_w, out_h, out_w, pixels;
    const int8_t* input;
    size_t in_stride;
    int8_t* output;
    size_t out_stride;
    const int8_t* residual;
    size_t res_stride;
    size_t mr;
    bool dense;
    size_t block_tiles, blocks;
    size_t extent_h, extent_w;
    const size_t* tap_offset;
    const size_t* tile_offset;
    bool f32;  // float output: `output` holds floats, out_stride counts bytes
} mk_qs8_job;

MK_IGEMM_POINTERS_DEFINE(mk_qs8_igemm, mk_qs8_job, mk_qs8_geometry, int8_t)

bool mk_qs8_quantization_valid(mk_quantization q) {
    return isfinite(q.scale) && q.scale > 0.0f && q.zero_point >= -128 && q.zero_point <= 127;
}

// q(v) = zero_point + round_half_even(v / scale), clamped to int8 (infinities included).
static int32_t mk_qs8_quantize_bound(float v, mk_quantization q) {
    float x = v / q.scale;
    if (!(x > -512.0f)) x = -512.0f;
    if (!(x < 512.0f)) x = 512.0f;
    int32_t r = (int32_t)nearbyintf(x) + q.zero_point;
    return r < -128 ? -128 : r > 127 ? 127 : r;
}

bool mk_qs8_activation_supported(mk_activation activation) {
    switch (activation.kind) {
        case MK_ACTIVATION_NONE:
        case MK_ACTIVATION_RELU:
        case MK_ACTIVATION_RELU6:
        case MK_ACTIVATION_CLAMP:
            return true;
        default:
            return false;
    }
}

void mk_qs8_clamp(mk_activation act, mk_quantization output, float* lo_out, float* hi_out) {
    int32_t lo = -128, hi = 127;
    if (act.kind == MK_ACTIVATION_RELU || act.kind == MK_ACTIVATION_RELU6) {
        lo = mk_qs8_quantize_bound(0.0f, output);
        if (act.kind == MK_ACTIVATION_RELU6) hi = mk_qs8_quantize_bound(6.0f, output);
    } else if (act.kind == MK_ACTIVATION_CLAMP) {
        lo = mk_qs8_quantize_bound(act.min, output);
        hi = mk_qs8_quantize_bound(act.max, output);
    }
    *lo_out = (float)(lo - output.zero_point);
    *hi_out = (float)(hi - output.zero_point);
}

static mk_status mk_qs8_validate(const mk_conv2d_qs8_params* p) {
    mk_status status = mk_conv2d_validate_params(&p->conv);
    if (status != MK_STATUS_OK) return status;
    // The residual's quantization is checked by the runs that read a residual.
    if (!mk_qs8_quantization_valid(p->input) || (!p->output_f32 && !mk_qs8_quantization_valid(p->output)) ||
        p->conv.algorithm > MK_CONV2D_ALGORITHM_WINOGRAD) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    // Float output: the sums scaled, nothing else (no clamp of an int8 range).
    if (p->output_f32 && p->conv.activation.kind != MK_ACTIVATION_NONE) return MK_STATUS_UNSUPPORTED;
    const size_t k = p->conv.kernel_h * p->conv.kernel_w * (p->conv.input_channels / p->conv.groups);
    if (k > MK_QS8_MAX_K) return MK_STATUS_INVALID_ARGUMENT;
    if (!mk_qs8_activation_supported(p->conv.activation)) return MK_STATUS_UNSUPPORTED;
    if (p->conv.shuffle_output || p->conv.algorithm == MK_CONV2D_ALGORITHM_WINOGRAD) {
        return MK_STATUS_UNSUPPORTED;
    }
    return MK_STATUS_OK;
}

static mk_status mk_qs8_resolve(const mk_conv2d_qs8_params* params, mk_variant variant,
                                mk_variant* resolved) {
    if (params == NULL) return MK_STATUS_NULL_POINTER;
    const mk_status status = mk_qs8_validate(params);
    if (status != MK_STATUS_OK) return status;
    const mk_status resolve = mk_family_resolve(MK_FAMILY_QS8_GEMM, variant, resolved);
    if (resolve != MK_STATUS_OK) return resolve;
    return mk_qs8_gemm_config_get(*resolved) != NULL ? MK_STATUS_OK : MK_STATUS_UNSUPPORTED;
}

mk_status mk_conv2d_qs8_supports(const mk_conv2d_qs8_params* params, mk_variant variant) {
    mk_variant resolved;
    return mk_qs8_resolve(params, variant, &resolved);
}

static mk_status mk_qs8_geometry_init(mk_qs8_geometry* g, const mk_qs8_gemm_config* config,
                                      size_t groups, size_t cin_g, size_t cout_g, size_t taps) {
    *g = (mk_qs8_geometry){.config = config, .groups = groups, .cin_g = cin_g, .cout_g = cout_g,
                           .taps = taps, .mr = config->full->mr, .nr = config->full->nr};
    g->full_tiles = cout_g / g->nr;
    const size_t rem = cout_g % g->nr;
    g->ntiles = g->full_tiles + (rem != 0);
    if (rem != 0) {  // the narrowest remainder kernel that covers it, else the full tile
        g->rem_width = g->nr;
        for (size_t i = 0; config->tails[i] != NULL; i++) {
            if (config->tails[i]->nr >= rem && config->tails[i]->nr < g->rem_width) {
                g->rem_width = config->tails[i]->nr;
            }
        }
    }
    g->kgroups = (cin_g + 3) / 4;
    size_t bytes;
    if (!mk_size_mul(taps, g->kgroups * 4 * g->nr, &g->tile_bytes) ||
        !mk_size_mul(g->tile_bytes, g->ntiles, &bytes) || !mk_size_mul(bytes, groups, &bytes) ||
        bytes > MK_MAX_ELEMENTS) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    return MK_STATUS_OK;
}

static size_t mk_qs8_tile_width(const mk_qs8_geometry* g, size_t tile) {
    return tile < g->full_tiles ? g->nr : g->rem_width;
}

// The kernel of a tile width (MR rows, or one row when `single`); every width a variant uses
// has a one-row kernel (checked when the config is built).
static const mk_qs8_igemm_kernel* mk_qs8_kernel_for(const mk_qs8_geometry* g, size_t width,
                                                    bool single) {
    const mk_qs8_gemm_config* config = g->config;
    if (single) {
        for (size_t i = 0; config->rows1[i] != NULL; i++) {
            if (config->rows1[i]->nr == width) return config->rows1[i];
        }
    }
    if (width == g->nr) return config->full;
    for (size_t i = 0; config->tails[i] != NULL; i++) {
        if (config->tails[i]->nr == width) return config->tails[i];
    }
    return config->full;
}

static void mk_qs8_pack(mk_conv2d_qs8_op* op, const int8_t* weights, const float* weight_scales,
                        const int32_t* bias) {
    const mk_qs8_geometry* g = &op->geometry;
    const int32_t zero_point = op->p.input.zero_point;
    // Flipped weights where the kernels take them as the unsigned operand (unless A is flipped);
    // flipped A adds 128 * sum_k w to each column's sums, subtracted with the zero point's.
    const uint8_t flip = g->config->row_offsets != NULL && !op->flip_a ? 0x80 : 0;
    const uint32_t a_offset = (uint32_t)zero_point + (op->flip_a ? 128u : 0u);
    op->bounded = true;
    const float in_scale = op->p.input.scale, out_scale = op->p.output.scale;
    memset(op->packed, 0, g->groups * g->ntiles * g->tile_bytes);
    for (size_t group = 0; group < g->groups; group++) {
        for (size_t tile = 0; tile < g->ntiles; tile++) {
            const size_t width = mk_qs8_tile_width(g, tile), n0 = tile * g->nr;
            int8_t* panel = op->packed + (group * g->ntiles + tile) * g->tile_bytes;
            int32_t* tile_bias = op->bias + (group * g->ntiles + tile) * g->nr;
            float* tile_scale = op->scale + (group * g->ntiles + tile) * g->nr;
            for (size_t n = 0; n < g->nr; n++) {
                tile_bias[n] = 0;
                tile_scale[n] = 0.0f;
            }
            for (size_t n = 0; n < width && n0 + n < g->cout_g; n++) {
                const size_t o = group * g->cout_g + n0 + n;
                const int8_t* w = weights + o * g->cin_g * g->taps;
                int32_t sum = 0, sum_abs = 0;
                for (size_t t = 0; t < g->taps; t++) {
                    for (size_t c = 0; c < g->cin_g; c++) {
                        const int8_t v = w[c * g->taps + t];
                        panel[((t * g->kgroups + c / 4) * width + n) * 4 + c % 4] =
                            (int8_t)((uint8_t)v ^ flip);
                        sum += v;
                        sum_abs += v < 0 ? -v : v;
                    }
                }
                // bias - input zero point * sum w, in wrapping int32 arithmetic.
                const uint32_t b = bias != NULL ? (uint32_t)bias[o] : 0u;
                tile_bias[n] = (int32_t)(b - a_offset * (uint32_t)sum);
                tile_scale[n] = op->p.output_f32 ? in_scale * weight_scales[o]
                                                 : in_scale * weight_scales[o] / out_scale;
                // |sum_k (a - zp) w + bias| <= 255 sum_k |w| + |bias| (|a - zp| <= 255).
                const double most = (255.0 * sum_abs + fabs((double)(int32_t)b)) * tile_scale[n];
                if (!(most < 1073741824.0)) op->bounded = false;
            }
        }
    }
}

mk_status mk_conv2d_qs8_create(const mk_conv2d_qs8_params* params, const int8_t* weights,
                               const float* weight_scales, const int32_t* bias,
                               mk_variant variant, mk_conv2d_qs8_op** op_out) {
    if (params == NULL || weights == NULL || weight_scales == NULL || op_out == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    *op_out = NULL;
    mk_variant resolved;
    mk_status status = mk_qs8_resolve(params, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    const mk_conv2d_params* p = &params->conv;
    const size_t cin_g = p->input_channels / p->groups, cout_g = p->output_channels / p->groups;
    const size_t taps = p->kernel_h * p->kernel_w;
    const size_t count = p->output_channels * cin_g * taps;
    for (size_t i = 0; i < count; i++) {
        if (weights[i] == -128) return MK_STATUS_INVALID_ARGUMENT;
    }
    for (size_t o = 0; o < p->output_channels; o++) {
        if (!isfinite(weight_scales[o]) || !(weight_scales[o] > 0.0f)) {
            return MK_STATUS_INVALID_ARGUMENT;
        }
    }
    mk_conv2d_qs8_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    op->p = *params;
    op->variant = resolved;
    status = mk_qs8_geometry_init(&op->geometry, mk_qs8_gemm_config_get(resolved), p->groups,
                                  cin_g, cout_g, taps);
    if (status != MK_STATUS_OK) {
        free(op);
        return status;
    }
    const mk_qs8_geometry* g = &op->geometry;
    op->flip_a = g->config->flip != NULL && cin_g >= MK_QS8_FLIP_MIN_CIN &&
                 taps * cin_g <= MK_QS8_FLIP_BYTES / g->mr;
    const size_t columns = g->groups * g->ntiles * g->nr;
    op->packed = mk_aligned_alloc(g->groups * g->ntiles * g->tile_bytes);
    op->bias = mk_aligned_alloc(columns * sizeof(int32_t));
    op->scale = mk_aligned_alloc(columns * sizeof(float));
    op->zeros = mk_aligned_alloc(cin_g);
    if (op->packed == NULL || op->bias == NULL || op->scale == NULL || op->zeros == NULL) {
        mk_conv2d_qs8_destroy(op);
        return MK_STATUS_OUT_OF_MEMORY;
    }
    memset(op->zeros, params->input.zero_point, cin_g);
    op->window = (mk_igemm_window){p->kernel_h, p->kernel_w, p->stride_h, p->stride_w,
                                   p->dilation_h, p->dilation_w, p->pad_top, p->pad_left};
    if (!params->output_f32) {
        mk_qs8_clamp(p->activation, params->output, &op->lo, &op->hi);
        op->residual_scale = params->residual.scale / params->output.scale;
    }
    mk_qs8_pack(op, weights, weight_scales, bias);
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_conv2d_qs8_output_size(const mk_conv2d_qs8_op* op, size_t in_h, size_t in_w,
                                    size_t* out_h, size_t* out_w) {
    if (op == NULL || out_h == NULL || out_w == NULL) return MK_STATUS_NULL_POINTER;
    if (in_h > MK_MAX_ELEMENTS || in_w > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    const mk_conv2d_params* p = &op->p.conv;
    if (!mk_window_out_size(in_h, p->pad_top, p->pad_bottom, p->kernel_h, p->dilation_h,
                            p->stride_h, out_h) ||
        !mk_window_out_size(in_w, p->pad_left, p->pad_right, p->kernel_w, p->dilation_w,
                            p->stride_w, out_w)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    return MK_STATUS_OK;
}

mk_status mk_conv2d_qs8_reshape(const mk_conv2d_qs8_op* op, size_t batch, size_t in_h,
                                size_t in_w, size_t input_pixel_stride,
                                size_t output_pixel_stride, size_t residual_pixel_stride,
                                mk_threadpool* pool, mk_conv2d_qs8_plan* plan) {
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const mk_conv2d_params* p = &op->p.conv;
    const size_t cin = p->input_channels, cout = p->output_channels;
    if (input_pixel_stride == 0) input_pixel_stride = cin;
    if (output_pixel_stride == 0) output_pixel_stride = cout;
    if (residual_pixel_stride == 0) residual_pixel_stride = cout;
    if (batch == 0 || input_pixel_stride < cin || output_pixel_stride < cout ||
        residual_pixel_stride < cout) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t out_h, out_w;
    const mk_status status = mk_conv2d_qs8_output_size(op, in_h, in_w, &out_h, &out_w);
    if (status != MK_STATUS_OK) return status;
    size_t in_pixels, out_pixels, in_extent, out_extent, res_extent;
    if (!mk_size_mul(batch, in_h, &in_pixels) || !mk_size_mul(in_pixels, in_w, &in_pixels) ||
        !mk_size_mul(batch, out_h, &out_pixels) || !mk_size_mul(out_pixels, out_w, &out_pixels) ||
        !mk_strided_extent(in_pixels, input_pixel_stride, cin, &in_extent) ||
        !mk_strided_extent(out_pixels, output_pixel_stride, cout, &out_extent) ||
        (op->p.output_f32 && out_extent > SIZE_MAX / sizeof(float)) ||
        !mk_strided_extent(out_pixels, residual_pixel_stride, cout, &res_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    *plan = (mk_conv2d_qs8_plan){.batch = batch, .in_h = in_h, .in_w = in_w, .out_h = out_h,
                                 .out_w = out_w, .input_pixel_stride = input_pixel_stride,
                                 .output_pixel_stride = output_pixel_stride,
                                 .residual_pixel_stride = residual_pixel_stride, .op = op};
    plan->pixels = out_pixels;
    plan->in_extent = in_extent;
    plan->out_extent = out_extent;
    plan->res_extent = res_extent;
    plan->dense = p->kernel_h == 1 && p->kernel_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                  p->pad_bottom == 0 && p->pad_right == 0 && p->stride_h == 1 && p->stride_w == 1;
    plan->extent_h = p->dilation_h * (p->kernel_h - 1) + 1;
    plan->extent_w = p->dilation_w * (p->kernel_w - 1) + 1;
    const size_t taps = op->geometry.taps;
    for (size_t ky = 0, t = 0; ky < p->kernel_h; ky++) {
        for (size_t kx = 0; kx < p->kernel_w; kx++, t++) {
            plan->tap_offset[t] =
                (ky * p->dilation_h * in_w + kx * p->dilation_w) * input_pixel_stride;
        }
    }
    const mk_qs8_geometry* g = &op->geometry;
    plan->mr = out_pixels < g->mr ? 1 : g->mr;
    plan->tile_offsets = !plan->dense && taps * plan->mr <= 256;
    for (size_t t = 0; plan->tile_offsets && t < taps; t++) {
        for (size_t m = 0; m < plan->mr; m++) {
            plan->tile_offset[t * plan->mr + m] =
                plan->tap_offset[t] + m * p->stride_w * input_pixel_stride;
        }
    }
    // The split (any split computes the same values): N blocks of the config's nc columns, or
    // narrower with few pixel tiles so every thread has work; about 8 tasks per thread.
    const size_t threads = mk_threadpool_threads(pool);
    const size_t mtiles = (out_pixels + plan->mr - 1) / plan->mr;
    // Where K is small, as many more tiles as 256 KiB of packed weights hold: every block
    // repeats the row tile's pass over A (its flipped copy or its row offsets).
    size_t block_tiles = g->config->nc / g->nr;
    if (g->tile_bytes > 0 && 262144 / g->tile_bytes > block_tiles) block_tiles = 262144 / g->tile_bytes;
    if (block_tiles < 1) block_tiles = 1;
    if (threads > 1 && mtiles < 4 * threads) {
        const size_t want = (4 * threads + mtiles - 1) / mtiles;
        size_t narrow = (g->ntiles + want - 1) / want;
        if (narrow < 1) narrow = 1;
        if (narrow < block_tiles) block_tiles = narrow;
    }
    plan->block_tiles = block_tiles;
    plan->blocks = (g->ntiles + block_tiles - 1) / block_tiles;
    plan->units = g->groups * plan->blocks;
    if (op->p.output_f32) plan->out_extent *= sizeof(float);  // bytes
    size_t tile_i = mtiles * plan->units / (8 * threads);
    plan->tile_i = tile_i < 1 ? 1 : tile_i > 16 ? 16 : tile_i;
    return MK_STATUS_OK;
}

// Row tile mt's columns [tile0, tile1) of `group`: the block's full tiles in one call (the
// kernel walks their panels), then its remainder tile with the narrower kernel.
static void mk_qs8_tiles(const mk_qs8_job* job, mk_qs8_requant* rq, const int8_t* const* ptrs,
                         size_t mt, size_t group, size_t tile0, size_t tile1, bool inline_sums) {
    const mk_qs8_geometry* g = job->geometry;
    const mk_conv2d_qs8_op* op = job->op;
    const size_t MR = job->mr;
    const size_t p0 = mt * MR;
    const size_t mr = job->pixels - p0 < MR ? job->pixels - p0 : MR;
    for (size_t tile = tile0; tile < tile1;) {
        const size_t width = mk_qs8_tile_width(g, tile), n0 = tile * g->nr;
        const size_t run = tile < g->full_tiles ? (tile1 < g->full_tiles ? tile1 : g->full_tiles) - tile : 1;
        const size_t nc = g->cout_g - n0 < width * run ? g->cout_g - n0 : width * run;
        const size_t column = group * g->cout_g + n0;
        const size_t at = group * g->ntiles + tile;
        rq->bias = op->bias + at * g->nr;
        rq->scale = op->scale + at * g->nr;
        rq->residual = job->residual != NULL ? job->residual + p0 * job->res_stride + column : NULL;
        const mk_qs8_igemm_kernel* kernel = mk_qs8_kernel_for(g, width, MR == 1);
        (op->flip_a ? kernel->fn_ua : inline_sums && tile == tile0 ? kernel->fn_sums : kernel->fn)(
            mr, nc, g->cin_g, g->taps, ptrs, op->packed + at * g->tile_bytes,
            job->output + p0 * job->out_stride + column * (job->f32 ? sizeof(float) : 1),
            job->out_stride, rq);
        tile += run;
    }
}

// Pixels [first, last) of a dense job, group `group`'s channels, flipped to dst (cin_g bytes
// each): one call where the pixels are contiguous, else one call over their row pointers
// (`rows`, room for MK_IGEMM_MAX_TAPS * MK_IGEMM_MAX_MR; a chunk has at most
// MK_QS8_FLIP_CHUNK / MK_QS8_FLIP_MIN_CIN rows, or one tile's MK_IGEMM_MAX_MR).
static void mk_qs8_flip_rows(const mk_qs8_job* job, size_t group, size_t first, size_t last,
                             const int8_t** rows, int8_t* dst) {
    const mk_qs8_geometry* g = job->geometry;
    const int8_t* base = job->input + group * g->cin_g + first * job->in_stride;
    if (job->in_stride == g->cin_g) {
        rows[0] = base;
        g->config->flip(rows, 1, (last - first) * g->cin_g, dst);
        return;
    }
    for (size_t r = 0; r < last - first; r++) rows[r] = base + r * job->in_stride;
    g->config->flip(rows, last - first, g->cin_g, dst);
}

_Static_assert(MK_QS8_FLIP_CHUNK / MK_QS8_FLIP_MIN_CIN <= MK_IGEMM_MAX_TAPS * MK_IGEMM_MAX_MR,
               "a chunk's row pointers fit the task's pointer array");

static void mk_qs8_task(void* context, size_t thread, size_t mt0, size_t unit0, size_t mtiles,
                        size_t units) {
    (void)thread;
    const mk_qs8_job* job = context;
    const mk_qs8_geometry* g = job->geometry;
    const mk_conv2d_qs8_op* op = job->op;
    const size_t MR = job->mr;
    const int8_t* ptrs[MK_IGEMM_MAX_TAPS * MK_IGEMM_MAX_MR];
    int32_t row_offset[MK_IGEMM_MAX_MR];
    const mk_qs8_row_offsets_fn row_offsets = g->config->row_offsets;
    // Kernels of flipped weights need each row's offset: from a pass over the row tile's A
    // (about 2 operations per 64 bytes and tap, plus a reduction) or computed by the first
    // column tile's kernel (one dot product per 4 bytes, on broadcasts it loads anyway): the
    // kernel where K per tap is small (stems, narrow groups).
    // Or A flipped (op->flip_a): copied once per row tile (or chunk of them, below) and block to
    // `flipped`, for the kernels' fn_ua.
    const size_t kgroups = (g->cin_g + 3) / 4, chunks = (g->cin_g + 63) / 64;
    const bool inline_sums = row_offsets != NULL && !op->flip_a && g->taps * kgroups < 2 * g->taps * chunks + 6;
    _Alignas(64) int8_t flipped[MK_QS8_FLIP_BYTES];
    mk_qs8_requant rq = {.row_offset = row_offset, .output_f32 = job->f32, .bounded = op->bounded,
                         .lo = op->lo, .hi = op->hi, .zero_point = op->p.output.zero_point,
                         .residual_stride = job->res_stride,
                         .residual_zero_point = op->p.residual.zero_point,
                         .residual_scale = op->residual_scale};
    // Dense (1x1, stride 1) layers of flipped A: a chunk of row tiles flipped at once (one call
    // over contiguous rows) instead of a call per row tile, where the tiles are small: up to
    // MK_QS8_FLIP_CHUNK bytes (still in L1 when the kernels read them), at least one tile.
    const bool chunked = op->flip_a && job->dense;
    const size_t chunk = chunked && MR * g->cin_g < MK_QS8_FLIP_CHUNK ? MK_QS8_FLIP_CHUNK / (MR * g->cin_g) : 1;
    for (size_t unit = unit0; unit < unit0 + units; unit++) {
        const size_t group = unit / job->blocks, block = unit % job->blocks;
        const size_t tile0 = block * job->block_tiles;
        const size_t tile1 = tile0 + job->block_tiles < g->ntiles ? tile0 + job->block_tiles : g->ntiles;
        mk_igemm_pos pos = job->dense ? (mk_igemm_pos){0, 0, 0} : mk_qs8_igemm_pos_of(job, mt0 * MR);
        for (size_t c0 = mt0; c0 < mt0 + mtiles; c0 += chunk) {
            const size_t c1 = c0 + chunk < mt0 + mtiles ? c0 + chunk : mt0 + mtiles;
            const size_t first = c0 * MR, last = c1 * MR < job->pixels ? c1 * MR : job->pixels;
            if (chunked) mk_qs8_flip_rows(job, group, first, last, ptrs, flipped);
            for (size_t mt = c0; mt < c1; mt++) {
                if (chunked) {
                    for (size_t m = 0; m < MR; m++) {  // past the last pixel: repeat it
                        const size_t pixel = mt * MR + m < job->pixels ? mt * MR + m : job->pixels - 1;
                        ptrs[m] = flipped + (pixel - first) * g->cin_g;
                    }
                } else {
                    mk_qs8_igemm_pointers_at(job, pos, mt, group, 0, ptrs);
                    if (!job->dense) mk_qs8_igemm_pos_advance(job, &pos, MR);
                    if (op->flip_a) {
                        g->config->flip(ptrs, g->taps * MR, g->cin_g, flipped);
                    } else if (row_offsets != NULL && !inline_sums) {
                        row_offsets(MR, g->cin_g, g->taps, ptrs, row_offset);
                    }
                }
                mk_qs8_tiles(job, &rq, ptrs, mt, group, tile0, tile1, inline_sums);
            }
        }
    }
}

bool mk_qs8_overlap(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
    const uintptr_t a0 = (uintptr_t)a, a1 = a0 + a_bytes;
    const uintptr_t b0 = (uintptr_t)b, b1 = b0 + b_bytes;
    return a0 < b1 && b0 < a1;
}

static mk_status mk_qs8_run(const mk_conv2d_qs8_op* op, const mk_conv2d_qs8_plan* plan,
                            const int8_t* input, int8_t* output, const int8_t* residual,
                            mk_threadpool* pool, bool f32) {
    if (op == NULL || plan == NULL || input == NULL || output == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    if (plan->op != op || op->p.output_f32 != f32) return MK_STATUS_INVALID_ARGUMENT;
    if (residual != NULL && !mk_qs8_quantization_valid(op->p.residual)) return MK_STATUS_INVALID_ARGUMENT;
    if (mk_qs8_overlap(input, plan->in_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (residual != NULL &&
        !(residual == output && plan->residual_pixel_stride == plan->output_pixel_stride) &&
        mk_qs8_overlap(residual, plan->res_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const mk_qs8_job job = {
        .geometry = &op->geometry, .op = op, .window = &op->window, .zeros = op->zeros,
        .in_h = plan->in_h, .in_w = plan->in_w, .out_h = plan->out_h, .out_w = plan->out_w,
        .pixels = plan->pixels, .input = input, .in_stride = plan->input_pixel_stride,
        .output = output, .out_stride = plan->output_pixel_stride * (f32 ? sizeof(float) : 1),
        .residual = residual, .f32 = f32,
        .res_stride = plan->residual_pixel_stride, .mr = plan->mr, .dense = plan->dense,
        .block_tiles = plan->block_tiles, .blocks = plan->blocks, .extent_h = plan->extent_h,
        .extent_w = plan->extent_w, .tap_offset = plan->tap_offset,
        .tile_offset = plan->tile_offsets ? plan->tile_offset : NULL};
    const size_t mtiles = (plan->pixels + plan->mr - 1) / plan->mr;
    return mk_threadpool_parallelize_2d(pool, mk_qs8_task, (void*)&job, mtiles, plan->units,
                                        plan->tile_i, 1);
}

mk_status mk_conv2d_qs8_run(const mk_conv2d_qs8_op* op, const mk_conv2d_qs8_plan* plan,
                            const int8_t* input, int8_t* output, const int8_t* residual,
                            mk_threadpool* pool) {
    return mk_qs8_run(op, plan, input, output, residual, pool, false);
}

mk_status mk_conv2d_qs8_run_f32(const mk_conv2d_qs8_op* op, const mk_conv2d_qs8_plan* plan,
                                const int8_t* input, float* output, mk_threadpool* pool) {
    return mk_qs8_run(op, plan, input, (int8_t*)(void*)output, NULL, pool, true);
}

mk_variant mk_conv2d_qs8_variant(const mk_conv2d_qs8_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

size_t mk_conv2d_qs8_weight_bytes(const mk_conv2d_qs8_op* op) {
    if (op == NULL) return 0;
    const mk_qs8_geometry* g = &op->geometry;
    const size_t columns = g->groups * g->ntiles * g->nr;
    return g->groups * g->ntiles * g->tile_bytes + columns * (sizeof(int32_t) + sizeof(float)) +
           g->cin_g;
}

void mk_conv2d_qs8_destroy(mk_conv2d_qs8_op* op) {
    if (op == NULL) return;
    mk_aligned_free(op->packed);
    mk_aligned_free(op->bias);
    mk_aligned_free(op->scale);
    mk_aligned_free(op->zeros);
    free(op);
}
