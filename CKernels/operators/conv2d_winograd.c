// Winograd F(4x4, 3x3) for the 3x3 stride-1 dense convolutions (mk_conv2d_algorithm WINOGRAD).
//
// The output is cut into 4x4 tiles (6x6 input tiles, overlapping by 2). A task takes a block of
// T tiles and, in a workspace of its own thread:
//   1. transforms each tile's 6x6 input pixels, all channels (f32_winograd input kernel):
//      V[p][tile][Cin] for the 36 points p;
//   2. runs 36 GEMMs M[p] = V[p] (T x Cin) * U[p] (Cin x Cout) with the igemm driver's dense
//      form on the variant's f32_gemm microkernels, U being the weights transformed (G g G^T,
//      f32_winograd weights kernel) and packed like a 1x1 convolution's. U is 4x the weights:
//      when it would be larger than MK_WINO_U_HELD, the layer keeps g packed per column tile
//      instead (a quarter of the memory) and computes U in the run, the same U, so the same
//      results. Per block: the task transforms six points of a group of column tiles at a time
//      (up to MK_WINO_U_GROUP bytes, kept in L2) into its workspace before those points' GEMMs
//      (9 instead of 36 floats per weight read per block), when the plan has one block of tiles (the transform
//      is then done once anyway, and U never leaves the cache) or when U is too large to hold
//      in a plan's workspace (above MK_WINO_U_CACHED); otherwise once per run, all of U into
//      the plan's workspace (the threads split the column tiles) before the blocks;
//   3. transforms M back into 4x4 output tiles, adding the bias and residual and applying the
//      activation in the same pass (f32_winograd output kernel); pixels past the output's edge
//      are computed and not stored.
// T is chosen so a thread's V and M take about MK_WINO_WORKSPACE bytes (they stay in the
// last-level cache; U[p] is read once per block). With fewer tiles than a block, the threads
// split the output channels instead (each transforms the same input: cheap next to the GEMM).
// An output element is computed by the same arithmetic whatever the split: the results do not
// depend on the thread count.
#include "conv2d_internal.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Bytes of V and M per thread (measured on VGG16's layers, see CKernels/README.md): small
// blocks whose V and M stay in L2 while U (36 x Cin x Cout floats) is re-read from the last-level
// cache for each block; but when U is larger than MK_WINO_U_CACHED it would come from memory,
// so it is computed in the run, once per block and column tile, and blocks as large as
// MK_WINO_WORKSPACE_LARGE make that transform a small part of the block's work. The environment's
// MK_WINO_WORKSPACE_BYTES (read once) or the tests' override replace both.
#define MK_WINO_WORKSPACE_SMALL ((size_t)256 << 10)
#define MK_WINO_WORKSPACE_LARGE ((size_t)16 << 20)
#define MK_WINO_U_CACHED ((size_t)16 << 20)
// U larger than this is computed in the run (AlexNet's 3x3 layers, 9.4-14.2 MB, and VGG16's
// from conv3_1); smaller ones are held (VGG16's conv1 and conv2 layers, 0.6-2.4 MB).
#define MK_WINO_U_HELD ((size_t)4 << 20)
// U computed in the run: bytes of the 6 points' U a task computes at a time (whole column
// tiles, at least one).
#define MK_WINO_U_GROUP ((size_t)384 << 10)

_Thread_local size_t mk_conv2d_winograd_workspace_override;
_Thread_local int mk_conv2d_winograd_lazy_override;

// A size from the environment variable `name`, read once into `cache` (SIZE_MAX: not read yet;
// racing reads agree); 0 when it is not set.
static size_t mk_wino_env(const char* name, _Atomic size_t* cache) {
    size_t v = atomic_load_explicit(cache, memory_order_relaxed);
    if (v == SIZE_MAX) {
        const char* text = getenv(name);
        v = text != NULL ? strtoull(text, NULL, 10) : 0;
        atomic_store_explicit(cache, v, memory_order_relaxed);
    }
    return v;
}

