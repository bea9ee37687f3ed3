// Operator: the weight gradient of a convolution as a GEMM over pixels from the NHWC output
// gradient and input (or im2col patches): mk_weight_gradient_f32 (mk_training.h).
//
// Blocking (BLIS's loops): C's columns in passes of MK_WG_NC; the pixels in blocks of MK_WG_KC;
// per block, B's rows are packed into NR-wide panels (the whole pass: L3) and, per MK_WG_MC rows of
// the task's C, A's into MR-wide panels (L2); the microkernel then streams one panel of each
// (a B panel stays in L1 across the A panels). Both operands are strided by a whole pixel in
// NHWC (a new line, often a new page, per pixel): packing is what lets the microkernel run at
// the FMA rate. Threads split C's rows (one task per thread, each packs the B block it reads),
// or, for a single product with more columns than rows (a projection's or a KxK convolution's
// gradient, whose B is the wider operand or im2col patches), C's columns (each packs the A
// block): what is packed twice is the narrower operand. Never the pixels, so every element of C
// is one chain of multiply-adds in pixel order: the same bits for any thread count and any
// blocking. A grouped convolution's products (one per group,
// block-diagonal) are one job: its row tiles are numbered across the groups and split among the
// threads, and each block of pixels is packed for every group a thread has while its rows are in
// cache (one pass over the tensors, not one per group; a group's B block is packed by each
// thread that has rows of it, as for a single product). The first block of pixels of a gradient
// that is not accumulated overwrites C (tile_overwrite), so C is never cleared.
#include "../configs/configs.h"
#include "../include/mk_training.h"

#include <stdint.h>
#include <string.h>

#define MK_WG_KC 256
#define MK_WG_MC 144
#define MK_WG_NC 1024

typedef struct {
    const mk_wgrad_kernels* k;
    size_t pixels, m, n, lda, ldb, ldc;
    // Groups (products side by side: group g's a, b, c and bias start g * m columns, g * n
    // columns, g * m rows and g * m entries further) and row tiles per group.
    size_t groups, group_tiles;
    bool accumulate;  // else the first block of pixels overwrites c
    bool by_columns;  // tasks split C's columns (in NR-wide units), not its row tiles
    const float* a;
    const float* b;
    float* c;
    float* bias;
    float* workspace;
    size_t thread_floats;
    // A convolution's geometry when b is its input (im2col patches built while packing), else NULL.
    const mk_conv2d_wgrad_geometry* conv;
} mk_wg_job;

static size_t mk_wg_round_up(size_t x, size_t q) { return (x + q - 1) / q * q; }

// Floats of one thread's packing area: an A block (MC rows, at most m) and a B block (NC
// columns, at most n), each KC pixels deep, and one patch row (NC columns), rounded to 64 bytes.
static size_t mk_wg_thread_floats(const mk_wgrad_kernels* k, size_t m, size_t n) {
    const size_t mc = mk_wg_round_up(m < MK_WG_MC ? m : MK_WG_MC, k->mr);
    const size_t nc = mk_wg_round_up(n < MK_WG_NC ? n : MK_WG_NC, k->nr);
    return mk_wg_round_up((mc + nc) * MK_WG_KC + nc, 16);
}

// Rows [0, rows) of a `width`-column slice of src (row stride ld) into `panel`-wide panels (row r
// of panel p at dst[p * panel_stride + r * panel]), the last one zero-padded. Inlined per panel
// width so that the copies are fixed-size moves, not calls.
static inline __attribute__((always_inline)) void mk_wg_pack_panels(size_t rows, size_t width, size_t panel,
                                                                   const float* src, size_t ld, float* dst,
                                                                   size_t panel_stride) {
    const size_t full = width / panel, rest = width % panel;
    for (size_t r = 0; r < rows; r++) {
        const float* row = src + r * ld;
        float* out = dst + r * panel;
        for (size_t p = 0; p < full; p++) memcpy(out + p * panel_stride, row + p * panel, panel * sizeof(float));
        if (rest != 0) {
            float* last = out + full * panel_stride;
            for (size_t i = 0; i < panel; i++) last[i] = i < rest ? row[full * panel + i] : 0.0f;
        }
    }
}

static void mk_wg_pack(size_t rows, size_t width, size_t panel, const float* src, size_t ld, float* dst,
                       size_t panel_stride) {
    switch (panel) {
        case 6: mk_wg_pack_panels(rows, width, 6, src, ld, dst, panel_stride); break;
        case 8: mk_wg_pack_panels(rows, width, 8, src, ld, dst, panel_stride); break;
        case 16: mk_wg_pack_panels(rows, width, 16, src, ld, dst, panel_stride); break;
        case 32: mk_wg_pack_panels(rows, width, 32, src, ld, dst, panel_stride); break;
        default: mk_wg_pack_panels(rows, width, panel, src, ld, dst, panel_stride); break;
    }
}

