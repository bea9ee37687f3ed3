// Operator: squeeze-and-excitation (create / run / destroy), fused: per image, the channel means
// (window microkernel over the whole image, split over channel tiles), the two small fully
// connected layers (vectorized over outputs, weights transposed at create; with several threads
// and at least MK_SE_SPLIT_WEIGHTS weights each, split over slices of their outputs, since their
// weights come from memory and were the serial part of a MobileNetV3 block on two threads), then
// the per-channel scaling split over pixels. The pooled and hidden vectors live on
// the stack of run, so one op may run on several threads at once. Training (run_train and the
// backward) runs each step over the whole batch instead, the layers a few images at a time.
#include "../common/internal.h"
#include "../configs/configs.h"

#include "../microkernels/epilogue_scalar.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mk_squeeze_excitation_f32_op {
    size_t channels, squeeze;
    float* w1t;  // [channels][squeeze]: fc1 transposed
    float* b1;   // [squeeze]
    float* w2t;  // [squeeze][channels]: fc2 transposed
    float* b2;   // [channels]
    float* w1;   // [squeeze][channels]: fc1 as given (the backward's input-gradient layer)
    float* w2;   // [channels][squeeze]: fc2 as given
    float* storage;
    mk_variant variant;
    const mk_pool_kernels* pool;        // the channel means (avgpool)
    const mk_vbinary_kernels* scale;    // the scaling (vmul)
    mk_f32_fc_ukernel_fn fc;            // the two layers
    mk_f32_vbiasact_ukernel_fn biasact; // the backward's pooled-path add
};

// The one place that says which squeeze-and-excitations a variant runs: sizes within the limits
// and a variant that has the families' microkernels (pool, vbinary, fc; for the backward vunary
// and bntrain's chunk sums) and that the CPU runs.
static mk_status mk_squeeze_excitation_resolve(size_t channels, size_t squeeze_channels,
                                               mk_variant variant, mk_variant* resolved) {
    if (channels == 0 || squeeze_channels == 0 ||
        channels > MK_SQUEEZE_EXCITATION_MAX_CHANNELS ||
        squeeze_channels > MK_SQUEEZE_EXCITATION_MAX_CHANNELS) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    const unsigned mask = mk_family_variants(MK_FAMILY_F32_POOL) &
                          mk_family_variants(MK_FAMILY_F32_VBINARY) &
                          mk_family_variants(MK_FAMILY_F32_FC) &
                          mk_family_variants(MK_FAMILY_F32_VUNARY) &
                          mk_family_variants(MK_FAMILY_F32_BNTRAIN) &
                          mk_family_variants(MK_FAMILY_F32_WGRAD);
    return mk_resolve_variant(variant, mask, resolved);
}

mk_status mk_squeeze_excitation_f32_supports(size_t channels, size_t squeeze_channels,
                                         mk_variant variant) {
    mk_variant resolved;
    return mk_squeeze_excitation_resolve(channels, squeeze_channels, variant, &resolved);
}

// Floats rounded up to whole 64-byte lines, so each packed array starts aligned.
static size_t mk_se_round(size_t floats) { return (floats + 15) & ~(size_t)15; }

// `backward`: also keep the weights as given (the backward's input-gradient layers).
static mk_status mk_se_create(size_t channels, size_t squeeze_channels, const float* fc1_weight,
                              const float* fc1_bias, const float* fc2_weight, const float* fc2_bias,
                              mk_variant variant, bool backward, mk_squeeze_excitation_f32_op** op_out) {
    if (op_out == NULL) return MK_STATUS_NULL_POINTER;
    *op_out = NULL;
    if (fc1_weight == NULL || fc2_weight == NULL) return MK_STATUS_NULL_POINTER;
    mk_variant resolved;
    const mk_status status = mk_squeeze_excitation_resolve(channels, squeeze_channels, variant, &resolved);
    if (status != MK_STATUS_OK) return status;

    const size_t C = channels, S = squeeze_channels;
    const size_t weights = mk_se_round(C * S);  // at most 2^26 floats: no overflow
    const size_t total = (backward ? 4 : 2) * weights + mk_se_round(S) + mk_se_round(C);
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
    if (backward) {
        op->w1 = op->b2 + mk_se_round(C);
        op->w2 = op->w1 + weights;
    }
    op->channels = C;
    op->squeeze = S;
    mk_squeeze_excitation_f32_set_weights(op, fc1_weight, fc1_bias, fc2_weight, fc2_bias);
    op->variant = resolved;
    op->pool = mk_f32_pool_config_get(resolved);
    op->scale = mk_f32_vbinary_config_get(resolved);
    op->fc = mk_f32_fc_config_get(resolved);
    op->biasact = mk_f32_vunary_config_get(resolved)->biasact;
    *op_out = op;
    return MK_STATUS_OK;
}

