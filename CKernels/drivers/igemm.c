// The igemm driver: packing, column tiles, A pointers and the blocked loop (see igemm.h).
#include "igemm.h"

// Splits the remainder r (< NR) of the columns into tiles: the narrowest width that covers r
// when that wastes fewer lanes than the narrowest tail has, otherwise the widest tail that r
// fills, and again for the rest (AVX-512, NR = 32, tails 16 and 8: r = 28 -> 32, 24 -> 16 + 8,
// 20 -> 16 + 8, 12 -> 16, 4 -> 8).
static size_t mk_igemm_split_remainder(const mk_f32_gemm_config* config, size_t r, size_t n0,
                                       size_t* tile_n0, size_t* width) {
    const size_t nr = config->full->nr;
    size_t narrowest = nr;
    for (size_t i = 0; config->tails[i] != NULL; i++) narrowest = config->tails[i]->nr;
    size_t count = 0;
    while (r > 0 && count <= MK_GEMM_MAX_TAILS) {
        size_t cover = nr;
        for (size_t i = 0; config->tails[i] != NULL; i++) {
            if (config->tails[i]->nr >= r) cover = config->tails[i]->nr;
        }
        size_t w = cover;
        if (cover - r >= narrowest) {
            for (size_t i = 0; config->tails[i] != NULL; i++) {
                if (config->tails[i]->nr <= r) {
                    w = config->tails[i]->nr;
                    break;
                }
            }
        }
        tile_n0[count] = n0;
        width[count] = w;
        count++;
        n0 += w;
        r = w >= r ? 0 : r - w;
    }
    return count;
}

mk_status mk_igemm_geometry_init(mk_igemm_geometry* g, const mk_f32_gemm_config* config,
                                 size_t groups, size_t cin_g, size_t cout_g, size_t taps) {
    *g = (mk_igemm_geometry){.config = config, .groups = groups, .cin_g = cin_g,
                             .cout_g = cout_g, .taps = taps};
    g->mr = config->blocking.mr;
    g->nr = config->blocking.nr;
    g->full_tiles = cout_g / g->nr;
    g->ntiles = g->full_tiles + mk_igemm_split_remainder(config, cout_g % g->nr,
                                                         g->full_tiles * g->nr, g->rem_n0,
                                                         g->rem_width);
    size_t kc_channels = config->blocking.kc / taps;
    if (kc_channels < 16) kc_channels = 16;
    g->kblocks = (cin_g + kc_channels - 1) / kc_channels;
    g->kc_channels = (cin_g + g->kblocks - 1) / g->kblocks;  // balanced blocks
    size_t tiles;
    if (!mk_size_mul(g->nr, taps, &g->tile_floats) ||
        !mk_size_mul(g->tile_floats, cin_g, &g->tile_floats) ||
        !mk_size_mul(g->ntiles, groups, &tiles) ||
        !mk_size_mul(g->tile_floats, tiles, &g->packed_floats) ||
        !mk_size_mul(tiles, g->nr, &g->bias_floats) || g->packed_floats > MK_MAX_ELEMENTS) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    return MK_STATUS_OK;
}

// One tap: a tile's panel is the transpose of `width` weight rows, row n read at c. The k
// blocks partition the channels in order, so the panel is [c][width] for all c; 8 channels of
// every row at a time keep the rows' lines in L1 (the generic loop below reads one float per row
// per channel, with an index product and a bound check each).
static void mk_igemm_pack_one_tap(const mk_igemm_geometry* g, const float* weights, float* out,
                                  size_t group, size_t n0, size_t width) {
    const size_t cin = g->cin_g, cout = g->cout_g;
    const size_t valid = n0 + width <= cout ? width : (n0 < cout ? cout - n0 : 0);
    const float* rows = valid > 0 ? weights + (group * cout + n0) * cin : weights;
    size_t c = 0;
    for (; c + 8 <= cin; c += 8) {
        float* o = out + c * width;
        for (size_t n = 0; n < valid; n++) {
            const float* r = rows + n * cin + c;
            for (size_t j = 0; j < 8; j++) o[j * width + n] = r[j];
        }
        for (size_t n = valid; n < width; n++) {
            for (size_t j = 0; j < 8; j++) o[j * width + n] = 0.0f;
        }
    }
    for (; c < cin; c++) {
        for (size_t n = 0; n < width; n++) out[c * width + n] = n < valid ? rows[n * cin + c] : 0.0f;
    }
}

