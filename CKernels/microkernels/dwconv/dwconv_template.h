// The depthwise microkernel bodies, written once over a small vector vocabulary that each ISA
// file defines before including this header (see dwconv_avx512.c for the full list):
//   mk_dw_vec, MK_DW_T (lanes), MK_DW_TARGET (function target attribute or empty),
//   mk_dw_mask_t mk_dw_mask(nc), mk_dw_vec mk_dw_load(p, mask, full), mk_dw_loadw(p) (a full
//   weight vector), mk_dw_store(p, v, mask, full), mk_dw_fma(a, b, acc) = a * b + acc,
//   mk_dw_splat(x), mk_dw_epilogue(v, kind, lo, hi).
// `full` (compile-time) says the tile has all T lanes, so loads and stores need no mask.
//
// Per output pixel and lane: acc = bias; for ky, kx in row-major order: acc += w * x; then the
// epilogue. Border handling lives in the operator; these are pure math on a tile.


// PX output pixels of a KxK, stride-S row (K, S, PX, LEFT, RIGHT compile-time constants once
// inlined). Of the block's (PX - 1) * S + K input columns, the first LEFT and the last RIGHT fall
// outside the input and are skipped (0 and 0 inside the row; nonzero at its edges, so border
// pixels keep the input reuse of a full block). `in[r]` points at the first column inside.
MK_DW_TARGET MK_INLINE void mk_dw_edge_block(
    const int K, const int S, const int PX, const int LEFT, const int RIGHT, const float* const* in,
    const size_t* step, const mk_dw_vec* w, mk_dw_vec bias, float* out, size_t output_step,
    mk_dw_mask_t mask, bool full, mk_epilogue_kind kind, mk_dw_vec lo, mk_dw_vec hi) {
    mk_dw_vec acc[8];
    MK_UNROLL for (int p = 0; p < PX; p++) acc[p] = bias;
    MK_UNROLL for (int ky = 0; ky < K; ky++) {
        const float* row = in[ky];
        const size_t st = step[ky];
        MK_UNROLL for (int j = LEFT; j < (PX - 1) * S + K - RIGHT; j++) {
            const mk_dw_vec x = mk_dw_load(row + (size_t)(j - LEFT) * st, mask, full);
            MK_UNROLL for (int p = 0; p < PX; p++) {
                const int kx = j - p * S;
                if (kx >= 0 && kx < K) acc[p] = mk_dw_fma(w[ky * K + kx], x, acc[p]);
            }
        }
    }
    MK_UNROLL for (int p = 0; p < PX; p++) {
        mk_dw_store(out + (size_t)p * output_step, mk_dw_epilogue(acc[p], kind, lo, hi), mask, full);
    }
}

// Output pixels [ox_from, ox_to) one at a time, the valid taps only (weights read from the
// packed tile): for short rows and the few pixels between a row's full blocks and its last block.
MK_DW_TARGET MK_INLINE void mk_dw_pixel_loop(const int K, const int S, size_t ox_from, size_t ox_to,
                                             size_t nc, const float* const* rows,
                                             const size_t* row_step, size_t in_w, size_t pad_left,
                                             const float* weights, float* output,
                                             size_t output_step, mk_dw_mask_t mask, bool full,
                                             mk_epilogue_kind kind, mk_dw_vec bias, mk_dw_vec lo,
                                             mk_dw_vec hi) {
    (void)nc;
    for (size_t ox = ox_from; ox < ox_to; ox++) {
        mk_dw_vec acc = bias;
        const size_t x0 = ox * S - pad_left;  // wraps when negative: then x >= in_w below
        for (int ky = 0; ky < K; ky++) {
            for (int kx = 0; kx < K; kx++) {
                const size_t x = x0 + (size_t)kx;
                if (x < in_w) {
                    acc = mk_dw_fma(mk_dw_loadw(weights + (size_t)(1 + ky * K + kx) * MK_DW_T),
                                    mk_dw_load(rows[ky] + x * row_step[ky], mask, full), acc);
                }
            }
        }
        mk_dw_store(output + ox * output_step, mk_dw_epilogue(acc, kind, lo, hi), mask, full);
    }
}

