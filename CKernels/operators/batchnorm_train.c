// Operators: training-mode BatchNorm (+ activation) forward and backward, and the activation
// gradient with the bias gradient (mk_training.h). Reductions go chunk by chunk: a chunk is
// `chunk_rows` consecutive pixels, a function of the shape only, so the split over threads never
// changes a bit. Each chunk's sums land in the workspace; the chunks are combined in order in
// float64 by one thread (a few floats per chunk and channel).
#include "../configs/configs.h"
#include "../include/mk_training.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// A chunk holds at least 64 pixels and about 8K floats (32 KB, in L1/L2 for the second pass of
// the statistics): the chunk sums are then at most 1/64 of the tensor.
static size_t mk_bn_chunk_rows(size_t channels) {
    const size_t rows = (8192 + channels - 1) / channels;
    return rows < 64 ? 64 : rows;
}

static size_t mk_round_up64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

// The rows of chunk k (the last chunk may be short).
static size_t mk_chunk_len(size_t pixels, size_t chunk_rows, size_t k) {
    const size_t first = k * chunk_rows;
    return pixels - first < chunk_rows ? pixels - first : chunk_rows;
}

// acc[c] = the sum over chunks, in order, of parts[k * channels + c], in float64.
static void mk_sum_chunks(const float* parts, size_t chunks, size_t channels, double* acc) {
    for (size_t c = 0; c < channels; c++) acc[c] = 0.0;
    for (size_t k = 0; k < chunks; k++) {
        const float* s = parts + k * channels;
        for (size_t c = 0; c < channels; c++) acc[c] += (double)s[c];
    }
}

static mk_dact mk_dact_from_activation(mk_activation a) {
    switch (a.kind) {
        case MK_ACTIVATION_NONE: return (mk_dact){MK_DACT_IDENTITY, 0.0f, 0.0f};
        case MK_ACTIVATION_RELU: return (mk_dact){MK_DACT_RELU, 0.0f, 0.0f};
        case MK_ACTIVATION_RELU6: return (mk_dact){MK_DACT_RELU6, 0.0f, 6.0f};
        case MK_ACTIVATION_HARDSWISH: return (mk_dact){MK_DACT_HARDSWISH, 0.0f, 0.0f};
        case MK_ACTIVATION_HARDSIGMOID: return (mk_dact){MK_DACT_HARDSIGMOID, 0.0f, 0.0f};
        case MK_ACTIVATION_CLAMP: return (mk_dact){MK_DACT_CLAMP, a.min, a.max};
    }
    return (mk_dact){MK_DACT_IDENTITY, 0.0f, 0.0f};
}

static mk_status mk_bntrain_resolve(mk_variant variant, mk_variant* resolved,
                                    const mk_bntrain_kernels** kernels) {
    mk_status status = mk_family_resolve(MK_FAMILY_F32_BNTRAIN, variant, resolved);
    if (status != MK_STATUS_OK) return status;
    *kernels = mk_f32_bntrain_config_get(*resolved);
    return *kernels == NULL ? MK_STATUS_UNSUPPORTED : MK_STATUS_OK;
}

// Pixel tiles of the element-wise passes: about 16K floats each.
static size_t mk_bn_tile(size_t channels) { return channels >= 16384 ? 1 : 16384 / channels; }

// ---- BatchNorm --------------------------------------------------------------------------------

struct mk_batchnorm_train_f32_op {
    size_t channels;
    float eps;
    mk_epilogue epilogue;
    mk_dact dact;
    mk_variant variant;
    const mk_bntrain_kernels* kernels;
};

mk_status mk_batchnorm_train_f32_create(size_t channels, float eps, mk_activation activation,
                                        mk_variant variant, mk_batchnorm_train_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (channels == 0 || !(eps >= 0.0f) || isinf(eps)) return MK_STATUS_INVALID_ARGUMENT;
    if (channels > MK_MAX_ELEMENTS / 64) return MK_STATUS_SIZE_OVERFLOW;
    mk_status status = mk_activation_validate(activation);
    if (status != MK_STATUS_OK) return status;
    mk_variant resolved;
    const mk_bntrain_kernels* kernels;
    status = mk_bntrain_resolve(variant, &resolved, &kernels);
    if (status != MK_STATUS_OK) return status;
    mk_batchnorm_train_f32_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    *op = (mk_batchnorm_train_f32_op){channels, eps, mk_epilogue_from_activation(activation),
                                      mk_dact_from_activation(activation), resolved, kernels};
    *op_out = op;
    return MK_STATUS_OK;
}

