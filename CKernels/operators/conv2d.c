// Operator: dense / grouped / pointwise 2D convolution (create / reshape / run / destroy):
// validation, the variant rule (mk_conv2d_f32_supports), packing at create, planning ("reshape":
// tap offsets and the split of the work, once per input size) and scheduling. The GEMM is the
// igemm driver's (drivers/igemm.c); the fused shuffle and the BLIS backend have files of their
// own (conv2d_shuffle.c, conv2d_blis.c).
#include "conv2d_internal.h"

#include <stdlib.h>
#include <string.h>

mk_status mk_conv2d_validate_params(const mk_conv2d_params* p) {
    if (p->input_channels == 0 || p->output_channels == 0 || p->groups == 0 ||
        p->kernel_h == 0 || p->kernel_w == 0 || p->stride_h == 0 || p->stride_w == 0 ||
        p->dilation_h == 0 || p->dilation_w == 0) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (p->input_channels % p->groups != 0 || p->output_channels % p->groups != 0) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (p->kernel_h > MK_IGEMM_MAX_TAPS || p->kernel_w > MK_IGEMM_MAX_TAPS ||
        p->kernel_h * p->kernel_w > MK_IGEMM_MAX_TAPS) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (p->input_channels > (1u << 24) || p->output_channels > (1u << 24) ||
        p->dilation_h > 1u << 20 || p->dilation_w > 1u << 20 || p->stride_h > 1u << 20 ||
        p->stride_w > 1u << 20) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    const size_t extent_h = p->dilation_h * (p->kernel_h - 1) + 1;
    const size_t extent_w = p->dilation_w * (p->kernel_w - 1) + 1;
    if (p->pad_top >= extent_h || p->pad_bottom >= extent_h || p->pad_left >= extent_w ||
        p->pad_right >= extent_w) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (p->shuffle_output && p->groups > MK_CONV_MAX_SHUFFLE_GROUPS) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    return mk_activation_validate(p->activation);
}

static bool mk_conv_is_1x1(const mk_conv2d_params* p) {
    return p->kernel_h == 1 && p->kernel_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
           p->pad_bottom == 0 && p->pad_right == 0;
}

// The layers Winograd F(4x4, 3x3) computes.
static bool mk_conv_winograd_shape(const mk_conv2d_params* p) {
    return p->kernel_h == 3 && p->kernel_w == 3 && p->stride_h == 1 && p->stride_w == 1 &&
           p->dilation_h == 1 && p->dilation_w == 1 && p->groups == 1 && !p->shuffle_output;
}

// Few-channel layers (the networks' stems: 3 input channels, 3x3 to 11x11 kernels) run in the
// row-tap form: a tap is a kernel row, whose kernel_w * cin input floats are contiguous in NHWC,
// so the microkernel's K loop runs kernel_w * cin long per tap instead of cin (3) and a tile sets
// up kernel_h pointers per pixel instead of kernel_h * kernel_w (with the plan's tile offsets:
// one vectorizable loop per tile). Measured on a Zen 2 (AVX2), one thread: AlexNet's 11x11/s4
// stem 2.0 -> 1.66 ms in the harness; the 3x3 stride-2 stems 0.34 -> 0.22 ms (16 outputs,
// MobileNetV3), 0.53 -> 0.38 (32, V1/V2) and 0.56 -> 0.43 (24, ShuffleNet) in a C loop over
// the operator, together with the tile offsets and the position stepping in the driver.
#define MK_ROW_TAPS_MAX_CIN 4
#define MK_ROW_TAPS_MIN_FLOATS 9
static bool mk_conv_row_taps(const mk_conv2d_params* p) {
    const size_t row = p->kernel_w * p->input_channels;
    return p->groups == 1 && !p->shuffle_output && p->dilation_w == 1 &&
           p->input_channels <= MK_ROW_TAPS_MAX_CIN && p->kernel_h <= MK_IGEMM_ROW_MAX_KH &&
           row >= MK_ROW_TAPS_MIN_FLOATS && row <= MK_IGEMM_ROW_MAX_FLOATS;
}