mk_status mk_squeeze_excitation_f32_create(size_t channels, size_t squeeze_channels,
                                       const float* fc1_weight, const float* fc1_bias,
                                       const float* fc2_weight, const float* fc2_bias,
                                       mk_variant variant, mk_squeeze_excitation_f32_op** op_out) {
    return mk_se_create(channels, squeeze_channels, fc1_weight, fc1_bias, fc2_weight, fc2_bias, variant,
                        true, op_out);
}

mk_status mk_squeeze_excitation_f32_create_inference(size_t channels, size_t squeeze_channels,
                                                 const float* fc1_weight, const float* fc1_bias,
                                                 const float* fc2_weight, const float* fc2_bias,
                                                 mk_variant variant,
                                                 mk_squeeze_excitation_f32_op** op_out) {
    return mk_se_create(channels, squeeze_channels, fc1_weight, fc1_bias, fc2_weight, fc2_bias, variant,
                        false, op_out);
}

mk_status mk_squeeze_excitation_f32_set_weights(mk_squeeze_excitation_f32_op* op,
                                                const float* fc1_weight, const float* fc1_bias,
                                                const float* fc2_weight, const float* fc2_bias) {
    if (op == NULL || fc1_weight == NULL || fc2_weight == NULL) return MK_STATUS_NULL_POINTER;
    const size_t C = op->channels, S = op->squeeze;
    if (op->w1 != NULL) {  // kept for the backward
        memcpy(op->w1, fc1_weight, C * S * sizeof(float));
        memcpy(op->w2, fc2_weight, C * S * sizeof(float));
    }
    // The transposes in 16 x 16 tiles (a training step repacks every SE block: row by row, the
    // strided side missed the cache on each element).
    for (size_t s0 = 0; s0 < S; s0 += 16) {
        const size_t s1 = s0 + 16 < S ? s0 + 16 : S;
        for (size_t c0 = 0; c0 < C; c0 += 16) {
            const size_t c1 = c0 + 16 < C ? c0 + 16 : C;
            for (size_t s = s0; s < s1; s++) {
                for (size_t c = c0; c < c1; c++) op->w1t[c * S + s] = fc1_weight[s * C + c];
            }
            for (size_t c = c0; c < c1; c++) {
                for (size_t s = s0; s < s1; s++) op->w2t[s * C + c] = fc2_weight[c * S + s];
            }
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
        job->fc(1, job->inputs, n, job->x, 0, job->wt + o0, job->outputs, job->bias + o0, job->y + o0, 0,
                job->epilogue);
    }
}

// One layer: on the calling thread, or split into a slice of outputs per thread.
static mk_status mk_se_fc(const mk_squeeze_excitation_f32_op* op, size_t inputs, size_t outputs,
                          const float* x, const float* wt, const float* bias, float* y,
                          const mk_epilogue* epilogue, mk_threadpool* pool) {
    const size_t threads = mk_threadpool_threads(pool);
    if (threads == 1 || inputs * outputs < MK_SE_SPLIT_WEIGHTS) {
        op->fc(1, inputs, outputs, x, 0, wt, outputs, bias, y, 0, epilogue);
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

// ---- Training's forward over the whole batch ---------------------------------------------------
//
// run_train computes every image's means first (one dispatch over images x channel tiles), then
// the two layers for MK_SE_ROWS images at a time (one dispatch over the groups: the weights are
// read once per group, not once per image; fewer images when their ReLU outputs would not fit
// MK_SE_HIDDEN floats of the task's stack), then the scaling (one dispatch over images x pixel
// tiles, each task recomputing its image's gates from fc2's saved output). Each value is computed
// as run computes it (the same chains), so the output has run's bits.
#define MK_SE_ROWS 4
#define MK_SE_HIDDEN 8192

typedef struct {
    const mk_squeeze_excitation_f32_op* op;
    const mk_squeeze_excitation_f32_plan* plan;
    const float* input;
    float* output;
    float* saved;
    size_t channel_tiles, pixel_tiles, group_rows;
    bool in_place;
} mk_se_batch_job;

static void mk_se_batch_pool_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_se_batch_job* job = context;
    const mk_squeeze_excitation_f32_plan* plan = job->plan;
    const size_t C = job->op->channels, S = job->op->squeeze, xs = plan->input_pixel_stride;
    for (size_t t = start; t < start + count; t++) {
        const size_t n = t / job->channel_tiles, c0 = t % job->channel_tiles * plan->channel_tile;
        const size_t c1 = c0 + plan->channel_tile < C ? c0 + plan->channel_tile : C;
        job->op->pool->avgpool(plan->h, plan->w, job->input + n * plan->image * xs + c0, plan->w * xs, xs, c1 - c0,
                               job->saved + n * (2 * C + S) + c0, (float)(plan->h * plan->w), &mk_se_identity);
    }
}

static void mk_se_batch_fc_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_se_batch_job* job = context;
    const mk_squeeze_excitation_f32_op* op = job->op;
    const size_t C = op->channels, S = op->squeeze, N = job->plan->batch, ld = 2 * C + S;
    const mk_epilogue relu = mk_epilogue_from_activation((mk_activation){MK_ACTIVATION_RELU, 0.0f, 0.0f});
    _Alignas(64) float hidden[MK_SE_HIDDEN];
    for (size_t g = start; g < start + count; g++) {
        const size_t n0 = g * job->group_rows, rows = N - n0 < job->group_rows ? N - n0 : job->group_rows;
        float* keep = job->saved + n0 * ld;
        op->fc(rows, C, S, keep, ld, op->w1t, S, op->b1, keep + C, ld, &mk_se_identity);
        for (size_t r = 0; r < rows; r++) {
            for (size_t j = 0; j < S; j++) {
                hidden[r * S + j] = mk_epilogue_f32(keep[r * ld + C + j], relu.kind, relu.min, relu.max);
            }
        }
        op->fc(rows, S, C, hidden, S, op->w2t, C, op->b2, keep + C + S, ld, &mk_se_identity);
    }
}

static void mk_se_batch_scale_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_se_batch_job* job = context;
    const mk_squeeze_excitation_f32_plan* plan = job->plan;
    const mk_vbinary_kernels* k = job->op->scale;
    const size_t C = job->op->channels, S = job->op->squeeze;
    const mk_epilogue hardsigmoid = mk_epilogue_from_activation((mk_activation){MK_ACTIVATION_HARDSIGMOID, 0.0f, 0.0f});
    _Alignas(64) float gate[MK_SQUEEZE_EXCITATION_MAX_CHANNELS];
    size_t gated = SIZE_MAX;  // the image whose gates `gate` holds
    for (size_t t = start; t < start + count; t++) {
        const size_t n = t / job->pixel_tiles, p0 = t % job->pixel_tiles * plan->rows_per_tile;
        const size_t pixels = plan->image - p0 < plan->rows_per_tile ? plan->image - p0 : plan->rows_per_tile;
        if (gated != n) {
            const float* z2 = job->saved + n * (2 * C + S) + C + S;
            for (size_t c = 0; c < C; c++) gate[c] = mk_epilogue_f32(z2[c], hardsigmoid.kind, hardsigmoid.min, hardsigmoid.max);
            gated = n;
        }
        const size_t first = n * plan->image + p0;
        float* y = job->output + first * plan->output_pixel_stride;
        if (job->in_place) {
            k->vmul_inplace(pixels, C, y, plan->output_pixel_stride, gate);
        } else {
            k->vmul(pixels, C, job->input + first * plan->input_pixel_stride, plan->input_pixel_stride, gate, y,
                    plan->output_pixel_stride);
        }
    }
}

