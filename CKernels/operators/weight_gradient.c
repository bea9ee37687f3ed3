// Operator: the weight gradient of a convolution as a GEMM over pixels, read in place from the
// NHWC output gradient and input (or im2col patches): mk_weight_gradient_f32 (mk_training.h).
//
// Blocking: C's columns in passes of MK_WG_NC, the pixels in blocks of MK_WG_KC (the A and B rows
// of a block and the C block stay in L2); each block runs every tile of the task's rows of C. Threads split C's rows (groups of MR),
// never the pixels, so every element of C is one chain of multiply-adds in pixel order: the
// same bits for any thread count.
#include "../configs/configs.h"
#include "../include/mk_training.h"

#include <string.h>

#define MK_WG_KC 64
// Columns of C per pass (a multiple of every ISA's NR): with KC rows of A and B, the B block
// and the C block stay in L2 however wide the patches are.
#define MK_WG_NC 256

typedef struct {
    const mk_wgrad_kernels* k;
    size_t pixels, m, n, lda, ldb, ldc;
    const float* a;
    const float* b;
    float* c;
    float* bias;
} mk_wg_job;

static void mk_wg_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_wg_job* job = context;
    const mk_wgrad_kernels* k = job->k;
    const size_t MR = k->mr, NR = k->nr;
    const size_t m0 = start * MR;
    const size_t m1 = (start + count) * MR < job->m ? (start + count) * MR : job->m;
    for (size_t n0 = 0; n0 < job->n; n0 += MK_WG_NC) {
        const size_t n1 = job->n - n0 < MK_WG_NC ? job->n : n0 + MK_WG_NC;
        for (size_t p0 = 0; p0 < job->pixels; p0 += MK_WG_KC) {
            const size_t kc = job->pixels - p0 < MK_WG_KC ? job->pixels - p0 : MK_WG_KC;
            const float* a = job->a + p0 * job->lda;
            const float* b = job->b + p0 * job->ldb;
            for (size_t m = m0; m < m1; m += MR) {
                const size_t mr = m1 - m < MR ? m1 - m : MR;
                for (size_t n = n0; n < n1; n += NR) {
                    const size_t nr = n1 - n < NR ? n1 - n : NR;
                    float* c = job->c + m * job->ldc + n;
                    if (mr == MR && nr == NR) {
                        k->tile(kc, a + m, job->lda, b + n, job->ldb, c, job->ldc);
                    } else {
                        k->edge(kc, mr, nr, a + m, job->lda, b + n, job->ldb, c, job->ldc);
                    }
                }
            }
        }
    }
    if (job->bias == NULL) return;
    // The bias: column sums of a over all pixels (each a chain in pixel order), 256 columns at a
    // time in a local array so the compiler vectorizes across columns.
    float sums[256];
    for (size_t i0 = m0; i0 < m1; i0 += 256) {
        const size_t w = m1 - i0 < 256 ? m1 - i0 : 256;
        for (size_t i = 0; i < w; i++) sums[i] = job->bias[i0 + i];
        for (size_t p = 0; p < job->pixels; p++) {
            const float* restrict ar = job->a + p * job->lda + i0;
            for (size_t i = 0; i < w; i++) sums[i] += ar[i];
        }
        for (size_t i = 0; i < w; i++) job->bias[i0 + i] = sums[i];
    }
}

mk_status mk_weight_gradient_f32(size_t pixels, size_t m, size_t n, const float* a, size_t lda,
                                 const float* b, size_t ldb, float* c, size_t ldc, float* bias,
                                 bool accumulate, mk_variant variant, mk_threadpool* pool) {
    if (a == NULL || b == NULL || c == NULL) return MK_STATUS_NULL_POINTER;
    if (pixels == 0 || m == 0 || n == 0 || lda < m || ldb < n || ldc < n) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t a_extent, b_extent, c_extent;
    if (!mk_strided_extent(pixels, lda, m, &a_extent) || !mk_strided_extent(pixels, ldb, n, &b_extent) ||
        !mk_strided_extent(m, ldc, n, &c_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    if (mk_buffers_overlap(a, a_extent, c, c_extent) || mk_buffers_overlap(b, b_extent, c, c_extent) ||
        (bias != NULL && (mk_buffers_overlap(bias, m, c, c_extent) || mk_buffers_overlap(bias, m, a, a_extent) ||
                          mk_buffers_overlap(bias, m, b, b_extent)))) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_variant resolved;
    mk_status status = mk_family_resolve(MK_FAMILY_F32_WGRAD, variant, &resolved);
    if (status != MK_STATUS_OK) return status;
    const mk_wgrad_kernels* kernels = mk_f32_wgrad_config_get(resolved);
    if (!accumulate) {
        for (size_t i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof(float));
        if (bias != NULL) memset(bias, 0, m * sizeof(float));
    }
    mk_wg_job job = {kernels, pixels, m, n, lda, ldb, ldc, a, b, c, bias};
    const size_t tiles = (m + kernels->mr - 1) / kernels->mr;
    const size_t threads = mk_threadpool_threads(pool);
    // Contiguous row groups per task: each thread reads the B block once per group.
    const size_t per_task = (tiles + 2 * threads - 1) / (2 * threads);
    return mk_threadpool_parallelize_1d(pool, mk_wg_task, &job, tiles, per_task);
}