static size_t mk_wino_workspace(size_t u_bytes) {
    const size_t o = mk_conv2d_winograd_workspace_override;
    if (o != 0) return o;
    static _Atomic size_t from_env = SIZE_MAX;
    const size_t v = mk_wino_env("MK_WINO_WORKSPACE_BYTES", &from_env);
    if (v != 0) return v;
    return u_bytes > MK_WINO_U_CACHED ? MK_WINO_WORKSPACE_LARGE : MK_WINO_WORKSPACE_SMALL;
}

static size_t mk_round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

// MK_WINO_U_GROUP, or the environment's MK_WINO_U_GROUP_BYTES (read once).
static size_t mk_wino_u_group(void) {
    static _Atomic size_t from_env = SIZE_MAX;
    const size_t v = mk_wino_env("MK_WINO_U_GROUP_BYTES", &from_env);
    return v != 0 ? v : MK_WINO_U_GROUP;
}

mk_status mk_conv2d_winograd_create(mk_conv2d_f32_op* op, const float* weights, const float* bias) {
    const size_t cin = op->cin_g, cout = op->cout_g;
    op->wino = mk_f32_winograd_config_get(op->variant);
    const mk_f32_gemm_config* config = mk_f32_gemm_config_get(op->variant);
    if (op->wino == NULL || config == NULL) return MK_STATUS_UNSUPPORTED;
    mk_status status = mk_igemm_geometry_init(&op->geometry, config, 1, cin, cout, 1);
    if (status != MK_STATUS_OK) return status;
    if (op->geometry.nr > MK_IGEMM_MAX_NR) return MK_STATUS_UNSUPPORTED;  // the pack's tile row
    size_t u_floats, g_floats;
    if (!mk_size_mul(op->geometry.packed_floats, MK_WINO_POINTS, &u_floats) ||
        !mk_size_mul(op->geometry.packed_floats, 9, &g_floats) || u_floats > MK_MAX_ELEMENTS) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    const int lazy = mk_conv2d_winograd_lazy_override;
    op->wino_lazy = lazy == 1 || lazy == 3 || (lazy == 0 && u_floats * sizeof(float) > MK_WINO_U_HELD);
    op->packed = mk_aligned_alloc((op->wino_lazy ? g_floats : u_floats) * sizeof(float));
    op->bias = mk_aligned_alloc(op->geometry.bias_floats * sizeof(float));
    op->zeros = mk_aligned_alloc(cin * sizeof(float));
    op->wino_bias = mk_aligned_alloc(cout * sizeof(float));
    if (op->packed == NULL || op->bias == NULL || op->zeros == NULL || op->wino_bias == NULL) {
        return MK_STATUS_OUT_OF_MEMORY;
    }
    memset(op->zeros, 0, cin * sizeof(float));
    mk_conv2d_winograd_pack(op, weights, bias);
    return MK_STATUS_OK;
}

// The packed weights of column tile `tile` and input channel c: the 9 taps of its `width`
// output channels, g[k * width + n] = weight (n0 + n, c) tap k (zero past the last output).
static void mk_wino_gather(const mk_conv2d_f32_op* op, const float* weights, size_t tile, size_t c,
                           float* g) {
    const mk_igemm_geometry* geo = &op->geometry;
    const size_t cin = op->cin_g, cout = op->cout_g;
    const size_t width = mk_igemm_tile_width(geo, tile), n0 = mk_igemm_tile_n0(geo, tile);
    for (size_t n = 0; n < width; n++) {
        const size_t o = n0 + n;
        for (size_t k = 0; k < 9; k++) g[k * width + n] = o < cout ? weights[(o * cin + c) * 9 + k] : 0.0f;
    }
}

