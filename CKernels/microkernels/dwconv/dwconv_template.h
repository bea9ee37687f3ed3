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

#ifndef MK_UNROLL
#if defined(__clang__)
#define MK_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define MK_UNROLL _Pragma("GCC unroll 32")
#else
#define MK_UNROLL
#endif
#endif

// PX output pixels of a KxK, stride-S row, using kernel columns [KLO, KHI) only (the others
// fall outside the input: border pixels). `in[r]` points at the input of column KLO of the first
// pixel. K, S, PX, KLO, KHI are compile-time constants once inlined.
MK_DW_TARGET MK_INLINE void mk_dw_row_block(
    const int K, const int S, const int PX, const int KLO, const int KHI, const float* const* in,
    const size_t* step, const mk_dw_vec* w, mk_dw_vec bias, float* out, size_t output_step,
    mk_dw_mask_t mask, bool full, mk_epilogue_kind kind, mk_dw_vec lo, mk_dw_vec hi) {
    mk_dw_vec acc[8];
    MK_UNROLL for (int p = 0; p < PX; p++) acc[p] = bias;
    MK_UNROLL for (int ky = 0; ky < K; ky++) {
        const float* row = in[ky];
        const size_t st = step[ky];
        MK_UNROLL for (int j = KLO; j < (PX - 1) * S + KHI; j++) {
            const mk_dw_vec x = mk_dw_load(row + (size_t)(j - KLO) * st, mask, full);
            // Input column j feeds pixel p through tap kx = j - p * S.
            MK_UNROLL for (int p = 0; p < PX; p++) {
                const int kx = j - p * S;
                if (kx >= KLO && kx < KHI) acc[p] = mk_dw_fma(w[ky * K + kx], x, acc[p]);
            }
        }
    }
    MK_UNROLL for (int p = 0; p < PX; p++) {
        mk_dw_store(out + (size_t)p * output_step, mk_dw_epilogue(acc[p], kind, lo, hi), mask, full);
    }
}

// A whole output row of `pixels` pixels: left border pixels (first kernel columns outside the
// input), interior blocks of PX pixels, right border pixels. Requires in_w >= K, so no pixel is
// clipped on both sides. `rows[r]` points at column 0 of input row r.
MK_DW_TARGET MK_INLINE void mk_dw_row(const int K, const int S, const int PX, MK_DWCONV_ROW_ARGS,
                                      mk_epilogue_kind kind, bool full) {
    const mk_dw_mask_t mask = mk_dw_mask(nc);
    mk_dw_vec w[25];
    MK_UNROLL for (int t = 0; t < K * K; t++) w[t] = mk_dw_loadw(weights + (size_t)(t + 1) * MK_DW_T);
    const mk_dw_vec bias = mk_dw_loadw(weights);
    const mk_dw_vec lo = mk_dw_splat(epilogue->min), hi = mk_dw_splat(epilogue->max);
    const float* in[5];
    size_t step[5];
    MK_UNROLL for (int r = 0; r < K; r++) step[r] = row_step[r];

#define MK_DW_BLOCK(N, KLO, KHI) \
    mk_dw_row_block(K, S, N, KLO, KHI, in, step, w, bias, output, output_step, mask, full, kind, lo, hi)

    size_t ox = 0;
    // Left border: ix0 = ox * S - pad_left < 0; kernel columns [pad_left - ox * S, K) are inside.
    for (; ox < pixels && ox * S < pad_left; ox++) {
        const size_t klo = pad_left - ox * S;
        MK_UNROLL for (int r = 0; r < K; r++) in[r] = rows[r];
        switch (klo) {
            case 1: MK_DW_BLOCK(1, 1, K); break;
            case 2: if (K > 2) { MK_DW_BLOCK(1, 2 < K ? 2 : 0, K); } break;
            case 3: if (K > 3) { MK_DW_BLOCK(1, 3 < K ? 3 : 0, K); } break;
            case 4: if (K > 4) { MK_DW_BLOCK(1, 4 < K ? 4 : 0, K); } break;
        }
        output += output_step;
    }
    // Interior: every column inside; stop where the last column would pass in_w.
    size_t interior_end = in_w + pad_left >= (size_t)K ? (in_w + pad_left - K) / S + 1 : 0;
    if (interior_end > pixels) interior_end = pixels;
    if (ox < interior_end) {
        MK_UNROLL for (int r = 0; r < K; r++) in[r] = rows[r] + (ox * S - pad_left) * step[r];
        for (; ox + PX <= interior_end; ox += PX) {
            MK_DW_BLOCK(PX, 0, K);
            MK_UNROLL for (int r = 0; r < K; r++) in[r] += (size_t)(PX * S) * step[r];
            output += (size_t)PX * output_step;
        }
        for (; ox < interior_end; ox++) {
            MK_DW_BLOCK(1, 0, K);
            MK_UNROLL for (int r = 0; r < K; r++) in[r] += (size_t)S * step[r];
            output += output_step;
        }
    }
    // Right border: kernel columns [0, in_w - ix0) are inside.
    for (; ox < pixels; ox++) {
        const size_t ix0 = ox * S - pad_left;
        const size_t khi = in_w - ix0;
        MK_UNROLL for (int r = 0; r < K; r++) in[r] = rows[r] + ix0 * step[r];
        switch (khi) {
            case 1: MK_DW_BLOCK(1, 0, 1); break;
            case 2: MK_DW_BLOCK(1, 0, 2); break;
            case 3: if (K > 3) { MK_DW_BLOCK(1, 0, 3 < K ? 3 : K); } break;
            case 4: if (K > 4) { MK_DW_BLOCK(1, 0, 4 < K ? 4 : K); } break;
        }
        output += output_step;
    }
#undef MK_DW_BLOCK
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
#define MK_DW_ROW_FULL_OR_PARTIAL(K, S, PX, KIND)                                          \
    if (nc == MK_DW_T) {                                                                   \
        mk_dw_row(K, S, PX, pixels, nc, rows, row_step, in_w, pad_left, weights, output,   \
                  output_step, epilogue, KIND, true);                                      \
    } else {                                                                               \
        mk_dw_row(K, S, PX, pixels, nc, rows, row_step, in_w, pad_left, weights, output,   \
                  output_step, epilogue, KIND, false);                                     \
    }

#define MK_DW_DEFINE_ROW(NAME, K, S, PX)                                                   \
    MK_DW_TARGET void NAME(MK_DWCONV_ROW_ARGS) {                                           \
        switch (epilogue->kind) {                                                          \
            case MK_EPILOGUE_IDENTITY:                                                     \
                MK_DW_ROW_FULL_OR_PARTIAL(K, S, PX, MK_EPILOGUE_IDENTITY) break;           \
            case MK_EPILOGUE_MINMAX:                                                       \
                MK_DW_ROW_FULL_OR_PARTIAL(K, S, PX, MK_EPILOGUE_MINMAX) break;             \
            case MK_EPILOGUE_HARDSWISH:                                                    \
                MK_DW_ROW_FULL_OR_PARTIAL(K, S, PX, MK_EPILOGUE_HARDSWISH) break;          \
            case MK_EPILOGUE_HARDSIGMOID:                                                  \
                MK_DW_ROW_FULL_OR_PARTIAL(K, S, PX, MK_EPILOGUE_HARDSIGMOID) break;        \
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
