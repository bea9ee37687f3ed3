// Operator: dense / grouped / pointwise 2D convolution (create / output_size / run / destroy).
//
// Each group is a GEMM: C[pixels x Cout/G] = A[pixels x (taps * Cin/G)] * B, with A read in place
// through per-pixel pointers (one per tap; padding taps point at a zero buffer) and B packed at
// create into the microkernel's panels:
//   packed[g][n tile][k block][tap][channel of the block][NR or NR/2 lanes]
// Blocking (the sizes are data, per variant, in mk_conv_config): the K dimension is split into
// blocks of at most `kc` channels (times the taps) so a B panel stays in L1/L2; the N dimension
// into blocks of `nc` columns so a B block stays in L2 while a task walks its pixel tiles.
// Loop nest of a task (pixel tiles x a block of columns of one group):
//   for k block: for pixel tile (MR pixels): build the A pointers; for n tile: microkernel.
// The first k block adds the residual (read before the output is written, so it may be the
// output itself), later ones add their partial sums to the output, the last adds the bias and
// applies the activation. Every output element is computed by one task in a fixed order, so the result is
// identical for any thread count and any split.
//
// Fused shuffle: per pixel tile, every group's columns are computed into a stack buffer, then
// each pixel's row is transposed into the output in shuffled order (one pass, in L1).
//
// BLIS variant (1x1, no padding): bli_sgemm per group on the strided NHWC matrices (per output
// row when the stride is > 1), then one pass of bias + residual + activation on our pool.
#include "../common/internal.h"
#include "../microkernels/epilogue_scalar.h"
#include "../microkernels/gemm/gemm.h"
#include "../microkernels/shuffle/shuffle.h"
#include "../microkernels/vbiasact/vbiasact.h"

#include <stdlib.h>
#include <string.h>

#if !defined(MK_NO_BLIS)
#include <cblas.h>
void bli_sgemm(trans_t transa, trans_t transb, dim_t m, dim_t n, dim_t k, const float* alpha,
               const float* a, inc_t rsa, inc_t csa, const float* b, inc_t rsb, inc_t csb,
               const float* beta, float* c, inc_t rsc, inc_t csc);
void bli_thread_set_num_threads(dim_t n_threads);
#endif

#define MK_CONV_MAX_TAPS 256
#define MK_CONV_MAX_MR 8
#define MK_CONV_MAX_SHUFFLE_GROUPS 32
#define MK_CONV_MAX_NR 32
// Dense 1x1 layers whose rows are one column tile (Cout <= 32 per group on AVX-512) and have at
// most this many channels per K block run the dense microkernel over all of a task's row
// tiles in one call (measured: 96% of peak on 32->16 at 112x112 against 75% one call per tile;
// with several column tiles or a long K the indirect kernel, one row tile at a time, is faster).
#define MK_CONV_DENSE_MAX_KC 128

#define MK_CONV_MAX_TAILS 3

typedef struct {
    const mk_igemm_kernel* full;  // MR x NR
    // Narrower MR x w kernels for the column remainder, widest first (NULL-terminated).
    const mk_igemm_kernel* tails[MK_CONV_MAX_TAILS + 1];
    // One-row kernels of the same widths (full first, then the tails): for fewer pixels than MR
    // (fully connected layers at batch 1), which would otherwise compute MR - 1 wasted rows.
    const mk_igemm_kernel* rows1[MK_CONV_MAX_TAILS + 2];
    const mk_shuffle_kernels* shuffle;
    size_t kc;  // K block: at most this many floats of A per pointer run (channels x taps)
    size_t nc;  // N block: columns of B kept in L2 per task
} mk_conv_config;