// U = G g G^T per point, packed: with one tap and one group, weight (o, c) of column tile
// `tile` sits at tile * tile_floats + c * width + (o - n0) of a point's slice (mk_igemm_pack's
// layout), the 36 slices packed_floats apart. Or, for a layer that computes U in the run, g
// itself per column tile (conv2d_internal.h). The transform runs one input channel at a time
// from a stack row of its 9 taps, so set_weights repacks without allocating.
void mk_conv2d_winograd_pack(mk_conv2d_f32_op* op, const float* weights, const float* bias) {
    const mk_igemm_geometry* geo = &op->geometry;
    const size_t cin = op->cin_g, cout = op->cout_g, slice = geo->packed_floats;
    for (size_t o = 0; o < cout; o++) op->wino_bias[o] = bias != NULL ? bias[o] : 0.0f;
    memset(op->bias, 0, geo->bias_floats * sizeof(float));  // the bias is added by the output transform
    float g[9 * MK_IGEMM_MAX_NR];
    for (size_t tile = 0; tile < geo->ntiles; tile++) {
        const size_t width = mk_igemm_tile_width(geo, tile);
        for (size_t c = 0; c < cin; c++) {
            if (op->wino_lazy) {
                mk_wino_gather(op, weights, tile, c, op->packed + tile * 9 * geo->tile_floats + c * 9 * width);
            } else {
                mk_wino_gather(op, weights, tile, c, g);
                float* u = op->packed + tile * geo->tile_floats + c * width;
                for (size_t k = 0; k < MK_WINO_IN; k++) {
                    op->wino->weights(1, width, k, g, u + k * slice, MK_WINO_IN * slice);
                }
            }
        }
    }
}