static mk_status mk_se_forward_batch(const mk_squeeze_excitation_f32_op* op, const mk_squeeze_excitation_f32_plan* plan,
                                     const float* input, float* output, float* saved, bool in_place,
                                     mk_threadpool* pool) {
    const size_t C = op->channels, N = plan->batch;
    const size_t group_rows = MK_SE_HIDDEN / op->squeeze < MK_SE_ROWS ? MK_SE_HIDDEN / op->squeeze : MK_SE_ROWS;
    mk_se_batch_job job = {op, plan, input, output, saved, (C + plan->channel_tile - 1) / plan->channel_tile,
                           (plan->image + plan->rows_per_tile - 1) / plan->rows_per_tile, group_rows, in_place};
    mk_status status = mk_threadpool_parallelize_1d(pool, mk_se_batch_pool_task, &job, N * job.channel_tiles, 1);
    if (status == MK_STATUS_OK) {
        status = mk_threadpool_parallelize_1d(pool, mk_se_batch_fc_task, &job, (N + group_rows - 1) / group_rows, 1);
    }
    if (status == MK_STATUS_OK) {
        status = mk_threadpool_parallelize_1d(pool, mk_se_batch_scale_task, &job, N * job.pixel_tiles, 1);
    }
    return status;
}

// The forward of run and run_train: with `saved`, each image's pooled means, fc1's output before
// the ReLU and fc2's before the hardsigmoid are kept there ([batch][channels + squeeze +
// channels]), the layers run without their activation and the activation is applied after (the
// same values: the microkernel's epilogue is the same function of the same sum).
static mk_status mk_se_forward(const mk_squeeze_excitation_f32_op* op,
                               const mk_squeeze_excitation_f32_plan* plan, const float* input,
                               float* output, float* saved, mk_threadpool* pool) {
    if (op == NULL || plan == NULL || input == NULL || output == NULL) return MK_STATUS_NULL_POINTER;
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    const size_t C = op->channels, S = op->squeeze;
    const bool in_place = input == output && plan->input_pixel_stride == plan->output_pixel_stride;
    if (!in_place && mk_buffers_overlap(input, plan->in_extent, output, plan->out_extent)) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (saved != NULL && (mk_buffers_overlap(saved, plan->batch * (2 * C + S), input, plan->in_extent) ||
                          mk_buffers_overlap(saved, plan->batch * (2 * C + S), output, plan->out_extent))) {
        return MK_STATUS_INVALID_ARGUMENT;
    }

    if (saved != NULL) return mk_se_forward_batch(op, plan, input, output, saved, in_place, pool);

    // The image's channel means, then its gates (over the means), and the hidden vector.
    _Alignas(64) float mean[MK_SQUEEZE_EXCITATION_MAX_CHANNELS];
    _Alignas(64) float hidden[MK_SQUEEZE_EXCITATION_MAX_CHANNELS];

    mk_se_job job = {op, plan->h, plan->w, plan->channel_tile, NULL, plan->input_pixel_stride,
                     NULL, plan->output_pixel_stride, mean, in_place};
    const size_t channel_tiles = (C + job.channel_tile - 1) / job.channel_tile;
    for (size_t n = 0; n < plan->batch; n++) {
        job.input = input + n * plan->image * plan->input_pixel_stride;
        job.output = output + n * plan->image * plan->output_pixel_stride;
        mk_status status =
            mk_threadpool_parallelize_1d(pool, mk_se_pool_task, &job, channel_tiles, 1);
        if (status != MK_STATUS_OK) return status;
        status = mk_squeeze_excitation_f32_gates(op, mean, hidden, mean, pool);
        if (status != MK_STATUS_OK) return status;
        status = mk_threadpool_parallelize_1d(pool, mk_se_scale_task, &job, plan->image,
                                              plan->rows_per_tile);
        if (status != MK_STATUS_OK) return status;
    }
    return MK_STATUS_OK;
}

