// The residual add with a fused activation, NHWC float32 (mk_add_f32): strides,
// variants and threads as for pooling (mk_pool.h).
#ifndef MK_ADD_H
#define MK_ADD_H

#include "mk_activation.h"
#include "mk_base.h"
#include "mk_threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/// The residual add: out[p * out_stride + c] = act(a[p * a_stride + c] + b[p * b_stride + c])
/// over `pixels` rows of `channels` floats. Lifecycle: create / reshape (a plan) / run / destroy.
typedef struct mk_add_f32_op mk_add_f32_op;

/// INVALID_ARGUMENT for 0 channels or a bad activation; UNSUPPORTED for a variant without add
/// kernels or one the CPU lacks.
mk_status mk_add_f32_create(size_t channels, mk_activation activation, mk_variant variant,
                            mk_add_f32_op** op_out);

/// The fields after `output_stride` are the operator's.
typedef struct mk_add_f32_plan {
    size_t pixels, a_stride, b_stride, output_stride;
    // private:
    const mk_add_f32_op* op;
    size_t a_extent, b_extent, out_extent, tile;
} mk_add_f32_plan;

/// `pixels` >= 1; strides in floats (0 means `channels`; otherwise at least it). `pool` (may be
/// NULL): the thread count the work is split for.
mk_status mk_add_f32_reshape(const mk_add_f32_op* op, size_t pixels, size_t a_stride,
                             size_t b_stride, size_t output_stride, mk_threadpool* pool,
                             mk_add_f32_plan* plan);

/// `output` may be `a` or `b` (the same pointer with the same stride: a += b); `a` and `b` may
/// be the same tensor; any other overlap of the output with an input is
/// MK_STATUS_INVALID_ARGUMENT.
mk_status mk_add_f32_run(const mk_add_f32_op* op, const mk_add_f32_plan* plan, const float* a,
                         const float* b, float* output, mk_threadpool* pool);

/// The variant the operator runs (AUTO resolved).
mk_variant mk_add_f32_variant(const mk_add_f32_op* op);

void mk_add_f32_destroy(mk_add_f32_op* op);

#ifdef __cplusplus
}
#endif

#endif