// The workspace: two chunk-sum arrays [chunks][channels] (float), two float64 accumulators
// [channels] and dx's three coefficient vectors [channels].
typedef struct {
    float* part_a;
    float* part_b;
    double* acc_a;
    double* acc_b;
    float* ka;
    float* kb;
    float* kc;
} mk_bn_workspace;

// No overflow: reshape's extents bound pixels * channels by MK_MAX_ELEMENTS, and there are at
// most pixels / 64 + 1 chunks, so a chunk-sum array is at most 1/32 of that.
static bool mk_bn_workspace_bytes(size_t chunks, size_t channels, size_t* bytes) {
    if (chunks > MK_MAX_ELEMENTS / 16 / channels) return false;
    const size_t part = mk_round_up64(chunks * channels * sizeof(float));
    const size_t acc = mk_round_up64(channels * sizeof(double));
    const size_t coef = mk_round_up64(channels * sizeof(float));
    *bytes = 2 * part + 2 * acc + 3 * coef;
    return true;
}

static mk_bn_workspace mk_bn_workspace_split(void* memory, size_t chunks, size_t channels) {
    char* p = memory;
    const size_t part = mk_round_up64(chunks * channels * sizeof(float));
    const size_t acc = mk_round_up64(channels * sizeof(double));
    const size_t coef = mk_round_up64(channels * sizeof(float));
    mk_bn_workspace w;
    w.part_a = (float*)p;
    w.part_b = (float*)(p + part);
    w.acc_a = (double*)(p + 2 * part);
    w.acc_b = (double*)(p + 2 * part + acc);
    w.ka = (float*)(p + 2 * part + 2 * acc);
    w.kb = (float*)(p + 2 * part + 2 * acc + coef);
    w.kc = (float*)(p + 2 * part + 2 * acc + 2 * coef);
    return w;
}

mk_status mk_batchnorm_train_f32_reshape(const mk_batchnorm_train_f32_op* op, size_t pixels,
                                         size_t x_stride, size_t y_stride, mk_threadpool* pool,
                                         mk_batchnorm_train_f32_plan* plan) {
    (void)pool;
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const size_t channels = op->channels;
    if (x_stride == 0) x_stride = channels;
    if (y_stride == 0) y_stride = channels;
    if (pixels < 2 || x_stride < channels || y_stride < channels) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t x_extent, y_extent, workspace_bytes;
    if (!mk_strided_extent(pixels, x_stride, channels, &x_extent) ||
        !mk_strided_extent(pixels, y_stride, channels, &y_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    const size_t chunk_rows = mk_bn_chunk_rows(channels);
    const size_t chunks = (pixels + chunk_rows - 1) / chunk_rows;
    if (!mk_bn_workspace_bytes(chunks, channels, &workspace_bytes)) return MK_STATUS_SIZE_OVERFLOW;
    *plan = (mk_batchnorm_train_f32_plan){pixels, x_stride, y_stride, workspace_bytes, NULL, op,
                                          chunk_rows, chunks, x_extent, y_extent,
                                          mk_bn_tile(channels)};
    return MK_STATUS_OK;
}

static mk_status mk_bn_check_plan(const mk_batchnorm_train_f32_op* op,
                                  const mk_batchnorm_train_f32_plan* plan) {
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    if (plan->workspace == NULL || ((uintptr_t)plan->workspace & 63) != 0) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    return MK_STATUS_OK;
}

typedef struct {
    const mk_batchnorm_train_f32_op* op;
    const mk_batchnorm_train_f32_plan* plan;
    const float* x;
    const float* dy;
    float* out;  // y (forward) or dx (backward)
    mk_bn_channels channels;
    mk_bn_workspace w;
} mk_bn_job;

static void mk_bn_stats_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_bn_job* job = context;
    const size_t C = job->op->channels, rows_per = job->plan->chunk_rows;
    for (size_t k = start; k < start + count; k++) {
        const size_t first = k * rows_per;
        const size_t rows = mk_chunk_len(job->plan->pixels, rows_per, k);
        job->op->kernels->stats(rows, C, job->x + first * job->plan->x_stride, job->plan->x_stride,
                                job->w.part_a + k * C, job->w.part_b + k * C);
    }
}

static void mk_bn_normalize_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_bn_job* job = context;
    const mk_batchnorm_train_f32_plan* plan = job->plan;
    job->op->kernels->normalize(count, job->op->channels, job->x + start * plan->x_stride,
                                plan->x_stride, &job->channels, job->out + start * plan->y_stride,
                                plan->y_stride, &job->op->epilogue);
}

