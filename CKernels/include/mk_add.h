// The residual add with a fused activation, NHWC float32 (mk_elementwise_add): strides,
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
/// over `pixels` rows of `channels` floats. `output` may be `a` or `b` (the same pointer with the
/// same stride: a += b); `a` and `b` may be the same tensor; any other overlap of the output
/// with an input is MK_STATUS_INVALID_ARGUMENT. `pixels` and `channels` >= 1.
mk_status mk_elementwise_add(size_t pixels, size_t channels, const float* a, size_t a_stride,
                             const float* b, size_t b_stride, float* output,
                             size_t output_stride, mk_activation activation, mk_variant variant,
                             mk_threadpool* pool);

#ifdef __cplusplus
}
#endif

#endif