// A whole output row of `pixels` pixels. Rows of at least PX pixels: an edge block of PX pixels
// at each end (the right one aligned to the row's end, so a few pixels may be computed twice,
// identically), full blocks in between and single pixels for a remainder shorter than a block.
// Rows too short for that (small inputs) run a plain per-pixel loop over the valid taps.
// `rows[r]` points at column 0 of input row r (or at the zero buffer, step 0).
MK_DW_TARGET MK_INLINE void mk_dw_row_px(const int K, const int S, const int PX, MK_DWCONV_ROW_ARGS,
                                         mk_epilogue_kind kind, bool full) {
    const mk_dw_mask_t mask = mk_dw_mask(nc);
    const mk_dw_vec lo = mk_dw_splat(epilogue->min), hi = mk_dw_splat(epilogue->max);
    const mk_dw_vec bias = mk_dw_loadw(weights);
    // Pixels [ox_begin, interior_end) have every kernel column inside the input.
    size_t interior_end = in_w + pad_left >= (size_t)K ? (in_w + pad_left - K) / S + 1 : 0;
    if (interior_end > pixels) interior_end = pixels;
    const size_t ox_begin = (pad_left + S - 1) / S;
    const int columns = (PX - 1) * S + K;
    const size_t right = pixels >= (size_t)PX && (pixels - PX) * S >= pad_left
                             ? (pixels - PX) * S - pad_left + columns  // one past the last column
                             : 0;
    if (pixels >= (size_t)PX && pad_left < (size_t)K && (size_t)columns <= in_w + pad_left &&
        right >= in_w && right - in_w < (size_t)K && pixels - PX <= interior_end &&
        ox_begin <= (size_t)PX) {
        mk_dw_vec w[25];
        MK_UNROLL for (int t = 0; t < K * K; t++) w[t] = mk_dw_loadw(weights + (size_t)(t + 1) * MK_DW_T);
        const float* in[5];
        size_t step[5];
        MK_UNROLL for (int r = 0; r < K; r++) {
            step[r] = row_step[r];
            in[r] = rows[r];
        }
        float* out = output;
#define MK_DW_EDGE(LEFT, RIGHT)                                                                   \
    mk_dw_edge_block(K, S, PX, LEFT, RIGHT, in, step, w, bias, out, output_step, mask, full, kind, \
                     lo, hi)
#define MK_DW_FULL() \
    mk_dw_edge_block(K, S, PX, 0, 0, in, step, w, bias, out, output_step, mask, full, kind, lo, hi)
        switch (pad_left) {
            case 0: MK_DW_EDGE(0, 0); break;
            case 1: MK_DW_EDGE(1, 0); break;
            case 2: if (K > 2) { MK_DW_EDGE(2 < K ? 2 : 0, 0); } break;
            case 3: if (K > 3) { MK_DW_EDGE(3 < K ? 3 : 0, 0); } break;
            case 4: if (K > 4) { MK_DW_EDGE(4 < K ? 4 : 0, 0); } break;
        }
        size_t ox = PX;
        MK_UNROLL for (int r = 0; r < K; r++) in[r] = rows[r] + (ox * S - pad_left) * step[r];
        out = output + ox * output_step;
        for (; ox + 2 * PX <= pixels; ox += PX) {  // full blocks up to the last block's start
            MK_DW_FULL();
            MK_UNROLL for (int r = 0; r < K; r++) in[r] += (size_t)(PX * S) * step[r];
            out += (size_t)PX * output_step;
        }
        if (ox + PX < pixels) {  // fewer than PX interior pixels left before the last block
            mk_dw_pixel_loop(K, S, ox, pixels - PX, nc, rows, row_step, in_w, pad_left, weights, output,
                             output_step, mask, full, kind, bias, lo, hi);
            ox = pixels - PX;
        }
        if (ox < pixels) {  // the pixels that overhang the right edge: a block ending the row
            const size_t clip_right = right - in_w;
            ox = pixels - PX;
            MK_UNROLL for (int r = 0; r < K; r++) in[r] = rows[r] + (ox * S - pad_left) * step[r];
            out = output + ox * output_step;
            switch (clip_right) {
                case 0: MK_DW_EDGE(0, 0); break;
                case 1: MK_DW_EDGE(0, 1); break;
                case 2: if (K > 2) { MK_DW_EDGE(0, 2 < K ? 2 : 0); } break;
                case 3: if (K > 3) { MK_DW_EDGE(0, 3 < K ? 3 : 0); } break;
                case 4: if (K > 4) { MK_DW_EDGE(0, 4 < K ? 4 : 0); } break;
            }
        }
#undef MK_DW_EDGE
#undef MK_DW_FULL
        return;
    }
    // Short rows: one pixel at a time.
    mk_dw_pixel_loop(K, S, 0, pixels, nc, rows, row_step, in_w, pad_left, weights, output, output_step,
                     mask, full, kind, bias, lo, hi);
}