mk_status mk_conv2d_winograd_reshape(const mk_conv2d_f32_op* op, size_t threads,
                                     mk_conv2d_f32_plan* plan) {
    const mk_igemm_geometry* g = &op->geometry;
    const size_t tiles_h = (plan->out_h + MK_WINO_OUT - 1) / MK_WINO_OUT;
    const size_t tiles_w = (plan->out_w + MK_WINO_OUT - 1) / MK_WINO_OUT;
    size_t tiles;
    if (!mk_size_mul(plan->batch, tiles_h, &tiles) || !mk_size_mul(tiles, tiles_w, &tiles)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    // Row strides rounded to 16 floats (64-byte rows); point strides 16 floats more, so the 36
    // points of a tile do not fall into the same cache sets.
    const size_t cin_pad = mk_round_up(op->cin_g, 16), cout_pad = mk_round_up(op->cout_g, 16);
    const size_t tile_bytes = MK_WINO_POINTS * (cin_pad + cout_pad) * sizeof(float);
    const size_t u_bytes = MK_WINO_POINTS * g->packed_floats * sizeof(float);
    size_t block = mk_wino_workspace(u_bytes) / tile_bytes;
    // At least enough tiles that re-reading U per block costs no more than a quarter of the
    // block's own V and M traffic: T >= Cin Cout / (4 (Cin + Cout)).
    const size_t amortize = op->cin_g * op->cout_g / (4 * (op->cin_g + op->cout_g));
    if (block < amortize) block = amortize;
    block = block < g->mr ? g->mr : mk_round_up(block, g->mr);
    size_t blocks = 1, parts = 1;
    if (tiles <= block) {
        block = tiles;
        parts = threads;  // few tiles: split the output channels
    } else {
        blocks = (tiles + block - 1) / block;
        blocks = mk_round_up(blocks, threads);  // whole rounds for the threads
        block = (tiles + blocks - 1) / blocks;
        blocks = (tiles + block - 1) / block;
    }
    // N blocks of the GEMM: at most nc columns, and at least `parts` of them.
    size_t block_tiles = g->config->blocking.nc / g->nr;
    if (block_tiles < 1) block_tiles = 1;
    if (parts > 1) {
        const size_t narrow = (g->ntiles + parts - 1) / parts;
        if (narrow < block_tiles) block_tiles = narrow;
    }
    plan->block_tiles = block_tiles;
    plan->blocks = (g->ntiles + block_tiles - 1) / block_tiles;
    plan->wino_part_units = (plan->blocks + parts - 1) / parts;
    parts = (plan->blocks + plan->wino_part_units - 1) / plan->wino_part_units;
    plan->mr = g->mr;
    plan->wino_tiles_h = tiles_h;
    plan->wino_tiles_w = tiles_w;
    plan->wino_tiles = tiles;
    plan->wino_block = block;
    plan->wino_blocks = blocks;
    plan->wino_parts = parts;
    plan->wino_v_stride = block * cin_pad + 16;
    plan->wino_m_stride = block * cout_pad + 16;
    // U computed in the run: 6 points of a group of column tiles (about MK_WINO_U_GROUP bytes,
    // so that they and the V of the GEMMs reading them stay in L2), the points 16 floats apart
    // from 64-byte rows.
    plan->wino_u_tiles = 0;
    plan->wino_u_stride = 0;
    const int mode = mk_conv2d_winograd_lazy_override;
    const bool per_run = op->wino_lazy &&
                         (mode == 3 || (mode == 0 && u_bytes <= MK_WINO_U_CACHED && blocks > 1));
    if (op->wino_lazy && !per_run) {
        const size_t tile_bytes_u = MK_WINO_IN * g->tile_floats * sizeof(float);
        size_t group = mk_wino_u_group() / tile_bytes_u;
        if (group < 1) group = 1;
        if (group > g->ntiles) group = g->ntiles;
        plan->wino_u_tiles = group;
        if (!mk_size_mul(group, g->tile_floats, &plan->wino_u_stride)) return MK_STATUS_SIZE_OVERFLOW;
        plan->wino_u_stride += 16;
    }
    size_t floats, all;
    if (!mk_size_mul(plan->wino_v_stride + plan->wino_m_stride, MK_WINO_POINTS, &floats) ||
        !mk_size_add(floats, MK_WINO_IN * plan->wino_u_stride, &floats) ||
        !mk_size_mul(floats, threads, &all)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    plan->wino_thread_floats = floats;
    // U once per run: after the threads' buffers.
    plan->wino_u_run_offset = per_run ? all : 0;
    if (per_run && !mk_size_add(all, MK_WINO_POINTS * g->packed_floats, &all)) return MK_STATUS_SIZE_OVERFLOW;
    if (!mk_size_mul(all, sizeof(float), &plan->workspace_bytes)) return MK_STATUS_SIZE_OVERFLOW;
    return MK_STATUS_OK;
}

typedef struct mk_wino_job {
    const mk_conv2d_f32_op* op;
    const mk_conv2d_f32_plan* plan;
    const float* input;
    float* output;
    const float* residual;
    float* workspace;
} mk_wino_job;

// Tile `tile` of the plan: its image and top-left output pixel.
static void mk_wino_tile_origin(const mk_conv2d_f32_plan* plan, size_t tile, size_t* n, size_t* oy,
                                size_t* ox) {
    const size_t per_image = plan->wino_tiles_h * plan->wino_tiles_w;
    *n = tile / per_image;
    *oy = (tile % per_image) / plan->wino_tiles_w * MK_WINO_OUT;
    *ox = tile % plan->wino_tiles_w * MK_WINO_OUT;
}

static void mk_wino_task(void* context, size_t thread, size_t item0, size_t items) {
    const mk_wino_job* job = context;
    const mk_conv2d_f32_op* op = job->op;
    const mk_conv2d_f32_plan* plan = job->plan;
    const mk_igemm_geometry* g = &op->geometry;
    const size_t cin = op->cin_g, cout = op->cout_g;
    const size_t in_stride = plan->input_pixel_stride, out_stride = plan->output_pixel_stride;
    const size_t res_stride = plan->residual_pixel_stride;
    const size_t vs = plan->wino_v_stride, ms = plan->wino_m_stride;
    const size_t cin_pad = mk_round_up(cin, 16), cout_pad = mk_round_up(cout, 16);
    float* v = job->workspace + thread * plan->wino_thread_floats;
    float* m = v + MK_WINO_POINTS * vs;
    float* u = m + MK_WINO_POINTS * ms;  // U per block: 6 points of a group of column tiles
    const size_t us = plan->wino_u_stride;
    mk_igemm_job gemm = {
        .geometry = g, .bias = op->bias, .zeros = op->zeros,
        .epilogue = {MK_EPILOGUE_IDENTITY, 0.0f, 0.0f}, .window = &op->window,
        .in_stride = cin_pad, .out_stride = cout_pad, .mr = g->mr, .dense = true,
        .block_tiles = plan->block_tiles, .blocks = plan->blocks, .tap_offset = plan->tap_offset};
    const float* d[MK_WINO_POINTS];
    float* y[MK_WINO_OUT * MK_WINO_OUT];
    const float* r[MK_WINO_OUT * MK_WINO_OUT];
    for (size_t item = item0; item < item0 + items; item++) {
        const size_t block = item / plan->wino_parts, part = item % plan->wino_parts;
        const size_t tile0 = block * plan->wino_block;
        const size_t count = plan->wino_tiles - tile0 < plan->wino_block ? plan->wino_tiles - tile0
                                                                          : plan->wino_block;
        // 1. Input tiles.
        for (size_t t = 0; t < count; t++) {
            size_t n, oy, ox;
            mk_wino_tile_origin(plan, tile0 + t, &n, &oy, &ox);
            const float* image = job->input + n * plan->in_h * plan->in_w * in_stride;
            for (size_t i = 0; i < MK_WINO_IN; i++) {
                const size_t iy = oy + i - op->p.pad_top;  // wraps below 0
                for (size_t j = 0; j < MK_WINO_IN; j++) {
                    const size_t ix = ox + j - op->p.pad_left;
                    d[i * 6 + j] = (iy < plan->in_h && ix < plan->in_w)
                                       ? image + (iy * plan->in_w + ix) * in_stride
                                       : op->zeros;
                }
            }
            op->wino->input(cin, d, v + t * cin_pad, vs);
        }
        // 2. The 36 GEMMs over this part's N blocks (its column tiles first_tile..last_tile).
        const size_t unit0 = part * plan->wino_part_units;
        const size_t units = plan->blocks - unit0 < plan->wino_part_units ? plan->blocks - unit0
                                                                           : plan->wino_part_units;
        const size_t first_tile = unit0 * plan->block_tiles;
        size_t last_tile = (unit0 + units) * plan->block_tiles;
        if (last_tile > g->ntiles) last_tile = g->ntiles;
        const size_t mtiles = (count + g->mr - 1) / g->mr;
        gemm.pixels = count;
        if (op->wino_lazy && plan->wino_u_run_offset == 0) {
            // Per group of column tiles and column k of the points: those 6 points' U for the
            // group's tiles, then their GEMMs (units of one tile each), each point's for all
            // the group's tiles in a row so its V stays in cache.
            gemm.block_tiles = 1;
            gemm.blocks = g->ntiles;
            const size_t group = plan->wino_u_tiles;
            for (size_t group0 = first_tile; group0 < last_tile; group0 += group) {
                const size_t group1 = group0 + group < last_tile ? group0 + group : last_tile;
                for (size_t k = 0; k < MK_WINO_IN; k++) {
                    for (size_t tile = group0; tile < group1; tile++) {
                        op->wino->weights(cin, mk_igemm_tile_width(g, tile), k,
                                          op->packed + tile * 9 * g->tile_floats,
                                          u + (tile - group0) * g->tile_floats, us);
                    }
                    for (size_t i = 0; i < MK_WINO_IN; i++) {
                        const size_t p = i * MK_WINO_IN + k;
                        gemm.input = v + p * vs;
                        gemm.output = m + p * ms;
                        for (size_t tile = group0; tile < group1; tile++) {
                            gemm.packed_tile0 = tile;
                            gemm.packed = u + i * us + (tile - group0) * g->tile_floats;
                            mk_igemm_task(&gemm, thread, 0, tile, mtiles, 1);
                        }
                    }
                }
            }
        } else {
            const float* u_all = op->wino_lazy ? job->workspace + plan->wino_u_run_offset : op->packed;
            for (size_t p = 0; p < MK_WINO_POINTS; p++) {
                gemm.packed = u_all + p * g->packed_floats;
                gemm.input = v + p * vs;
                gemm.output = m + p * ms;
                mk_igemm_task(&gemm, thread, 0, unit0, mtiles, units);
            }
        }
        // 3. Output tiles, this part's columns.
        const size_t c0 = mk_igemm_tile_n0(g, first_tile);
        size_t c1 = mk_igemm_tile_n0(g, last_tile - 1) + mk_igemm_tile_width(g, last_tile - 1);
        if (c1 > cout) c1 = cout;
        for (size_t t = 0; t < count; t++) {
            size_t n, oy, ox;
            mk_wino_tile_origin(plan, tile0 + t, &n, &oy, &ox);
            const size_t first = n * plan->out_h * plan->out_w;
            for (size_t i = 0; i < MK_WINO_OUT; i++) {
                for (size_t j = 0; j < MK_WINO_OUT; j++) {
                    const bool inside = oy + i < plan->out_h && ox + j < plan->out_w;
                    const size_t pixel = first + (oy + i) * plan->out_w + ox + j;
                    y[i * 4 + j] = inside ? job->output + pixel * out_stride + c0 : NULL;
                    r[i * 4 + j] = inside && job->residual != NULL
                                       ? job->residual + pixel * res_stride + c0
                                       : NULL;
                }
            }
            op->wino->output(c1 - c0, m + t * cout_pad + c0, ms, op->wino_bias + c0, y,
                             job->residual != NULL ? r : NULL, &op->epilogue);
        }
    }
}

// U once per run: column tiles tile0.. of U (all 36 points, packed like held U) into the plan's
// workspace.
static void mk_wino_u_task(void* context, size_t thread, size_t tile0, size_t tiles) {
    (void)thread;
    const mk_wino_job* job = context;
    const mk_conv2d_f32_op* op = job->op;
    const mk_igemm_geometry* g = &op->geometry;
    float* u = job->workspace + job->plan->wino_u_run_offset;
    for (size_t tile = tile0; tile < tile0 + tiles; tile++) {
        for (size_t k = 0; k < MK_WINO_IN; k++) {
            op->wino->weights(op->cin_g, mk_igemm_tile_width(g, tile), k,
                              op->packed + tile * 9 * g->tile_floats,
                              u + tile * g->tile_floats + k * g->packed_floats,
                              MK_WINO_IN * g->packed_floats);
        }
    }
}

mk_status mk_conv2d_winograd_run(const mk_conv2d_f32_op* op, const mk_conv2d_f32_plan* plan,
                                 const float* input, float* output, const float* residual,
                                 mk_threadpool* pool) {
    if (plan->workspace == NULL || mk_threadpool_threads(pool) > plan->threads) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_wino_job job = {op, plan, input, output, residual, plan->workspace};
    if (plan->wino_u_run_offset != 0) {
        const mk_status status =
            mk_threadpool_parallelize_1d(pool, mk_wino_u_task, &job, op->geometry.ntiles, 1);
        if (status != MK_STATUS_OK) return status;
    }
    return mk_threadpool_parallelize_1d(pool, mk_wino_task, &job,
                                        plan->wino_blocks * plan->wino_parts, 1);
}
