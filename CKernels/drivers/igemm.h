// The igemm driver (BLIS's split: the microkernel is the only code per ISA; this is the rest):
// weights packed into caller-owned buffers, the column tiles, the A pointers of a pixel tile, and
// the loops around the microkernel, with K and N blocking. Shared by the convolution operator
// (forward; ready for the input gradient over transposed packed weights and for int8), which
// keeps validation, planning and scheduling.
//
// Each group is a GEMM: C[pixels x Cout/G] = A[pixels x (taps * Cin/G)] * B, with A read in place
// through per-pixel pointers (one per tap; padding taps point at a zero buffer) and B packed into
// the microkernels' panels:
//   packed[g][n tile][k block][tap][channel of the block][tile width]
// The K dimension is split into blocks of at most `kc` floats (channels x taps) so a B panel
// stays in cache; the N dimension into blocks of `nc` columns so a B block stays in L2 while a
// task walks its pixel tiles. Loop nest of a task (pixel tiles x a block of columns of a group):
//   for k block: for pixel tile (MR pixels): the A pointers; for n tile: microkernel.
// The first k block adds the residual (read before the output is written, so it may be the
// output itself), later ones add their partial sums to the output, the last adds the bias and
// applies the activation. Every output element is computed by one task in a fixed order, so the
// result is identical for any thread count and any split.
#ifndef MK_DRIVER_IGEMM_H
#define MK_DRIVER_IGEMM_H

#include "../configs/configs.h"

#define MK_IGEMM_MAX_TAPS 256
#define MK_IGEMM_MAX_MR 8
#define MK_IGEMM_MAX_NR 32

// The layout of packed weights: column tiles (full NR tiles, then up to MK_GEMM_MAX_TAILS + 1
// narrower ones for the remainder) and K blocks.
typedef struct mk_igemm_geometry {
    const mk_f32_gemm_config* config;
    size_t groups, cin_g, cout_g, taps;
    size_t mr, nr;
    size_t full_tiles;  // NR-wide tiles
    size_t ntiles;      // tiles per group: the full ones, then the remainder's
    size_t rem_n0[MK_GEMM_MAX_TAILS + 1], rem_width[MK_GEMM_MAX_TAILS + 1];
    size_t kc_channels;  // channels per k block (all taps)
    size_t kblocks;
    size_t tile_floats;   // floats per packed n tile (nr * taps * cin_g)
    size_t packed_floats; // groups * ntiles * tile_floats
    size_t bias_floats;   // groups * ntiles * nr
} mk_igemm_geometry;

// SIZE_OVERFLOW when the packed weights would not be addressable.
mk_status mk_igemm_geometry_init(mk_igemm_geometry* g, const mk_f32_gemm_config* config,
                                 size_t groups, size_t cin_g, size_t cout_g, size_t taps);

// Packs PyTorch's [groups * cout_g, cin_g, kh, kw] weights and the bias ([groups * cout_g] or
// NULL: zeros) into `packed` (packed_floats) and `bias_out` (bias_floats); lanes past the last
// column are zero.
void mk_igemm_pack(const mk_igemm_geometry* g, const float* weights, const float* bias,
                   float* packed, float* bias_out);

// mk_igemm_pack for one group and one tap from the transposed weights `weights_t` [cin][cout]
// (the same packed bits as mk_igemm_pack of their transpose): a Linear layer's input-gradient
// GEMM packed from the forward's weights without a transpose.
void mk_igemm_pack_transposed(const mk_igemm_geometry* g, const float* weights_t, const float* bias,
                              float* packed, float* bias_out);

static inline size_t mk_igemm_tile_n0(const mk_igemm_geometry* g, size_t tile) {
    return tile < g->full_tiles ? tile * g->nr : g->rem_n0[tile - g->full_tiles];
}
static inline size_t mk_igemm_tile_width(const mk_igemm_geometry* g, size_t tile) {
    return tile < g->full_tiles ? g->nr : g->rem_width[tile - g->full_tiles];
}

