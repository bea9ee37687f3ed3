// Operator: squeeze-and-excitation (create / run / destroy), fused: per image, the channel means
// (window microkernel over the whole image, split over channel tiles), the two small fully
// connected layers (vectorized over outputs, weights transposed at create; with several threads
// and at least MK_SE_SPLIT_WEIGHTS weights each, split over slices of their outputs, since their
// weights come from memory and were the serial part of a MobileNetV3 block on two threads), then
// the per-channel scaling split over pixels. The pooled and hidden vectors live on
// the stack of run, so one op may run on several threads at once.
#include "../common/internal.h"
#include "../configs/configs.h"

#include <stdlib.h>
#include <string.h>

struct mk_squeeze_excitation_f32_op {
    size_t channels, squeeze;
    float* w1t;  // [channels][squeeze]: fc1 transposed
    float* b1;   // [squeeze]
    float* w2t;  // [squeeze][channels]: fc2 transposed
    float* b2;   // [channels]
    float* storage;
    mk_variant variant;
    const mk_pool_kernels* pool;        // the channel means (avgpool)
    const mk_vbinary_kernels* scale;    // the scaling (vmul)
    mk_f32_fc_ukernel_fn fc;            // the two layers
};

// The one place that says which squeeze-and-excitations a variant runs: sizes within the limits
// and a variant that has the three families' microkernels (pool, vbinary, fc) and that the CPU
// runs.
static mk_status mk_squeeze_excitation_resolve(size_t channels, size_t squeeze_channels,
                                               mk_variant variant, mk_variant* resolved) {
    if (channels == 0 || squeeze_channels == 0 ||
        channels > MK_SQUEEZE_EXCITATION_MAX_CHANNELS ||
        squeeze_channels > MK_SQUEEZE_EXCITATION_MAX_CHANNELS) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const unsigned mask = mk_family_variants(MK_FAMILY_F32_POOL) &
                          mk_family_variants(MK_FAMILY_F32_VBINARY) &
                          mk_family_variants(MK_FAMILY_F32_FC);
    return mk_resolve_variant(variant, mask, resolved);
}

mk_status mk_squeeze_excitation_f32_supports(size_t channels, size_t squeeze_channels,
                                         mk_variant variant) {
    mk_variant resolved;
    return mk_squeeze_excitation_resolve(channels, squeeze_channels, variant, &resolved);
}

// Floats rounded up to whole 64-byte lines, so each packed array starts aligned.
static size_t mk_se_round(size_t floats) { return (floats + 15) & ~(size_t)15; }

mk_status mk_squeeze_excitation_f32_create(size_t channels, size_t squeeze_channels,
                                       const float* fc1_weight, const float* fc1_bias,
                                       const float* fc2_weight, const float* fc2_bias,
                                       mk_variant variant, mk_squeeze_excitation_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (fc1_weight == NULL || fc2_weight == NULL) return MK_STATUS_NULL_POINTER;
    mk_variant resolved;
    const mk_status status = mk_squeeze_excitation_resolve(channels, squeeze_channels, variant, &resolved);
    if (status != MK_STATUS_OK) return status;

    const size_t C = channels, S = squeeze_channels;
    const size_t weights = mk_se_round(C * S);  // at most 2^26 floats: no overflow
    const size_t total = 2 * weights + mk_se_round(S) + mk_se_round(C);
    mk_squeeze_excitation_f32_op* op = calloc(1, sizeof *op);
    if (op == NULL) return MK_STATUS_OUT_OF_MEMORY;
    op->storage = mk_aligned_alloc(total * sizeof(float));
    if (op->storage == NULL) {
        free(op);
        return MK_STATUS_OUT_OF_MEMORY;
    }
    op->w1t = op->storage;
    op->w2t = op->w1t + weights;
    op->b1 = op->w2t + weights;
    op->b2 = op->b1 + mk_se_round(S);
    for (size_t s = 0; s < S; s++) {
        for (size_t c = 0; c < C; c++) {
            op->w1t[c * S + s] = fc1_weight[s * C + c];
            op->w2t[s * C + c] = fc2_weight[c * S + s];
        }
    }
    if (fc1_bias != NULL) {
        memcpy(op->b1, fc1_bias, S * sizeof(float));
    } else {
        memset(op->b1, 0, S * sizeof(float));
    }
    if (fc2_bias != NULL) {
        memcpy(op->b2, fc2_bias, C * sizeof(float));
    } else {
        memset(op->b2, 0, C * sizeof(float));
    }
    op->channels = C;
    op->squeeze = S;
    op->variant = resolved;
    op->pool = mk_f32_pool_config_get(resolved);
    op->scale = mk_f32_vbinary_config_get(resolved);
    op->fc = mk_f32_fc_config_get(resolved);
    *op_out = op;
    return MK_STATUS_OK;
}

