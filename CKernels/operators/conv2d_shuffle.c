// The convolution's fused channel shuffle: per pixel tile, the n tiles in chunks as wide as the
// stack buffer allows (all of them for ShuffleNet's layers); per chunk every group's columns go
// into `stage` ([m][g][chunk columns]), then each row is transposed into the output's shuffled
// positions [n0 * G, n1 * G) in one call, so the transposes run on whole rows, not on short
// tiles, in L1.
#include "conv2d_internal.h"

#define MK_CONV_STAGE_FLOATS (MK_IGEMM_MAX_MR * MK_IGEMM_MAX_NR * MK_CONV_MAX_SHUFFLE_GROUPS)

void mk_conv2d_shuffle_task(void* context, size_t thread, size_t mt0, size_t mtiles) {
    (void)thread;
    const mk_conv2d_shuffle_job* shuffle_job = context;
    const mk_igemm_job* job = &shuffle_job->igemm;
    const mk_f32_shuffle_ukernel_fn transpose = shuffle_job->transpose;
    const mk_igemm_geometry* g = job->geometry;
    const size_t MR = job->mr, G = g->groups;
    const float* ptrs[MK_IGEMM_MAX_TAPS * MK_IGEMM_MAX_MR];
    float stage[MK_CONV_STAGE_FLOATS];
    mk_gemm_tail tail = {.epilogue = job->epilogue};
    const mk_epilogue_kind kind = job->epilogue.kind;
    for (size_t mt = mt0; mt < mt0 + mtiles; mt++) {
        const size_t p0 = mt * MR;
        const size_t mr = job->pixels - p0 < MR ? job->pixels - p0 : MR;
        for (size_t t0 = 0, t1; t0 < g->ntiles; t0 = t1) {
            // The chunk [t0, t1): at least one tile (MR * G * NR always fits).
            const size_t n0 = mk_igemm_tile_n0(g, t0);
            size_t n1 = n0;
            for (t1 = t0; t1 < g->ntiles; t1++) {
                size_t end = mk_igemm_tile_n0(g, t1) + mk_igemm_tile_width(g, t1);
                if (end > g->cout_g) end = g->cout_g;
                if (t1 > t0 && MR * G * (end - n0) > MK_CONV_STAGE_FLOATS) break;
                n1 = end;
            }
            const size_t columns = n1 - n0;
            for (size_t group = 0; group < G; group++) {
                for (size_t kb = 0; kb < g->kblocks; kb++) {
                    const size_t c0 = kb * g->kc_channels;
                    const size_t kc =
                        c0 + g->kc_channels < g->cin_g ? g->kc_channels : g->cin_g - c0;
                    tail.accumulate = kb > 0;
                    tail.last = kb + 1 == g->kblocks;
                    mk_igemm_pointers(job, mt, group, c0, ptrs);
                    for (size_t tile = t0; tile < t1; tile++) {
                        const size_t width = mk_igemm_tile_width(g, tile);
                        const float* panel = mk_igemm_panel(g, job->packed, group, tile);
                        const size_t tn0 = mk_igemm_tile_n0(g, tile);
                        const size_t nc = g->cout_g - tn0 < width ? g->cout_g - tn0 : width;
                        tail.bias = tail.last ? job->bias + (group * g->ntiles + tile) * g->nr : NULL;
                        mk_igemm_kernel_for(g, width, job->mr == 1)->fn[kind](
                            mr, nc, kc, g->taps, ptrs, panel + g->taps * c0 * width,
                            stage + group * columns + (tn0 - n0), G * columns, &tail);
                    }
                }
            }
            for (size_t m = 0; m < mr; m++) {
                transpose(G, columns, stage + m * G * columns, columns,
                          job->output + (p0 + m) * job->out_stride + n0 * G);
            }
        }
    }
}