// Packs the weights of the row-tap form: PyTorch's [cout][cin][kh][kw] as [cout][kw * cin][kh]
// (in op->scratch), the layout mk_igemm_pack reads for kh taps of kw * cin channels.
static void mk_conv_pack_row_taps(mk_conv2d_f32_op* op, const float* weights, const float* bias) {
    const mk_conv2d_params* p = &op->p;
    const size_t cin = p->input_channels, kh = p->kernel_h, kw = p->kernel_w;
    float* reordered = op->scratch;
    for (size_t o = 0; o < p->output_channels; o++) {
        for (size_t c = 0; c < cin; c++) {
            for (size_t ky = 0; ky < kh; ky++) {
                for (size_t kx = 0; kx < kw; kx++) {
                    reordered[(o * kw * cin + kx * cin + c) * kh + ky] =
                        weights[((o * cin + c) * kh + ky) * kw + kx];
                }
            }
        }
    }
    mk_igemm_pack(&op->geometry, reordered, bias, op->packed, op->bias);
}

// Packs `weights` and `bias` into the buffers create allocated, for the op's form.
static void mk_conv_pack(mk_conv2d_f32_op* op, const float* weights, const float* bias) {
    if (op->variant == MK_VARIANT_BLIS) {
        mk_conv2d_blis_pack(op, weights, bias);
    } else if (op->algorithm == MK_CONV2D_ALGORITHM_WINOGRAD) {
        mk_conv2d_winograd_pack(op, weights, bias);
    } else if (op->row_taps) {
        mk_conv_pack_row_taps(op, weights, bias);
    } else {
        mk_igemm_pack(&op->geometry, weights, bias, op->packed, op->bias);
    }
}

// AUTO picks Winograd for those with at least this many input and output channels. Measured on
// this project's machines (CKernels/README.md): from 64 channels on, VGG16's and AlexNet's 3x3
// layers run 1.7-2.9x faster than direct; VGG16's first layer (3 input channels) is faster
// direct (its GEMM's K would be 3).
#define MK_WINO_AUTO_MIN_CHANNELS 32

// The one place that says which convolutions a variant and algorithm run: the igemm variants
// run every valid convolution directly (their fused shuffle needs f32_shuffle kernels too);
// BLIS (when linked) runs 1x1 kernels without padding or fused shuffle; Winograd runs the 3x3
// stride-1 single-group layers on the variants with f32_gemm and f32_winograd kernels.
static mk_status mk_conv2d_resolve(const mk_conv2d_params* params, mk_variant variant,
                                   mk_variant* resolved, mk_conv2d_algorithm* algorithm) {
    mk_status status = mk_conv2d_validate_params(params);
    if (status != MK_STATUS_OK) return status;
    if ((unsigned)params->algorithm > MK_CONV2D_ALGORITHM_WINOGRAD) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const unsigned wino_mask =
        mk_family_variants(MK_FAMILY_F32_GEMM) & mk_family_variants(MK_FAMILY_F32_WINOGRAD);
    if (params->algorithm == MK_CONV2D_ALGORITHM_WINOGRAD) {
        if (!mk_conv_winograd_shape(params)) return MK_STATUS_UNSUPPORTED;
        *algorithm = MK_CONV2D_ALGORITHM_WINOGRAD;
        return mk_resolve_variant(variant, wino_mask, resolved);
    }
    unsigned mask = mk_family_variants(MK_FAMILY_F32_GEMM);
    if (params->shuffle_output) mask &= mk_family_variants(MK_FAMILY_F32_SHUFFLE);
#if !defined(MK_NO_BLIS)
    if (mk_conv_is_1x1(params) && !params->shuffle_output) mask |= MK_MASK(MK_VARIANT_BLIS);
#endif
    status = mk_resolve_variant(variant, mask, resolved);
    if (status != MK_STATUS_OK) return status;
    *algorithm = MK_CONV2D_ALGORITHM_DIRECT;
    if (params->algorithm == MK_CONV2D_ALGORITHM_AUTO && mk_conv_winograd_shape(params) &&
        (wino_mask & MK_MASK(*resolved)) != 0 &&
        params->input_channels >= MK_WINO_AUTO_MIN_CHANNELS &&
        params->output_channels >= MK_WINO_AUTO_MIN_CHANNELS) {
        *algorithm = MK_CONV2D_ALGORITHM_WINOGRAD;
    }
    return MK_STATUS_OK;
}