typedef struct {
    const mk_squeeze_excitation_f32_op* op;
    size_t h, w, channel_tile;
    const float* input;  // this image
    size_t in_stride;
    float* output;  // this image
    size_t out_stride;
    float* mean;         // pooling: written; scaling: the gates
    bool in_place;
} mk_se_job;

static const mk_epilogue mk_se_identity = {MK_EPILOGUE_IDENTITY, 0.0f, 0.0f};

// Weights of a layer from which its outputs are split over the threads (a dispatch costs a few
// microseconds; a 576 x 144 layer takes 15-20 on one thread).
#define MK_SE_SPLIT_WEIGHTS 8192
#define MK_SE_SLICE_ALIGN 16  // outputs per slice: a multiple of every ISA's vector

typedef struct {
    mk_f32_fc_ukernel_fn fc;
    size_t inputs, outputs, slice;
    const float* x;
    const float* wt;
    const float* bias;
    float* y;
    const mk_epilogue* epilogue;
} mk_se_fc_job;

static void mk_se_fc_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_se_fc_job* job = context;
    for (size_t i = start; i < start + count; i++) {
        const size_t o0 = i * job->slice;
        const size_t n = job->outputs - o0 < job->slice ? job->outputs - o0 : job->slice;
        job->fc(job->inputs, n, job->x, job->wt + o0, job->outputs, job->bias + o0, job->y + o0,
                job->epilogue);
    }
}

// One layer: on the calling thread, or split into a slice of outputs per thread.
static mk_status mk_se_fc(const mk_squeeze_excitation_f32_op* op, size_t inputs, size_t outputs,
                          const float* x, const float* wt, const float* bias, float* y,
                          const mk_epilogue* epilogue, mk_threadpool* pool) {
    const size_t threads = mk_threadpool_threads(pool);
    if (threads == 1 || inputs * outputs < MK_SE_SPLIT_WEIGHTS) {
        op->fc(inputs, outputs, x, wt, outputs, bias, y, epilogue);
        return MK_STATUS_OK;
    }
    size_t slice = (outputs + threads - 1) / threads;
    slice = (slice + MK_SE_SLICE_ALIGN - 1) / MK_SE_SLICE_ALIGN * MK_SE_SLICE_ALIGN;
    mk_se_fc_job job = {op->fc, inputs, outputs, slice, x, wt, bias, y, epilogue};
    return mk_threadpool_parallelize_1d(pool, mk_se_fc_task, &job, (outputs + slice - 1) / slice, 1);
}

static void mk_se_pool_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_se_job* job = context;
    const size_t C = job->op->channels;
    const size_t c0 = start * job->channel_tile;
    size_t c1 = (start + count) * job->channel_tile;
    if (c1 > C) c1 = C;
    job->op->pool->avgpool(job->h, job->w, job->input + c0, job->w * job->in_stride,
                              job->in_stride, c1 - c0, job->mean + c0,
                              (float)(job->h * job->w), &mk_se_identity);
}

static void mk_se_scale_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_se_job* job = context;
    const mk_vbinary_kernels* k = job->op->scale;
    float* y = job->output + start * job->out_stride;
    if (job->in_place) {
        k->vmul_inplace(count, job->op->channels, y, job->out_stride, job->mean);
    } else {
        k->vmul(count, job->op->channels, job->input + start * job->in_stride, job->in_stride,
                job->mean, y, job->out_stride);
    }
}