// The packed panel of tile `tile` of group `group`.
static inline const float* mk_igemm_panel(const mk_igemm_geometry* g, const float* packed,
                                          size_t group, size_t tile) {
    return packed + (group * g->ntiles + tile) * g->tile_floats;
}


// Where the taps of an output pixel read: the convolution's window.
typedef struct mk_igemm_window {
    size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
} mk_igemm_window;

// One run: packed weights, shapes and operands.
typedef struct mk_igemm_job {
    const mk_igemm_geometry* geometry;
    const float* packed;
    // The column tile `packed` starts at: 0 for the whole packed weights; t for a buffer that
    // holds tile t's panel alone (Winograd's U computed in the run), which only units of that
    // one tile may then read.
    size_t packed_tile0;
    const float* bias;   // packed, bias_floats
    const float* zeros;  // cin_g zeros: the A row of padding taps
    mk_epilogue epilogue;
    const mk_igemm_window* window;
    size_t in_h, in_w, out_h, out_w, pixels;
    const float* input;
    size_t in_stride;
    float* output;
    size_t out_stride;
    const float* residual;
    size_t res_stride;
    size_t mr;           // rows per tile: the microkernel's MR, or 1 for fewer pixels than MR
    bool dense;          // 1x1, stride 1, no padding: input pixel = output pixel
    size_t block_tiles;  // n tiles per task column (N block)
    size_t blocks;       // N blocks per group
    size_t extent_h, extent_w;  // the dilated kernel's input rows and columns
    const size_t* tap_offset;   // floats from a window's first input pixel to tap t
    // Or NULL: tile_offset[t * mr + m], floats from the first pixel's window to tap t of pixel m,
    // for tiles whose windows are all inside the image and in one output row (row taps: only
    // when the rows are read in place).
    const size_t* tile_offset;
    // Row taps (few-channel stems, see mk_igemm_row_pointers): a tap is a kernel row, its A row
    // the kernel_w * cin floats a window's row covers; `row_in_place` when the input's pixels are
    // contiguous (pixel stride = cin), so interior windows read those rows where they are.
    bool row_taps, row_in_place;
    size_t row_cin;  // the layer's input channels
} mk_igemm_job;

// Row taps: at most this many kernel rows and floats per row (kernel_w * cin), so a pixel tile's
// gathered border rows fit a task's stack buffer.
#define MK_IGEMM_ROW_MAX_KH 16
#define MK_IGEMM_ROW_MAX_FLOATS 48
#define MK_IGEMM_ROW_SCRATCH (MK_IGEMM_MAX_MR * MK_IGEMM_ROW_MAX_KH * MK_IGEMM_ROW_MAX_FLOATS)

// The microkernel of a tile width (MR rows, or one row when `single`).
static inline const mk_igemm_kernel* mk_igemm_kernel_for(const mk_igemm_geometry* g, size_t width, bool single) {
    const mk_f32_gemm_config* config = g->config;
    if (single) {
        for (size_t i = 0; config->rows1[i] != NULL; i++) {
            if (config->rows1[i]->nr == width) return config->rows1[i];
        }
    }
    if (width == g->nr) return config->full;
    const mk_igemm_kernel* k = config->tails[0];
    for (size_t i = 0; config->tails[i] != NULL; i++) {
        if (config->tails[i]->nr == width) k = config->tails[i];
    }
    return k;
}

// An output pixel's position: image, row, column.
typedef struct mk_igemm_pos {
    size_t n, oy, ox;
} mk_igemm_pos;

// The A pointers of pixel tile `mt`, group `group`, channels from c0: ptrs[t * MR + m]. Rows past
// the last pixel repeat it (computed, not stored). One division per tile; a tile inside one row
// of the image is its first window plus the plan's constant offsets (one vectorizable loop: the
// per-pixel loop below had been half of a 3-channel stem's time), other tiles step the output
// position pixel by pixel. Inline in both tasks that call it. Defined by MK_IGEMM_POINTERS_DEFINE
// for a job type (fields as mk_igemm_job's) and element type: float here, int8 for qs8
// (operators/conv2d_qs8.c).
#define MK_IGEMM_POINTERS_DEFINE(PREFIX, JOB, GEOMETRY, T) \
 \