mk_status mk_squeeze_excitation_f32_gates(const mk_squeeze_excitation_f32_op* op, const float* mean,
                                          float* hidden, float* gates, mk_threadpool* pool) {
    const mk_epilogue relu = mk_epilogue_from_activation(
        (mk_activation){MK_ACTIVATION_RELU, 0.0f, 0.0f});
    const mk_epilogue hardsigmoid = mk_epilogue_from_activation(
        (mk_activation){MK_ACTIVATION_HARDSIGMOID, 0.0f, 0.0f});
    const mk_status status = mk_se_fc(op, op->channels, op->squeeze, mean, op->w1t, op->b1, hidden, &relu, pool);
    if (status != MK_STATUS_OK) return status;
    return mk_se_fc(op, op->squeeze, op->channels, hidden, op->w2t, op->b2, gates, &hardsigmoid, pool);
}

mk_status mk_squeeze_excitation_f32_run(const mk_squeeze_excitation_f32_op* op,
                                        const mk_squeeze_excitation_f32_plan* plan,
                                        const float* input, float* output, mk_threadpool* pool) {
    return mk_se_forward(op, plan, input, output, NULL, pool);
}

size_t mk_squeeze_excitation_f32_saved_floats(const mk_squeeze_excitation_f32_op* op, size_t batch) {
    if (op == NULL) return 0;
    size_t floats;
    return mk_size_mul(batch, 2 * op->channels + op->squeeze, &floats) ? floats : 0;
}