static mk_conv_config mk_conv_config_for(mk_variant variant) {
    switch (variant) {
#if defined(__x86_64__)
        case MK_VARIANT_AVX512:
            return (mk_conv_config){&mk_f32_igemm_ukernel_7x32__avx512,
                                    {&mk_f32_igemm_ukernel_7x16__avx512,
                                     &mk_f32_igemm_ukernel_7x8__avx512, NULL},
                                    {&mk_f32_igemm_ukernel_1x32__avx512, &mk_f32_igemm_ukernel_1x16__avx512,
                                     &mk_f32_igemm_ukernel_1x8__avx512, NULL},
                                    &mk_f32_shuffle_ukernels__avx512, 512, 256};
        case MK_VARIANT_AVX2:
            return (mk_conv_config){&mk_f32_igemm_ukernel_6x16__avx2,
                                    {&mk_f32_igemm_ukernel_6x8__avx2, NULL},
                                    {&mk_f32_igemm_ukernel_1x16__avx2, &mk_f32_igemm_ukernel_1x8__avx2, NULL},
                                    &mk_f32_shuffle_ukernels__avx2, 512, 256};
#endif
#if defined(__aarch64__)
        case MK_VARIANT_NEON:
            return (mk_conv_config){&mk_f32_igemm_ukernel_6x8__neon,
                                    {&mk_f32_igemm_ukernel_6x4__neon, NULL},
                                    {&mk_f32_igemm_ukernel_1x8__neon, &mk_f32_igemm_ukernel_1x4__neon, NULL},
                                    &mk_f32_shuffle_ukernels__neon, 512, 256};
#endif
        default:
            return (mk_conv_config){&mk_f32_igemm_ukernel_4x4__scalar,
                                    {&mk_f32_igemm_ukernel_4x2__scalar, NULL},
                                    {&mk_f32_igemm_ukernel_1x4__scalar, &mk_f32_igemm_ukernel_1x2__scalar, NULL},
                                    &mk_f32_shuffle_ukernels__scalar, 256, 128};
    }
}

struct mk_conv2d_op {
    mk_conv2d_params p;
    mk_variant variant;
    size_t cin_g, cout_g, taps;
    mk_conv_config config;
    size_t mr, nr;
    size_t ntiles;       // n tiles per group: full NR tiles, then the remainder's narrower tiles
    size_t* tile_n0;     // [ntiles] first column of each tile (within the group)
    size_t* tile_width;  // [ntiles] packed width: NR, NR/2 or NR/4
    size_t kc_channels;  // channels per k block (all taps)
    size_t kblocks;
    size_t tile_floats;  // floats per packed n tile (nr * taps * cin_g)
    float* packed;       // [g][tile] panels, tile_floats apart
    float* bias;         // [g][tile][nr], zero-padded
    float* zeros;        // cin_g zeros: the A row of padding taps
    float* blis_weights; // BLIS: [Cout][Cin/G] as given (B = its transpose, by strides)
    float* blis_bias;    // BLIS: [Cout] (zeros when no bias)
    mk_epilogue epilogue;
};