// Columns [n0, n0 + nc) of output pixel p's im2col row ((ky, kx, channel) order, zeros where the
// tap falls in the padding) into row[0, nc).
static void mk_wg_patch_row(const mk_conv2d_wgrad_geometry* g, const float* x, size_t p, size_t n0, size_t nc,
                            float* row) {
    const size_t plane = g->out_h * g->out_w;
    const size_t image = p / plane, oy = p % plane / g->out_w, ox = p % g->out_w;
    const size_t cin = g->in_channels;
    for (size_t col = n0; col < n0 + nc;) {
        const size_t tap = col / cin, c0 = col % cin;
        const size_t len = cin - c0 < n0 + nc - col ? cin - c0 : n0 + nc - col;
        const size_t ky = tap / g->kernel_w, kx = tap % g->kernel_w;
        // Unsigned coordinates: a tap in the top or left padding wraps to a huge value.
        const size_t iy = oy * g->stride_h + ky * g->dilation_h - g->pad_top;
        const size_t ix = ox * g->stride_w + kx * g->dilation_w - g->pad_left;
        if (iy < g->in_h && ix < g->in_w) {
            memcpy(row + (col - n0), x + ((image * g->in_h + iy) * g->in_w + ix) * g->input_pixel_stride + c0,
                   len * sizeof(float));
        } else {
            memset(row + (col - n0), 0, len * sizeof(float));
        }
        col += len;
    }
}

// The rows [m0, m1) of one group's product that a task computes, and where the group's a, c
// and bias start.
typedef struct {
    const float* a;
    float* c;
    float* bias;
    size_t m0, m1;
} mk_wg_rows;

static mk_wg_rows mk_wg_group_rows(const mk_wg_job* job, size_t group, size_t start, size_t end) {
    const size_t first = group * job->group_tiles, MR = job->k->mr;
    const size_t t0 = start > first ? start - first : 0;
    const size_t t1 = end - first < job->group_tiles ? end - first : job->group_tiles;
    const size_t m1 = t1 * MR < job->m ? t1 * MR : job->m;
    return (mk_wg_rows){job->a + group * job->m, job->c + group * job->m * job->ldc,
                        job->bias == NULL ? NULL : job->bias + group * job->m, t0 * MR, m1};
}