// Rows narrower than the block (7x7 maps under 8-pixel blocks) run 4-pixel blocks instead.
MK_DW_TARGET MK_INLINE void mk_dw_row(const int K, const int S, const int PX, MK_DWCONV_ROW_ARGS,
                                      mk_epilogue_kind kind, bool full) {
    if (PX > 4 && pixels < (size_t)PX) {
        mk_dw_row_px(K, S, 4, pixels, nc, rows, row_step, in_w, pad_left, weights, output,
                     output_step, epilogue, kind, full);
    } else {
        mk_dw_row_px(K, S, PX, pixels, nc, rows, row_step, in_w, pad_left, weights, output,
                     output_step, epilogue, kind, full);
    }
}

// Generic: one output pixel over `channels` channels, any number of taps; four tiles at once.
MK_DW_TARGET MK_INLINE void mk_dw_pixel(MK_DWCONV_PIXEL_ARGS, mk_epilogue_kind kind) {
    const mk_dw_vec lo = mk_dw_splat(epilogue->min), hi = mk_dw_splat(epilogue->max);
    const size_t tile = (taps + 1) * MK_DW_T;  // floats of packed weights per channel tile
    const mk_dw_mask_t all = mk_dw_mask(MK_DW_T);
    size_t c = 0;
    for (; c + 4 * MK_DW_T <= channels; c += 4 * MK_DW_T, weights += 4 * tile) {
        mk_dw_vec acc[4];
        MK_UNROLL for (int u = 0; u < 4; u++) acc[u] = mk_dw_loadw(weights + u * tile);
        for (size_t t = 0; t < taps; t++) {
            const float* x = inputs[t] + c;
            MK_UNROLL for (int u = 0; u < 4; u++) {
                acc[u] = mk_dw_fma(mk_dw_loadw(weights + u * tile + (t + 1) * MK_DW_T),
                                   mk_dw_load(x + u * MK_DW_T, all, true), acc[u]);
            }
        }
        MK_UNROLL for (int u = 0; u < 4; u++) {
            mk_dw_store(output + c + u * MK_DW_T, mk_dw_epilogue(acc[u], kind, lo, hi), all, true);
        }
    }
    for (; c < channels; c += MK_DW_T, weights += tile) {
        const size_t nc = channels - c < MK_DW_T ? channels - c : MK_DW_T;
        const mk_dw_mask_t mask = mk_dw_mask(nc);
        mk_dw_vec acc = mk_dw_loadw(weights);
        for (size_t t = 0; t < taps; t++) {
            acc = mk_dw_fma(mk_dw_loadw(weights + (t + 1) * MK_DW_T),
                            mk_dw_load(inputs[t] + c, mask, false), acc);
        }
        mk_dw_store(output + c, mk_dw_epilogue(acc, kind, lo, hi), mask, false);
    }
}

// Definitions of the exported microkernels, one line each in the ISA files, e.g.
//   MK_DW_DEFINE_ROW(mk_f32_dwconv_ukernel_3x3s1_row8x16c__avx512, 3, 1, 8)
// specialize the body for each epilogue kind and for full / partial channel tiles.
// Each (epilogue kind, full / partial tile) body is its own function: one function holding all
// eight unrolled bodies took minutes to compile (register allocation grows faster than linearly).
#ifndef MK_DW_PARTIAL_ATTRIBUTES
#define MK_DW_PARTIAL_ATTRIBUTES
#endif
#define MK_DW_ATTRIBUTES_true
#define MK_DW_ATTRIBUTES_false MK_DW_PARTIAL_ATTRIBUTES
#define MK_DW_ROW_VARIANT(NAME, K, S, PX, KIND, FULL)                                      \
    MK_DW_TARGET MK_DW_ATTRIBUTES_##FULL __attribute__((noinline)) static void NAME(         \
        MK_DWCONV_ROW_ARGS) {                                                              \
        mk_dw_row(K, S, PX, pixels, nc, rows, row_step, in_w, pad_left, weights, output,   \
                  output_step, epilogue, KIND, FULL);                                      \
    }

