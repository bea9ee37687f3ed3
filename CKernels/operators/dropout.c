// Operator: dropout with a mask that is a pure function of (seed, element index):
// mk_dropout_f32 (mk_training.h).
//
// Each element's keep decision is the top 24 bits of a SplitMix64 finalization of
// seed + (index + 1) * 0x9E3779B97F4A7C15, compared with p * 2^24: no state, so any split of the
// elements over threads, and the backward pass (which recomputes the mask instead of storing
// it), see the same mask. One loop for every ISA (compiled twice on x86-64, see below): the
// mask must be the same bits on all of them.
#include "../include/mk_training.h"
#include "../common/internal.h"

#include <math.h>

static inline uint32_t mk_dropout_bits(uint64_t seed, uint64_t index) {
    uint64_t z = seed + (index + 1) * UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return (uint32_t)(z >> 40);
}

typedef struct {
    const float* x;
    float* y;
    uint64_t seed, offset;
    uint32_t threshold;
    float scale;
} mk_dropout_job;

// The loop, branch-free (the keep decision is a coin flip: a branch would mispredict half the
// time), inlined into a portable copy and, on x86-64, an AVX2 copy the compiler vectorizes (its
// 64-bit multiplies too). Integer hashing and one float multiply: the same bits in both.
static inline __attribute__((always_inline)) void mk_dropout_loop(const mk_dropout_job* job, size_t start,
                                                                  size_t count) {
    const float* restrict x = job->x;
    float* y = job->y;
    const uint64_t seed = job->seed, offset = job->offset;
    const uint32_t threshold = job->threshold;
    const float scale = job->scale;
    for (size_t i = start; i < start + count; i++) {
        const float m = mk_dropout_bits(seed, offset + i) >= threshold ? scale : 0.0f;
        y[i] = x[i] * m;
    }
}

static void mk_dropout_task(void* context, size_t thread, size_t start, size_t count) {
    (void)thread;
    mk_dropout_loop(context, start, count);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void mk_dropout_task_avx2(void* context, size_t thread, size_t start,
                                                                 size_t count) {
    (void)thread;
    mk_dropout_loop(context, start, count);
}
#endif

bool mk_dropout_keeps(uint64_t seed, uint64_t index, float p) {
    return mk_dropout_bits(seed, index) >= (uint32_t)ceil((double)p * 16777216.0);
}

mk_status mk_dropout_f32(size_t count, const float* x, float* y, float p, uint64_t seed, uint64_t offset,
                         mk_threadpool* pool) {
    if (x == NULL || y == NULL) return MK_STATUS_NULL_POINTER;
    if (count == 0 || count > MK_MAX_ELEMENTS || !(p >= 0.0f && p <= 1.0f)) return MK_STATUS_INVALID_ARGUMENT;
    if (x != y && mk_buffers_overlap(x, count, y, count)) return MK_STATUS_INVALID_ARGUMENT;
    // p = 1 drops everything (PyTorch's output is all zeros, not NaN from the 1 / 0 scale).
    const float scale = p < 1.0f ? (float)(1.0 / (1.0 - (double)p)) : 0.0f;
    mk_dropout_job job = {x, y, seed, offset, (uint32_t)ceil((double)p * 16777216.0), scale};
    mk_task_1d task = mk_dropout_task;
#if defined(__x86_64__)
    if (mk_cpu_info_get()->avx2) task = mk_dropout_task_avx2;
#endif
    return mk_threadpool_parallelize_1d(pool, task, &job, count, 16384);
}