static void mk_wg_task(void* context, size_t thread, size_t start, size_t count) {
    const mk_wg_job* job = context;
    const mk_wgrad_kernels* k = job->k;
    const size_t MR = k->mr, NR = k->nr;
    // Row tiles [start, end) and every column, or (by_columns: one group) every row tile and
    // columns [col0, col1); the bias once, by the task with the first columns.
    size_t end = start + count, col0 = 0, col1 = job->n;
    bool bias = job->bias != NULL;
    if (job->by_columns) {
        col0 = start * NR;
        col1 = end * NR < job->n ? end * NR : job->n;
        bias = bias && start == 0;
        start = 0;
        end = job->group_tiles;
    }
    const size_t g0 = start / job->group_tiles, g1 = (end - 1) / job->group_tiles;
    float* apack = job->workspace + thread * job->thread_floats;
    float* bpack = apack + mk_wg_round_up(job->m < MK_WG_MC ? job->m : MK_WG_MC, MR) * MK_WG_KC;
    float* row = bpack + mk_wg_round_up(job->n < MK_WG_NC ? job->n : MK_WG_NC, NR) * MK_WG_KC;
    float edge[MK_WG_MR * 32];  // a partial tile's copy of C (NR <= 32)
    // Passes and pixel blocks of equal size (a multiple of NR wide): no short last block that
    // would pay C's loads and stores for a few pixels.
    const size_t passes = (col1 - col0 + MK_WG_NC - 1) / MK_WG_NC;
    const size_t pass_width = mk_wg_round_up((col1 - col0 + passes - 1) / passes, NR);
    const size_t blocks = (job->pixels + MK_WG_KC - 1) / MK_WG_KC;
    const size_t block_pixels = (job->pixels + blocks - 1) / blocks;
    for (size_t n0 = col0; n0 < col1; n0 += pass_width) {
        const size_t nc = col1 - n0 < pass_width ? col1 - n0 : pass_width;
        for (size_t p0 = 0; p0 < job->pixels; p0 += block_pixels) {
            const size_t kc = job->pixels - p0 < block_pixels ? job->pixels - p0 : block_pixels;
            // The first block of a gradient that is not accumulated writes C without reading it.
            const bool overwrite = p0 == 0 && !job->accumulate;
            const mk_f32_wgrad_tile_fn tile = overwrite ? k->tile_overwrite : k->tile;
            for (size_t group = g0; group <= g1; group++) {
                const mk_wg_rows rows = mk_wg_group_rows(job, group, start, end);
                if (job->conv == NULL) {
                    mk_wg_pack(kc, nc, NR, job->b + group * job->n + p0 * job->ldb + n0, job->ldb, bpack, kc * NR);
                } else {
                    for (size_t r = 0; r < kc; r++) {
                        mk_wg_patch_row(job->conv, job->b, p0 + r, n0, nc, row);
                        mk_wg_pack(1, nc, NR, row, 0, bpack + r * NR, kc * NR);
                    }
                }
                for (size_t mb = rows.m0; mb < rows.m1; mb += MK_WG_MC) {
                    const size_t mc = rows.m1 - mb < MK_WG_MC ? rows.m1 - mb : MK_WG_MC;
                    mk_wg_pack(kc, mc, MR, rows.a + p0 * job->lda + mb, job->lda, apack, kc * MR);
                    for (size_t j = 0; j < nc; j += NR) {
                        const size_t nr = nc - j < NR ? nc - j : NR;
                        const float* bp = bpack + j * kc;
                        for (size_t i = 0; i < mc; i += MR) {
                            const size_t mr = mc - i < MR ? mc - i : MR;
                            const float* ap = apack + i * kc;
                            float* c = rows.c + (mb + i) * job->ldc + n0 + j;
                            // C's next tile down (rows a whole pass of columns apart: each a miss
                            // the prefetcher cannot guess when C outgrows the caches).
                            if (i + MR < mc) {
                                for (size_t r = 0; r < MR; r++) {
                                    __builtin_prefetch(c + (MR + r) * job->ldc, 1);
                                    __builtin_prefetch(c + (MR + r) * job->ldc + NR - 1, 1);
                                }
                            }
                            if (mr == MR && nr == NR) {
                                tile(kc, ap, bp, c, job->ldc);
                            } else {
                                // The same chains on a copy: C's values in (unless overwritten),
                                // zeros beside them.
                                memset(edge, 0, sizeof(edge));
                                if (!overwrite) {
                                    for (size_t r = 0; r < mr; r++) memcpy(edge + r * NR, c + r * job->ldc, nr * sizeof(float));
                                }
                                tile(kc, ap, bp, edge, NR);
                                for (size_t r = 0; r < mr; r++) memcpy(c + r * job->ldc, edge + r * NR, nr * sizeof(float));
                            }
                        }
                    }
                }
            }
        }
    }
    if (!bias) return;
    // The bias: column sums of a over all pixels (each a chain in pixel order), 256 columns at a
    // time in a local array so the compiler vectorizes across columns.
    float sums[256];
    for (size_t group = g0; group <= g1; group++) {
        const mk_wg_rows rows = mk_wg_group_rows(job, group, start, end);
        for (size_t i0 = rows.m0; i0 < rows.m1; i0 += 256) {
            const size_t w = rows.m1 - i0 < 256 ? rows.m1 - i0 : 256;
            for (size_t i = 0; i < w; i++) sums[i] = rows.bias[i0 + i];
            for (size_t p = 0; p < job->pixels; p++) {
                const float* restrict ar = rows.a + p * job->lda + i0;
                for (size_t i = 0; i < w; i++) sums[i] += ar[i];
            }
            for (size_t i = 0; i < w; i++) rows.bias[i0 + i] = sums[i];
        }
    }
}