static mk_status mk_conv_validate(const mk_conv2d_params* p) {
    if (p->input_channels == 0 || p->output_channels == 0 || p->groups == 0 ||
        p->kernel_h == 0 || p->kernel_w == 0 || p->stride_h == 0 || p->stride_w == 0 ||
        p->dilation_h == 0 || p->dilation_w == 0) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (p->input_channels % p->groups != 0 || p->output_channels % p->groups != 0) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (p->kernel_h > MK_CONV_MAX_TAPS || p->kernel_w > MK_CONV_MAX_TAPS ||
        p->kernel_h * p->kernel_w > MK_CONV_MAX_TAPS) {
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

// The packed B panel of tile `tile` of group `g`, and its width.
static const float* mk_conv_panel(const mk_conv2d_op* op, size_t g, size_t tile, size_t* width) {
    *width = op->tile_width[tile];
    return op->packed + (g * op->ntiles + tile) * op->tile_floats;
}

// The microkernel of a tile width (MR rows, or one row when `single`).
static const mk_igemm_kernel* mk_conv_kernel(const mk_conv2d_op* op, size_t width, bool single) {
    if (single) {
        for (size_t i = 0; op->config.rows1[i] != NULL; i++) {
            if (op->config.rows1[i]->nr == width) return op->config.rows1[i];
        }
    }
    if (width == op->nr) return op->config.full;
    const mk_igemm_kernel* k = op->config.tails[0];
    for (size_t i = 0; op->config.tails[i] != NULL; i++) {
        if (op->config.tails[i]->nr == width) k = op->config.tails[i];
    }
    return k;
}

// Splits cout_g columns into tiles: full NR tiles, then the remainder r: one tile of the
// narrowest width that covers r when that wastes fewer lanes than the narrowest tail has,
// otherwise the widest tail that r fills, and again for the rest (AVX-512, NR = 32, tails 16
// and 8: r = 28 -> 32, 24 -> 16 + 8, 20 -> 16 + 8, 12 -> 16, 4 -> 8). Returns the number of
// tiles; fills n0/width when they are not NULL.
static size_t mk_conv_split(const mk_conv_config* config, size_t cout_g, size_t* n0,
                            size_t* width) {
    const size_t nr = config->full->nr;
    size_t narrowest = nr;
    for (size_t i = 0; config->tails[i] != NULL; i++) narrowest = config->tails[i]->nr;
    size_t count = 0, next = 0;
    while (next < cout_g) {
        const size_t r = cout_g - next;
        size_t w = nr;
        if (r < nr) {
            size_t cover = nr;
            for (size_t i = 0; config->tails[i] != NULL; i++) {
                if (config->tails[i]->nr >= r) cover = config->tails[i]->nr;
            }
            w = cover;
            if (cover - r >= narrowest) {
                for (size_t i = 0; config->tails[i] != NULL; i++) {
                    if (config->tails[i]->nr <= r) {
                        w = config->tails[i]->nr;
                        break;
                    }
                }
            }
        }
        if (n0 != NULL) {
            n0[count] = next;
            width[count] = w;
        }
        next += w;
        count++;
    }
    return count;
}

static void mk_conv_pack(mk_conv2d_op* op, const float* weights, const float* bias) {
    const size_t G = op->p.groups, taps = op->taps, cin_g = op->cin_g, cout_g = op->cout_g;
    for (size_t g = 0; g < G; g++) {
        for (size_t tile = 0; tile < op->ntiles; tile++) {
            size_t width;
            float* panel = (float*)mk_conv_panel(op, g, tile, &width);
            float* out = panel;
            for (size_t kb = 0; kb < op->kblocks; kb++) {
                const size_t c0 = kb * op->kc_channels;
                const size_t c1 = c0 + op->kc_channels < cin_g ? c0 + op->kc_channels : cin_g;
                for (size_t t = 0; t < taps; t++) {
                    for (size_t c = c0; c < c1; c++) {
                        for (size_t n = 0; n < width; n++) {
                            const size_t o = op->tile_n0[tile] + n;
                            *out++ = o < cout_g ? weights[((g * cout_g + o) * cin_g + c) * taps + t]
                                                : 0.0f;
                        }
                    }
                }
            }
            float* b = op->bias + (g * op->ntiles + tile) * op->nr;
            for (size_t n = 0; n < op->nr; n++) {
                const size_t o = op->tile_n0[tile] + n;
                b[n] = (bias != NULL && n < width && o < cout_g) ? bias[g * cout_g + o] : 0.0f;
            }
        }
    }
}

mk_status mk_conv2d_create(const mk_conv2d_params* params, const float* weights,
                           const float* bias, mk_variant variant, mk_conv2d_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (params == NULL || weights == NULL) return MK_STATUS_NULL_POINTER;
    mk_status status = mk_conv_validate(params);
    if (status != MK_STATUS_OK) return status;
    const unsigned mask = MK_MASK_SIMD | (mk_conv_is_1x1(params) && !params->shuffle_output
                                              ? MK_MASK(MK_VARIANT_BLIS)
                                              : 0u);
    mk_variant resolved;
    status = mk_resolve_variant(variant, mask, &resolved);
    if (status != MK_STATUS_OK) return status;

    mk_conv2d_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    op->p = *params;
    op->variant = resolved;
    op->cin_g = params->input_channels / params->groups;
    op->cout_g = params->output_channels / params->groups;
    op->taps = params->kernel_h * params->kernel_w;
    op->epilogue = mk_epilogue_from_activation(params->activation);
    const size_t weight_count = params->output_channels * op->cin_g * op->taps;

    if (resolved == MK_VARIANT_BLIS) {
        op->blis_weights = mk_aligned_alloc(weight_count * sizeof(float));
        op->blis_bias = mk_aligned_alloc(params->output_channels * sizeof(float));
        if (op->blis_weights == NULL || op->blis_bias == NULL) {
            mk_conv2d_destroy(op);
            return MK_STATUS_OUT_OF_MEMORY;
        }
        memcpy(op->blis_weights, weights, weight_count * sizeof(float));
        for (size_t o = 0; o < params->output_channels; o++) {
            op->blis_bias[o] = bias != NULL ? bias[o] : 0.0f;
        }
        *op_out = op;
        return MK_STATUS_OK;
    }

    op->config = mk_conv_config_for(resolved);
    op->mr = op->config.full->mr;
    op->nr = op->config.full->nr;
    op->ntiles = mk_conv_split(&op->config, op->cout_g, NULL, NULL);
    op->tile_n0 = malloc(op->ntiles * sizeof(size_t));
    op->tile_width = malloc(op->ntiles * sizeof(size_t));
    if (op->tile_n0 == NULL || op->tile_width == NULL) {
        mk_conv2d_destroy(op);
        return MK_STATUS_OUT_OF_MEMORY;
    }
    mk_conv_split(&op->config, op->cout_g, op->tile_n0, op->tile_width);
    size_t kc_channels = op->config.kc / op->taps;
    if (kc_channels < 16) kc_channels = 16;
    op->kblocks = (op->cin_g + kc_channels - 1) / kc_channels;
    op->kc_channels = (op->cin_g + op->kblocks - 1) / op->kblocks;  // balanced blocks
    op->tile_floats = op->nr * op->taps * op->cin_g;
    size_t panel_floats;
    if (!mk_mul(op->tile_floats, op->ntiles * params->groups, &panel_floats) ||
        panel_floats > MK_MAX_ELEMENTS) {
        mk_conv2d_destroy(op);
        return MK_STATUS_SIZE_OVERFLOW;
    }
    op->packed = mk_aligned_alloc(panel_floats * sizeof(float));
    op->bias = mk_aligned_alloc(params->groups * op->ntiles * op->nr * sizeof(float));
    op->zeros = mk_aligned_alloc(op->cin_g * sizeof(float));
    if (op->packed == NULL || op->bias == NULL || op->zeros == NULL) {
        mk_conv2d_destroy(op);
        return MK_STATUS_OUT_OF_MEMORY;
    }
    memset(op->zeros, 0, op->cin_g * sizeof(float));
    mk_conv_pack(op, weights, bias);
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_conv1x1_create(size_t input_channels, size_t output_channels, size_t stride,
                            mk_activation activation, const float* weights, const float* bias,
                            mk_variant variant, mk_conv2d_op** op_out) {
    const mk_conv2d_params params = {
        .input_channels = input_channels, .output_channels = output_channels, .groups = 1,
        .kernel_h = 1, .kernel_w = 1, .stride_h = stride, .stride_w = stride,
        .dilation_h = 1, .dilation_w = 1, .activation = activation};
    return mk_conv2d_create(&params, weights, bias, variant, op_out);
}

mk_status mk_conv2d_output_size(const mk_conv2d_op* op, size_t in_h, size_t in_w, size_t* out_h,
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

typedef struct {
    const mk_conv2d_op* op;
    size_t in_h, in_w, out_h, out_w, pixels;
    const float* input;
    size_t in_stride;
    float* output;
    size_t out_stride;
    const float* residual;
    size_t res_stride;
    size_t block_tiles;  // n tiles per task column (N block)
    size_t blocks;       // N blocks per group
    bool dense;          // 1x1, stride 1, no padding
    size_t mr;           // rows per tile: the microkernel's MR, or 1 for fewer pixels than MR
    size_t extent_h, extent_w;              // the dilated kernel's input rows and columns
    size_t tap_offset[MK_CONV_MAX_TAPS];    // KxK: floats from a window's first input pixel to tap t
} mk_conv_job;

// The A pointers of pixel tile `mt`, group g, channels from c0: ptrs[t * MR + m]. Rows past the
// last pixel repeat it (computed, not stored). One division per tile; then the output position
// is stepped pixel by pixel.
static void mk_conv_pointers(const mk_conv_job* job, size_t mt, size_t g, size_t c0,
                             const float** ptrs) {
    const mk_conv2d_op* op = job->op;
    const mk_conv2d_params* p = &op->p;
    const size_t MR = job->mr;
    const float* base = job->input + g * op->cin_g + c0;
    const size_t first = mt * MR;
    if (job->dense) {  // 1x1, stride 1, no padding: input pixel = output pixel
        for (size_t m = 0; m < MR; m++) {
            const size_t pixel = first + m < job->pixels ? first + m : job->pixels - 1;
            ptrs[m] = base + pixel * job->in_stride;
        }
        return;
    }
    const size_t plane = job->out_h * job->out_w;
    size_t n = first / plane, oy = (first % plane) / job->out_w, ox = first % job->out_w;
    for (size_t m = 0; m < MR; m++) {
        const float* image = base + n * job->in_h * job->in_w * job->in_stride;
        // Windows wholly inside the image (most of them): one base pointer plus fixed offsets.
        const size_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
        if (iy0 < job->in_h && job->in_h - iy0 >= job->extent_h && ix0 < job->in_w &&
            job->in_w - ix0 >= job->extent_w) {
            const float* window = image + (iy0 * job->in_w + ix0) * job->in_stride;
            for (size_t t = 0; t < op->taps; t++) ptrs[t * MR + m] = window + job->tap_offset[t];
        } else {  // a window over the border: padding taps read the zero row
            for (size_t ky = 0, t = 0; ky < p->kernel_h; ky++) {
                const size_t iy = oy * p->stride_h + ky * p->dilation_h - p->pad_top;  // wraps < 0
                for (size_t kx = 0; kx < p->kernel_w; kx++, t++) {
                    const size_t ix = ox * p->stride_w + kx * p->dilation_w - p->pad_left;
                    ptrs[t * MR + m] = (iy < job->in_h && ix < job->in_w)
                                           ? image + (iy * job->in_w + ix) * job->in_stride
                                           : op->zeros;
                }
            }
        }
        if (first + m + 1 < job->pixels && ++ox == job->out_w) {  // else: repeat the last pixel
            ox = 0;
            if (++oy == job->out_h) {
                oy = 0;
                n++;
            }
        }
    }
}

// Prefetches the A rows of the next pixel tile (dense 1x1 layout: MR consecutive pixels), so a
// layer whose input comes from L3 or memory does not stall on each short row: a tile reads only
// kc floats per pixel, too short a stream for the hardware prefetcher to pick up.
static void mk_conv_prefetch_next(const mk_conv_job* job, size_t pixel, size_t g, size_t c0,
                                  size_t kc) {
    const mk_conv2d_op* op = job->op;
    size_t last = pixel + job->mr;
    if (last > job->pixels) last = job->pixels;
    for (size_t p = pixel; p < last; p++) {
        const char* row = (const char*)(job->input + p * job->in_stride + g * op->cin_g + c0);
        for (size_t b = 0; b < kc * sizeof(float); b += 64) __builtin_prefetch(row + b);
        __builtin_prefetch(row + kc * sizeof(float) - 1);
    }
}

static void mk_conv_task(void* context, size_t thread, size_t mt0, size_t unit0, size_t mtiles,
                         size_t units) {
    (void)thread;
    const mk_conv_job* job = context;
    const mk_conv2d_op* op = job->op;
    const size_t MR = job->mr;
    const float* ptrs[MK_CONV_MAX_TAPS * MK_CONV_MAX_MR];
    mk_gemm_tail tail = {.epilogue = op->epilogue, .residual_stride = job->res_stride};
    const mk_epilogue_kind kind = op->epilogue.kind;
    for (size_t unit = unit0; unit < unit0 + units; unit++) {
        const size_t g = unit / job->blocks;
        const size_t tile0 = (unit % job->blocks) * job->block_tiles;
        const size_t tile1 =
            tile0 + job->block_tiles < op->ntiles ? tile0 + job->block_tiles : op->ntiles;
        for (size_t kb = 0; kb < op->kblocks; kb++) {
            const size_t c0 = kb * op->kc_channels;
            const size_t kc = c0 + op->kc_channels < op->cin_g ? op->kc_channels : op->cin_g - c0;
            tail.accumulate = kb > 0;
            tail.last = kb + 1 == op->kblocks;
            if (job->dense && job->mr == op->mr && kc <= MK_CONV_DENSE_MAX_KC && tile1 - tile0 == 1) {
                // One column tile: one call walks all the task's row tiles.
                const size_t p0 = mt0 * MR;
                const size_t p1 =
                    (mt0 + mtiles) * MR < job->pixels ? (mt0 + mtiles) * MR : job->pixels;
                for (size_t t0 = tile0, t1; t0 < tile1; t0 = t1) {
                    const size_t width = op->tile_width[t0];
                    for (t1 = t0 + 1; t1 < tile1 && op->tile_width[t1] == width; t1++) {
                    }
                    const size_t n0 = op->tile_n0[t0];
                    const size_t last_n0 = op->tile_n0[t1 - 1];
                    const size_t nc_last =
                        op->cout_g - last_n0 < width ? op->cout_g - last_n0 : width;
                    const size_t column = g * op->cout_g + n0;
                    size_t ignored;
                    const float* panel = mk_conv_panel(op, g, t0, &ignored);
                    tail.bias = tail.last ? op->bias + (g * op->ntiles + t0) * op->nr : NULL;
                    tail.bias_stride = op->nr;
                    tail.residual = (kb == 0 && job->residual != NULL)
                                        ? job->residual + p0 * job->res_stride + column
                                        : NULL;
                    mk_conv_kernel(op, width, false)->dense[kind](
                        mtiles, p1 - (mt0 + mtiles - 1) * MR, t1 - t0, nc_last, kc,
                        job->input + p0 * job->in_stride + g * op->cin_g + c0, job->in_stride,
                        panel + c0 * width, op->tile_floats,
                        job->output + p0 * job->out_stride + column, job->out_stride, &tail);
                }
                continue;
            }
            for (size_t mt = mt0; mt < mt0 + mtiles; mt++) {
                mk_conv_pointers(job, mt, g, c0, ptrs);
                const size_t p0 = mt * MR;
                const size_t mr = job->pixels - p0 < MR ? job->pixels - p0 : MR;
                if (job->dense && p0 + MR < job->pixels) mk_conv_prefetch_next(job, p0 + MR, g, c0, kc);
                for (size_t tile = tile0; tile < tile1; tile++) {
                    size_t width;
                    const float* panel = mk_conv_panel(op, g, tile, &width);
                    const size_t n0 = op->tile_n0[tile];
                    const size_t nc = op->cout_g - n0 < width ? op->cout_g - n0 : width;
                    const size_t column = g * op->cout_g + n0;
                    tail.bias = tail.last ? op->bias + (g * op->ntiles + tile) * op->nr : NULL;
                    tail.residual = (kb == 0 && job->residual != NULL)
                                        ? job->residual + p0 * job->res_stride + column
                                        : NULL;
                    const mk_igemm_kernel* k = mk_conv_kernel(op, width, job->mr == 1);
                    k->fn[kind](mr, nc, kc, op->taps, ptrs, panel + op->taps * c0 * width,
                                job->output + p0 * job->out_stride + column, job->out_stride,
                                &tail);
                }
            }
        }
    }
}

// Fused shuffle: per pixel tile, the n tiles in chunks as wide as the stack buffer allows (all
// of them for ShuffleNet's layers); per chunk every group's columns go into `stage`
// ([m][g][chunk columns]), then each row is transposed into the output's shuffled positions
// [n0 * G, n1 * G) in one call, so the transposes run on whole rows, not on short tiles.
#define MK_CONV_STAGE_FLOATS (MK_CONV_MAX_MR * MK_CONV_MAX_NR * MK_CONV_MAX_SHUFFLE_GROUPS)

static void mk_conv_shuffle_task(void* context, size_t thread, size_t mt0, size_t mtiles) {
    (void)thread;
    const mk_conv_job* job = context;
    const mk_conv2d_op* op = job->op;
    const size_t MR = job->mr, G = op->p.groups;
    const float* ptrs[MK_CONV_MAX_TAPS * MK_CONV_MAX_MR];
    float stage[MK_CONV_STAGE_FLOATS];
    mk_gemm_tail tail = {.epilogue = op->epilogue};
    const mk_epilogue_kind kind = op->epilogue.kind;
    const mk_f32_shuffle_ukernel_fn shuffle = mk_shuffle_kernel(op->config.shuffle, G);
    for (size_t mt = mt0; mt < mt0 + mtiles; mt++) {
        const size_t p0 = mt * MR;
        const size_t mr = job->pixels - p0 < MR ? job->pixels - p0 : MR;
        for (size_t t0 = 0, t1; t0 < op->ntiles; t0 = t1) {
            // The chunk [t0, t1): at least one tile (MR * G * NR always fits).
            const size_t n0 = op->tile_n0[t0];
            size_t n1 = n0;
            for (t1 = t0; t1 < op->ntiles; t1++) {
                size_t end = op->tile_n0[t1] + op->tile_width[t1];
                if (end > op->cout_g) end = op->cout_g;
                if (t1 > t0 && MR * G * (end - n0) > MK_CONV_STAGE_FLOATS) break;
                n1 = end;
            }
            const size_t columns = n1 - n0;
            for (size_t g = 0; g < G; g++) {
                for (size_t kb = 0; kb < op->kblocks; kb++) {
                    const size_t c0 = kb * op->kc_channels;
                    const size_t kc =
                        c0 + op->kc_channels < op->cin_g ? op->kc_channels : op->cin_g - c0;
                    tail.accumulate = kb > 0;
                    tail.last = kb + 1 == op->kblocks;
                    mk_conv_pointers(job, mt, g, c0, ptrs);
                    for (size_t tile = t0; tile < t1; tile++) {
                        size_t width;
                        const float* panel = mk_conv_panel(op, g, tile, &width);
                        const size_t tn0 = op->tile_n0[tile];
                        const size_t nc = op->cout_g - tn0 < width ? op->cout_g - tn0 : width;
                        tail.bias = tail.last ? op->bias + (g * op->ntiles + tile) * op->nr : NULL;
                        mk_conv_kernel(op, width, job->mr == 1)->fn[kind](
                            mr, nc, kc, op->taps, ptrs, panel + op->taps * c0 * width,
                            stage + g * columns + (tn0 - n0), G * columns, &tail);
                    }
                }
            }
            for (size_t m = 0; m < mr; m++) {
                shuffle(G, columns, stage + m * G * columns, columns,
                        job->output + (p0 + m) * job->out_stride + n0 * G);
            }
        }
    }
}

#if !defined(MK_NO_BLIS)
// BLIS epilogue pass: out = act(out + bias (+ residual)) over pixel rows [start, start + count).
static void mk_conv_blis_epilogue_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_conv_job* job = context;
    const mk_conv2d_op* op = job->op;
    const size_t C = op->p.output_channels;
    float* out = job->output + start * job->out_stride;
    if (job->residual != NULL && job->residual != job->output) {
        const float* res = job->residual + start * job->res_stride;
        for (size_t r = 0; r < count; r++) {
            for (size_t c = 0; c < C; c++) out[r * job->out_stride + c] += res[r * job->res_stride + c];
        }
    }
    mk_f32_vbiasact_ukernel_fn fn = mk_f32_vbiasact_ukernel_1c__scalar;
#if defined(__x86_64__)
    if (mk_variant_available(MK_VARIANT_AVX512)) {
        fn = mk_f32_vbiasact_ukernel_64c__avx512;
    } else if (mk_variant_available(MK_VARIANT_AVX2)) {
        fn = mk_f32_vbiasact_ukernel_32c__avx2;
    }
#endif
    fn(count, C, out, job->out_stride, op->blis_bias, out, job->out_stride, &op->epilogue);
}

static mk_status mk_conv_run_blis(const mk_conv_job* job, size_t batch, mk_threadpool* pool) {
    const mk_conv2d_op* op = job->op;
    const mk_conv2d_params* p = &op->p;
    // With the residual in the output itself (out += conv) BLIS accumulates into it (beta 1);
    // otherwise it overwrites the output and the epilogue pass adds the residual.
    const float one = 1.0f;
    const float beta = job->residual == job->output ? 1.0f : 0.0f;
    bli_thread_set_num_threads((dim_t)mk_threadpool_threads(pool));
    const bool dense_rows = p->stride_h == 1 && p->stride_w == 1;
    for (size_t g = 0; g < p->groups; g++) {
        const float* b = op->blis_weights + g * op->cout_g * op->cin_g;
        if (dense_rows) {
            // All pixels of the batch form one matrix: rows job->in_stride apart.
            bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)job->pixels,
                      (dim_t)op->cout_g, (dim_t)op->cin_g, &one, job->input + g * op->cin_g,
                      (inc_t)job->in_stride, 1, b, 1, (inc_t)op->cin_g, &beta,
                      job->output + g * op->cout_g, (inc_t)job->out_stride, 1);
            continue;
        }
        for (size_t n = 0; n < batch; n++) {
            for (size_t oy = 0; oy < job->out_h; oy++) {
                const float* a = job->input +
                                 ((n * job->in_h + oy * p->stride_h) * job->in_w) * job->in_stride +
                                 g * op->cin_g;
                float* c = job->output + ((n * job->out_h + oy) * job->out_w) * job->out_stride +
                           g * op->cout_g;
                bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)job->out_w,
                          (dim_t)op->cout_g, (dim_t)op->cin_g, &one, a,
                          (inc_t)(job->in_stride * p->stride_w), 1, b, 1, (inc_t)op->cin_g,
                          &beta, c, (inc_t)job->out_stride, 1);
            }
        }
    }
    return mk_threadpool_parallelize_1d(pool, mk_conv_blis_epilogue_task, (void*)job,
                                        job->pixels, 64);
}
#endif