void mk_igemm_pack(const mk_igemm_geometry* g, const float* weights, const float* bias,
                   float* packed, float* bias_out) {
    const size_t taps = g->taps, cin_g = g->cin_g, cout_g = g->cout_g;
    for (size_t group = 0; group < g->groups; group++) {
        for (size_t tile = 0; tile < g->ntiles; tile++) {
            const size_t width = mk_igemm_tile_width(g, tile), n0 = mk_igemm_tile_n0(g, tile);
            float* out = packed + (group * g->ntiles + tile) * g->tile_floats;
            if (taps == 1) mk_igemm_pack_one_tap(g, weights, out, group, n0, width);
            for (size_t kb = 0; kb < g->kblocks && taps != 1; kb++) {
                const size_t c0 = kb * g->kc_channels;
                const size_t c1 = c0 + g->kc_channels < cin_g ? c0 + g->kc_channels : cin_g;
                for (size_t t = 0; t < taps; t++) {
                    for (size_t c = c0; c < c1; c++) {
                        for (size_t n = 0; n < width; n++) {
                            const size_t o = n0 + n;
                            *out++ = o < cout_g
                                         ? weights[((group * cout_g + o) * cin_g + c) * taps + t]
                                         : 0.0f;
                        }
                    }
                }
            }
            float* b = bias_out + (group * g->ntiles + tile) * g->nr;
            for (size_t n = 0; n < g->nr; n++) {
                const size_t o = n0 + n;
                b[n] = (bias != NULL && n < width && o < cout_g) ? bias[group * cout_g + o] : 0.0f;
            }
        }
    }
}

void mk_igemm_pack_transposed(const mk_igemm_geometry* g, const float* weights_t, const float* bias,
                              float* packed, float* bias_out) {
    // One group, one tap: weight (o, c) is weights_t[c * cout + o], so each packed row of NR
    // outputs is a contiguous run of weights_t. Blocks of 16 rows x 32 tiles: tile by tile down
    // all the rows read one line per row (a page apart for wide layers: a TLB miss each), row by
    // row across all the tiles write to panels a multiple of 4 KiB apart; a block reads 16
    // rows' 2 KiB runs and writes 32 panels' 1 KiB runs.
    const size_t cin = g->cin_g, cout = g->cout_g;
    for (size_t t0 = 0; t0 < g->ntiles; t0 += 32) {
        const size_t t1 = t0 + 32 < g->ntiles ? t0 + 32 : g->ntiles;
        for (size_t c0 = 0; c0 < cin; c0 += 16) {
            const size_t c1 = c0 + 16 < cin ? c0 + 16 : cin;
            for (size_t tile = t0; tile < t1; tile++) {
                const size_t width = mk_igemm_tile_width(g, tile), n0 = mk_igemm_tile_n0(g, tile);
                const size_t valid = n0 + width <= cout ? width : (n0 < cout ? cout - n0 : 0);
                // The k blocks partition the channels in order: row c of the panel is at c * width.
                float* out = packed + tile * g->tile_floats;
                for (size_t c = c0; c < c1; c++) {
                    const float* row = weights_t + c * cout + n0;
                    float* o = out + c * width;
                    size_t n = 0;
                    for (; n < valid; n++) o[n] = row[n];
                    for (; n < width; n++) o[n] = 0.0f;
                }
            }
        }
    }
    for (size_t tile = 0; tile < g->ntiles; tile++) {
        const size_t width = mk_igemm_tile_width(g, tile), n0 = mk_igemm_tile_n0(g, tile);
        float* b = bias_out + tile * g->nr;
        for (size_t n = 0; n < g->nr; n++) {
            const size_t o = n0 + n;
            b[n] = (bias != NULL && n < width && o < cout) ? bias[o] : 0.0f;
        }
    }
}

// Prefetches the A rows of the next pixel tile (dense 1x1 layout: MR consecutive pixels), so a
// layer whose input comes from L3 or memory does not stall on each short row: a tile reads only
// kc floats per pixel, too short a stream for the hardware prefetcher to pick up.
static void mk_igemm_prefetch_next(const mk_igemm_job* job, size_t pixel, size_t group, size_t c0,
                                   size_t kc) {
    size_t last = pixel + job->mr;
    if (last > job->pixels) last = job->pixels;
    for (size_t p = pixel; p < last; p++) {
        const char* row =
            (const char*)(job->input + p * job->in_stride + group * job->geometry->cin_g + c0);
        for (size_t b = 0; b < kc * sizeof(float); b += 64) __builtin_prefetch(row + b);
        __builtin_prefetch(row + kc * sizeof(float) - 1);
    }
}