mk_status mk_squeeze_excitation_f32_reshape(const mk_squeeze_excitation_f32_op* op, size_t batch,
                                            size_t h, size_t w, size_t input_pixel_stride,
                                            size_t output_pixel_stride, mk_threadpool* pool,
                                            mk_squeeze_excitation_f32_plan* plan) {
    if (op == NULL || plan == NULL) return MK_STATUS_NULL_POINTER;
    const size_t C = op->channels;
    if (input_pixel_stride == 0) input_pixel_stride = C;
    if (output_pixel_stride == 0) output_pixel_stride = C;
    if (batch == 0 || h == 0 || w == 0 || input_pixel_stride < C || output_pixel_stride < C) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    size_t image, pixels, in_extent, out_extent;
    if (!mk_size_mul(h, w, &image) || !mk_size_mul(batch, image, &pixels) ||
        !mk_strided_extent(pixels, input_pixel_stride, C, &in_extent) ||
        !mk_strided_extent(pixels, output_pixel_stride, C, &out_extent)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    // The pooling split over channel tiles with several threads; about 16K floats per scaling
    // tile.
    const size_t threads = mk_threadpool_threads(pool);
    *plan = (mk_squeeze_excitation_f32_plan){batch, h, w, input_pixel_stride, output_pixel_stride,
                                             op, image, in_extent, out_extent,
                                             threads > 1 ? 64 : C, C >= 16384 ? 1 : 16384 / C};
    return MK_STATUS_OK;
}

mk_status mk_squeeze_excitation_f32_run(const mk_squeeze_excitation_f32_op* op,
                                        const mk_squeeze_excitation_f32_plan* plan,
                                        const float* input, float* output, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    const size_t C = op->channels, S = op->squeeze;
    const bool in_place = input == output && plan->input_pixel_stride == plan->output_pixel_stride;
    if (!in_place && mk_buffers_overlap(input, plan->in_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }

    // The image's channel means, then its gates (over the means), and the hidden vector.
    _Alignas(64) float mean[MK_SQUEEZE_EXCITATION_MAX_CHANNELS];
    _Alignas(64) float hidden[MK_SQUEEZE_EXCITATION_MAX_CHANNELS];
    const mk_epilogue relu = mk_epilogue_from_activation(
        (mk_activation){MK_ACTIVATION_RELU, 0.0f, 0.0f});
    const mk_epilogue hardsigmoid = mk_epilogue_from_activation(
        (mk_activation){MK_ACTIVATION_HARDSIGMOID, 0.0f, 0.0f});

    mk_se_job job = {op, plan->h, plan->w, plan->channel_tile, NULL, plan->input_pixel_stride,
                     NULL, plan->output_pixel_stride, mean, in_place};
    const size_t channel_tiles = (C + job.channel_tile - 1) / job.channel_tile;
    for (size_t n = 0; n < plan->batch; n++) {
        job.input = input + n * plan->image * plan->input_pixel_stride;
        job.output = output + n * plan->image * plan->output_pixel_stride;
        mk_status status =
            mk_threadpool_parallelize_1d(pool, mk_se_pool_task, &job, channel_tiles, 1);
        if (status != MK_STATUS_OK) return status;
        status = mk_se_fc(op, C, S, mean, op->w1t, op->b1, hidden, &relu, pool);
        if (status != MK_STATUS_OK) return status;
        status = mk_se_fc(op, S, C, hidden, op->w2t, op->b2, mean, &hardsigmoid, pool);
        if (status != MK_STATUS_OK) return status;
        status = mk_threadpool_parallelize_1d(pool, mk_se_scale_task, &job, plan->image,
                                              plan->rows_per_tile);
        if (status != MK_STATUS_OK) return status;
    }
    return MK_STATUS_OK;
}

mk_variant mk_squeeze_excitation_f32_variant(const mk_squeeze_excitation_f32_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

void mk_squeeze_excitation_f32_destroy(mk_squeeze_excitation_f32_op* op) {
    if (op == NULL) return;
    mk_aligned_free(op->storage);
    free(op);
}