mk_status mk_squeeze_excitation_f32_run_train(const mk_squeeze_excitation_f32_op* op,
                                              const mk_squeeze_excitation_f32_plan* plan,
                                              const float* input, float* output, float* saved,
                                              mk_threadpool* pool) {
    if (saved == NULL) return MK_STATUS_NULL_POINTER;
    return mk_se_forward(op, plan, input, output, saved, pool);
}

// ---- Backward ----------------------------------------------------------------------------------
//
// Per image (split over the images): the gate recomputed from fc2's saved output, the gate's
// gradient dg[c] = sum over pixels of dy * x (BatchNorm's chunk sums with the identity
// normalization: x - 0 and times 1 are exact), then back through the hardsigmoid (dz2). Then,
// MK_SE_ROWS images at a time, through fc2 and the ReLU (dz1) and fc1 (the pooled mean's
// gradient, divided by the pixels); per image again, dx = dy * gate + that per pixel. Then the
// parameter gradients, two weight-gradient GEMMs over the images (mk_weight_gradient_f32, its
// FMA microkernels; they had been computed with the f32_fc kernels, then a product and a sum
// per step, a third of the backward): fc2's
// row c is the sum over images of dz2[b][c] * relu(z1[b]), fc1's row j of dz1[b][j] *
// pooled[b], each a chain in image order, so the bits do not depend on the threads.

typedef struct {
    float *dz2, *dz1, *gate, *dpool, *sums, *hidden, *zeros, *ones;
} mk_se_grad_buffers;

// The workspace's arrays (each rounded to 64 bytes); returns the floats, 0 on overflow.
static size_t mk_se_grad_layout(size_t batch, size_t C, size_t S, float* base, mk_se_grad_buffers* b) {
    const size_t NC = mk_se_round(batch * C), NS = mk_se_round(batch * S);
    const size_t wide = mk_se_round(C > S ? C : S);
    size_t at = 0;
    float** c_arrays[] = {&b->dz2, &b->gate, &b->dpool, &b->sums};
    float** s_arrays[] = {&b->dz1, &b->hidden};
    for (size_t i = 0; i < 4; i++) { *c_arrays[i] = base ? base + at : NULL; at += NC; }
    for (size_t i = 0; i < 2; i++) { *s_arrays[i] = base ? base + at : NULL; at += NS; }
    b->zeros = base ? base + at : NULL;
    at += wide;
    b->ones = base ? base + at : NULL;
    at += wide;
    return at;
}