void mk_igemm_task(void* context, size_t thread, size_t mt0, size_t unit0, size_t mtiles,
                   size_t units) {
    (void)thread;
    const mk_igemm_job* job = context;
    const mk_igemm_geometry* g = job->geometry;
    const size_t MR = job->mr;
    const float* ptrs[MK_IGEMM_MAX_TAPS * MK_IGEMM_MAX_MR];
    float rows[MK_IGEMM_ROW_SCRATCH];  // row taps: the gathered border rows of a pixel tile
    mk_gemm_tail tail = {.epilogue = job->epilogue, .residual_stride = job->res_stride};
    const mk_epilogue_kind kind = job->epilogue.kind;
    const size_t dense_max_kc = g->config->blocking.dense_max_kc;
    for (size_t unit = unit0; unit < unit0 + units; unit++) {
        const size_t group = unit / job->blocks;
        const size_t tile0 = (unit % job->blocks) * job->block_tiles;
        const size_t tile1 =
            tile0 + job->block_tiles < g->ntiles ? tile0 + job->block_tiles : g->ntiles;
        for (size_t kb = 0; kb < g->kblocks; kb++) {
            const size_t c0 = kb * g->kc_channels;
            const size_t kc = c0 + g->kc_channels < g->cin_g ? g->kc_channels : g->cin_g - c0;
            tail.accumulate = kb > 0;
            tail.last = kb + 1 == g->kblocks;
            if (job->dense && job->mr == g->mr && kc <= dense_max_kc && tile1 - tile0 == 1) {
                // One column tile: one call walks all the task's row tiles.
                const size_t p0 = mt0 * MR;
                const size_t p1 =
                    (mt0 + mtiles) * MR < job->pixels ? (mt0 + mtiles) * MR : job->pixels;
                for (size_t t0 = tile0, t1; t0 < tile1; t0 = t1) {
                    const size_t width = mk_igemm_tile_width(g, t0);
                    for (t1 = t0 + 1; t1 < tile1 && mk_igemm_tile_width(g, t1) == width; t1++) {
                    }
                    const size_t n0 = mk_igemm_tile_n0(g, t0);
                    const size_t last_n0 = mk_igemm_tile_n0(g, t1 - 1);
                    const size_t nc_last = g->cout_g - last_n0 < width ? g->cout_g - last_n0 : width;
                    const size_t column = group * g->cout_g + n0;
                    const float* panel = mk_igemm_panel(g, job->packed, group, t0 - job->packed_tile0);
                    tail.bias = tail.last ? job->bias + (group * g->ntiles + t0) * g->nr : NULL;
                    tail.bias_stride = g->nr;
                    tail.residual = (kb == 0 && job->residual != NULL)
                                        ? job->residual + p0 * job->res_stride + column
                                        : NULL;
                    mk_igemm_kernel_for(g, width, false)->dense[kind](
                        mtiles, p1 - (mt0 + mtiles - 1) * MR, t1 - t0, nc_last, kc,
                        job->input + p0 * job->in_stride + group * g->cin_g + c0, job->in_stride,
                        panel + c0 * width, g->tile_floats,
                        job->output + p0 * job->out_stride + column, job->out_stride, &tail);
                }
                continue;
            }
            mk_igemm_pos pos = job->dense ? (mk_igemm_pos){0, 0, 0} : mk_igemm_pos_of(job, mt0 * MR);
            for (size_t mt = mt0; mt < mt0 + mtiles; mt++) {
                if (job->row_taps) {
                    mk_igemm_row_pointers(job, pos, mt, c0, ptrs, rows);
                } else {
                    mk_igemm_pointers_at(job, pos, mt, group, c0, ptrs);
                }
                if (!job->dense) mk_igemm_pos_advance(job, &pos, MR);
                const size_t p0 = mt * MR;
                const size_t mr = job->pixels - p0 < MR ? job->pixels - p0 : MR;
                if (job->dense && p0 + MR < job->pixels) {
                    mk_igemm_prefetch_next(job, p0 + MR, group, c0, kc);
                }
                size_t tile = tile0;
                if (job->mr == 1 && g->taps == 1) {
                    // One row, one tap: full column tiles MK_GEMM_PANELS at a time, their
                    // weight panels read side by side (see the panels form in gemm.h).
                    const mk_igemm_kernel* k = mk_igemm_kernel_for(g, g->nr, true);
                    const size_t full_end = tile1 < g->full_tiles ? tile1 : g->full_tiles;
                    for (; k->panels[kind] != NULL && tile + MK_GEMM_PANELS <= full_end;
                         tile += MK_GEMM_PANELS) {
                        const size_t column = group * g->cout_g + tile * g->nr;
                        tail.bias = tail.last ? job->bias + (group * g->ntiles + tile) * g->nr : NULL;
                        tail.bias_stride = g->nr;
                        tail.residual = (kb == 0 && job->residual != NULL)
                                            ? job->residual + p0 * job->res_stride + column
                                            : NULL;
                        k->panels[kind](kc, ptrs[0], mk_igemm_panel(g, job->packed, group, tile - job->packed_tile0) + c0 * g->nr,
                                        g->tile_floats, job->output + p0 * job->out_stride + column,
                                        &tail);
                    }
                }
                for (; tile < tile1; tile++) {
                    const size_t width = mk_igemm_tile_width(g, tile);
                    const float* panel = mk_igemm_panel(g, job->packed, group, tile - job->packed_tile0);
                    const size_t n0 = mk_igemm_tile_n0(g, tile);
                    const size_t nc = g->cout_g - n0 < width ? g->cout_g - n0 : width;
                    const size_t column = group * g->cout_g + n0;
                    tail.bias = tail.last ? job->bias + (group * g->ntiles + tile) * g->nr : NULL;
                    tail.residual = (kb == 0 && job->residual != NULL)
                                        ? job->residual + p0 * job->res_stride + column
                                        : NULL;
                    const mk_igemm_kernel* k = mk_igemm_kernel_for(g, width, job->mr == 1);
                    k->fn[kind](mr, nc, kc, g->taps, ptrs, panel + g->taps * c0 * width,
                                job->output + p0 * job->out_stride + column, job->out_stride,
                                &tail);
                }
            }
        }
    }
}