mk_status mk_batchnorm_train_f32_forward(const mk_batchnorm_train_f32_op* op,
                                         const mk_batchnorm_train_f32_plan* plan, const float* x,
                                         const float* gamma, const float* beta, float* y,
                                         float* mean, float* variance, float* inv_std,
                                         mk_threadpool* pool) {
    if (op == NULL || plan == NULL || x == NULL || gamma == NULL || beta == NULL || y == NULL ||
        mean == NULL || variance == NULL || inv_std == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    mk_status status = mk_bn_check_plan(op, plan);
    if (status != MK_STATUS_OK) return status;
    const bool in_place = y == x && plan->x_stride == plan->y_stride;
    if (!in_place && mk_buffers_overlap(x, plan->x_extent, y, plan->y_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const size_t C = op->channels, chunks = plan->chunks, rows_per = plan->chunk_rows;
    mk_bn_job job = {op, plan, x, NULL, y, {0}, mk_bn_workspace_split(plan->workspace, chunks, C)};
    status = mk_threadpool_parallelize_1d(pool, mk_bn_stats_task, &job, chunks, 1);
    if (status != MK_STATUS_OK) return status;
    // Chan et al.'s combination, in chunk order: the mean from the sums, then the chunks' m2
    // plus each chunk's count times its mean's squared distance from the mean.
    double* total = job.w.acc_a;
    double* m2 = job.w.acc_b;
    mk_sum_chunks(job.w.part_a, chunks, C, total);
    for (size_t c = 0; c < C; c++) m2[c] = 0.0;
    const double P = (double)plan->pixels;
    for (size_t k = 0; k < chunks; k++) {
        const double n = (double)mk_chunk_len(plan->pixels, rows_per, k);
        const float* s = job.w.part_a + k * C;
        const float* q = job.w.part_b + k * C;
        for (size_t c = 0; c < C; c++) {
            const double d = (double)s[c] / n - total[c] / P;
            m2[c] += (double)q[c] + n * d * d;
        }
    }
    for (size_t c = 0; c < C; c++) {
        mean[c] = (float)(total[c] / P);
        variance[c] = (float)(m2[c] / P);
        inv_std[c] = 1.0f / sqrtf(variance[c] + op->eps);
    }
    job.channels = (mk_bn_channels){mean, inv_std, gamma, beta, NULL, NULL, NULL};
    return mk_threadpool_parallelize_1d(pool, mk_bn_normalize_task, &job, plan->pixels, plan->tile);
}

static void mk_bn_reduce_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_bn_job* job = context;
    const mk_batchnorm_train_f32_plan* plan = job->plan;
    const size_t C = job->op->channels, rows_per = plan->chunk_rows;
    for (size_t k = start; k < start + count; k++) {
        const size_t first = k * rows_per;
        const size_t rows = mk_chunk_len(plan->pixels, rows_per, k);
        job->op->kernels->reduce(rows, C, job->x + first * plan->x_stride, plan->x_stride,
                                 job->dy + first * plan->y_stride, plan->y_stride,
                                 &job->channels, &job->op->dact, job->w.part_a + k * C,
                                 job->w.part_b + k * C);
    }
}

static void mk_bn_dx_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_bn_job* job = context;
    const mk_batchnorm_train_f32_plan* plan = job->plan;
    job->op->kernels->dx(count, job->op->channels, job->x + start * plan->x_stride, plan->x_stride,
                         job->dy + start * plan->y_stride, plan->y_stride, &job->channels,
                         &job->op->dact, job->out + start * plan->x_stride, plan->x_stride);
}

mk_status mk_batchnorm_train_f32_backward(const mk_batchnorm_train_f32_op* op,
                                          const mk_batchnorm_train_f32_plan* plan,
                                          const float* x, const float* dy, const float* gamma,
                                          const float* beta, const float* mean,
                                          const float* inv_std, float* dx, float* dgamma,
                                          float* dbeta, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || x == NULL || dy == NULL || gamma == NULL || beta == NULL ||
        mean == NULL || inv_std == NULL || dgamma == NULL || dbeta == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    mk_status status = mk_bn_check_plan(op, plan);
    if (status != MK_STATUS_OK) return status;
    if (dx != NULL) {
        // dx has x's layout; it may be dy itself only where the two layouts agree.
        const bool in_place = dx == dy && plan->x_stride == plan->y_stride;
        if (mk_buffers_overlap(x, plan->x_extent, dx, plan->x_extent) ||
            (!in_place && mk_buffers_overlap(dy, plan->y_extent, dx, plan->x_extent))) {
            return MK_STATUS_INVALID_ARGUMENT;
        }
    }
    const size_t C = op->channels, chunks = plan->chunks;
    mk_bn_job job = {op, plan, x, dy, dx, {mean, inv_std, gamma, beta, NULL, NULL, NULL},
                     mk_bn_workspace_split(plan->workspace, chunks, C)};
    status = mk_threadpool_parallelize_1d(pool, mk_bn_reduce_task, &job, chunks, 1);
    if (status != MK_STATUS_OK) return status;
    double* sg = job.w.acc_a;
    double* sx = job.w.acc_b;
    mk_sum_chunks(job.w.part_a, chunks, C, sg);
    mk_sum_chunks(job.w.part_b, chunks, C, sx);
    const float P = (float)plan->pixels;
    for (size_t c = 0; c < C; c++) {
        dbeta[c] = (float)sg[c];
        dgamma[c] = (float)sx[c];
        job.w.ka[c] = gamma[c] * inv_std[c];
        job.w.kb[c] = dbeta[c] / P;
        job.w.kc[c] = dgamma[c] / P;
    }
    if (dx == NULL) return MK_STATUS_OK;
    job.channels.ka = job.w.ka;
    job.channels.kb = job.w.kb;
    job.channels.kc = job.w.kc;
    return mk_threadpool_parallelize_1d(pool, mk_bn_dx_task, &job, plan->pixels, plan->tile);
}

mk_variant mk_batchnorm_train_f32_variant(const mk_batchnorm_train_f32_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

void mk_batchnorm_train_f32_destroy(mk_batchnorm_train_f32_op* op) { free(op); }

mk_status mk_batchnorm_update_running_f32(size_t channels, const float* mean,
                                          const float* variance, size_t count, float momentum,
                                          float* running_mean, float* running_var) {
    if (mean == NULL || variance == NULL || running_mean == NULL || running_var == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    if (count < 2 || !(momentum >= 0.0f && momentum <= 1.0f)) return MK_STATUS_INVALID_ARGUMENT;
    const float unbias = (float)count / (float)(count - 1);
    for (size_t c = 0; c < channels; c++) {
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean[c];
        running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (variance[c] * unbias);
    }
    return MK_STATUS_OK;
}

// ---- Activation gradient + bias gradient ---------------------------------------------------------

struct mk_activation_backward_f32_op {
    size_t channels;
    mk_dact dact;
    mk_variant variant;
    const mk_bntrain_kernels* kernels;
};

mk_status mk_activation_backward_f32_create(size_t channels, mk_activation activation,
                                            mk_variant variant,
                                            mk_activation_backward_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (channels == 0) return MK_STATUS_INVALID_ARGUMENT;
    if (channels > MK_MAX_ELEMENTS / 64) return MK_STATUS_SIZE_OVERFLOW;
    mk_status status = mk_activation_validate(activation);
    if (status != MK_STATUS_OK) return status;
    mk_variant resolved;
    const mk_bntrain_kernels* kernels;
    status = mk_bntrain_resolve(variant, &resolved, &kernels);
    if (status != MK_STATUS_OK) return status;
    mk_activation_backward_f32_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    *op = (mk_activation_backward_f32_op){channels, mk_dact_from_activation(activation), resolved,
                                          kernels};
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_activation_backward_f32_reshape(const mk_activation_backward_f32_op* op,
                                             size_t pixels, size_t u_stride, size_t dy_stride,
                                             size_t dx_stride, mk_threadpool* pool,
                                             mk_activation_backward_f32_plan* plan) {
    (void)pool;
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const size_t channels = op->channels;
    if (u_stride == 0) u_stride = channels;
    if (dy_stride == 0) dy_stride = channels;
    if (dx_stride == 0) dx_stride = channels;
    if (pixels == 0 || u_stride < channels || dy_stride < channels || dx_stride < channels) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t u_extent, dy_extent, dx_extent, workspace_bytes;
    if (!mk_strided_extent(pixels, u_stride, channels, &u_extent) ||
        !mk_strided_extent(pixels, dy_stride, channels, &dy_extent) ||
        !mk_strided_extent(pixels, dx_stride, channels, &dx_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    const size_t chunk_rows = mk_bn_chunk_rows(channels);
    const size_t chunks = (pixels + chunk_rows - 1) / chunk_rows;
    if (!mk_bn_workspace_bytes(chunks, channels, &workspace_bytes)) return MK_STATUS_SIZE_OVERFLOW;
    *plan = (mk_activation_backward_f32_plan){pixels, u_stride, dy_stride, dx_stride,
                                              workspace_bytes, NULL, op, chunk_rows, chunks,
                                              u_extent, dy_extent, dx_extent};
    return MK_STATUS_OK;
}

typedef struct {
    const mk_activation_backward_f32_op* op;
    const mk_activation_backward_f32_plan* plan;
    const float* u;
    const float* dy;
    float* dx;
    float* parts;  // NULL: no bias gradient
} mk_act_grad_job;

static void mk_act_grad_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_act_grad_job* job = context;
    const mk_activation_backward_f32_plan* plan = job->plan;
    const size_t C = job->op->channels, rows_per = plan->chunk_rows;
    for (size_t k = start; k < start + count; k++) {
        const size_t first = k * rows_per;
        const size_t rows = mk_chunk_len(plan->pixels, rows_per, k);
        job->op->kernels->act_grad(rows, C, job->u + first * plan->u_stride, plan->u_stride,
                                   job->dy + first * plan->dy_stride, plan->dy_stride,
                                   &job->op->dact, job->dx + first * plan->dx_stride,
                                   plan->dx_stride, job->parts ? job->parts + k * C : NULL);
    }
}

mk_status mk_activation_backward_f32_run(const mk_activation_backward_f32_op* op,
                                         const mk_activation_backward_f32_plan* plan,
                                         const float* u, const float* dy, float* dx, float* dbias,
                                         mk_threadpool* pool) {
    if (op == NULL || plan == NULL || u == NULL || dy == NULL || dx == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    if (dbias != NULL &&
        (plan->workspace == NULL || ((uintptr_t)plan->workspace & 63) != 0)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const bool in_place = dx == dy && plan->dx_stride == plan->dy_stride;
    if (mk_buffers_overlap(u, plan->u_extent, dx, plan->dx_extent) ||
        (!in_place && mk_buffers_overlap(dy, plan->dy_extent, dx, plan->dx_extent))) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const size_t C = op->channels, chunks = plan->chunks;
    mk_bn_workspace w = {0};
    if (dbias != NULL) w = mk_bn_workspace_split(plan->workspace, chunks, C);
    mk_act_grad_job job = {op, plan, u, dy, dx, dbias ? w.part_a : NULL};
    mk_status status = mk_threadpool_parallelize_1d(pool, mk_act_grad_task, &job, chunks, 1);
    if (status != MK_STATUS_OK || dbias == NULL) return status;
    mk_sum_chunks(w.part_a, chunks, C, w.acc_a);
    for (size_t c = 0; c < C; c++) dbias[c] = (float)w.acc_a[c];
    return MK_STATUS_OK;
}

mk_variant mk_activation_backward_f32_variant(const mk_activation_backward_f32_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

void mk_activation_backward_f32_destroy(mk_activation_backward_f32_op* op) { free(op); }