mk_status mk_conv2d_run(const mk_conv2d_op* op, size_t batch, size_t in_h, size_t in_w,
                        const float* input, size_t input_pixel_stride, float* output,
                        size_t output_pixel_stride, const float* residual,
                        size_t residual_pixel_stride, mk_threadpool* pool) {
    if (op == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    const mk_conv2d_params* p = &op->p;
    const size_t cin = p->input_channels, cout = p->output_channels;
    if (input_pixel_stride == 0) input_pixel_stride = cin;
    if (output_pixel_stride == 0) output_pixel_stride = cout;
    if (residual_pixel_stride == 0) residual_pixel_stride = cout;
    if (batch == 0 || input_pixel_stride < cin || output_pixel_stride < cout ||
        residual_pixel_stride < cout) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (residual != NULL && p->shuffle_output) return MK_STATUS_INVALID_ARGUMENT;
    size_t out_h, out_w;
    mk_status status = mk_conv2d_output_size(op, in_h, in_w, &out_h, &out_w);
    if (status != MK_STATUS_OK) return status;

    size_t in_pixels, out_pixels, in_extent, out_extent, res_extent = 0;
    if (!mk_mul(batch, in_h, &in_pixels) || !mk_mul(in_pixels, in_w, &in_pixels) ||
        !mk_mul(batch, out_h, &out_pixels) || !mk_mul(out_pixels, out_w, &out_pixels) ||
        !mk_strided_extent(in_pixels, input_pixel_stride, cin, &in_extent) ||
        !mk_strided_extent(out_pixels, output_pixel_stride, cout, &out_extent) ||
        (residual != NULL &&
         !mk_strided_extent(out_pixels, residual_pixel_stride, cout, &res_extent))) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    if (mk_buffers_overlap(input, in_extent, output, out_extent)) return MK_STATUS_INVALID_ARGUMENT;
    if (residual != NULL && !(residual == output && residual_pixel_stride == output_pixel_stride) &&
        mk_buffers_overlap(residual, res_extent, output, out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }

    mk_conv_job job = {op,    in_h,   in_w,   out_h,  out_w,    out_pixels, input,
                       input_pixel_stride, output, output_pixel_stride, residual,
                       residual_pixel_stride, 0, 0,
                       mk_conv_is_1x1(p) && p->stride_h == 1 && p->stride_w == 1};
    job.extent_h = p->dilation_h * (p->kernel_h - 1) + 1;
    job.extent_w = p->dilation_w * (p->kernel_w - 1) + 1;
    for (size_t ky = 0, t = 0; ky < p->kernel_h; ky++) {
        for (size_t kx = 0; kx < p->kernel_w; kx++, t++) {
            job.tap_offset[t] = (ky * p->dilation_h * in_w + kx * p->dilation_w) * input_pixel_stride;
        }
    }
    const size_t threads = mk_threadpool_threads(pool);
    if (op->variant == MK_VARIANT_BLIS) {
#if defined(MK_NO_BLIS)
        return MK_STATUS_UNSUPPORTED;
#else
        return mk_conv_run_blis(&job, batch, pool);
#endif
    }
    job.mr = out_pixels < op->mr ? 1 : op->mr;
    const size_t mtiles = (out_pixels + job.mr - 1) / job.mr;
    if (p->shuffle_output) {
        size_t tile = mtiles / (8 * threads);
        if (tile < 1) tile = 1;
        if (tile > 16) tile = 16;
        return mk_threadpool_parallelize_1d(pool, mk_conv_shuffle_task, &job, mtiles, tile);
    }
    // N blocks: B columns of a task, at most config.nc floats wide; with few pixel tiles (7x7
    // layers) narrower, so every thread gets work. Any split computes the same sums.
    size_t block_tiles = op->config.nc / op->nr;
    if (block_tiles < 1) block_tiles = 1;
    if (threads > 1 && mtiles < 4 * threads) {
        const size_t want = (4 * threads + mtiles - 1) / mtiles;  // N blocks per group wanted
        size_t narrow = (op->ntiles + want - 1) / want;
        if (narrow < 1) narrow = 1;
        if (narrow < block_tiles) block_tiles = narrow;
    }
    job.block_tiles = block_tiles;
    job.blocks = (op->ntiles + block_tiles - 1) / block_tiles;
    // Pixel tiles per task: about 8 tasks per thread, at most ~112 pixels (the C block of a task
    // stays in L2 between k blocks).
    const size_t units = p->groups * job.blocks;
    size_t tile_i = mtiles * units / (8 * threads);
    if (tile_i < 1) tile_i = 1;
    if (tile_i > 16) tile_i = 16;
    return mk_threadpool_parallelize_2d(pool, mk_conv_task, &job, mtiles, units, tile_i, 1);
}

mk_variant mk_conv2d_variant(const mk_conv2d_op* op) { return op ? op->variant : MK_VARIANT_AUTO; }

void mk_conv2d_destroy(mk_conv2d_op* op) {
    if (op == NULL) return;
    mk_aligned_free(op->packed);
    mk_aligned_free(op->bias);
    mk_aligned_free(op->zeros);
    mk_aligned_free(op->blis_weights);
    mk_aligned_free(op->blis_bias);
    free(op->tile_n0);
    free(op->tile_width);
    free(op);
}