static inline __attribute__((unused)) mk_igemm_pos PREFIX##_pos_of(const JOB* job, size_t pixel) { \
    const size_t plane = job->out_h * job->out_w; \
    return (mk_igemm_pos){pixel / plane, (pixel % plane) / job->out_w, pixel % job->out_w}; \
} \
 \
/* Steps `pos` `count` pixels on without a division (a task walks its tiles in order). */ \
static inline __attribute__((unused)) void PREFIX##_pos_advance(const JOB* job, mk_igemm_pos* pos, size_t count) { \
    pos->ox += count; \
    while (pos->ox >= job->out_w) { \
        pos->ox -= job->out_w; \
        if (++pos->oy == job->out_h) { \
            pos->oy = 0; \
            pos->n++; \
        } \
    } \
} \
 \
/* A tile whose MR pixels (from `first`, at `pos`) are consecutive in one output row with every */ \
/* window inside the image: if the first and the last window are inside, all are, and its */ \
/* pointers are its first window (from `base`) plus the plan's tile offsets, `taps` x MR of them */ \
/* in one vectorizable loop. False, writing nothing, for any other tile or without the offsets. */ \
static inline __attribute__((unused)) bool PREFIX##_tile_in_row(const JOB* job, mk_igemm_pos pos, size_t first, const T* base, size_t taps, const T** ptrs) { \
    const mk_igemm_window* p = job->window; \
    const size_t MR = job->mr; \
    if (job->tile_offset == NULL || first + MR > job->pixels || pos.ox + MR > job->out_w) { \
        return false; \
    } \
    const size_t iy0 = pos.oy * p->stride_h - p->pad_top;  /* wraps < 0 */ \
    const size_t ix0 = pos.ox * p->stride_w - p->pad_left, ix_last = ix0 + (MR - 1) * p->stride_w; \
    if (!(iy0 < job->in_h && job->in_h - iy0 >= job->extent_h && ix0 < job->in_w && \
          ix_last < job->in_w && job->in_w - ix_last >= job->extent_w)) { \
        return false; \
    } \
    const T* window = \
        base + (pos.n * job->in_h * job->in_w + iy0 * job->in_w + ix0) * job->in_stride; \
    for (size_t i = 0; i < taps * MR; i++) ptrs[i] = window + job->tile_offset[i]; \
    return true; \
} \
 \
/* mk_igemm_pointers with the tile's first pixel at `pos` (its position; unused by dense jobs). */ \
static inline __attribute__((unused)) void PREFIX##_pointers_at(const JOB* job, mk_igemm_pos pos, size_t mt, size_t group, size_t c0, const T** ptrs) { \
    const GEOMETRY* g = job->geometry; \
    const mk_igemm_window* p = job->window; \
    const size_t MR = job->mr; \
    const T* base = job->input + group * g->cin_g + c0; \
    const size_t first = mt * MR; \
    if (job->dense) {  /* 1x1, stride 1, no padding: input pixel = output pixel */ \
        for (size_t m = 0; m < MR; m++) { \
            const size_t pixel = first + m < job->pixels ? first + m : job->pixels - 1; \
            ptrs[m] = base + pixel * job->in_stride; \
        } \
        return; \
    } \
    if (PREFIX##_tile_in_row(job, pos, first, base, g->taps, ptrs)) return; \
    size_t n = pos.n, oy = pos.oy, ox = pos.ox; \
    for (size_t m = 0; m < MR; m++) { \
        const T* image = base + n * job->in_h * job->in_w * job->in_stride; \
        /* Windows wholly inside the image (most of them): one base pointer plus fixed offsets. */ \
        const size_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left; \
        if (iy0 < job->in_h && job->in_h - iy0 >= job->extent_h && ix0 < job->in_w && \
            job->in_w - ix0 >= job->extent_w) { \
            const T* window = image + (iy0 * job->in_w + ix0) * job->in_stride; \
            for (size_t t = 0; t < g->taps; t++) ptrs[t * MR + m] = window + job->tap_offset[t]; \
        } else {  /* a window over the border: padding taps read the zero row */ \
            for (size_t ky = 0, t = 0; ky < p->kernel_h; ky++) { \
                const size_t iy = oy * p->stride_h + ky * p->dilation_h - p->pad_top;  /* wraps < 0 */ \
                for (size_t kx = 0; kx < p->kernel_w; kx++, t++) { \
                    const size_t ix = ox * p->stride_w + kx * p->dilation_w - p->pad_left; \
                    ptrs[t * MR + m] = (iy < job->in_h && ix < job->in_w) \
                                           ? image + (iy * job->in_w + ix) * job->in_stride \
                                           : job->zeros; \
                } \
            } \
        } \
        if (first + m + 1 < job->pixels && ++ox == job->out_w) {  /* else: repeat the last pixel */ \
            ox = 0; \
            if (++oy == job->out_h) { \
                oy = 0; \
                n++; \
            } \
        } \
    } \
} \
 \
