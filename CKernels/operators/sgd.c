// Operator: one step of SGD with momentum, weight decay and Nesterov (PyTorch's torch.optim.SGD)
// over a tensor's parameters. Element-wise: split over the pool in 16K-float tiles, one portable
// loop inlined into a baseline copy and, on x86-64, an AVX2 copy the compiler vectorizes. Each
// product is its own statement (C contracts a * b + c into an FMA only within one expression),
// so every copy rounds as PyTorch's formula written step by step does, and gives the same bits.
#include "../include/mk_training.h"
#include "../common/internal.h"

#include <math.h>

typedef struct {
    float* p;
    const float* g;
    float* buf;
    mk_sgd_params h;
    bool first;
} mk_sgd_job;

static inline __attribute__((always_inline)) void mk_sgd_loop(const mk_sgd_job* job, size_t start,
                                                              size_t count) {
    float* restrict p = job->p;
    const float* restrict g = job->g;
    float* restrict buf = job->buf;
    const float lr = job->h.learning_rate, wd = job->h.weight_decay, mu = job->h.momentum;
    const float keep = 1.0f - job->h.dampening;
    const bool nesterov = job->h.nesterov, first = job->first, momentum = buf != NULL;
    for (size_t i = start; i < start + count; i++) {
        float d = g[i];
        if (wd != 0.0f) {  // PyTorch adds the term only then (an infinite p stays out of d)
            const float decay = wd * p[i];
            d = d + decay;  // grad.add(p, alpha=weight_decay)
        }
        if (momentum) {
            float b;
            if (first) {
                b = d;  // the buffer starts as a copy of the first gradient
            } else {
                const float old = mu * buf[i];
                const float add = keep * d;
                b = old + add;
            }
            buf[i] = b;
            if (nesterov) {
                const float look = mu * b;
                d = d + look;
            } else {
                d = b;
            }
        }
        const float step = lr * d;
        p[i] = p[i] - step;
    }
}

static void mk_sgd_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    mk_sgd_loop(context, start, count);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void mk_sgd_task_avx2(void* context, size_t thread, size_t start,
                                                             size_t count) {
    (void)thread;
    mk_sgd_loop(context, start, count);
}
#endif

mk_status mk_sgd_f32(size_t count, float* params, const float* grads, float* momentum_buffer,
                     const mk_sgd_params* hyper, bool first_step, mk_threadpool* pool) {
    if (params == NULL || grads == NULL || hyper == NULL) return MK_STATUS_NULL_POINTER;
    if (count == 0 || count > MK_MAX_ELEMENTS) return MK_STATUS_INVALID_ARGUMENT;
    const mk_sgd_params h = *hyper;
    if (!(h.learning_rate >= 0.0f) || !(h.momentum >= 0.0f) || !(h.weight_decay >= 0.0f) ||
        !(h.dampening >= 0.0f && h.dampening <= 1.0f) || !isfinite(h.learning_rate) ||
        !isfinite(h.momentum) || !isfinite(h.weight_decay) ||
        (h.nesterov && (h.momentum <= 0.0f || h.dampening != 0.0f))) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    if (h.momentum > 0.0f && momentum_buffer == NULL) return MK_STATUS_NULL_POINTER;
    float* buf = h.momentum > 0.0f ? momentum_buffer : NULL;
    if (mk_buffers_overlap(params, count, grads, count) ||
        (buf != NULL && (mk_buffers_overlap(buf, count, params, count) ||
                         mk_buffers_overlap(buf, count, grads, count)))) {
        return MK_STATUS_INVALID_ARGUMENT;
    }
    mk_sgd_job job = {params, grads, buf, h, first_step};
    mk_task_1d task = mk_sgd_task;
#if defined(__x86_64__)
    if (mk_cpu_info_get()->avx2) task = mk_sgd_task_avx2;
#endif
    return mk_threadpool_parallelize_1d(pool, task, &job, count, 16384);
}