mk_status mk_conv2d_f32_supports(const mk_conv2d_params* params, mk_variant variant) {
    if (params == NULL) return MK_STATUS_NULL_POINTER;
    mk_variant resolved;
    mk_conv2d_algorithm algorithm;
    return mk_conv2d_resolve(params, variant, &resolved, &algorithm);
}

mk_status mk_conv2d_f32_create(const mk_conv2d_params* params, const float* weights,
                           const float* bias, mk_variant variant, mk_conv2d_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (params == NULL || weights == NULL) return MK_STATUS_NULL_POINTER;
    mk_variant resolved;
    mk_conv2d_algorithm algorithm;
    mk_status status = mk_conv2d_resolve(params, variant, &resolved, &algorithm);
    if (status != MK_STATUS_OK) return status;

    mk_conv2d_f32_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    op->p = *params;
    op->variant = resolved;
    op->algorithm = algorithm;
    op->cin_g = params->input_channels / params->groups;
    op->cout_g = params->output_channels / params->groups;
    op->taps = params->kernel_h * params->kernel_w;
    op->epilogue = mk_epilogue_from_activation(params->activation);
    op->window = (mk_igemm_window){params->kernel_h,   params->kernel_w,   params->stride_h,
                                   params->stride_w,   params->dilation_h, params->dilation_w,
                                   params->pad_top,    params->pad_left};
    if (resolved == MK_VARIANT_BLIS) {
        status = mk_conv2d_blis_create(op, weights, bias);
    } else if (algorithm == MK_CONV2D_ALGORITHM_WINOGRAD) {
        status = mk_conv2d_winograd_create(op, weights, bias);
    } else {
        op->row_taps = mk_conv_row_taps(params);
        const size_t k_channels = op->row_taps ? params->kernel_w * op->cin_g : op->cin_g;
        const size_t k_taps = op->row_taps ? params->kernel_h : op->taps;
        status = mk_igemm_geometry_init(&op->geometry, mk_f32_gemm_config_get(resolved),
                                        params->groups, k_channels, op->cout_g, k_taps);
        if (status == MK_STATUS_OK) {
            op->packed = mk_aligned_alloc(op->geometry.packed_floats * sizeof(float));
            op->bias = mk_aligned_alloc(op->geometry.bias_floats * sizeof(float));
            op->zeros = mk_aligned_alloc(k_channels * sizeof(float));
            if (op->row_taps) {
                op->scratch = mk_aligned_alloc(params->output_channels * params->input_channels *
                                               op->taps * sizeof(float));
            }
            if (op->packed == NULL || op->bias == NULL || op->zeros == NULL ||
                (op->row_taps && op->scratch == NULL)) {
                status = MK_STATUS_OUT_OF_MEMORY;
            } else {
                memset(op->zeros, 0, k_channels * sizeof(float));
                mk_conv_pack(op, weights, bias);
                if (params->shuffle_output) op->shuffle = mk_f32_shuffle_config_get(resolved);
            }
        }
    }
    if (status != MK_STATUS_OK) {
        mk_conv2d_f32_destroy(op);
        return status;
    }
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_conv1x1_f32_create(size_t input_channels, size_t output_channels, size_t stride,
                            mk_activation activation, const float* weights, const float* bias,
                            mk_variant variant, mk_conv2d_f32_op** op_out) {
    const mk_conv2d_params params = {
        .input_channels = input_channels, .output_channels = output_channels, .groups = 1,
        .kernel_h = 1, .kernel_w = 1, .stride_h = stride, .stride_w = stride,
        .dilation_h = 1, .dilation_w = 1, .activation = activation};
    return mk_conv2d_f32_create(&params, weights, bias, variant, op_out);
}

mk_status mk_conv2d_f32_output_size(const mk_conv2d_f32_op* op, size_t in_h, size_t in_w, size_t* out_h,
                                size_t* out_w) {
    if (op == NULL || out_h == NULL || out_w == NULL) return MK_STATUS_NULL_POINTER;
    if (in_h > MK_MAX_ELEMENTS || in_w > MK_MAX_ELEMENTS) return MK_STATUS_SIZE_OVERFLOW;
    const mk_conv2d_params* p = &op->p;
    if (!mk_window_out_size(in_h, p->pad_top, p->pad_bottom, p->kernel_h, p->dilation_h,
                            p->stride_h, out_h) ||
        !mk_window_out_size(in_w, p->pad_left, p->pad_right, p->kernel_w, p->dilation_w,
                            p->stride_w, out_w)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    return MK_STATUS_OK;
}

mk_status mk_conv2d_f32_reshape(const mk_conv2d_f32_op* op, size_t batch, size_t in_h, size_t in_w,
                            size_t input_pixel_stride, size_t output_pixel_stride,
                            size_t residual_pixel_stride, mk_threadpool* pool,
                            mk_conv2d_f32_plan* plan) {
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const mk_conv2d_params* p = &op->p;
    const size_t cin = p->input_channels, cout = p->output_channels;
    if (input_pixel_stride == 0) input_pixel_stride = cin;
    if (output_pixel_stride == 0) output_pixel_stride = cout;
    if (residual_pixel_stride == 0) residual_pixel_stride = cout;
    if (batch == 0 || input_pixel_stride < cin || output_pixel_stride < cout ||
        residual_pixel_stride < cout) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t out_h, out_w;
    mk_status status = mk_conv2d_f32_output_size(op, in_h, in_w, &out_h, &out_w);
    if (status != MK_STATUS_OK) return status;
    size_t in_pixels, out_pixels, in_extent, out_extent, res_extent;
    if (!mk_size_mul(batch, in_h, &in_pixels) || !mk_size_mul(in_pixels, in_w, &in_pixels) ||
        !mk_size_mul(batch, out_h, &out_pixels) || !mk_size_mul(out_pixels, out_w, &out_pixels) ||
        !mk_strided_extent(in_pixels, input_pixel_stride, cin, &in_extent) ||
        !mk_strided_extent(out_pixels, output_pixel_stride, cout, &out_extent) ||
        !mk_strided_extent(out_pixels, residual_pixel_stride, cout, &res_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    *plan = (mk_conv2d_f32_plan){.batch = batch, .in_h = in_h, .in_w = in_w, .out_h = out_h,
                             .out_w = out_w, .input_pixel_stride = input_pixel_stride,
                             .output_pixel_stride = output_pixel_stride,
                             .residual_pixel_stride = residual_pixel_stride, .op = op};
    plan->pixels = out_pixels;
    plan->in_extent = in_extent;
    plan->out_extent = out_extent;
    plan->res_extent = res_extent;
    plan->dense = mk_conv_is_1x1(p) && p->stride_h == 1 && p->stride_w == 1;
    plan->extent_h = p->dilation_h * (p->kernel_h - 1) + 1;
    plan->extent_w = p->dilation_w * (p->kernel_w - 1) + 1;
    for (size_t ky = 0, t = 0; ky < p->kernel_h; ky++) {
        for (size_t kx = 0; kx < p->kernel_w; kx++, t++) {
            plan->tap_offset[t] = (ky * p->dilation_h * in_w + kx * p->dilation_w) * input_pixel_stride;
        }
    }
    const size_t threads = mk_threadpool_threads(pool);
    plan->threads = threads;
    // Per-tile offsets of the pointer forms (KxK and strided 1x1 convolutions; with row taps a
    // tap is a kernel row, whose offset is its first pixel's).
    const size_t tile_mr = op->geometry.mr, tile_taps = op->row_taps ? p->kernel_h : op->taps;
    plan->tile_offsets = op->variant != MK_VARIANT_BLIS &&
                         op->algorithm == MK_CONV2D_ALGORITHM_DIRECT && !plan->dense &&
                         tile_taps * tile_mr <= 256;
    for (size_t t = 0; plan->tile_offsets && t < tile_taps; t++) {
        const size_t tap = plan->tap_offset[op->row_taps ? t * p->kernel_w : t];
        for (size_t m = 0; m < tile_mr; m++) {
            plan->tile_offset[t * tile_mr + m] = tap + m * p->stride_w * input_pixel_stride;
        }
    }
    if (op->variant == MK_VARIANT_BLIS) return MK_STATUS_OK;
    if (op->algorithm == MK_CONV2D_ALGORITHM_WINOGRAD) {
        return mk_conv2d_winograd_reshape(op, threads, plan);
    }

    // The split. Any split computes the same sums.
    const mk_igemm_geometry* g = &op->geometry;
    plan->mr = out_pixels < g->mr ? 1 : g->mr;
    const size_t mtiles = (out_pixels + plan->mr - 1) / plan->mr;
    if (p->shuffle_output) {
        size_t tile = mtiles / (8 * threads);
        plan->tile_i = tile < 1 ? 1 : tile > 16 ? 16 : tile;
        return MK_STATUS_OK;
    }
    // N blocks: B columns of a task, at most nc floats wide; with few pixel tiles (7x7 layers)
    // narrower, so every thread gets work.
    size_t block_tiles = g->config->blocking.nc / g->nr;
    if (block_tiles < 1) block_tiles = 1;
    if (threads > 1 && mtiles < 4 * threads) {
        const size_t want = (4 * threads + mtiles - 1) / mtiles;  // N blocks per group wanted
        size_t narrow = (g->ntiles + want - 1) / want;
        if (narrow < 1) narrow = 1;
        if (narrow < block_tiles) block_tiles = narrow;
    }
    plan->block_tiles = block_tiles;
    plan->blocks = (g->ntiles + block_tiles - 1) / block_tiles;
    // Pixel tiles per task: about 8 tasks per thread, at most ~112 pixels (the C block of a task
    // stays in L2 between k blocks).
    plan->units = p->groups * plan->blocks;
    size_t tile_i = mtiles * plan->units / (8 * threads);
    plan->tile_i = tile_i < 1 ? 1 : tile_i > 16 ? 16 : tile_i;
    return MK_STATUS_OK;
}

mk_igemm_job mk_conv2d_job(const mk_conv2d_f32_op* op, const mk_conv2d_f32_plan* plan, const float* input,
                           float* output, const float* residual) {
    return (mk_igemm_job){
        .geometry = &op->geometry, .packed = op->packed, .bias = op->bias, .zeros = op->zeros,
        .epilogue = op->epilogue, .window = &op->window, .in_h = plan->in_h, .in_w = plan->in_w,
        .out_h = plan->out_h, .out_w = plan->out_w, .pixels = plan->pixels, .input = input,
        .in_stride = plan->input_pixel_stride, .output = output,
        .out_stride = plan->output_pixel_stride, .residual = residual,
        .res_stride = plan->residual_pixel_stride, .mr = plan->mr, .dense = plan->dense,
        .block_tiles = plan->block_tiles, .blocks = plan->blocks, .extent_h = plan->extent_h,
        .extent_w = plan->extent_w, .tap_offset = plan->tap_offset,
        .tile_offset = plan->tile_offsets && plan->mr == op->geometry.mr &&
                               (!op->row_taps || plan->input_pixel_stride == op->cin_g)
                           ? plan->tile_offset
                           : NULL,
        .row_taps = op->row_taps,
        .row_in_place = plan->input_pixel_stride == op->cin_g, .row_cin = op->cin_g};
}

mk_status mk_conv2d_f32_run(const mk_conv2d_f32_op* op, const mk_conv2d_f32_plan* plan, const float* input,
                        float* output, const float* residual, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || input == NULL || output == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    if (residual != NULL && op->p.shuffle_output) return MK_STATUS_INVALID_ARGUMENT;
    if (mk_buffers_overlap(input, plan->in_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (residual != NULL &&
        !(residual == output && plan->residual_pixel_stride == plan->output_pixel_stride) &&
        mk_buffers_overlap(residual, plan->res_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (op->variant == MK_VARIANT_BLIS) {
        return mk_conv2d_blis_run(op, plan, input, output, residual, pool);
    }
    if (op->algorithm == MK_CONV2D_ALGORITHM_WINOGRAD) {
        return mk_conv2d_winograd_run(op, plan, input, output, residual, pool);
    }
    const size_t mtiles = (plan->pixels + plan->mr - 1) / plan->mr;
    if (op->p.shuffle_output) {
        mk_conv2d_shuffle_job job = {mk_conv2d_job(op, plan, input, output, NULL),
                                     mk_shuffle_kernel(op->shuffle, op->p.groups)};
        return mk_threadpool_parallelize_1d(pool, mk_conv2d_shuffle_task, &job, mtiles,
                                            plan->tile_i);
    }
    mk_igemm_job job = mk_conv2d_job(op, plan, input, output, residual);
    return mk_threadpool_parallelize_2d(pool, mk_igemm_task, &job, mtiles, plan->units,
                                        plan->tile_i, 1);
}

mk_variant mk_conv2d_f32_variant(const mk_conv2d_f32_op* op) { return op ? op->variant : MK_VARIANT_AUTO; }

mk_conv2d_algorithm mk_conv2d_f32_algorithm(const mk_conv2d_f32_op* op) {
    return op ? op->algorithm : MK_CONV2D_ALGORITHM_AUTO;
}

size_t mk_conv2d_f32_weight_bytes(const mk_conv2d_f32_op* op) {
    if (op == NULL) return 0;
    const size_t cout = op->p.output_channels;
    size_t floats;
    if (op->variant == MK_VARIANT_BLIS) {
        floats = cout * op->cin_g * op->taps + cout;
    } else if (op->algorithm == MK_CONV2D_ALGORITHM_WINOGRAD) {
        floats = op->geometry.packed_floats * (op->wino_lazy ? 9 : MK_WINO_POINTS) +
                 op->geometry.bias_floats + op->cin_g + cout;
    } else {
        const size_t k_channels = op->row_taps ? op->p.kernel_w * op->cin_g : op->cin_g;
        floats = op->geometry.packed_floats + op->geometry.bias_floats + k_channels +
                 (op->row_taps ? cout * op->p.input_channels * op->taps : 0);
    }
    return floats * sizeof(float);
}

mk_status mk_conv2d_f32_set_weights(mk_conv2d_f32_op* op, const float* weights, const float* bias) {
    if (op == NULL || weights == NULL) return MK_STATUS_NULL_POINTER;
    mk_conv_pack(op, weights, bias);
    return MK_STATUS_OK;
}

mk_status mk_conv2d_f32_set_weights_transposed(mk_conv2d_f32_op* op, const float* weights_t,
                                               const float* bias) {
    if (op == NULL || weights_t == NULL) return MK_STATUS_NULL_POINTER;
    if (op->taps != 1 || op->p.groups != 1) return MK_STATUS_INVALID_ARGUMENT;
    if (op->variant == MK_VARIANT_BLIS || op->algorithm == MK_CONV2D_ALGORITHM_WINOGRAD || op->row_taps) {
        return MK_STATUS_UNSUPPORTED;
    }
    mk_igemm_pack_transposed(&op->geometry, weights_t, bias, op->packed, op->bias);
    return MK_STATUS_OK;
}

void mk_conv2d_f32_destroy(mk_conv2d_f32_op* op) {
    if (op == NULL) return;
    mk_aligned_free(op->scratch);
    mk_aligned_free(op->packed);
    mk_aligned_free(op->bias);
    mk_aligned_free(op->zeros);
    mk_aligned_free(op->blis_weights);
    mk_aligned_free(op->blis_bias);
    mk_aligned_free(op->wino_bias);
    free(op);
}