// The weight-gradient GEMMs' workspace (the larger of the two, for the pool's threads).
static mk_status mk_se_grad_gemm_bytes(const mk_squeeze_excitation_f32_op* op, mk_threadpool* pool, size_t* bytes) {
    size_t b1, b2;
    mk_status status = mk_weight_gradient_f32_workspace_bytes(op->channels, op->squeeze, op->variant, pool, &b2);
    if (status == MK_STATUS_OK) {
        status = mk_weight_gradient_f32_workspace_bytes(op->squeeze, op->channels, op->variant, pool, &b1);
    }
    *bytes = 0;
    if (status != MK_STATUS_OK) return status;
    *bytes = ((b1 > b2 ? b1 : b2) + 63) & ~(size_t)63;
    return status;
}

mk_status mk_squeeze_excitation_f32_backward_workspace_bytes(const mk_squeeze_excitation_f32_op* op,
                                                             size_t batch, mk_threadpool* pool, size_t* bytes) {
    if (op == NULL || bytes == NULL) return MK_STATUS_NULL_POINTER;
    *bytes = 0;
    if (batch == 0) return MK_STATUS_INVALID_ARGUMENT;
    size_t check;
    if (!mk_size_mul(batch, 8 * (op->channels + op->squeeze) + 64, &check) ||
        !mk_size_mul(check, sizeof(float), &check)) {
        return MK_STATUS_SIZE_OVERFLOW;
    }
    size_t gemm;
    mk_status status = mk_se_grad_gemm_bytes(op, pool, &gemm);
    if (status != MK_STATUS_OK) return status;
    mk_se_grad_buffers b;
    *bytes = mk_se_grad_layout(batch, op->channels, op->squeeze, NULL, &b) * sizeof(float) + gemm + 64;
    return MK_STATUS_OK;
}

typedef struct {
    const mk_squeeze_excitation_f32_op* op;
    const mk_squeeze_excitation_f32_plan* plan;
    const mk_bntrain_kernels* reduce;
    const float* x;
    const float* saved;
    const float* dy;
    float* dx;
    float* dw1;
    float* db1;
    float* dw2;
    float* db2;
    mk_se_grad_buffers b;
} mk_se_grad_job;

// Per image: the gate and the ReLU's output recomputed from the saved values, and the gate's
// gradient through the hardsigmoid (dz2).
static void mk_se_grad_image_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_se_grad_job* job = context;
    const mk_squeeze_excitation_f32_op* op = job->op;
    const mk_squeeze_excitation_f32_plan* plan = job->plan;
    const size_t C = op->channels, S = op->squeeze;
    const size_t xs = plan->input_pixel_stride, ys = plan->output_pixel_stride;
    const mk_bn_channels identity = {job->b.zeros, job->b.ones, job->b.ones, job->b.zeros, NULL, NULL, NULL};
    const mk_dact none = {MK_DACT_IDENTITY, 0.0f, 0.0f};
    const mk_epilogue hardsigmoid = mk_epilogue_from_activation(
        (mk_activation){MK_ACTIVATION_HARDSIGMOID, 0.0f, 0.0f});
    for (size_t n = start; n < start + count; n++) {
        const float* keep = job->saved + n * (2 * C + S);
        const float* z1 = keep + C;
        const float* z2 = keep + C + S;
        float* gate = job->b.gate + n * C;
        float* dz2 = job->b.dz2 + n * C;
        float* hidden = job->b.hidden + n * S;
        for (size_t c = 0; c < C; c++) {
            gate[c] = mk_epilogue_f32(z2[c], hardsigmoid.kind, hardsigmoid.min, hardsigmoid.max);
        }
        for (size_t j = 0; j < S; j++) hidden[j] = z1[j] > 0.0f ? z1[j] : 0.0f;
        // dg (into dz2), then through the hardsigmoid (PyTorch's rule: dy / 6 inside (-3, 3)).
        job->reduce->reduce(plan->image, C, job->x + n * plan->image * xs, xs, job->dy + n * plan->image * ys, ys,
                            &identity, &none, job->b.sums + n * C, dz2);
        for (size_t c = 0; c < C; c++) {
            dz2[c] = z2[c] > -3.0f && z2[c] < 3.0f ? dz2[c] / 6.0f : 0.0f;
        }
    }
}