static inline __attribute__((unused)) void PREFIX##_pointers(const JOB* job, size_t mt, size_t group, size_t c0, const T** ptrs) { \
    const mk_igemm_pos pos = job->dense ? (mk_igemm_pos){0, 0, 0} : PREFIX##_pos_of(job, mt * job->mr); \
    PREFIX##_pointers_at(job, pos, mt, group, c0, ptrs); \
}

MK_IGEMM_POINTERS_DEFINE(mk_igemm, mk_igemm_job, mk_igemm_geometry, float)

// The A pointers of pixel tile `mt` (its first pixel at `pos`) in the row-tap form: ptrs[ky * MR + m] is the row of kernel
// row ky of pixel m's window, kernel_w * cin floats (from channel c0 of that row). A row inside
// the image is read in place when pixels are contiguous; a row over the left or right border (or
// any row, when they are not) is gathered into `rows` with zeros for the padding; a row above or
// below the image is the zero row. Same taps and order of the K sum as the per-pixel form.
static inline void mk_igemm_row_pointers(const mk_igemm_job* job, mk_igemm_pos pos, size_t mt,
                                         size_t c0, const float** ptrs, float* rows) {
    const mk_igemm_window* p = job->window;
    const size_t MR = job->mr, cin = job->row_cin, stride = job->in_stride;
    const size_t kh = p->kernel_h, kw = p->kernel_w, row_floats = kw * cin;
    const size_t first = mt * MR;
    if (mk_igemm_tile_in_row(job, pos, first, job->input + c0, kh, ptrs)) return;
    size_t n = pos.n, oy = pos.oy, ox = pos.ox;
    for (size_t m = 0; m < MR; m++) {
        const float* image = job->input + n * job->in_h * job->in_w * stride;
        const size_t ix0 = ox * p->stride_w - p->pad_left;  // wraps < 0
        const bool in_place = job->row_in_place && ix0 < job->in_w && job->in_w - ix0 >= kw;
        for (size_t ky = 0; ky < kh; ky++) {
            const size_t iy = oy * p->stride_h + ky * p->dilation_h - p->pad_top;  // wraps < 0
            const float* row;
            if (iy >= job->in_h) {
                row = job->zeros;
            } else if (in_place) {
                row = image + (iy * job->in_w + ix0) * stride;
            } else {
                float* dst = rows + (m * kh + ky) * row_floats;
                for (size_t kx = 0; kx < kw; kx++) {
                    const size_t ix = ix0 + kx;
                    if (ix < job->in_w) {
                        const float* src = image + (iy * job->in_w + ix) * stride;
                        for (size_t c = 0; c < cin; c++) dst[kx * cin + c] = src[c];
                    } else {
                        for (size_t c = 0; c < cin; c++) dst[kx * cin + c] = 0.0f;
                    }
                }
                row = dst;
            }
            ptrs[ky * MR + m] = row + c0;
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

// The thread-pool task over (pixel tiles) x (units = group x N block): a mk_igemm_job context.
void mk_igemm_task(void* context, size_t thread, size_t mt0, size_t unit0, size_t mtiles,
                   size_t units);

#endif