static mk_status mk_wg_kernels(mk_variant variant, const mk_wgrad_kernels** out) {
    mk_variant resolved;
    mk_status status = mk_family_resolve(MK_FAMILY_F32_WGRAD, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    *out = mk_f32_wgrad_config_get(resolved);
    return MK_STATUS_OK;
}

mk_status mk_weight_gradient_f32_workspace_bytes(size_t m, size_t n, mk_variant variant,
                                                 mk_threadpool* pool, size_t* bytes) {
    if (bytes == NULL) return MK_STATUS_NULL_POINTER;
    if (m == 0 || n == 0) return MK_STATUS_INVALID_ARGUMENT;
    const mk_wgrad_kernels* kernels;
    mk_status status = mk_wg_kernels(variant, &kernels);
    if (status != MK_STATUS_OK) return status;
    // m and n are clamped to a block, so this cannot overflow for any thread count in use.
    *bytes = mk_threadpool_threads(pool) * mk_wg_thread_floats(kernels, m, n) * sizeof(float);
    return MK_STATUS_OK;
}

// Validates the workspace (or allocates one), clears the bias unless accumulating (C needs no
// clearing: see tile_overwrite), and runs the job, one task per thread.
static mk_status mk_wg_run(mk_wg_job* job, size_t a_extent, size_t b_extent, size_t c_extent, bool accumulate,
                           void* workspace, size_t workspace_bytes, mk_threadpool* pool) {
    const size_t threads = mk_threadpool_threads(pool);
    job->thread_floats = mk_wg_thread_floats(job->k, job->m, job->n);
    const size_t needed = threads * job->thread_floats * sizeof(float);
    void* owned = NULL;
    if (workspace == NULL) {
        owned = mk_aligned_alloc(needed);
        if (owned == NULL) return MK_STATUS_OUT_OF_MEMORY;
        workspace = owned;
    } else {
        const size_t floats = needed / sizeof(float);
        const float* w = (const float*)workspace;
        if (workspace_bytes < needed || ((uintptr_t)workspace % sizeof(float)) != 0 ||
            mk_buffers_overlap(w, floats, job->a, a_extent) || mk_buffers_overlap(w, floats, job->b, b_extent) ||
            mk_buffers_overlap(w, floats, job->c, c_extent) ||
            (job->bias != NULL && mk_buffers_overlap(w, floats, job->bias, job->groups * job->m))) {
            return MK_STATUS_INVALID_ARGUMENT;
        }
    }
    job->workspace = workspace;
    // C needs no clearing: the first block of pixels overwrites it (job->accumulate).
    job->accumulate = accumulate;
    if (!accumulate && job->bias != NULL) memset(job->bias, 0, job->groups * job->m * sizeof(float));
    job->group_tiles = (job->m + job->k->mr - 1) / job->k->mr;
    const size_t tiles = job->groups * job->group_tiles;
    // One task per thread: each packs the blocks it reads; the narrower operand is the one
    // packed by every thread.
    const size_t column_units = (job->n + job->k->nr - 1) / job->k->nr;
    job->by_columns = threads > 1 && job->groups == 1 && job->n > job->m && column_units >= threads;
    const size_t units = job->by_columns ? column_units : tiles;
    const size_t per_task = (units + threads - 1) / threads;
    const mk_status status = mk_threadpool_parallelize_1d(pool, mk_wg_task, job, units, per_task);
    mk_aligned_free(owned);
    return status;
}

// The overlap rules shared by both entry points.
static bool mk_wg_overlaps(const float* a, size_t a_extent, const float* b, size_t b_extent, const float* c,
                           size_t c_extent, const float* bias, size_t m) {
    return mk_buffers_overlap(a, a_extent, c, c_extent) || mk_buffers_overlap(b, b_extent, c, c_extent) ||
           (bias != NULL && (mk_buffers_overlap(bias, m, c, c_extent) || mk_buffers_overlap(bias, m, a, a_extent) ||
                             mk_buffers_overlap(bias, m, b, b_extent)));
}

mk_status mk_grouped_weight_gradient_f32(size_t pixels, size_t groups, size_t m, size_t n, const float* a,
                                         size_t lda, const float* b, size_t ldb, float* c, size_t ldc, float* bias,
                                         bool accumulate, void* workspace, size_t workspace_bytes,
                                         mk_variant variant, mk_threadpool* pool) {
    if (a == NULL || b == NULL || c == NULL) return MK_STATUS_NULL_POINTER;
    if (pixels == 0 || groups == 0 || m == 0 || n == 0 || ldc < n) return MK_STATUS_INVALID_ARGUMENT;
    size_t gm, gn, a_extent, b_extent, c_extent;
    if (!mk_size_mul(groups, m, &gm) || !mk_size_mul(groups, n, &gn)) return MK_STATUS_SIZE_OVERFLOW;
    if (lda < gm || ldb < gn) return MK_STATUS_INVALID_ARGUMENT;
    if (!mk_strided_extent(pixels, lda, gm, &a_extent) || !mk_strided_extent(pixels, ldb, gn, &b_extent) ||
        !mk_strided_extent(gm, ldc, n, &c_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    if (mk_wg_overlaps(a, a_extent, b, b_extent, c, c_extent, bias, gm)) return MK_STATUS_INVALID_ARGUMENT;
    const mk_wgrad_kernels* kernels;
    mk_status status = mk_wg_kernels(variant, &kernels);
    if (status != MK_STATUS_OK) return status;
    mk_wg_job job = {kernels, pixels, m, n, lda, ldb, ldc, groups, 0, false, false, a, b, c, bias, NULL, 0, NULL};
    return mk_wg_run(&job, a_extent, b_extent, c_extent, accumulate, workspace, workspace_bytes, pool);
}

mk_status mk_weight_gradient_f32(size_t pixels, size_t m, size_t n, const float* a, size_t lda,
                                 const float* b, size_t ldb, float* c, size_t ldc, float* bias,
                                 bool accumulate, void* workspace, size_t workspace_bytes,
                                 mk_variant variant, mk_threadpool* pool) {
    return mk_grouped_weight_gradient_f32(pixels, 1, m, n, a, lda, b, ldb, c, ldc, bias, accumulate, workspace,
                                          workspace_bytes, variant, pool);
}

mk_status mk_conv2d_weight_gradient_f32_workspace_bytes(const mk_conv2d_wgrad_geometry* g, mk_variant variant,
                                                        mk_threadpool* pool, size_t* bytes) {
    if (g == NULL) return MK_STATUS_NULL_POINTER;
    size_t n;
    if (!mk_size_mul(g->kernel_h, g->kernel_w, &n) || !mk_size_mul(n, g->in_channels, &n)) return MK_STATUS_SIZE_OVERFLOW;
    return mk_weight_gradient_f32_workspace_bytes(g->out_channels, n, variant, pool, bytes);
}

mk_status mk_conv2d_weight_gradient_f32(const mk_conv2d_wgrad_geometry* g, const float* x, const float* dy,
                                        float* dw, float* dbias, bool accumulate, void* workspace,
                                        size_t workspace_bytes, mk_variant variant, mk_threadpool* pool) {
    if (g == NULL || x == NULL || dy == NULL || dw == NULL) return MK_STATUS_NULL_POINTER;
    const size_t sizes[] = {g->batch, g->in_h, g->in_w, g->out_h, g->out_w, g->kernel_h, g->kernel_w, g->stride_h,
                            g->stride_w, g->dilation_h, g->dilation_w, g->in_channels, g->out_channels};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (sizes[i] == 0) return MK_STATUS_INVALID_ARGUMENT;
    }
    if (g->input_pixel_stride < g->in_channels || g->output_pixel_stride < g->out_channels) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t in_pixels, pixels, n, x_extent, dy_extent, c_extent;
    if (!mk_size_mul(g->batch, g->in_h, &in_pixels) || !mk_size_mul(in_pixels, g->in_w, &in_pixels) ||
        !mk_size_mul(g->batch, g->out_h, &pixels) || !mk_size_mul(pixels, g->out_w, &pixels) ||
        !mk_size_mul(g->kernel_h, g->kernel_w, &n) || !mk_size_mul(n, g->in_channels, &n) ||
        !mk_strided_extent(in_pixels, g->input_pixel_stride, g->in_channels, &x_extent) ||
        !mk_strided_extent(pixels, g->output_pixel_stride, g->out_channels, &dy_extent) ||
        !mk_size_mul(g->out_channels, n, &c_extent) || c_extent > MK_MAX_ELEMENTS) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    // Every tap's coordinate (before the padding is taken off) must be representable.
    size_t reach_h, reach_w;
    if (!mk_size_mul(g->out_h - 1, g->stride_h, &reach_h) || !mk_size_mul(g->out_w - 1, g->stride_w, &reach_w) ||
        !mk_size_mul(g->kernel_h - 1, g->dilation_h, &n) || !mk_size_add(reach_h, n, &reach_h) ||
        !mk_size_mul(g->kernel_w - 1, g->dilation_w, &n) || !mk_size_add(reach_w, n, &reach_w) ||
        reach_h > MK_MAX_ELEMENTS || reach_w > MK_MAX_ELEMENTS || g->pad_top > MK_MAX_ELEMENTS ||
        g->pad_left > MK_MAX_ELEMENTS) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    n = g->kernel_h * g->kernel_w * g->in_channels;
    if (mk_wg_overlaps(dy, dy_extent, x, x_extent, dw, c_extent, dbias, g->out_channels)) return MK_STATUS_INVALID_ARGUMENT;
    const mk_wgrad_kernels* kernels;
    mk_status status = mk_wg_kernels(variant, &kernels);
    if (status != MK_STATUS_OK) return status;
    mk_wg_job job = {kernels, pixels, g->out_channels, n, g->output_pixel_stride, 0, n, 1, 0, false, false, dy, x, dw, dbias, NULL, 0, g};
    return mk_wg_run(&job, dy_extent, x_extent, c_extent, accumulate, workspace, workspace_bytes, pool);
}