// MK_SE_ROWS images at a time (the weights read once per group): back through fc2 and the ReLU
// (dz1), then fc1 (the pooled mean's gradient, divided by the pixels).
static void mk_se_grad_layers_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_se_grad_job* job = context;
    const mk_squeeze_excitation_f32_op* op = job->op;
    const size_t C = op->channels, S = op->squeeze, N = job->plan->batch;
    const float pixels = (float)job->plan->image;
    for (size_t g = start; g < start + count; g++) {
        const size_t n0 = g * MK_SE_ROWS, rows = N - n0 < MK_SE_ROWS ? N - n0 : MK_SE_ROWS;
        float* dz1 = job->b.dz1 + n0 * S;
        float* dpool = job->b.dpool + n0 * C;
        op->fc(rows, C, S, job->b.dz2 + n0 * C, C, op->w2, S, job->b.zeros, dz1, S, &mk_se_identity);
        for (size_t r = 0; r < rows; r++) {
            const float* z1 = job->saved + (n0 + r) * (2 * C + S) + C;
            for (size_t j = 0; j < S; j++) {
                dz1[r * S + j] = z1[j] > 0.0f ? dz1[r * S + j] : 0.0f;
            }
        }
        op->fc(rows, S, C, dz1, S, op->w1, C, job->b.zeros, dpool, C, &mk_se_identity);
        for (size_t i = 0; i < rows * C; i++) dpool[i] /= pixels;
    }
}

// Per image: dx = dy * gate + the pooled mean's gradient, per pixel.
static void mk_se_grad_input_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    const mk_se_grad_job* job = context;
    const mk_squeeze_excitation_f32_op* op = job->op;
    const mk_squeeze_excitation_f32_plan* plan = job->plan;
    const size_t C = op->channels, ys = plan->output_pixel_stride;
    for (size_t n = start; n < start + count; n++) {
        const float* dy = job->dy + n * plan->image * ys;
        float* dx = job->dx + n * plan->image * ys;
        if (dx == dy) {
            op->scale->vmul_inplace(plan->image, C, dx, ys, job->b.gate + n * C);
        } else {
            op->scale->vmul(plan->image, C, dy, ys, job->b.gate + n * C, dx, ys);
        }
        op->biasact(plan->image, C, dx, ys, job->b.dpool + n * C, dx, ys, &mk_se_identity);
    }
}