#define MK_DW_DEFINE_ROW(NAME, K, S, PX)                                                   \
    MK_DW_ROW_VARIANT(NAME##_id_full, K, S, PX, MK_EPILOGUE_IDENTITY, true)                \
    MK_DW_ROW_VARIANT(NAME##_id_part, K, S, PX, MK_EPILOGUE_IDENTITY, false)               \
    MK_DW_ROW_VARIANT(NAME##_mm_full, K, S, PX, MK_EPILOGUE_MINMAX, true)                  \
    MK_DW_ROW_VARIANT(NAME##_mm_part, K, S, PX, MK_EPILOGUE_MINMAX, false)                 \
    MK_DW_ROW_VARIANT(NAME##_hs_full, K, S, PX, MK_EPILOGUE_HARDSWISH, true)               \
    MK_DW_ROW_VARIANT(NAME##_hs_part, K, S, PX, MK_EPILOGUE_HARDSWISH, false)              \
    MK_DW_ROW_VARIANT(NAME##_hg_full, K, S, PX, MK_EPILOGUE_HARDSIGMOID, true)             \
    MK_DW_ROW_VARIANT(NAME##_hg_part, K, S, PX, MK_EPILOGUE_HARDSIGMOID, false)            \
    MK_DW_TARGET void NAME(MK_DWCONV_ROW_ARGS) {                                           \
        const bool full = nc == MK_DW_T;                                                   \
        switch (epilogue->kind) {                                                          \
            case MK_EPILOGUE_IDENTITY:                                                     \
                (full ? NAME##_id_full : NAME##_id_part)(pixels, nc, rows, row_step, in_w, \
                    pad_left, weights, output, output_step, epilogue);                     \
                break;                                                                     \
            case MK_EPILOGUE_MINMAX:                                                       \
                (full ? NAME##_mm_full : NAME##_mm_part)(pixels, nc, rows, row_step, in_w, \
                    pad_left, weights, output, output_step, epilogue);                     \
                break;                                                                     \
            case MK_EPILOGUE_HARDSWISH:                                                    \
                (full ? NAME##_hs_full : NAME##_hs_part)(pixels, nc, rows, row_step, in_w, \
                    pad_left, weights, output, output_step, epilogue);                     \
                break;                                                                     \
            case MK_EPILOGUE_HARDSIGMOID:                                                  \
                (full ? NAME##_hg_full : NAME##_hg_part)(pixels, nc, rows, row_step, in_w, \
                    pad_left, weights, output, output_step, epilogue);                     \
                break;                                                                     \
        }                                                                                  \
    }

#define MK_DW_DEFINE_PIXEL(NAME)                                                           \
    MK_DW_TARGET void NAME(MK_DWCONV_PIXEL_ARGS) {                                         \
        switch (epilogue->kind) {                                                          \
            case MK_EPILOGUE_IDENTITY:                                                     \
                mk_dw_pixel(channels, taps, inputs, weights, output, epilogue,             \
                            MK_EPILOGUE_IDENTITY);                                         \
                break;                                                                     \
            case MK_EPILOGUE_MINMAX:                                                       \
                mk_dw_pixel(channels, taps, inputs, weights, output, epilogue,             \
                            MK_EPILOGUE_MINMAX);                                           \
                break;                                                                     \
            case MK_EPILOGUE_HARDSWISH:                                                    \
                mk_dw_pixel(channels, taps, inputs, weights, output, epilogue,             \
                            MK_EPILOGUE_HARDSWISH);                                        \
                break;                                                                     \
            case MK_EPILOGUE_HARDSIGMOID:                                                  \
                mk_dw_pixel(channels, taps, inputs, weights, output, epilogue,             \
                            MK_EPILOGUE_HARDSIGMOID);                                      \
                break;                                                                     \
        }                                                                                  \
    }