mk_status mk_squeeze_excitation_f32_backward(const mk_squeeze_excitation_f32_op* op,
                                             const mk_squeeze_excitation_f32_plan* plan,
                                             const float* input, const float* saved,
                                             const float* output_gradient, float* input_gradient,
                                             float* fc1_weight_gradient, float* fc1_bias_gradient,
                                             float* fc2_weight_gradient, float* fc2_bias_gradient,
                                             void* workspace, size_t workspace_bytes,
                                             mk_threadpool* pool) {
    if (op == NULL || plan == NULL || input == NULL || saved == NULL || output_gradient == NULL ||
        input_gradient == NULL || fc1_weight_gradient == NULL || fc2_weight_gradient == NULL) {
        return MK_STATUS_NULL_POINTER;
    }
    if (plan->op != op) return MK_STATUS_INVALID_ARGUMENT;
    if (op->w1 == NULL) return MK_STATUS_UNSUPPORTED;  // made by create_inference
    const size_t C = op->channels, S = op->squeeze, N = plan->batch;
    size_t need;
    mk_status status = mk_squeeze_excitation_f32_backward_workspace_bytes(op, N, pool, &need);
    if (status != MK_STATUS_OK) return status;
    // dy and dx use the output pixel stride (dx may be dy itself); x the input one. Nothing else
    // may overlap.
    const size_t saved_floats = N * (2 * C + S);
    const struct { const void* p; size_t floats; } ro[] = {
        {input, plan->in_extent}, {saved, saved_floats}, {output_gradient, plan->out_extent}};
    const struct { const void* p; size_t floats; } rw[] = {
        {input_gradient, plan->out_extent}, {fc1_weight_gradient, C * S}, {fc1_bias_gradient, S},
        {fc2_weight_gradient, C * S}, {fc2_bias_gradient, C}, {workspace, workspace_bytes / sizeof(float)}};
    for (size_t i = 0; i < sizeof rw / sizeof rw[0]; i++) {
        if (rw[i].p == NULL) continue;
        for (size_t k = 0; k < sizeof ro / sizeof ro[0]; k++) {
            if (i == 0 && k == 2 && input_gradient == output_gradient) continue;  // in place
            if (mk_buffers_overlap(rw[i].p, rw[i].floats, ro[k].p, ro[k].floats)) {
                return MK_STATUS_INVALID_ARGUMENT;
            }
        }
        for (size_t k = 0; k < i; k++) {
            if (rw[k].p != NULL && mk_buffers_overlap(rw[i].p, rw[i].floats, rw[k].p, rw[k].floats)) {
                return MK_STATUS_INVALID_ARGUMENT;
            }
        }
    }
    void* owned = NULL;
    if (workspace == NULL) {
        owned = workspace = mk_aligned_alloc(need);
        if (owned == NULL) return MK_STATUS_OUT_OF_MEMORY;
    } else if (workspace_bytes < need) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    float* base = (float*)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    mk_se_grad_job job = {op, plan, mk_f32_bntrain_config_get(op->variant), input, saved,
                          output_gradient, input_gradient, fc1_weight_gradient, fc1_bias_gradient,
                          fc2_weight_gradient, fc2_bias_gradient, {0}};
    const size_t layout = mk_se_grad_layout(N, C, S, base, &job.b);
    size_t gemm_bytes;
    status = mk_se_grad_gemm_bytes(op, pool, &gemm_bytes);
    if (status != MK_STATUS_OK) {
        mk_aligned_free(owned);
        return status;
    }
    float* gemm_workspace = base + layout;
    const size_t wide = C > S ? C : S;
    for (size_t i = 0; i < wide; i++) {
        job.b.zeros[i] = 0.0f;
        job.b.ones[i] = 1.0f;
    }
    status = mk_threadpool_parallelize_1d(pool, mk_se_grad_image_task, &job, N, 1);
    if (status == MK_STATUS_OK) {
        status = mk_threadpool_parallelize_1d(pool, mk_se_grad_layers_task, &job, (N + MK_SE_ROWS - 1) / MK_SE_ROWS, 1);
    }
    if (status == MK_STATUS_OK) status = mk_threadpool_parallelize_1d(pool, mk_se_grad_input_task, &job, N, 1);
    if (status == MK_STATUS_OK) {
        status = mk_weight_gradient_f32(N, C, S, job.b.dz2, C, job.b.hidden, S, fc2_weight_gradient, S,
                                        fc2_bias_gradient, false, gemm_workspace, gemm_bytes, op->variant, pool);
    }
    if (status == MK_STATUS_OK) {
        status = mk_weight_gradient_f32(N, S, C, job.b.dz1, S, saved, 2 * C + S, fc1_weight_gradient, C,
                                        fc1_bias_gradient, false, gemm_workspace, gemm_bytes, op->variant, pool);
    }
    mk_aligned_free(owned);
    return status;
}

size_t mk_squeeze_excitation_f32_weight_bytes(const mk_squeeze_excitation_f32_op* op) {
    if (op == NULL) return 0;
    return ((op->w1 != NULL ? 4 : 2) * mk_se_round(op->channels * op->squeeze) + mk_se_round(op->squeeze) +
            mk_se_round(op->channels)) *
           sizeof(float);
}

mk_variant mk_squeeze_excitation_f32_variant(const mk_squeeze_excitation_f32_op* op) {
    return op ? op->variant : MK_VARIANT_AUTO;
}

void mk_squeeze_excitation_f32_destroy(mk_squeeze_excitation_f32_op* op) {
    if (op == NULL) return;
    mk_aligned_free(op->storage);
    free(op);
}
